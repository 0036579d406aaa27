"""The dnf commands, one module each, as dnf-plugins-core has them: `cluster-node`
(node.py), `cluster-group` (group.py), `cluster-master` (master.py). The dnf 4 plugin
(plugins/cluster.py) and the `dnf-cluster` command (dnf_cluster.py) register COMMANDS."""
from .group import ClusterGroupCommand
from .master import ClusterMasterCommand
from .node import ClusterNodeCommand

COMMANDS = (ClusterGroupCommand, ClusterNodeCommand, ClusterMasterCommand)
