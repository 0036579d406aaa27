"""The cluster commands, one module each, as dnf-plugins-core has them: `cluster-node`
(node.py), `cluster-group` (group.py), `cluster-master` (master.py). They import no dnf:
the dnf 4 plugin (plugins/cluster.py) and `dnf-cluster --backend dnf4` register
dnf4_commands(); `dnf-cluster --backend libdnf5` (dnf5cli.py) runs COMMANDS itself."""
from .group import ClusterGroupCommand
from .master import ClusterMasterCommand
from .node import ClusterNodeCommand

COMMANDS = (ClusterGroupCommand, ClusterNodeCommand, ClusterMasterCommand)
_DNF4 = []


def dnf4_commands():
    """COMMANDS as dnf 4 commands: dnf.cli.Command mixed in, and a ClusterError raised
    while configuring or running becomes dnf's own `Error: ...` (exit 1)."""
    if not _DNF4:
        import dnf.cli
        import dnf.exceptions

        from ..errors import ClusterError

        def translated(method):
            def call(self):
                try:
                    return method(self)
                except ClusterError as err:
                    raise dnf.exceptions.Error(str(err))
            return call

        for command in COMMANDS:
            _DNF4.append(type(command.__name__, (command, dnf.cli.Command), {
                "__module__": command.__module__, "__doc__": command.__doc__,
                "configure": translated(command.configure), "run": translated(command.run),
                "run_transaction": translated(command.run_transaction)}))
    return tuple(_DNF4)
