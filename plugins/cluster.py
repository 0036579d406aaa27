# dnf-plugin-cluster: `dnf cluster-node`, `dnf cluster-group`, `dnf cluster-master`.
# Thin by design: the commands (dnf_plugin_cluster/commands/) and all logic live in the
# dnf_plugin_cluster library, which the `dnf-cluster` command uses as well.
from __future__ import absolute_import, unicode_literals

import dnf

from dnf_plugin_cluster.commands import dnf4_commands


class Cluster(dnf.Plugin):
    name = "cluster"

    def __init__(self, base, cli):
        super(Cluster, self).__init__(base, cli)
        if cli is not None:
            for command in dnf4_commands():
                # the standalone dnf-cluster front door has registered them already
                if command.aliases[0] not in cli.cli_commands:
                    cli.register_command(command)
