"""`dnf cluster-master publish|kickstart|status|sync`, for the head node: put the cluster
profile (from the site's role definitions, optionally pinned to this head node's
versions) into the repository metadata, print a kickstart fragment for a role, and look
at or roll out to the fleet (`-w NODESET`, through ClusterShell: fleet.py)."""
from __future__ import absolute_import, unicode_literals

import fnmatch
import os

from ..errors import ClusterError
from .base import INFO, WARNING, ClusterCommand


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(text)
    return value


class ClusterMasterCommand(ClusterCommand):
    aliases = ("cluster-master",)
    summary = "head node: publish the cluster profile, kickstart fragments, fleet status and rollouts"
    subcommands = ("publish", "kickstart", "status", "sync")
    offline = ("status", "sync")        # they ask nodes, not repositories

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterMasterCommand, cls).set_argparser(parser)
        parser.add_argument("--roles", metavar="DIR", help="publish: role definitions (roles/*.yaml)")
        parser.add_argument("--repo-dir", metavar="DIR",
                            help="publish: the repository tree of one release (OUTDIR/<releasever>)")
        lock = parser.add_mutually_exclusive_group()
        lock.add_argument("--lock", action="store_true", default=False,
                          help="publish: pin the versions installed on this head node")
        lock.add_argument("--unlock", action="store_true", default=False, help="publish: drop all pins")
        parser.add_argument("--lock-exclude", action="append", default=[], metavar="PATTERN",
                            help="publish --lock: also leave these names unpinned (glob; repeatable)")
        parser.add_argument("--output", metavar="FILE", help="publish: write the profile here instead")
        parser.add_argument("--sign-key", metavar="KEYID", help="publish: re-sign repomd.xml with this key")
        parser.add_argument("--gnupghome", metavar="DIR", help="publish: GnuPG home of the signing key")
        parser.add_argument("--role", help="kickstart: the role to provision")
        parser.add_argument("--arch", help="kickstart: the node's arch (default: this host's)")
        parser.add_argument("--baseurl", help="kickstart: the cluster repository URL as nodes reach it "
                                              "(default: the profile repository's baseurl)")
        fleet = parser.add_argument_group("fleet (status, sync)")
        fleet.add_argument("-w", "--nodes", metavar="NODESET",
                           help="the nodes: node[001-512], @compute, @gpu!node007 (ClusterShell node sets)")
        fleet.add_argument("--fanout", type=_count, metavar="N",
                           help="nodes asked at once (default: clush.conf's fanout, else 64)")
        fleet.add_argument("--connect-timeout", type=float, metavar="SECONDS", help="ssh connect timeout")
        fleet.add_argument("--command-timeout", type=float, metavar="SECONDS",
                           help="time each node may take (default: clush.conf's, else none)")
        fleet.add_argument("--worker", choices=("ssh", "exec"), default="ssh",
                           help="ssh (default), or exec: a local command per node, %%h is the node name")
        fleet.add_argument("--node-command", metavar="PREFIX", default="dnf -q cluster-node",
                           help="how to call cluster-node on a node (default: %(default)s; on dnf5 "
                                "nodes: 'dnf-cluster -q node'; with --worker exec, e.g. "
                                "'dnf --installroot=/images/%%h -q cluster-node')")
        fleet.add_argument("--groups-conf", metavar="FILE",
                           help="ClusterShell groups.conf for @groups (default: ClusterShell's own)")
        fleet.add_argument("--canary", metavar="N|NODESET",
                           help="sync: canaries first: the first N nodes, or these nodes (default: the "
                                "@canary group's nodes, else the first node; 0: none)")
        fleet.add_argument("--wave-size", type=_count, metavar="N", help="sync: nodes per wave (default: fanout)")
        fleet.add_argument("--max-failures", type=int, default=0, metavar="N",
                           help="sync: failed nodes a wave may have before the rollout stops (default: 0)")
        fleet.add_argument("--dry-run", dest="fleet_dry_run", action="store_true", default=False,
                           help="sync: every node's plan, grouped by identical plan; nothing changes")

    def configure_publish(self):
        if not self.opts.repo_dir or not (self.opts.roles or self.opts.lock or self.opts.unlock):
            raise ClusterError("cluster-master publish needs --repo-dir and --roles (or --lock/--unlock)")
        if not self.opts.lock:
            self.cli.demands.load_system_repo = False

    def configure_kickstart(self):
        if not self.opts.role:
            raise ClusterError("cluster-master kickstart needs --role")
        self.backend.want_metadata("cluster")
        # stdout is the kickstart alone (saved to a file, read by ksvalidator): dnf's
        # messages and the metadata download progress go to stderr
        self.cli.redirect_logger(stdout=WARNING, stderr=INFO)
        self.cli.redirect_repo_progress()

    def _configure_fleet(self):
        if not self.opts.nodes:
            raise ClusterError("cluster-master {} needs -w NODESET".format(self.sub))

    configure_status = _configure_fleet

    configure_sync = _configure_fleet

    def _transport(self):
        from .. import fleet
        defaults = fleet.clush_defaults()
        opts = self.opts
        return dict(fanout=opts.fanout or defaults.get("fanout", 64), worker=opts.worker,
                    timeout=opts.command_timeout if opts.command_timeout is not None
                    else defaults.get("command_timeout"),
                    connect_timeout=opts.connect_timeout if opts.connect_timeout is not None
                    else defaults.get("connect_timeout"),
                    resolver=fleet.group_resolver(opts.groups_conf))

    def _report(self, result):
        from .. import fleet
        if self.opts.json:
            self.print_json(result.as_dict())
        else:
            print("\n".join(result.lines()))
        if result.exit_code == 100:
            self.cli.demands.success_exit_status = 100
        elif result.exit_code:
            failed = result.failed() if isinstance(result, fleet.Rollout) else result.unanswered()
            raise ClusterError("{} node{} {}: {}".format(
                len(failed), "" if len(failed) == 1 else "s",
                "failed; the rollout stopped" if isinstance(result, fleet.Rollout) and not result.dry_run
                else "could not be asked", failed))

    def run_status(self):
        from .. import fleet
        self._report(fleet.status(self.opts.nodes, fleet.node_commands(self.opts.node_command)["status"],
                                  **self._transport()))

    def run_sync(self):
        from .. import fleet
        transport = self._transport()
        canary = self.opts.canary
        self._report(fleet.rollout(self.opts.nodes, fleet.node_commands(self.opts.node_command), canary=canary,
                                   wave_size=self.opts.wave_size, max_failures=self.opts.max_failures,
                                   dry_run=self.base.conf.assumeno or self.opts.fleet_dry_run, **transport))

    def lock_pins(self, names, excludes):
        """EVRs installed on this head node for the profile's packages and their whole
        installed dependency closure, minus the OS core (see profile.LOCK_EXCLUDE) and
        installonly packages."""
        installonly = self.backend.installonly()
        return dict((name, evr) for name, evr in self.backend.installed_requires(names).items()
                    if name not in installonly and not any(fnmatch.fnmatchcase(name, pat) for pat in excludes))

    def run_publish(self):
        from .. import profile, publish
        tree = os.path.abspath(self.opts.repo_dir)
        previous = publish.current(tree)
        if self.opts.roles:
            roles = profile.load_roles(self.opts.roles)
        elif previous is None:
            raise ClusterError("the repository has no profile yet: pass --roles", tree)
        arches = sorted(publish.arch_repos(tree))
        if self.opts.roles:
            available = self.backend.available_names()
            draft = profile.build(roles, publish.tree_comps(tree), arches,
                                  known=(lambda arch: available) if available else None)
        else:
            draft = dict(previous, pins={})
        if self.opts.lock:
            names = set(n for r in draft["roles"].values() for a in r["arches"].values() for n in a["packages"])
            pins = self.lock_pins(names, list(profile.LOCK_EXCLUDE) + self.opts.lock_exclude)
        elif self.opts.unlock or previous is None:
            pins = {}
        else:
            pins = previous["pins"]
        prof = dict(draft, pins=pins)
        profile.validate(prof, "published profile")
        if self.opts.output:
            with open(self.opts.output, "w") as handle:
                handle.write(profile.dumps(prof))
            where = self.opts.output
        else:
            sign = None
            if self.opts.sign_key:
                from ..signing import Gpg
                sign = Gpg(self.opts.sign_key, self.opts.gnupghome).sign_file
            publish.add(tree, prof, sign)
            where = ", ".join(os.path.join(tree, a, "repodata") for a in arches)
        if self.opts.json:
            self.print_json({"roles": sorted(prof["roles"]), "pins": prof["pins"], "written": where,
                             "profile": profile.digest(prof)})
        else:
            print("Published cluster profile: roles {}; {} pins -> {}".format(
                ", ".join(sorted(prof["roles"])), len(pins), where))

    def run_kickstart(self):
        from .. import kickstart, profile
        from ..sync import find_profile
        repoid, prof = find_profile(self.backend, self.node_config().profile_repo)
        arch = self.opts.arch or self.backend.basearch
        view = profile.RoleView(prof, self.opts.role, arch)
        url = self.opts.baseurl or self.node_baseurl(repoid, arch)
        print(kickstart.render(view, [(repoid, url)], "repository '{}'".format(repoid)), end="")

    def node_baseurl(self, repoid, arch):
        """The repository's baseurl as a node of `arch` sees it."""
        template = self.backend.baseurl_template(repoid)
        if not template:
            raise ClusterError("cannot tell the baseurl of repository '{}' for {} nodes: pass --baseurl".format(
                repoid, arch))
        subst = dict(self.backend.substitutions(), basearch=arch, arch=arch)
        for key, value in sorted(subst.items(), key=lambda kv: -len(kv[0])):
            template = template.replace("${%s}" % key, value).replace("$" + key, value)
        return template
