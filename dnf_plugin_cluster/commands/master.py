"""`dnf cluster-master publish|history|rollback|kickstart|status|sync`, for the head node:
publish the cluster profile (from the site's role definitions, optionally pinned to
this head node's versions) as the next generation of the site repository (publish.py),
list and roll back generations, print a kickstart fragment for a role, look at or
roll out to the fleet (`-w NODESET`, through ClusterShell: fleet.py), and turn the roles
and node groups into a running Slurm cluster (`services`: services.py)."""
from __future__ import absolute_import, unicode_literals

import os
import sys

from ..errors import ClusterError, quote
from ..names import CLUSTER_ARCHES, check_text
from .base import INFO, WARNING, ClusterCommand, ask_terminal, logger


def _fleet():
    """fleet.py, which needs ClusterShell (python3-clustershell; the head node has it
    through cluster-tools-admin, a compute node need not)."""
    try:
        from ..head import fleet
    except ImportError as err:
        if "ClusterShell" not in str(err):
            raise
        raise ClusterError("the fleet commands (-w) need ClusterShell: dnf install python3-clustershell")
    return fleet


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
        fleet.add_argument("--node-command", metavar="PREFIX", default="dnf -q cluster-node",
                           help="how to call cluster-node on a node (default: %(default)s; on dnf5 "
                                "nodes: 'dnf-cluster -q node'; with --worker exec, e.g. "
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

    def configure_publish(self):
        from .. import nodeconf
        if not (self.opts.repo_dir or self.opts.output):
            raise ClusterError("cluster-master publish: no site repository: pass --repo-dir SITE (or --output "
                               "FILE), or set site = SITE in [master] of {}".format(self.conf_path()))
        if not (self.opts.roles or self.opts.lock or self.opts.unlock or self.opts.lock_from):
            raise ClusterError("cluster-master publish: no roles: pass --roles DIR, set roles = DIR in [master] "
                               "of {}, or put them in {} (--lock, --lock-from or --unlock alone republish the "
                               "published roles)".format(self.conf_path(), nodeconf.DEFAULT_ROLES_DIR))
        self.site_release_dir()
        if len(self.opts.baseurl) > 1:
            raise ClusterError("cluster-master publish takes one --baseurl (the site repository's top)")
        self.cli.demands.load_system_repo = False         # what this host runs plays no part
        self.cli.demands.freshest_metadata = True         # never a profile from a stale cache
        if self.opts.lock:
            from ..nodeconf import SITE_PROFILE_REPO
            if getattr(self.cli.demands, "cacheonly", False) or getattr(self.base.conf, "cacheonly", False):
                raise ClusterError("publish --lock resolves against the repositories' current metadata, never "
                                   "the cache alone: run it without -C/--cacheonly")
            # a repository that cannot be refreshed fails the publish instead of dropping out
            self.backend.strict_repos(optional=(SITE_PROFILE_REPO,))

    def _need_site(self):
        if not self.opts.repo_dir:
            raise ClusterError("cluster-master {}: no site repository: pass --repo-dir SITE, or set site = SITE "
                               "in [master] of {}".format(self.sub, self.conf_path()))
        self.site_release_dir()

    def _generation_number(self):
        try:
            number = int(self.opts.generation)
        except ValueError:
            number = 0
        if number < 1:
            raise ClusterError("cluster-master {}: the generation is a number of 1 or more, not {}".format(
                self.sub, quote(self.opts.generation)))
        return number

    def configure_history(self):
        self._need_site()
        self.show_generation = self._generation_number() if self.opts.generation is not None else None

    def configure_rollback(self):
        if self.opts.generation is None:
            raise ClusterError("cluster-master rollback needs a generation N")
        self._need_site()
        self.rollback_to = self._generation_number()

    def configure_kickstart(self):
        if not self.opts.role:
            raise ClusterError("cluster-master kickstart needs --role")
        if len(self.opts.arches) > 1:
            raise ClusterError("cluster-master kickstart takes one --arch")
        self.backend.want_metadata("cluster")
        # stdout is the kickstart alone (saved to a file, read by ksvalidator): dnf's
        # messages and the metadata download progress go to stderr
        self.cli.redirect_logger(stdout=WARNING, stderr=INFO)
        self.cli.redirect_repo_progress()

    def _configure_fleet(self):
        if not self.opts.nodes:
            raise ClusterError("cluster-master {} needs -w NODESET (or nodes = NODESET in [master] of {})".format(
                self.sub, self.conf_path()))

    configure_status = _configure_fleet

    def configure_sync(self):
        """dnf's rule for a rollout: -y rolls out; --assumeno shows the waves and refuses;
        otherwise the waves are shown and the admin is asked, and without a terminal to
        ask (a script, cron, no stdin) the rollout is refused before any node is asked."""
        self._configure_fleet()
        conf = self.base.conf
        if self.opts.dry_run or conf.assumeyes or conf.assumeno:
            return
        if self.opts.json:
            raise ClusterError("cluster-master sync --json needs -y (or --dry-run)")
        if not (sys.stdin and sys.stdin.isatty()):
            raise ClusterError("cluster-master sync: refusing to roll out unattended (no terminal to ask): "
                               "pass -y to roll out, or --dry-run to see each node's plan")

    def configure_services(self):
        from .. import nodeconf
        if not self.opts.roles:
            raise ClusterError("cluster-master services needs --roles DIR, roles = DIR in [master] of {} or {} "
                               "(the site's roles; their nodes are the ClusterShell groups @ROLE)".format(
                                   self.conf_path(), nodeconf.DEFAULT_ROLES_DIR))

    def _transport(self):
        fleet = _fleet()
        defaults = fleet.clush_defaults()
        opts = self.opts
        return dict(fanout=opts.fanout or defaults.get("fanout", 64), worker=opts.worker,
                    timeout=opts.command_timeout if opts.command_timeout is not None
                    else defaults.get("command_timeout"),
                    connect_timeout=opts.connect_timeout if opts.connect_timeout is not None
                    else defaults.get("connect_timeout"),
                    resolver=fleet.group_resolver(opts.groups_conf), ssh=defaults.get("ssh"))

    def _report(self, result):
        fleet = _fleet()
        if self.opts.json:
            self.print_json(result.as_dict())
        else:
            print("\n".join(result.lines()))
        refusing = result.refusing() if isinstance(result, fleet.Rollout) else None
        if refusing:
            logger.warning("Warning: %d node%s would refuse a real sync (the removal limit or the node floor; see "
                           "their lines): %s", len(refusing), "" if len(refusing) == 1 else "s", refusing)
        if result.exit_code == 100:
            self.cli.demands.success_exit_status = 100
        elif result.exit_code:
            failed = result.failed() if isinstance(result, fleet.Rollout) else result.unanswered()
            raise ClusterError("{} node{} {}: {}".format(
                len(failed), "" if len(failed) == 1 else "s",
                "failed; the rollout stopped" if isinstance(result, fleet.Rollout) and not result.dry_run
                else "could not be asked", failed))

    def run_status(self):
        fleet = _fleet()
        if self.opts.health:
            from ..head import health
            link, resolver = self._services_transport()
            self._report(health.check(fleet.nodeset(self.opts.nodes, resolver), link))
            return
        self._report(fleet.status(self.opts.nodes, fleet.node_commands(self.opts.node_command)["status"],
                                  **self._transport()))

    def run_sync(self):
        fleet = _fleet()
        transport = self._transport()
        canary = self.opts.canary
        conf = self.base.conf
        if not self.opts.dry_run and (conf.assumeno or not conf.assumeyes):
            waves = fleet.plan_waves(self.opts.nodes, canary, self.opts.wave_size or transport["fanout"],
                                     transport["resolver"])
            print("\n".join(fleet.plan_lines(waves, self.opts.max_failures)))
            if conf.assumeno or not self.confirm():
                raise ClusterError("Operation aborted: no node was synced.")
        commands = fleet.node_commands(self.opts.node_command, self.opts.allow_mass_removal)
        self._report(fleet.rollout(self.opts.nodes, commands, canary=canary,
                                   wave_size=self.opts.wave_size, max_failures=self.opts.max_failures,
                                   dry_run=self.opts.dry_run, **transport))

    @staticmethod
    def confirm():
        """The admin's answer on the terminal, as dnf asks."""
        return ask_terminal()

    def run_services(self):
        from .. import profile
        _fleet()                        # ClusterShell, or the one line that says to install it
        from ..head import services
        opts = self.opts
        link, resolver = self._services_transport()
        roles = services.site_roles(profile.load_roles(opts.roles), resolver,
                                    opts.controller or services.this_host())
        dry_run = opts.dry_run or self.base.conf.assumeno
        plan = services.plan(roles, link, controller=opts.controller, cluster=opts.cluster_name,
                             rotate=opts.rotate, canary=opts.canary, resolver=resolver)
        if opts.json:
            self.print_json(dict(plan.as_dict(), dry_run=dry_run))
        elif plan.empty:
            print("Nothing to change: the Slurm services are configured and running.")
        else:
            print("\n".join(plan.lines()))
        if plan.empty:
            return
        if dry_run:
            if not opts.json:
                print("dry run: nothing was changed.")
            return
        if not self.base.conf.assumeyes and not self._confirm():
            raise ClusterError("Operation aborted: nothing was changed.")
        failures = services.apply(plan, link, log=(lambda text: None) if opts.json else print)
        if failures:
            raise ClusterError("{} node{} failed: {}".format(len(failures), "" if len(failures) == 1 else "s",
                                                             "; ".join(failures[:5])))

    def _services_transport(self):
        """(services.Transport, the group resolver): how services and status --health
        run their shell scripts on the nodes."""
        from ..head import services
        transport = self._transport()
        resolver = transport.pop("resolver")
        worker = transport.pop("worker")
        return services.Transport(worker, self.opts.node_shell, **transport), resolver

    def _confirm(self):
        """The host's confirmation (dnf5cli), else dnf 4's, else a plain question."""
        confirm = getattr(self.cli, "confirm", None)
        if confirm is not None:
            return confirm()
        output = getattr(self.base, "output", None)
        if output is not None and hasattr(output, "userconfirm"):
            return output.userconfirm()
        return self.confirm()

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

    def site_release_dir(self):
        """--repo-dir (or site=) is SITE, the site repository's top: publish, history and
        rollback work on SITE/<releasever> of this host. SITE/<releasever> itself (a last
        part such as 9 or 9.4) is taken as it is."""
        from ..head.publish import RELEASEVER_RE
        if not self.opts.repo_dir:
            return
        path = self.opts.repo_dir.rstrip("/") or "/"
        if RELEASEVER_RE.match(os.path.basename(path)):
            return
        releasever = self.backend.substitutions().get("releasever")
        if not releasever:
            raise ClusterError("cannot tell this host's release ($releasever): pass --releasever, or --repo-dir "
                               "SITE/<releasever>", path)
        self.opts.repo_dir = os.path.join(path, releasever)

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

    def _site(self):
        from ..head import publish
        return publish.SiteTree(self.opts.repo_dir).check()

    def _gpg(self, site):
        """The signing key, checked to sign before anything is written; None unsigned
        (refused when the tree is signed: a stale signature would be left)."""
        if not self.opts.sign_key:
            site.refuse_stale_signature(False)
            return None
        from ..head.signing import Gpg
        return Gpg(self.opts.sign_key, self.opts.gnupghome).check()

    @property
    def dry_run(self):
        """publish and rollback write nothing under --dry-run and dnf's --assumeno."""
        return self.opts.dry_run or self.base.conf.assumeno

    def _publish(self, site, build, action):
        """Under the tree's lock: build(previous profile, arches) -> the new profile,
        published as the next generation, unless it changes nothing (--republish: anyway);
        prints what was done. A dry run shows what would change and writes nothing (no
        lock either)."""
        from ..head import lock, siterelease
        from ..head.preview import Preview
        gpg = self._gpg(site)
        arches = site.publish_arches(self.opts.arches)
        baseurl = self.opts.baseurl[0] if self.opts.baseurl else None
        warn = lambda text: logger.warning("Warning: %s", text)
        shipped = siterelease.baseurl_for(site, baseurl)
        if shipped.startswith("file://"):
            warn("cluster-site-release points nodes at {} (no --baseurl): only nodes that mount {} there "
                 "reach it; publish again with --baseurl URL (the site repository's top as nodes reach it, "
                 "e.g. https://head.example.org/site) and cluster-site-release is rebuilt".format(
                     shipped, site.top))
        if self.dry_run:
            previous = site.published(warn=warn)
            preview = Preview(site, previous, build(previous, arches), arches, gpg, baseurl)
            self._say(preview.as_dict(), preview.lines(True) + [
                "Dry run: nothing was written{}.".format(" (--assumeno)" if not self.opts.dry_run else "")],
                dry_run=True)
            return
        wait = lambda: logger.warning("Waiting for another publish into %s...", site.path)
        with site.locked(on_wait=wait):
            previous = site.published(warn=warn)
            prof = build(previous, arches)
            preview = Preview(site, previous, prof, arches, gpg, baseurl)
            if not preview.changed and not self.opts.republish:
                self._say(preview.as_dict(), preview.lines(False))
                return
            entry = site.publish(prof, arches, gpg=gpg, message=self.opts.message, action=action,
                                 baseurl=baseurl, warn=lambda text: logger.warning("Warning: %s", text))
        if self.opts.json:
            self.print_json(dict(entry, written=[os.path.join(site.path, a) for a in arches],
                                 profile=entry["digest"], pins=prof["pins"], changed=preview.changed,
                                 locked=lock.pins_of(prof)))
        else:
            print("Published generation {}, digest {}: roles {}; {} -> {} ({})".format(
                entry["generation"], entry["digest"][:12], ", ".join(entry["roles"]), lock.describe(prof),
                site.path, ", ".join(arches)))

    def _say(self, data, lines, dry_run=False):
        if self.opts.json:
            self.print_json(dict(data, dry_run=dry_run))
        else:
            print("\n".join(lines))

    def check_release(self):
        """The profile is resolved with this head node's repositories ($releasever) and,
        with --lock, its installed packages: SITE/<releasever> of another release would
        give nodes of that release packages built for this one. Refused before anything
        is read or written."""
        site = os.path.basename(os.path.abspath(self.opts.repo_dir))
        host = self.backend.substitutions().get("releasever")
        if not host or site == host:
            return
        if site.split(".")[0] == host.split(".")[0] and site.split(".")[0].isdigit():
            return                                  # 9 and 9.4: one major release
        raise ClusterError("cluster-master publish: this head node resolves the profile for release {} "
                           "($releasever) but --repo-dir is the site repository of release {}: publish "
                           "release {}'s profile from a head node of that release".format(host, site, site),
                           self.opts.repo_dir)

    def run_publish(self):
        from .. import profile
        from ..head import lock
        opts = self.opts
        if opts.repo_dir and not opts.output and (opts.roles or opts.lock):
            self.check_release()
        if self.roles_from:             # not on the command line: say where they come from
            logger.info("Roles from %s (%s)", opts.roles, self.roles_from)
        roles = profile.load_roles(opts.roles) if opts.roles else None
        self.from_nodes = self.ask_lock_from() if opts.lock_from else None
        if opts.output:
            previous = self._site().published() if opts.repo_dir else None
            prof = self.profile_for(roles, previous, sorted(set(opts.arches) or CLUSTER_ARCHES))
            if self.dry_run:
                print("Dry run: the cluster profile (roles {}; {}) would be written to {}; nothing was "
                      "written.".format(", ".join(sorted(prof["roles"])), lock.describe(prof), opts.output))
                return
            with open(opts.output, "w") as handle:
                handle.write(profile.dumps(prof))
            print("Wrote the cluster profile (roles {}; {}) to {}".format(
                ", ".join(sorted(prof["roles"])), lock.describe(prof), opts.output))
            return
        self.check_arch_trees()
        site = self._site()
        action = "lock" if opts.lock or opts.lock_from else ("unlock" if opts.unlock else "publish")
        self._publish(site, lambda previous, arches: self.profile_for(roles, previous, arches), action)

    def ask_lock_from(self):
        """publish --lock-from: each tested node's package set (lock.from_nodes()), asked
        with `status --json --packages` through the fleet transport."""
        from ..head import lock
        fleet = _fleet()
        command = fleet.node_commands(self.opts.node_command)["status"] + " --packages"
        report = fleet.ask(self.opts.lock_from, command, "status", **self._transport())
        found = lock.from_nodes(report.results, set(self.backend.installonly()), self.opts.lock_exclude)
        for (role, arch), (node, locked) in sorted(found.items()):
            logger.info("role %s on %s: %d packages locked as node %s runs them", role, arch, len(locked), node)
        return found

    def check_arch_trees(self):
        """publish --arch X: the cluster repository must have an X tree, or nodes of X
        would get a profile for packages that do not exist (publish --lock reads every
        arch's trees anyway, and refuses one that is missing)."""
        from ..nodeconf import DEFAULT_PROFILE_REPO
        if self.opts.lock or not self.backend.repo_state(DEFAULT_PROFILE_REPO):
            return
        for arch in sorted(set(self.opts.arches)):
            if self.backend.has_tree(DEFAULT_PROFILE_REPO, arch) is False:
                raise ClusterError("publish --arch {0}: repository '{1}' has no {0} tree (nothing of the cluster "
                                   "is built for {0})".format(arch, DEFAULT_PROFILE_REPO))

    def profile_for(self, roles, previous, arches):
        """The profile to publish: the roles resolved with the comps of this host's
        enabled repositories (as cluster-group reads them), or the previous profile's
        roles; locked per role and arch (--lock: head/lock.py), no pins (--unlock), else
        the previous profile's pins and locks."""
        from .. import profile
        from ..comps import repo_comps
        from ..head import lock
        if roles is None and previous is None:
            raise ClusterError("the site repository has no profile yet: pass --roles", self.opts.repo_dir)
        # the site-local RPMs dropped into the site repository's <arch>/Packages/, which this
        # publish indexes: known to the roles and seen by the lock already
        site = self._site() if self.opts.repo_dir else None
        local = site.local_packages(arches) if site is not None else {}
        if roles is not None:
            available = self.backend.available_names()
            known = None
            if available:
                known = lambda arch: available | site.local_names(local, arch) if site is not None else available
            draft = profile.build(roles, repo_comps(self.backend), arches, known=known)
        else:
            draft = dict((k, v) for k, v in previous.items() if k != "generation")
        if self.opts.lock:
            from ..head.publish import SiteTree
            with SiteTree.local_repos(local) as repos:
                found = lock.resolve(self.backend, lock.unlocked(draft), arches, self.opts.lock_exclude,
                                     log=logger.info, local=repos)
            return lock.attach(lock.unlocked(draft), found)
        if self.opts.lock_from:
            base = lock.unlocked(draft) if previous is None else lock.carry(draft, previous)
            return lock.attach_from_nodes(base, self.from_nodes)
        if self.opts.unlock or previous is None:
            return profile.validate(lock.unlocked(draft), "published profile")
        if roles is None:
            return profile.validate(draft, "published profile")
        return lock.carry(draft, previous, warn=lambda text: logger.warning("Warning: %s", text))

    def run_history(self):
        site = self._site().exists()
        entries = site.history()
        published = site.published(warn=lambda text: logger.warning("Warning: %s", text))
        current = published.get("generation") if published else None
        if self.show_generation is not None:
            self.history_detail(site, entries, current)
            return
        if self.opts.json:
            self.print_json({"format": 1, "published": current, "generations": entries})
            return
        if not entries:
            print("No generation published in {} yet.".format(site.path))
            return
        rows = [("GEN", "TIME (UTC)", "USER", "ACTION", "LOCKED", "DIGEST", "MESSAGE")]
        for e in entries:
            mark = "*" if e.get("generation") == current else " "
            rows.append(("{}{}".format(e.get("generation"), mark), e.get("time", ""), e.get("user", ""),
                         e.get("action", ""), _locked_count(e), (e.get("digest") or "")[:12],
                         " ".join(str(e.get("message", "")).split())))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        from ..head.lock import history_lines
        for row, entry in zip(rows, [None] + entries):
            print(("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]).rstrip())
            for line in history_lines(entry or {}):          # per role/arch: locked, what changed
                print(line)
        print("* published now. `dnf cluster-master rollback N --repo-dir {}` publishes generation N "
              "again.".format(site.path))

    def history_detail(self, site, entries, current):
        """`history N`: generation N's record: when, who, what action and why, its
        digest, its roles (with their groups and packages per arch), its pins and locks
        and what they changed against the generation before."""
        from ..head.lock import history_lines, locks_of
        number = self.show_generation
        record = site.generation(number)
        entry = dict(site._entry(record), **dict((e.get("generation"), e) for e in entries).get(number, {}))
        prof = record["profile"]
        from ..head import preview
        earlier = [e.get("generation") for e in entries if e.get("generation", number) < number]
        before = site.generation(earlier[-1])["profile"] if earlier else None
        changes = [c for c in preview.role_changes(before, prof) if c.state != "same"]
        if self.opts.json:
            self.print_json({"format": 1, "published": current, "generation": entry, "profile": prof,
                             "against": earlier[-1] if earlier else None,
                             "changes": [c.as_dict() for c in changes]})
            return
        state = "published now" if number == current else "not published now (published: {})".format(current)
        lines = ["Generation {} ({})".format(number, state),
                 "  time (UTC)  {}".format(entry.get("time", "")),
                 "  user        {}".format(entry.get("user", "")),
                 "  action      {}".format(entry.get("action", "")),
                 "  message     {}".format(" ".join(str(entry.get("message", "")).split())),
                 "  digest      {}".format(entry.get("digest", "")),
                 "  roles:"]
        for name in sorted(prof["roles"]):
            role = prof["roles"][name]
            arches = role.get("arches", {})
            lines.append("    {}{}: {}".format(name, " (groups {})".format(", ".join(role["groups"]))
                                                  if role.get("groups") else "", "; ".join(
                "{} {} packages".format(arch, len(arches[arch]["packages"])) for arch in sorted(arches))))
        pins = prof.get("pins", {})
        locks = locks_of(prof)
        if locks:
            lines.append("  locks:")
        else:                            # a profile without complete locks: its locked versions
            lines.append("  locked      {}".format(", ".join("{} {}".format(n, pins[n]) for n in sorted(pins))
                                                 if pins else "nothing"))
        lines += history_lines(entry) or ["    {}: {} locked".format(key, len(locks[key])) for key in sorted(locks)]
        if earlier:
            lines.append("  changes against generation {}:{}".format(earlier[-1], "" if changes else " none"))
        else:
            lines.append("  changes: the first generation")
        lines += preview.role_lines(changes, indent="    ")
        print("\n".join(lines))

    def run_rollback(self):
        site = self._site().exists()
        target = site.generation(self.rollback_to)
        if not self.opts.message:
            self.opts.message = "rollback to generation {}".format(self.rollback_to)

        def build(previous, arches):
            prof = dict((k, v) for k, v in target["profile"].items() if k != "generation")
            missing = [a for a in arches if not any(a in r["arches"] for r in prof["roles"].values())]
            if missing:
                raise ClusterError("generation {} has no package sets for {}".format(
                    self.rollback_to, ", ".join(missing)))
            return prof
        self._publish(site, build, "rollback of {}".format(self.rollback_to))

    def run_kickstart(self):
        """The repositories a new node needs: the profile's (the site repository, as a
        rule) and the package repository `cluster`, with their release packages, so the
        installed node keeps both configured."""
        from .. import nodeconf, profile
        from ..head import kickstart, siterelease
        from ..sync import find_profile
        repoid, prof = find_profile(self.backend, self.master.profile_repo)
        arch = self.opts.arches[0] if self.opts.arches else self.backend.basearch
        view = profile.RoleView(prof, self.opts.role, arch)
        overrides, plain = {}, None
        for value in self.opts.baseurl:
            key, sep, url = value.partition("=")
            if sep and "://" not in key:
                overrides[key] = url
            else:
                plain = value
        if plain is not None:
            overrides.setdefault(repoid, plain)
        repoids = [repoid] + [r for r in (nodeconf.DEFAULT_PROFILE_REPO,)
                              if r != repoid and self.backend.repo_state(r)]
        unknown = sorted(set(overrides) - set(repoids))
        if unknown:
            raise ClusterError("--baseurl for '{}', which the kickstart does not use (it uses: {})".format(
                unknown[0], ", ".join(repoids)))
        for url in overrides.values():
            if not siterelease.URL_RE.match(url):
                raise ClusterError("invalid --baseurl {}: want a repository's URL as nodes reach it (http, https, "
                                   "ftp or file URL, no spaces or control characters)".format(quote(url)))
        releasever = self.backend.substitutions().get("releasever", "")
        # a --baseurl may be the site's top: taken down to the arch tree; the host's own
        # .repo files say where the trees are
        repos = [(r, kickstart.repo_url(overrides[r], releasever, arch) if r in overrides
                  else self.node_baseurl(r, arch)) for r in repoids]
        available = self.backend.available_names()
        releases = [name for name in (siterelease.NAME, "cluster-release") if name in available]
        print(kickstart.render(view, repos, "repository '{}'".format(repoid), releases), end="")

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


def _locked_count(entry):
    """What a generation locks, for history's LOCKED column: the packages of its complete
    locks (every role and arch together), else its pins (a profile from before the locks)."""
    locks = entry.get("locks")
    if isinstance(locks, dict) and locks:
        return str(sum(n for n in locks.values() if isinstance(n, int) and not isinstance(n, bool)))
    pins = entry.get("pins", "")
    return str(pins) if isinstance(pins, int) and not isinstance(pins, bool) else ""
