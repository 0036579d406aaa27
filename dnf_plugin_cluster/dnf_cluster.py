"""`dnf-cluster`: the cluster commands as a program of their own, for hosts where the
plugin cannot be loaded (dnf5). `dnf-cluster node sync` is `dnf cluster-node sync`,
`group` and `master` likewise; the long names work too.

It runs the dnf 4 command-line machinery (python3-dnf) with only the cluster commands
registered, so option parsing, the transaction table, confirmation, locking and history
are dnf's own, exactly as with the plugin. It holds no logic of its own."""
import dnf.cli.cli
import dnf.cli.main
import dnf.cli.option_parser
import dnf.util

from .commands import COMMANDS, dnf4_commands

SHORT = (("node", "cluster-node"), ("group", "cluster-group"), ("master", "cluster-master"))


class _ClusterCli(dnf.cli.cli.Cli):
    def __init__(self, base):
        super(_ClusterCli, self).__init__(base)
        self.cli_commands = {}          # dnf's own commands are not ours to offer
        for command in dnf4_commands():
            self.register_command(command)


class _ClusterOptionParser(dnf.cli.option_parser.OptionParser):
    def get_usage(self):
        """`dnf-cluster --help` lists its own commands, not dnf's."""
        summaries = dict((c.aliases[0], c.summary) for c in COMMANDS)
        usage = "dnf-cluster [options] COMMAND SUBCOMMAND [...]\n\nCommands:\n\n"
        for short, name in SHORT:
            usage += "  {:<8} {:<16} {}\n".format(short, "(" + name + ")", summaries[name])
        usage += "\n`dnf-cluster COMMAND --help` shows a command's options; the dnf options below go anywhere.\n"
        return usage


def translate(argv):
    """`node sync ...` -> `cluster-node sync ...` (the long names work as well)."""
    args = list(argv)
    for index, arg in enumerate(args):
        for short, name in SHORT:
            if arg == short:
                args[index] = name
                return args
            if arg == name:
                return args
    return args


def main(argv):
    dnf.util.MAIN_PROG = "dnf-cluster"
    dnf.util.MAIN_PROG_UPPER = "DNF-CLUSTER"
    return dnf.cli.main.main(translate(argv), cli_class=_ClusterCli, option_parser_class=_ClusterOptionParser)
