"""`dnf cluster-master publish|history|rollback|kickstart|status|sync|services`, for the
head node: the command class dnf loads, its options, the [master] defaults of
cluster.conf and the checks every subcommand shares. The subcommands live in mixins:
publish and rollback (the site repository's generations: master_site.py), history
(master_history.py), kickstart (master_kickstart.py), and status, sync and services
(the fleet through ClusterShell, the Slurm services: master_fleet.py)."""
from __future__ import absolute_import, unicode_literals

import os

from ..errors import ClusterError, quote
from ..names import check_text
from .base import ClusterCommand
from .master_fleet import FleetMixin, _fleet
from .master_history import HistoryMixin
from .master_kickstart import KickstartMixin
from .master_site import SiteMixin

# _fleet stays importable from here (tests call master._fleet())
__all__ = ["ClusterMasterCommand", "_fleet"]


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(text)
    return value


class ClusterMasterCommand(SiteMixin, HistoryMixin, KickstartMixin, FleetMixin, ClusterCommand):
    aliases = ("cluster-master",)
    summary = ("head node: publish the cluster profile, its generations and rollback, kickstart fragments, "
               "fleet status and rollouts, Slurm services")
    subcommands = ("publish", "history", "rollback", "kickstart", "status", "sync", "services")
    descriptions = {"publish": "the site's roles as the next generation of the site repository",
                    "history": "the published generations, or generation N in detail",
                    "rollback": "publish generation N again, as a new generation",
                    "kickstart": "a kickstart fragment for a new node of --role",
                    "status": "ask the nodes (-w) how they differ from their roles",
                    "sync": "roll the profile out to the nodes (-w): canaries, then waves",
                    "services": "configure and start Slurm and munge on the head node and nodes"}
    # the site tree or the nodes, not repositories
    offline = ("history", "rollback", "status", "sync", "services")

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterMasterCommand, cls).set_argparser(parser)
        parser.add_argument("generation", nargs="?", metavar="N",
                            help="rollback: the generation to publish again; history: the generation to show "
                                 "in detail")
        parser.add_argument("--roles", metavar="DIR",
                            help="publish, services: role definitions (ROLE.yaml; default: roles= in [master] of "
                                 "cluster.conf, else /etc/cluster/roles when it exists)")
        parser.add_argument("--repo-dir", metavar="DIR",
                            help="publish, history, rollback: the site repository's top SITE (e.g. "
                                 "/srv/cluster/site), as --baseurl's; this host's release SITE/<releasever> is "
                                 "used, and SITE/<releasever> itself is taken too (default: site= in [master] "
                                 "of cluster.conf)")
        parser.add_argument("--message", metavar="TEXT", default="",
                            help="publish, rollback: why (kept with the generation, shown by history)")
        lock = parser.add_mutually_exclusive_group()
        lock.add_argument("--lock", action="store_true", default=False,
                          help="publish: lock every role on every arch: the whole set a fresh node of the "
                               "role installs, resolved against the refreshed repositories, each package "
                               "pinned by version, arch and checksum")
        lock.add_argument("--lock-from", metavar="NODESET",
                          help="publish: the package set these tested nodes run (asked through the fleet "
                               "options below) becomes the lock of their role on their arch; other roles "
                               "keep theirs")
        lock.add_argument("--unlock", action="store_true", default=False, help="publish: drop all pins")
        parser.add_argument("--lock-exclude", action="append", default=[], metavar="PATTERN",
                            help="publish --lock, --lock-from: also leave these names unpinned (glob; repeatable)")
        parser.add_argument("--output", metavar="FILE", help="publish: write the profile here instead")
        parser.add_argument("--dry-run", action="store_true", default=False,
                            help="publish, rollback: show what the new generation would change against the "
                                 "published one, per role and arch, and write nothing (so does dnf's "
                                 "--assumeno); sync: every node's plan, grouped by identical plan; services: every "
                                 "file and service it would change; nothing changes (a real rollout shows "
                                 "its waves and asks first, unless -y)")
        parser.add_argument("--republish", action="store_true", default=False,
                            help="publish, rollback: make a new generation even when nothing changed (by "
                                 "default an identical publish says so and writes nothing)")
        parser.add_argument("--sign-key", metavar="KEYID",
                            help="publish, rollback: sign the site repository's repomd.xml (and "
                                 "cluster-site-release) with this key (default: sign_key= in [master] of cluster.conf)")
        parser.add_argument("--gnupghome", metavar="DIR",
                            help="publish, rollback: GnuPG home of the signing key (default: gnupghome= in [master] of "
                                 "cluster.conf)")
        parser.add_argument("--role", help="kickstart: the role to provision")
        parser.add_argument("--arch", action="append", default=[], dest="arches", metavar="ARCH",
                            help="publish: an arch repository to write (repeatable; default: the arches "
                                 "already in the site repository, else x86_64 and aarch64); kickstart: the "
                                 "node's arch (default: this host's)")
        parser.add_argument("--baseurl", action="append", default=[], metavar="[REPOID=]URL",
                            help="publish: the site repository's top (SITE) as nodes reach it, for "
                                 "cluster-site-release (default: baseurl= in [master] of cluster.conf, else the "
                                 "previous publish's, else file://SITE); "
                                 "kickstart: a repository's URL as nodes reach it (plain URL: the profile "
                                 "repository's; default: the baseurls of this host's .repo files)")
        fleet = parser.add_argument_group("fleet (status, sync, publish --lock-from)")
        fleet.add_argument("-w", "--nodes", metavar="NODESET",
                           help="the nodes: node[001-512], @compute, @gpu!node007 (ClusterShell node sets; "
                                "default: nodes= in [master] of cluster.conf)")
        fleet.add_argument("--fanout", type=_count, metavar="N",
                           help="nodes asked at once (default: clush.conf's fanout, else 64)")
        fleet.add_argument("--connect-timeout", type=float, metavar="SECONDS", help="ssh connect timeout")
        fleet.add_argument("--command-timeout", type=float, metavar="SECONDS",
                           help="time each node may take (default: clush.conf's, else none)")
        fleet.add_argument("--worker", choices=("ssh", "exec"), default="ssh",
                           help="ssh (default), or exec: a local command per node, %%h is the node name")
        fleet.add_argument("--node-command", metavar="PREFIX", default="dnf-cluster -q node",
                           help="how to call cluster-node on a node (default: %(default)s, the same on "
                                "dnf 4 and dnf5 nodes; with --worker exec, e.g. "
                                "'dnf --installroot=/images/%%h -q cluster-node')")
        fleet.add_argument("--groups-conf", metavar="FILE",
                           help="ClusterShell groups.conf for @groups (default: ClusterShell's own)")
        fleet.add_argument("--canary", metavar="N|NODESET",
                           help="sync, services --rotate: canaries first: the first N nodes, or these nodes "
                                "(default: the @canary group's nodes, else the first node; 0: none)")
        fleet.add_argument("--wave-size", type=_count, metavar="N", help="sync: nodes per wave (default: fanout)")
        fleet.add_argument("--max-failures", type=int, default=0, metavar="N",
                           help="sync: failed nodes a wave may have before the rollout stops (default: 0)")
        fleet.add_argument("--allow-mass-removal", action="store_true", default=False,
                           help="sync: passed to every node's sync (and --dry-run): a node syncs even when it "
                                "removes more packages than its max_remove (cluster.conf)")
        fleet.add_argument("--full", action="store_true", default=False,
                           help="status, sync: passed to every node's status, sync and dry run (cluster-node's "
                                "--full): each node loads its package sack and computes its answer in full "
                                "instead of answering from its no-op fast path")
        fleet.add_argument("--node-shell", metavar="PREFIX", default="",
                           help="services and status --health with --worker exec: the local command that "
                                "runs a command on node %%h (e.g. 'chroot /images/%%h')")
        fleet.add_argument("--health", action="store_true", default=False,
                           help="status: the Slurm services' health instead of the packages: per group of "
                                "nodes, whether munge authenticates against the head node (a credential "
                                "decoded each way) and the node's state in slurmctld (exit 100 when a node "
                                "is unhealthy)")
        svc = parser.add_argument_group("services")
        svc.add_argument("--controller", metavar="HOST",
                         help="the controller's host name as nodes reach it (default: this host's short name)")
        svc.add_argument("--cluster-name", default="cluster", metavar="NAME",
                         help="Slurm's ClusterName (default: %(default)s)")
        svc.add_argument("--rotate", action="store_true", default=False,
                         help="replace the munge key with a new one, on the head node, then the canary nodes "
                              "(--canary), which must authenticate against the head node before every other "
                              "node gets it")

    def conf_path(self):
        """The cluster.conf the [master] defaults come from (or would)."""
        return self.master.path or os.path.join((self.base.conf.pluginconfpath or ["/etc/dnf/plugins"])[0],
                                                "cluster.conf")

    def apply_master_config(self):
        """The head node's defaults from [master] of cluster.conf (nodeconf.MASTER_KEYS)
        for the options not given; the roles default to /etc/cluster/roles (the root's
        under --installroot) when that directory exists, except for a publish that only
        (re)locks or unlocks the published roles."""
        from .. import nodeconf
        self.master = self.node_config()
        conf, opts, sub = self.master.master, self.opts, self.opts.subcommand[0]
        if not opts.repo_dir and sub in ("publish", "history", "rollback"):
            opts.repo_dir = conf.get("site")
        self.roles_from = None
        if not opts.roles and sub in ("publish", "services"):
            opts.roles = conf.get("roles")
            self.roles_from = "roles= in [master] of {}".format(self.master.path) if opts.roles else None
            if not opts.roles:
                root = self.base.conf.installroot or "/"
                default = os.path.join(root, nodeconf.DEFAULT_ROLES_DIR.lstrip("/"))
                # --lock, --lock-from and --unlock alone republish the published roles: the
                # project's example roles there never replace what the site published
                relock = sub == "publish" and (opts.lock or opts.unlock or opts.lock_from)
                if os.path.isdir(default) and not opts.output and not relock:
                    opts.roles, self.roles_from = default, "the default roles directory"
        if sub in ("publish", "rollback"):
            if not opts.baseurl and conf.get("baseurl"):
                opts.baseurl = [conf["baseurl"]]
            if opts.sign_key is None:
                opts.sign_key = conf.get("sign_key")
            if opts.gnupghome is None:
                opts.gnupghome = conf.get("gnupghome")
        if not opts.nodes and sub in ("status", "sync"):
            opts.nodes = conf.get("nodes")

    def configure(self):
        self.apply_master_config()
        if getattr(self.opts, "generation", None) is not None and self.opts.subcommand[0] not in ("rollback",
                                                                                                 "history"):
            raise ClusterError("cluster-master {}: unexpected argument {}".format(
                self.opts.subcommand[0], quote(self.opts.generation)))
        if getattr(self.opts, "health", False) and self.opts.subcommand[0] != "status":
            raise ClusterError("--health is an option of cluster-master status")
        if getattr(self.opts, "allow_mass_removal", False) and self.opts.subcommand[0] != "sync":
            raise ClusterError("--allow-mass-removal is an option of cluster-master sync")
        if getattr(self.opts, "full", False) and (self.opts.subcommand[0] not in ("status", "sync")
                                                   or getattr(self.opts, "health", False)):
            raise ClusterError("--full is an option of cluster-master status (not with --health) and sync")
        # every text that reaches a file: one line, no control characters
        check_text(self.opts.message, "--message")
        if self.opts.sign_key is not None:
            if not self.opts.sign_key.strip():
                raise ClusterError("--sign-key needs a key id (an empty one would publish unsigned; "
                                   "leave the option out for an unsigned site repository)")
            check_text(self.opts.sign_key, "--sign-key")
        for value in self.opts.baseurl:
            check_text(value, "--baseurl")
        super(ClusterMasterCommand, self).configure()
