"""The cluster commands, one module each, as dnf-plugins-core has them: `cluster-node`
(node.py), `cluster-group` (group.py), `cluster-master` (master.py, its subcommands
in master_*.py). They import no dnf: the dnf 4 plugin (plugins/cluster.py) and
`dnf-cluster --backend dnf4` register dnf4_commands(); `dnf-cluster --backend libdnf5`
(dnf5cli.py) runs COMMANDS itself."""
from .group import ClusterGroupCommand
from .master import ClusterMasterCommand
from .node import ClusterNodeCommand

COMMANDS = (ClusterGroupCommand, ClusterNodeCommand, ClusterMasterCommand)
#: dnf-cluster's short command words
SHORT = (("node", "cluster-node"), ("group", "cluster-group"), ("master", "cluster-master"))
_DNF4 = []


def no_such_command(word):
    """dnf-cluster's one line for a command word it does not have (both backends)."""
    from ..errors import quote
    return "dnf-cluster: error: no such command {} ({}; see dnf-cluster --help)".format(
        quote(word), ", ".join(short for short, _ in SHORT))


def dnf4_commands():
    """COMMANDS as dnf 4 commands: dnf.cli.Command mixed in, and whatever configuring,
    running or the after-transaction step raises reaches the user as dnf's own one-line
    `Error: ...` (exit 1); the traceback of a bug is kept in dnf's log at debug level."""
    if not _DNF4:
        import dnf.cli
        import dnf.exceptions
        import dnf.logging

        from .base import error_line, logger

        def one_line(method):
            def call(self):
                try:
                    return method(self)
                except dnf.exceptions.Error:
                    raise                       # dnf's own (CliError, DepsolveError, ...): one line already
                except Exception as err:        # pylint: disable=broad-except
                    from ..errors import ClusterError
                    if not isinstance(err, ClusterError):
                        logger.log(dnf.logging.SUBDEBUG, "cluster plugin", exc_info=True)
                    line = error_line(err)
                    if not isinstance(err, (ClusterError, EnvironmentError)):
                        line += " (details in dnf.log)"
                    raise dnf.exceptions.Error(line)
            return call

        for command in COMMANDS:
            _DNF4.append(type(command.__name__, (command, dnf.cli.Command), {
                "__module__": command.__module__, "__doc__": command.__doc__,
                "host_errors": (dnf.exceptions.Error,), "set_argparser": _one_line_usage(command),
                "configure": one_line(command.configure), "run": one_line(command.run),
                "run_transaction": one_line(command.run_transaction)}))
    return tuple(_DNF4)


def _one_line_usage(command):
    """command.set_argparser for dnf 4, whose parser for a command's positional arguments
    prints dnf's whole usage (35 lines of every dnf option) before a one-line error such
    as a misspelled subcommand or an unknown option: here only that line is printed
    (`dnf cluster-node: error: argument subcommand: invalid choice: ...`, exit 2, as
    dnf-cluster on libdnf5 says it); `--help` still shows everything, the options of the
    command's own groups (fleet, services) included."""
    def set_argparser(cls, parser):
        owner = getattr(parser.add_argument, "__self__", None)          # dnf's OptionParser
        if owner is not None and hasattr(owner, "add_argument_group"):
            # `parser` is dnf's group of the command's options: a group made in it is
            # parsed but left out of --help (issue 25, item 5); made in dnf's parser, it
            # is listed with its options and their descriptions
            parser.add_argument_group = owner.add_argument_group
        command.set_argparser.__func__(cls, parser)
        positional = getattr(owner, "command_positional_parser", None)
        if positional is not None:
            positional.print_usage = lambda file=None: None
    return classmethod(set_argparser)


def usage(commands, options_note):
    """`dnf-cluster --help`: the commands, by their short words, with their summaries."""
    summaries = dict((c.aliases[0], c.summary) for c in commands)
    text = "dnf-cluster [options] COMMAND SUBCOMMAND [...]\n\nCommands:\n\n"
    for short, name in SHORT:
        text += "  {:<8} {:<16} {}\n".format(short, "(" + name + ")", summaries[name])
    text += "\n`dnf-cluster COMMAND --help` shows a command's options; {}.\n".format(options_note)
    text += ("\nOptions of dnf-cluster itself:\n"
             "  --backend {dnf4,libdnf5}\n"
             "                        the package manager library that runs the command (default: libdnf5\n"
             "                        on dnf5 hosts, dnf 4 elsewhere)\n"
             "  --version             dnf-cluster's version and the backend's, then exit\n")
    return text
