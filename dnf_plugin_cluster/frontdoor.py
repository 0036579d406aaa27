"""The standalone `dnf-cluster` front door. It runs the dnf 4 command-line machinery
(python3-dnf, installable beside dnf5) with the cluster commands registered, so option
parsing, the transaction table, confirmation, locking and history are dnf's own, exactly
as with `dnf cluster-node ...`. It holds no logic of its own."""
import dnf.cli.cli
import dnf.cli.main
import dnf.const
import dnf.util

from . import dnfcommands

SHORT = {"node": "cluster-node", "group": "cluster-group", "master": "cluster-master"}


class _ClusterCli(dnf.cli.cli.Cli):
    def __init__(self, base):
        super(_ClusterCli, self).__init__(base)
        for command in dnfcommands.COMMANDS:
            self.register_command(command)


def translate(argv):
    """`node sync ...` -> `cluster-node sync ...` (the long names work as well)."""
    args = list(argv)
    for index, arg in enumerate(args):
        if arg in SHORT:
            args[index] = SHORT[arg]
            break
        if arg in SHORT.values():
            break
    return args


def main(argv):
    dnf.util.MAIN_PROG = "dnf-cluster"
    dnf.util.MAIN_PROG_UPPER = "DNF-CLUSTER"
    return dnf.cli.main.main(translate(argv), cli_class=_ClusterCli)
