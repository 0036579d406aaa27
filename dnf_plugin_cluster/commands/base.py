"""What every cluster command shares, as dnf-plugins-core's small helper does: the
subcommand argument, --json with a pure-JSON stdout, every error as dnf's one-line
`Error: ...` (in configure, run and after the transaction alike), and dispatch to
configure_<sub>() / run_<sub>() methods.

Imports stay light: the plugin is loaded for every dnf command, so the library and the
backend load only when a cluster command runs."""
from __future__ import absolute_import, unicode_literals

import json
import logging
import sys

import dnf.cli
import dnf.exceptions
import dnf.logging

from ..errors import ClusterError

logger = logging.getLogger("dnf.plugin.cluster")


class ClusterCommand(dnf.cli.Command):
    subcommands = ()
    #: subcommands that need neither repositories nor the rpm database
    offline = ()
    #: subcommands that load the repositories themselves at the start of run_<sub>(),
    #: so that a repository that cannot be reached is reported like any other error
    #: (under --json, as a JSON answer)
    loads_repos = ()
    #: subcommands whose --json answer is a node answer (fleet.py reads it): an error is
    #: then a JSON object too
    answers = ()

    @classmethod
    def set_argparser(cls, parser):
        parser.add_argument("subcommand", nargs=1, choices=cls.subcommands,
                            help=", ".join(cls.subcommands))
        parser.add_argument("--json", action="store_true", default=False,
                            help="print machine-readable JSON on stdout")

    @property
    def sub(self):
        return self.opts.subcommand[0]

    def configure(self):
        """What every cluster command needs (the repositories and the sack, unless the
        subcommand is offline), then the subcommand's own configure_<sub>(). A
        ClusterError is one line, exit 1."""
        self.quiet_for_json()
        if self.sub not in self.offline + self.loads_repos:
            self.cli.demands.sack_activation = True
            self.cli.demands.available_repos = True
        from ..backends.dnf4 import Dnf4Backend
        self.backend = Dnf4Backend(self.base, self.cli)
        self.guarded(getattr(self, "configure_" + self.sub.replace("-", "_")))

    def run(self):
        def run_sub():
            if self.sub in self.loads_repos:
                self.backend.load()
            getattr(self, "run_" + self.sub.replace("-", "_"))()
        self.guarded(run_sub)

    def run_transaction(self):
        """After dnf's transaction succeeded: the subcommand's after_transaction_<sub>()."""
        after = getattr(self, "after_transaction_" + self.sub.replace("-", "_"), None)
        if after is not None:
            self.guarded(after)

    def guarded(self, call):
        """one_line(call), and under --json a node answer's error is a JSON answer too
        (format 1: {"format": 1, "command": ..., "result": "error", "error": ...})."""
        try:
            return one_line(call)
        except dnf.exceptions.Error as err:
            if self.opts.json and self.sub in self.answers:
                self.print_json({"format": 1, "command": self.sub, "result": "error",
                                 "error": " ".join(str(err).split())})
            raise

    def quiet_for_json(self):
        """Keep stdout pure JSON: dnf's informational logging goes quiet, the download
        progress goes to stderr, the rpm progress is off (as with -q), and whatever dnf
        still prints itself (its post-transaction summary) goes to stderr too."""
        self.json_out = sys.stdout
        if self.opts.json:
            self.cli.redirect_logger(stdout=logging.WARNING, stderr=logging.WARNING)
            self.cli.redirect_repo_progress()
            self.base.conf.debuglevel = 0
            sys.stdout = sys.stderr

    def print_json(self, data):
        self.json_out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        self.json_out.flush()

    def node_config(self):
        from .. import nodeconf
        return nodeconf.read(self.base.conf.installroot, self.base.conf.pluginconfpath)


def one_line(call):
    """Run call(); whatever it raises reaches the user as dnf's one-line `Error: ...`
    (exit 1): a ClusterError as it is, an OSError with its file, anything else (a bug)
    by its type and message, its traceback kept in dnf's log at debug level."""
    try:
        return call()
    except dnf.exceptions.Error:
        raise                                   # dnf's own (CliError, DepsolveError, ...): one line already
    except ClusterError as err:
        raise dnf.exceptions.Error(str(err))
    except EnvironmentError as err:
        logger.log(dnf.logging.SUBDEBUG, "cluster plugin", exc_info=True)
        where = getattr(err, "filename", None)
        message = err.strerror or str(err)
        raise dnf.exceptions.Error(" ".join(("{}: {}".format(where, message) if where else message).split()))
    except Exception as err:                    # pylint: disable=broad-except
        logger.log(dnf.logging.SUBDEBUG, "cluster plugin", exc_info=True)
        raise dnf.exceptions.Error(" ".join("unexpected {}: {} (details in dnf.log)".format(
            type(err).__name__, err).split()))
