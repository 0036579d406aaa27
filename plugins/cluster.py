# dnf-plugin-cluster: `dnf cluster-node`, `dnf cluster-group`, `dnf cluster-master`.
# Thin by design: the commands (dnf_plugin_cluster/commands/) and all logic live in the
# dnf_plugin_cluster library, which the `dnf-cluster` command uses as well.
from __future__ import absolute_import, unicode_literals

import dnf
import dnf.exceptions

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

    def sack(self):
        """Plain dnf commands in an image root (`dnf --installroot=IMG upgrade` with this
        host's configuration) keep the image's version locks, which dnf's versionlock
        plugin does not read there (Dnf4Backend.apply_image_locks). Nothing on a live node."""
        if (self.base.conf.installroot or "/").rstrip("/") == "":
            return
        from dnf_plugin_cluster.backends.dnf4 import Dnf4Backend
        from dnf_plugin_cluster.errors import ClusterError
        try:
            Dnf4Backend(self.base, self.cli).apply_image_locks()
        except ClusterError as err:
            raise dnf.exceptions.Error(str(err))

    @classmethod
    def read_config(cls, conf):
        """dnf's own reading, but an `enabled` that is no boolean is one line naming the
        file and line: dnf's plugin loader reads it with getboolean(), whose ValueError
        would end every dnf command in a traceback."""
        parser = super(Cluster, cls).read_config(conf)
        if parser.has_section("main") and parser.has_option("main", "enabled"):
            try:
                parser.getboolean("main", "enabled")
            except ValueError:
                from dnf_plugin_cluster import nodeconf
                problem = nodeconf.enabled_problem(conf.pluginconfpath)
                raise dnf.exceptions.ConfigError(str(problem) if problem else
                                                 "cluster.conf: enabled is not a boolean (1 or 0)")
        return parser
