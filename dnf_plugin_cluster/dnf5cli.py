"""`dnf-cluster` on libdnf5 (dnf5 hosts): the command line dnf 4 gives the plugin, for
the same commands (commands/) on the libdnf5 backend. `dnf5 cluster-node ...` arrives
here through the C++ plugin (dnf5-plugin/) as `dnf-cluster --backend libdnf5 node ...`.

dnf5's global options, with dnf 4's spellings too, go anywhere on the line (the plugin
passes them as typed): -c/--config, --installroot, --releasever, --forcearch,
--setopt=KEY=VALUE and REPO.KEY=VALUE, -y/--assumeyes, --assumeno, -q, -C/--cacheonly,
--refresh, --comment, --repo, --enable-repo/--enablerepo, --disable-repo/--disablerepo,
--nogpgcheck, -x/--exclude, --allowerasing, --setvar=NAME=VALUE, --best/--no-best,
--skip-unavailable, --skip-broken (as --setopt), --color (ignored); dnf5's other global
options are refused by name ("dnf5 option --X is not supported by cluster-node", exit
2). Then, as dnf 4 does for a command: the
command configures itself (what to load), the repositories and the rpm database load,
the command runs, and when it leaves a transaction: the transaction table, the
confirmation (unless -y), download, run, and the command's run_transaction(). A
node's no-op status or sync is answered before libdnf5 is even imported when its
proof holds (fast5.py). Errors are one line (`Error: ...`, exit 1), whatever raised
them; bad options one line too (exit 2)."""
import argparse
import os
import sys

from . import cmdline
from .cmdline import NODE_FLAGS, UsageError, plain_node_options  # noqa: F401 (fast_answer, the tests)
from .cmdline import Option as _Option
from .errors import SUPERUSER, ClusterError, quote


#: dnf5's global options (and dnf 4's spellings of them) that dnf-cluster understands
GLOBAL_OPTIONS = (
    _Option(("-c", "--config"), "config", "FILE", "configuration file (default: the root's /etc/dnf/dnf.conf)"),
    _Option(("--installroot",), "installroot", "DIR", "operate on the system (or image) root DIR"),
    _Option(("--releasever",), "releasever", "VERSION", "the release version repositories expand"),
    _Option(("--forcearch",), "forcearch", "ARCH", "act as a node of this architecture"),
    _Option(("--setopt",), "setopts", "KEY=VALUE", "set a configuration option (REPO.KEY=VALUE: of repositories)"),
    _Option(("-y", "--assumeyes"), "assumeyes", None, "answer yes to the confirmation"),
    _Option(("--assumeno",), "assumeno", None, "answer no: plan and show only"),
    _Option(("-q", "--quiet"), "quiet", None, "print only what the command itself prints"),
    _Option(("-C", "--cacheonly"), "cacheonly", None, "use the metadata cache only, no network"),
    _Option(("--refresh",), "refresh", None, "check every repository's metadata for changes"),
    _Option(("--comment",), "comment", "COMMENT", "comment recorded in the transaction history"),
    _Option(("--repo", "--repoid"), "repos", "ID", "enable only these repositories (repeatable, globs)"),
    _Option(("--enable-repo", "--enablerepo"), "enable_repos", "ID", "enable repositories (repeatable, globs)"),
    _Option(("--disable-repo", "--disablerepo"), "disable_repos", "ID", "disable repositories (repeatable, globs)"),
    _Option(("--nogpgcheck", "--no-gpgchecks"), "nogpgcheck", None, "skip signature checks"),
    _Option(("-x", "--exclude"), "excludes", "PACKAGE", "exclude packages by name or glob (repeatable)"),
    _Option(("--allowerasing",), "allowerasing", None, "allow removing packages to resolve dependencies"),
    _Option(("--noplugins", "--no-plugins"), "noplugins", None, "accepted; libdnf5 plugins are never loaded"),
    _Option(("--setvar",), "setvars", "NAME=VALUE", "set a variable repositories expand (repeatable)"),
    _Option(("--best",), "best", None, "only the best candidate of each package (setopt best=1)"),
    _Option(("--no-best", "--nobest"), "nobest", None, "not only the best candidate (setopt best=0)"),
    _Option(("--skip-unavailable",), "skip_unavailable", None,
            "skip packages that are not available (setopt skip_unavailable=1)"),
    _Option(("--skip-broken",), "skip_broken", None,
            "skip packages whose dependencies cannot be met (setopt skip_broken=1)"),
    _Option(("--color",), "color", "WHEN", "accepted; dnf-cluster prints no colors"),
)
#: dnf5's other global options (dnf5 5.4's `dnf5 --help`): refused by name, never as an
#: unknown option of the command (exit 2)
DNF5_UNSUPPORTED = ("--use-host-config", "--repofrompath", "--allow-vendor-change", "--no-allow-vendor-change",
                    "--no-docs", "--nodocs", "--enable-plugin", "--enableplugin", "--disable-plugin",
                    "--disableplugin", "--releasever-major", "--releasever-minor", "--show-new-leaves",
                    "--debugsolver", "--dump-main-config", "--dump-repo-config", "--dump-variables", "--version",
                    "--skip-file-locks")
LONG = dict((n, o) for o in GLOBAL_OPTIONS for n in o.names if n.startswith("--"))
SHORT = dict((n[1], o) for o in GLOBAL_OPTIONS for n in o.names if not n.startswith("--"))


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line (exit 2), as UsageError."""

    def error(self, message):
        raise UsageError("{}: error: {}".format(self.prog, message))


def unsupported_global(args):
    """The first of dnf5's global options that dnf-cluster does not support in `args`
    (before a `--`), or None."""
    for arg in args:
        if arg == "--":
            return None
        if arg.partition("=")[0] in DNF5_UNSUPPORTED:
            return arg.partition("=")[0]
    return None


def split_globals(argv):
    """cmdline.split_globals() of dnf5's global options."""
    return cmdline.split_globals(argv, LONG, SHORT)


def plain_globals(found):
    """cmdline.plain_globals() of dnf5's global options."""
    return cmdline.plain_globals(found, GLOBAL_OPTIONS, LONG)


def global_parser():
    parser = _Parser(prog="dnf-cluster", add_help=False)
    for option in GLOBAL_OPTIONS:
        kwargs = dict(dest=option.dest, action=option.action, help=option.help)
        if option.value:
            kwargs["metavar"] = option.value
        if option.action == "append":
            kwargs["default"] = []
        parser.add_argument(*option.names, **kwargs)
    return parser


def settings_from(gopts):
    from .backends.libdnf5.settings import Settings
    setopts = []
    for text in gopts.setopts:
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise UsageError("dnf-cluster: error: --setopt needs KEY=VALUE (got {})".format(quote(text)))
        setopts.append((key.strip(), value))
    if gopts.excludes:
        setopts.append(("excludepkgs", ",".join(gopts.excludes)))
    if gopts.best or gopts.nobest:
        setopts.append(("best", "1" if gopts.best else "0"))
    if gopts.skip_unavailable:
        setopts.append(("skip_unavailable", "1"))
    if gopts.skip_broken:
        setopts.append(("skip_broken", "1"))
    setvars = []
    for text in gopts.setvars:
        name, eq, value = text.partition("=")
        if not eq or not name.strip():
            raise UsageError("dnf-cluster: error: --setvar needs NAME=VALUE (got {!r})".format(text))
        setvars.append((name.strip(), value))

    def ids(values):
        return [v for value in values for v in value.replace(",", " ").split()]
    return Settings(installroot=gopts.installroot or "/", config_file=gopts.config,
                    releasever=gopts.releasever, forcearch=gopts.forcearch, setopts=setopts,
                    cacheonly=gopts.cacheonly, repos=ids(gopts.repos) if gopts.repos else None,
                    enable_repos=ids(gopts.enable_repos), disable_repos=ids(gopts.disable_repos),
                    refresh=gopts.refresh, gpgcheck=not gopts.nogpgcheck, setvars=setvars)


# --- the host: what the commands use of dnf 4's Cli ---------------------------------------
class Demands(object):
    """What the command asks of the host (the names of dnf 4's DemandSheet)."""

    def __init__(self):
        self.sack_activation = False
        self.available_repos = False
        self.load_system_repo = True
        self.freshest_metadata = False
        self.resolving = False
        self.root_user = False
        self.allow_erasing = False
        self.plugin_filtering_enabled = False       # libdnf5 applies versionlock by itself
        self.success_exit_status = 0


class Conf(object):
    def __init__(self, host, settings, gopts):
        self.host = host
        self.installroot = settings.installroot
        self.assumeyes = bool(gopts.assumeyes)
        self.assumeno = bool(gopts.assumeno)
        self.cacheonly = bool(gopts.cacheonly)
        self.debuglevel = 0 if gopts.quiet else 2
        self.comment = gopts.comment
        # cluster.conf lives where dnf 4 plugins keep theirs; --setopt=pluginconfpath=DIR moves it
        self.pluginconfpath = ["/etc/dnf/plugins"]
        for key, value in settings.setopts:
            if key == "pluginconfpath":
                self.pluginconfpath = [p for p in value.replace(",", " ").split() if p]

    @property
    def persistdir(self):
        return self.host.backend().persistdir


class _Base(object):
    def __init__(self, conf):
        self.conf = conf


class Host(object):
    """The command line around one cluster command on libdnf5."""

    def __init__(self, settings, gopts, argv):
        self.settings = settings
        self.argv = argv
        self.demands = Demands()
        self.demands.allow_erasing = bool(gopts.allowerasing)
        self.base = _Base(Conf(self, settings, gopts))
        self._backend = None

    # what the commands call
    def cluster_backend(self):
        return self.backend()

    def backend(self):
        if self._backend is None:
            from .backends.libdnf5.backend import Libdnf5Backend
            self._backend = Libdnf5Backend(self.settings, self)
        return self._backend

    def redirect_logger(self, stdout=None, stderr=None):
        from .commands.base import INFO
        if stdout is not None and stdout > INFO:
            self.base.conf.debuglevel = 0

    def redirect_repo_progress(self):
        """Nothing to redirect: this host prints no download progress."""

    def info(self, text):
        if self.base.conf.debuglevel >= 2 and text:
            print(text)
            sys.stdout.flush()

    # running one command
    def run(self, command):
        demands = self.demands
        command.configure()
        if demands.root_user and os.geteuid() != 0:
            raise ClusterError(SUPERUSER)
        if demands.sack_activation or demands.available_repos:
            self.backend().load(system=demands.sack_activation and demands.load_system_repo,
                                available=demands.available_repos)
        command.run()                   # node commands load the repositories in their run
        if demands.resolving:
            self.do_transaction(command)
        return demands.success_exit_status

    def description(self):
        return " ".join(["dnf-cluster"] + list(self.argv))

    def do_transaction(self, command):
        backend, conf = self.backend(), self.base.conf
        if backend.tx is None:
            backend.resolve(self.demands.allow_erasing)
        table = backend.table()
        if not table:
            self.info("Nothing to do.")
            return
        self.info(table)
        if conf.assumeno or not self.confirm():
            raise ClusterError("Operation aborted.")
        backend.execute(backend.comment or conf.comment, self.description())
        self.info("Complete!")
        command.run_transaction()

    def confirm_key(self, key):
        """Import a repository's OpenPGP key? Shown as dnf5 shows it; -y imports it,
        --assumeno does not, else the user answers."""
        sys.stdout.write('Importing OpenPGP key 0x{}:\n Userid     : "{}"\n Fingerprint: {}\n From       : {}\n'.format(
            key.get_short_key_id().upper(), ", ".join(key.get_user_ids()), key.get_fingerprint().upper(),
            key.get_url()))
        if self.base.conf.assumeno:
            sys.stdout.write("The key was not imported (--assumeno).\n")
            return False
        return self.confirm()

    def confirm(self):
        if self.base.conf.assumeyes:
            return True
        from .commands.base import ask_terminal
        return ask_terminal()


def usage_text():
    from .commands import COMMANDS, usage
    text = usage(COMMANDS, "the options below go anywhere")
    options = global_parser().format_help()
    return text + "\n" + options[options.index("\n\n") + 2:]            # argparse's list, without its usage


class _LinesFormatter(argparse.HelpFormatter):
    """A help text with line breaks (the subcommands, one a line) keeps them, as in dnf 4."""

    def _split_lines(self, text, width):
        if "\n" in text:
            return text.splitlines()
        return super(_LinesFormatter, self)._split_lines(text, width)


def command_parser(command):
    parser = _Parser(prog="dnf-cluster {}".format(command.aliases[0]), formatter_class=_LinesFormatter)
    command.set_argparser(parser)
    return parser


def fast_answer(args, argv):
    """A node's no-op `status` or `sync` answered from the record of its last
    verification in sync, before argparse parses anything and libdnf5 is imported
    (fast5.py); the exit status, or None when the full path answers (which says
    whatever is wrong)."""
    try:
        found, rest = split_globals(args)
        gopts = plain_globals(found)
        opts = plain_node_options(rest) if gopts is not None else None
        if opts is None:
            return None
        settings = settings_from(gopts)
    except UsageError:
        return None
    from .commands.node import ClusterNodeCommand
    command = ClusterNodeCommand(Host(settings, gopts, argv if argv is not None else args))
    command.opts = opts
    stdout = sys.stdout
    try:
        from .fast5 import Reader
        return command.answer_unloaded(Reader(settings))
    finally:
        sys.stdout.flush()
        sys.stdout = stdout


def main(args, argv=None):
    """Run one cluster command; returns the exit status."""
    status = fast_answer(args, argv)
    if status is not None:
        return status
    from .commands import COMMANDS, no_such_command
    try:
        found, rest = split_globals(args)
        gopts = global_parser().parse_args(found)
        if not rest or rest[0] in ("-h", "--help"):
            if not rest:
                sys.stderr.write("dnf-cluster: error: no command given (see dnf-cluster --help)\n")
                return 1
            sys.stdout.write(usage_text())
            return 0
        by_name = dict((c.aliases[0], c) for c in COMMANDS)
        if rest[0] not in by_name:
            raise UsageError(no_such_command(rest[0]))
        cls = by_name[rest[0]]
        unsupported = unsupported_global(rest[1:])
        if unsupported:
            raise UsageError("dnf-cluster: error: dnf5 option {} is not supported by {}".format(
                unsupported, rest[0]))
        opts = command_parser(cls).parse_args(rest[1:])
        settings = settings_from(gopts)
    except UsageError as err:
        sys.stderr.write("{}\n".format(err))
        return 2
    host = Host(settings, gopts, argv if argv is not None else args)
    import libdnf5
    command = cls(host)
    command.opts = opts
    command.host_errors = (libdnf5.exception.Error,)
    from .commands.base import error_line
    stdout = sys.stdout
    try:
        return host.run(command)
    except libdnf5.exception.Error as err:
        sys.stderr.write("Error: {}\n".format(" ".join(str(err).split())))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("Terminated.\n")
        return 1
    except Exception as err:            # pylint: disable=broad-except; one line, never a traceback
        sys.stderr.write("Error: {}\n".format(error_line(err)))
        return 1
    finally:
        sys.stdout.flush()
        sys.stdout = stdout
