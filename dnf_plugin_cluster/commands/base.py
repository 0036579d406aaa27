"""What every cluster command shares, as dnf-plugins-core's small helper does: the
subcommand argument, --json with a pure-JSON stdout, every error as the one-line
`Error: ...` (in configure, run and after the transaction alike; error_line()), and
dispatch to configure_<sub>() / run_<sub>() / after_transaction_<sub>() methods.

The commands are written once for two hosts: dnf 4's command line (the plugin, and
`dnf-cluster --backend dnf4`; commands/__init__.py mixes in dnf.cli.Command) and
dnf5cli.py (`dnf-cluster --backend libdnf5`, which `dnf5 cluster-node` runs). A host
gives a command what it uses of dnf 4's Cli: `cli.demands` (what to load, root only,
the exit status, whether a transaction follows), `cli.base.conf` (assumeyes, assumeno,
cacheonly, installroot, pluginconfpath, persistdir, debuglevel), redirect_logger(),
redirect_repo_progress(), and, on libdnf5, cluster_backend(). Nothing here imports dnf.

Imports stay light: the plugin is loaded for every dnf command, so the library and the
backend load only when a cluster command runs."""
from __future__ import absolute_import, unicode_literals

import json
import sys

#: logging's levels; logging itself is imported when first used (dnf has it loaded
#: already; on libdnf5 it costs a no-op sync tens of milliseconds for nothing)
INFO, WARNING = 20, 30


class _Logger(object):
    """dnf's logger of the plugin, looked up on first use."""

    def __getattr__(self, name):
        import logging
        return getattr(logging.getLogger("dnf.plugin.cluster"), name)


logger = _Logger()


class ClusterCommand(object):
    aliases = ()
    summary = ""
    subcommands = ()
    #: {subcommand: its one-line description}, for --help and the man page
    descriptions = {}
    #: subcommands that need neither repositories nor the rpm database
    offline = ()
    #: subcommands that load the repositories themselves at the start of run_<sub>(),
    #: so that a repository that cannot be reached is reported like any other error
    #: (under --json, as a JSON answer)
    loads_repos = ()
    #: subcommands whose --json answer is a node answer (fleet.py reads it): an error is
    #: then a JSON object too
    answers = ()
    #: the host's own error types, whose text is one line already (set by the host)
    host_errors = ()
    opts = None

    def __init__(self, cli):
        self.cli = cli

    @property
    def base(self):
        return self.cli.base

    @classmethod
    def set_argparser(cls, parser):
        parser.add_argument("subcommand", nargs=1, choices=cls.subcommands, type=subcommand_type(cls),
                            help=subcommand_help(cls))
        parser.add_argument("--json", action="store_true", default=False,
                            help="print machine-readable JSON on stdout")

    @property
    def sub(self):
        return self.opts.subcommand[0]

    def configure(self):
        """What every cluster command needs (the repositories and the sack, unless the
        subcommand is offline), then the subcommand's own configure_<sub>()."""
        self.quiet_for_json()
        if self.sub not in self.offline + self.loads_repos:
            self.cli.demands.sack_activation = True
            self.cli.demands.available_repos = True
        self.backend = self.make_backend()
        self.answering(getattr(self, "configure_" + self.sub.replace("-", "_")))

    def make_backend(self):
        """The host's package manager: libdnf5 when dnf5cli is the host, else dnf 4."""
        factory = getattr(self.cli, "cluster_backend", None)
        if factory is not None:
            return factory()
        from ..backends.dnf4 import Dnf4Backend
        return Dnf4Backend(self.base, self.cli)

    def run(self):
        def run_sub():
            if self.sub in self.loads_repos:
                self.backend.load()
            getattr(self, "run_" + self.sub.replace("-", "_"))()
        self.answering(run_sub)

    def run_transaction(self):
        """After the host's transaction succeeded: the subcommand's after_transaction_<sub>()."""
        after = getattr(self, "after_transaction_" + self.sub.replace("-", "_"), None)
        if after is not None:
            self.answering(after)

    def answering(self, call):
        """call(); whatever it raises goes on to the host, which says it as one line, and
        under --json a node answer's error is a JSON answer too (format 1, report.error())."""
        try:
            return call()
        except Exception as err:            # pylint: disable=broad-except
            if self.opts.json and self.sub in self.answers:
                from .. import report
                self.print_json(report.error(self.sub, error_line(err, self.host_errors)))
            raise

    def quiet_for_json(self):
        """Keep stdout pure JSON: the host's informational logging goes quiet, the download
        progress goes to stderr, the rpm progress is off (as with -q), and whatever the
        host still prints itself (its post-transaction summary) goes to stderr too."""
        self.json_out = sys.stdout
        if self.opts.json:
            self.cli.redirect_logger(stdout=WARNING, stderr=WARNING)
            self.cli.redirect_repo_progress()
            self.base.conf.debuglevel = 0
            sys.stdout = sys.stderr

    def print_json(self, data):
        self.json_out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        self.json_out.flush()

    def node_config(self):
        from .. import nodeconf
        config = nodeconf.read(self.base.conf.installroot, self.base.conf.pluginconfpath)
        for warning in config.warnings:
            logger.warning("Warning: %s", warning)
        return config


def ask_terminal():
    """The admin's answer on the terminal, as dnf asks (y or yes; anything else, or the
    end of the input, is no)."""
    sys.stdout.write("Is this ok [y/N]: ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stdout.write("\n")
    return answer.strip().lower() in ("y", "yes")


def subcommand_type(cls):
    """The subcommand argument's type: a misspelled subcommand is refused in our words,
    `invalid choice: 'synk' (choose from 'sync', 'status')`, the same on every Python
    (argparse itself stopped quoting the choices in Python 3.12.8/3.13.1)."""
    import argparse

    def subcommand(value):
        if value not in cls.subcommands:
            raise argparse.ArgumentTypeError("invalid choice: '{}' (choose from {})".format(
                value, ", ".join("'{}'".format(sub) for sub in cls.subcommands)))
        return value
    return subcommand


def subcommand_help(cls):
    """The subcommands with a one-line description each: one line per subcommand where
    the help keeps line breaks (dnf 4's and dnf-cluster's), `sub: text;` in a row
    elsewhere (man page)."""
    width = max(len(sub) for sub in cls.subcommands)
    return ";\n".join("{}: {}{}".format(sub, " " * (width - len(sub)), cls.descriptions[sub])
                       for sub in cls.subcommands)


def error_line(err, host_errors=()):
    """The one line an error reaches the user as (after `Error: `): a ClusterError or one
    of the host's own errors as it is, an OSError with its file, anything else (a bug)
    by its type and message."""
    from ..errors import ClusterError
    if isinstance(err, ClusterError) or (host_errors and isinstance(err, host_errors)):
        return " ".join(str(err).split())
    if isinstance(err, EnvironmentError):
        where = getattr(err, "filename", None)
        message = err.strerror or str(err)
        return " ".join(("{}: {}".format(where, message) if where else message).split())
    return " ".join("unexpected {}: {}".format(type(err).__name__, err).split())
