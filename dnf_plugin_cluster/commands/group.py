"""`dnf cluster-group list|info|install|remove`: the cluster's comps groups (those in
the `cluster` category) as they apply to this node's arch, read from every enabled
repository's comps through libcomps (comps.py)."""
from __future__ import absolute_import, unicode_literals

from ..errors import ClusterError, quote
from .base import ClusterCommand


class ClusterGroupCommand(ClusterCommand):
    aliases = ("cluster-group",)
    summary = "list, inspect, install and remove the cluster's comps groups for this node's arch"
    subcommands = ("list", "info", "install", "remove")
    descriptions = {"list": "the cluster's groups for this node's arch, and which are installed",
                    "info": "the packages of the named groups, tier by tier",
                    "install": "install the named groups (mandatory and default tiers)",
                    "remove": "remove the named groups"}

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterGroupCommand, cls).set_argparser(parser)
        parser.add_argument("groups", nargs="*", metavar="GROUP", help="group ids")
        parser.add_argument("--with-optional", action="store_true", default=False,
                            help="include the optional tier")

    def configure_list(self):
        pass

    def configure_info(self):
        if not self.opts.groups:
            raise ClusterError("cluster-group info needs at least one GROUP")

    def configure_install(self):
        self.cli.demands.resolving = True
        self.cli.demands.root_user = True
        if not self.opts.groups:
            raise ClusterError("cluster-group install needs at least one GROUP")

    configure_remove = configure_install

    def views(self):
        """The cluster groups for this arch, those named on the command line if any."""
        from .. import groups
        arch = self.backend.basearch
        from ..comps import repo_comps
        views = groups.cluster_views(repo_comps(self.backend), arch)
        if not views:
            raise ClusterError("no cluster groups: no enabled repository has a comps category '{}'".format(
                groups.CLUSTER_CATEGORY))
        installed = self.backend.installed_groups([v.id for v in views])
        names = set(self.backend.installed())
        for view in views:
            view.installed = view.id in installed
            # a role's groups come onto a node by cluster-node sync, package by package
            view.packages_installed = len(set(view.packages()) & names)
        if not self.opts.groups:
            return views
        by_id = dict((v.id, v) for v in views)
        missing = [g for g in self.opts.groups if g not in by_id]
        if missing:
            raise ClusterError("unknown cluster group {} for {} (known: {})".format(
                quote(missing[0]), arch, ", ".join(sorted(by_id)) or "none"))
        return [by_id[g] for g in self.opts.groups]

    def _show(self, text):
        views = self.views()
        if self.opts.json:
            self.print_json({"arch": self.backend.basearch,
                             "groups": [v.as_dict(self.opts.with_optional) for v in views]})
        else:
            print(text(views, self.backend.basearch))

    def run_list(self):
        from ..groups import format_list
        self._show(format_list)

    def run_info(self):
        from ..groups import format_info
        self._show(lambda views, arch: "\n\n".join(format_info(v, arch, self.opts.with_optional) for v in views))

    def run_install(self):
        for view in self.views():
            self.backend.group_install(view, self.opts.with_optional)

    def run_remove(self):
        for view in self.views():
            if not view.installed:
                raise ClusterError("cluster group '{}' is not installed".format(view.id))
            self.backend.group_remove(view.id)
