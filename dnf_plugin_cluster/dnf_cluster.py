"""`dnf-cluster`: the cluster commands as a program of their own. `dnf-cluster node sync`
is `dnf cluster-node sync`, `group` and `master` likewise; the long names work too.

It runs on the package manager of the host: on dnf5 hosts (dnf5 installed and
python3-libdnf5 importable) on libdnf5, through its own command line (dnf5cli.py),
which `dnf5 cluster-node` reaches through the C++ plugin; elsewhere on dnf 4's
command-line machinery (python3-dnf) with only the cluster commands registered, so
option parsing, the transaction table, confirmation, locking and history are dnf's
own, exactly as with the plugin; a node's no-op `node sync|status` is answered before
dnf is even imported when its proof holds (fast4.py), as on dnf5 hosts (fast5.py).
`--backend dnf4|libdnf5` (anywhere on the line)
overrides the choice. Output, JSON and exit codes are the same on both."""
import os
import sys

BACKENDS = ("dnf4", "libdnf5")
DNF5_PATHS = ("/usr/bin/dnf5",)


def translate(argv):
    """`node sync ...` -> `cluster-node sync ...` (the long names work as well)."""
    from .commands import SHORT
    args = list(argv)
    for index, arg in enumerate(args):
        for short, name in SHORT:
            if arg == short:
                args[index] = name
                return args
            if arg == name:
                return args
    return args


class UsageError(Exception):
    pass


def split_backend(argv):
    """(backend or None, argv without --backend)."""
    backend, rest, args = None, [], list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            rest += [arg] + args
            break
        if arg == "--backend" or arg.startswith("--backend="):
            value = arg.split("=", 1)[1] if "=" in arg else (args.pop(0) if args else None)
            if value not in BACKENDS:
                raise UsageError("--backend must be one of {} (got {})".format(
                    ", ".join(BACKENDS), "nothing" if value is None else repr(value)))
            backend = value
            continue
        rest.append(arg)
    return backend, rest


def libdnf5_usable():
    """Are the libdnf5 bindings installed? Found, not imported: importing them costs
    more than dnf5's own no-op answer, and a no-op sync answered fast never does."""
    try:
        from importlib.machinery import PathFinder
        return PathFinder.find_spec("libdnf5") is not None
    except (ImportError, ValueError):
        return False


def detect():
    """libdnf5 on dnf5 hosts (dnf5 present, python3-libdnf5 importable), else dnf 4."""
    if any(os.path.exists(p) for p in DNF5_PATHS) and libdnf5_usable():
        return "libdnf5"
    return "dnf4"


def print_version(backend):
    """`dnf-cluster --version`: ours and the backend's (not dnf's own banner)."""
    from . import __version__
    if backend == "libdnf5":
        try:
            import libdnf5
            found = libdnf5.conf.get_library_version()        # 5.x: prime.major.minor.micro
            parts = [getattr(found, p) for p in ("prime", "major", "minor", "micro") if hasattr(found, p)]
            under = "libdnf5 {}".format(".".join(str(p) for p in parts))
        except Exception:           # pylint: disable=broad-except; a version line never fails
            under = "libdnf5 (not installed)"
    else:
        try:
            import dnf.const
            under = "dnf {}".format(dnf.const.VERSION)
        except ImportError:
            under = "dnf 4 (not installed)"
    sys.stdout.write("dnf-cluster {} (backend {}: {})\n".format(__version__, backend, under))
    return 0


def main(argv):
    try:
        backend, args = split_backend(argv)
    except UsageError as err:
        sys.stderr.write("dnf-cluster: error: {}\n".format(err))
        return 2
    backend = backend or detect()
    if "--version" in args[:args.index("--") if "--" in args else len(args)]:
        return print_version(backend)
    if backend == "libdnf5":
        if not libdnf5_usable():
            sys.stderr.write("Error: the libdnf5 backend needs python3-libdnf5, which is not installed\n")
            return 1
        from .dnf5cli import main as main5
        return main5(translate(args), argv)
    status = fast_answer_dnf4(translate(args))      # a no-op node, before dnf is imported
    if status is not None:
        return status
    try:
        import dnf.cli.main  # noqa: F401
    except ImportError:
        sys.stderr.write("Error: the dnf4 backend needs python3-dnf, which is not installed "
                         "(on dnf5 hosts install python3-libdnf5)\n")
        return 1
    return main_dnf4(translate(args))


def main_dnf4(args):
    import dnf.cli.cli
    import dnf.cli.main
    import dnf.cli.option_parser
    import dnf.util

    from .commands import COMMANDS, dnf4_commands, no_such_command, usage

    class ClusterCli(dnf.cli.cli.Cli):
        def __init__(self, base):
            super(ClusterCli, self).__init__(base)
            self.cli_commands = {}          # dnf's own commands are not ours to offer
            for command in dnf4_commands():
                self.register_command(command)

        def _parse_commands(self, opts, args):
            """A word that is none of ours: one line, exit 2, as on libdnf5 (dnf's own
            answer suggests `dnf-cluster install 'dnf-command(WORD)'`, which cannot work)."""
            if opts.command not in self.cli_commands:
                sys.stderr.write(no_such_command(opts.command) + "\n")
                raise SystemExit(2)
            return super(ClusterCli, self)._parse_commands(opts, args)

    class ClusterOptionParser(dnf.cli.option_parser.OptionParser):
        def get_usage(self):
            """`dnf-cluster --help` lists its own commands, not dnf's."""
            return usage(COMMANDS, "the dnf options below go anywhere")

    dnf.util.MAIN_PROG = "dnf-cluster"
    dnf.util.MAIN_PROG_UPPER = "DNF-CLUSTER"
    return dnf.cli.main.main(args, cli_class=ClusterCli, option_parser_class=ClusterOptionParser)


# --- dnf 4 hosts: the no-op fast path before dnf is imported (fast4.py) ------------------

class _Conf(object):
    def __init__(self, settings, gopts):
        self.installroot = settings.installroot
        self.pluginconfpath = settings.pluginconfpath
        self.persistdir = settings.persistdir
        self.assumeyes = bool(gopts.assumeyes)
        self.assumeno = bool(gopts.assumeno)
        self.cacheonly = bool(gopts.cacheonly)
        self.debuglevel = 0 if gopts.quiet else 2


class _Base(object):
    def __init__(self, conf):
        self.conf = conf


class _Host(object):
    """What answer_unloaded() uses of dnf's Cli."""

    def __init__(self, settings, gopts):
        self.base = _Base(_Conf(settings, gopts))

    def redirect_logger(self, stdout=None, stderr=None):
        self.base.conf.debuglevel = 0

    def redirect_repo_progress(self):
        """Nothing to redirect: nothing is downloaded with progress here."""


def fast_answer_dnf4(args):
    """A node's no-op `status` or `sync` (the translated command line) answered from the
    record of its last verification in sync, before dnf is imported (fast4.py); the
    exit status, or None when the full path answers (which says whatever is wrong)."""
    from . import fast4
    from .cmdline import plain_node_options
    try:
        parsed = fast4.parse(args)
        opts = plain_node_options(parsed[2]) if parsed is not None else None
    except Exception:                       # pylint: disable=broad-except; dnf's parser says what is wrong
        return None
    if opts is None:
        return None
    settings, gopts, _ = parsed
    from .commands.node import ClusterNodeCommand
    command = ClusterNodeCommand(_Host(settings, gopts))
    command.opts = opts
    stdout = sys.stdout
    try:
        return command.answer_unloaded(fast4.Reader(settings))
    finally:
        sys.stdout.flush()
        sys.stdout = stdout
