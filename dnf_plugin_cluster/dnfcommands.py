"""The dnf 4 commands. Both front doors register these classes: the dnf plugin
(plugins/cluster.py) and the standalone `dnf-cluster`. They translate between dnf
objects and the plain modules (groups, profile, plan, state), and keep imports light:
the plugin is loaded for every dnf command, so heavy modules load only when used."""
from __future__ import absolute_import, unicode_literals

import json
import logging

import dnf.cli
import dnf.exceptions

from .errors import ClusterError

logger = logging.getLogger("dnf.plugin.cluster")


def _fail(err):
    """A ClusterError becomes dnf's one-line `Error: ...` and exit status 1."""
    raise dnf.exceptions.Error(str(err))


class _ClusterCommand(dnf.cli.Command):
    subcommands = ()

    @classmethod
    def set_argparser(cls, parser):
        parser.add_argument("subcommand", nargs=1, choices=cls.subcommands,
                            help=", ".join(cls.subcommands))
        parser.add_argument("--json", action="store_true", default=False,
                            help="print machine-readable JSON on stdout")

    @property
    def sub(self):
        return self.opts.subcommand[0]

    def quiet_for_json(self):
        """Keep stdout pure JSON: dnf's informational logging goes quiet and the
        download progress goes to stderr."""
        if self.opts.json:
            self.cli.redirect_logger(stdout=logging.WARNING, stderr=logging.WARNING)
            self.cli.redirect_repo_progress()

    def print_json(self, data):
        print(json.dumps(data, indent=2, sort_keys=True))

    @property
    def basearch(self):
        return self.base.conf.substitutions["basearch"]


class ClusterGroupCommand(_ClusterCommand):
    aliases = ("cluster-group",)
    summary = "list and inspect the cluster's comps groups for this node's arch"
    subcommands = ("list", "info")

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterGroupCommand, cls).set_argparser(parser)
        parser.add_argument("groups", nargs="*", metavar="GROUP", help="group ids")
        parser.add_argument("--with-optional", action="store_true", default=False,
                            help="include the optional tier")

    def configure(self):
        self.quiet_for_json()
        demands = self.cli.demands
        demands.available_repos = True
        demands.sack_activation = True

    def repo_comps(self):
        """The enabled repositories' comps, parsed by our safe parser and merged."""
        from . import comps
        docs = []
        for repo in sorted(self.base.repos.iter_enabled(), key=lambda r: r.id):
            for mdtype in ("group_gz", "group"):
                if repo.get_metadata_path(mdtype):
                    docs.append(comps.parse(repo.get_metadata_content(mdtype),
                                            "comps of repository '{}'".format(repo.id)))
                    break
        return comps.union(docs)

    def _views(self):
        from . import groups
        try:
            doc = self.repo_comps()
        except ClusterError as err:
            _fail(err)
        history = self.base.history.group
        installed = set(g.id for g in doc.groups if history.get(g.id) is not None)
        return groups.cluster_views(doc, self.basearch, installed)

    def _select(self, views):
        if not self.opts.groups:
            return views
        by_id = dict((v.id, v) for v in views)
        missing = [g for g in self.opts.groups if g not in by_id]
        if missing:
            _fail(ClusterError("unknown cluster group '{}' for {} (known: {})".format(
                missing[0], self.basearch, ", ".join(sorted(by_id)) or "none")))
        return [by_id[g] for g in self.opts.groups]

    def run(self):
        from . import groups
        views = self._views()
        if not views and not self.opts.json:
            _fail(ClusterError("no cluster groups: no enabled repository has a comps category 'cluster'"))
        selected = self._select(views)
        if self.opts.json:
            self.print_json({"arch": self.basearch,
                             "groups": [v.as_dict(self.opts.with_optional) for v in selected]})
        elif self.sub == "list":
            print(groups.format_list(selected, self.basearch))
        else:
            if not self.opts.groups:
                _fail(ClusterError("cluster-group info needs at least one GROUP"))
            print("\n\n".join(groups.format_info(v, self.basearch, self.opts.with_optional)
                              for v in selected))


COMMANDS = (ClusterGroupCommand,)
