"""The dnf 4 commands. Both front doors register these classes: the dnf plugin
(plugins/cluster.py) and the standalone `dnf-cluster`. They translate between dnf
objects and the plain modules (groups, profile, plan, state, publish, kickstart).

Imports stay light at module level: the plugin is loaded for every dnf command, so the
plain modules load only when a cluster command runs."""
from __future__ import absolute_import, unicode_literals

import json
import logging
import os.path
import sys

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

    def configure(self):
        """What every cluster command needs: the repositories and the sack."""
        self.quiet_for_json()
        self.cli.demands.sack_activation = True
        self.cli.demands.available_repos = True

    def quiet_for_json(self):
        """Keep stdout pure JSON: dnf's informational logging goes quiet, the download
        progress goes to stderr, the rpm progress is off (as with -q), and whatever dnf
        still prints itself (its post-transaction summary) goes to stderr too."""
        self.json_out = sys.stdout
        if self.opts.json:
            self.cli.redirect_logger(stdout=logging.WARNING, stderr=logging.WARNING)
            self.cli.redirect_repo_progress()
            self.base.conf.debuglevel = 0
            sys.stdout = sys.stderr

    def print_json(self, data):
        self.json_out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        self.json_out.flush()

    @property
    def basearch(self):
        return self.base.conf.substitutions["basearch"]

    def run(self):
        try:
            self.run_cluster()
        except ClusterError as err:
            _fail(err)

    def run_cluster(self):
        raise NotImplementedError

    # --- the cluster profile in the repository metadata --------------------------------

    def request_profile(self):
        """Ask dnf to fetch the `cluster` metadata type with every enabled repository."""
        from .profile import MDTYPE
        for repo in self.base.repos.iter_enabled():
            repo.add_metadata_type_to_download(MDTYPE)

    def node_config(self):
        from . import nodeconf
        return nodeconf.read(self.base.conf.installroot, self.base.conf.pluginconfpath)

    def load_profile(self, preferred=None):
        """(repo, profile) from the enabled repositories' `cluster` metadata."""
        from . import nodeconf, profile
        carriers = [r for r in self.base.repos.iter_enabled() if r.get_metadata_path(profile.MDTYPE)]
        by_id = dict((r.id, r) for r in carriers)
        if preferred:
            if preferred not in self.base.repos or not self.base.repos[preferred].enabled:
                raise ClusterError("profile repository '{}' is not an enabled repository".format(preferred))
            if preferred not in by_id:
                raise ClusterError("repository '{}' carries no cluster profile (metadata type '{}')".format(
                    preferred, profile.MDTYPE))
            repo = by_id[preferred]
        elif nodeconf.DEFAULT_PROFILE_REPO in by_id:
            repo = by_id[nodeconf.DEFAULT_PROFILE_REPO]
        elif len(carriers) == 1:
            repo = carriers[0]
        elif not carriers:
            raise ClusterError("no enabled repository carries a cluster profile (metadata type '{}')".format(
                profile.MDTYPE))
        else:
            raise ClusterError("several repositories carry a cluster profile ({}): set profile_repo in "
                               "cluster.conf".format(", ".join(sorted(by_id))))
        return repo, profile.read_file(repo.get_metadata_path(profile.MDTYPE), "repository '{}'".format(repo.id))


class ClusterGroupCommand(_ClusterCommand):
    aliases = ("cluster-group",)
    summary = "list, inspect, install and remove the cluster's comps groups for this node's arch"
    subcommands = ("list", "info", "install", "remove")

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterGroupCommand, cls).set_argparser(parser)
        parser.add_argument("groups", nargs="*", metavar="GROUP", help="group ids")
        parser.add_argument("--with-optional", action="store_true", default=False,
                            help="include the optional tier")

    def configure(self):
        super(ClusterGroupCommand, self).configure()
        demands = self.cli.demands
        if self.sub in ("install", "remove"):
            demands.resolving = True
            demands.root_user = True
            if not self.opts.groups:
                raise dnf.cli.CliError("cluster-group {} needs at least one GROUP".format(self.sub))

    def repo_comps(self):
        """The enabled repositories' comps, parsed by our safe parser and merged."""
        from . import comps, mdfile
        docs = []
        for repo in sorted(self.base.repos.iter_enabled(), key=lambda r: r.id):
            for mdtype in ("group_gz", "group"):
                if repo.get_metadata_path(mdtype):
                    docs.append(comps.parse(mdfile.read_bounded(repo.get_metadata_path(mdtype), comps.MAX_BYTES,
                                                                "comps of repository '{}'".format(repo.id)),
                                            "comps of repository '{}'".format(repo.id)))
                    break
        return comps.union(docs)

    def group_install(self, view, with_optional):
        """Install a cluster group as `dnf group install` would, from our own per-arch
        resolution: dnf's group_install needs base.comps, which applies no arch= limits,
        and on Debian 13 (python3-libcomps 0.1.21 on Python 3.13) iterating an empty
        libcomps list crashes the process, which dnf's comps code does. The group is
        recorded in dnf's history, and its packages get the reason `group`, as dnf does."""
        import libdnf.transaction as lt
        tiers = ("mandatory", "default", "optional") if with_optional else ("mandatory", "default")
        kinds = {"mandatory": lt.CompsPackageType_MANDATORY, "default": lt.CompsPackageType_DEFAULT,
                 "optional": lt.CompsPackageType_OPTIONAL, "conditional": lt.CompsPackageType_CONDITIONAL}
        history = self.base.history
        record = history.group.new(view.id, view.name, view.name, lt.listToCompsPackageType(list(tiers)))
        for tier, names in sorted(view.tiers.items()):
            for name in names:
                record.addPackage(name, history.swdb.getPackageCompsGroups(name) != (), kinds[tier])
        history.group.install(record)
        for name in view.packages(with_optional):
            if not self.base.sack.query().filterm(name=name, arch__neq=["src", "nosrc"]):
                logger.warning('No match for group package "%s"', name)
                continue
            self.base.install(name)
            self.base._goal.group_members.add(name)     # reason `group`, as dnf's own group install

    def _select(self, views):
        if not self.opts.groups:
            return views
        by_id = dict((v.id, v) for v in views)
        missing = [g for g in self.opts.groups if g not in by_id]
        if missing:
            raise ClusterError("unknown cluster group '{}' for {} (known: {})".format(
                missing[0], self.basearch, ", ".join(sorted(by_id)) or "none"))
        return [by_id[g] for g in self.opts.groups]

    def run_cluster(self):
        from . import groups
        doc = self.repo_comps()
        history = self.base.history.group
        installed = set(g.id for g in doc.groups if history.get(g.id) is not None)
        views = groups.cluster_views(doc, self.basearch, installed)
        if not views:
            raise ClusterError("no cluster groups: no enabled repository has a comps category '{}'".format(
                groups.CLUSTER_CATEGORY))
        selected = self._select(views)
        if self.sub == "install":
            for view in selected:
                self.group_install(view, self.opts.with_optional)
        elif self.sub == "remove":
            for view in selected:
                if not view.installed:
                    raise ClusterError("cluster group '{}' is not installed".format(view.id))
                self.base.group_remove(view.id)     # works from dnf's history alone
        elif self.opts.json:
            self.print_json({"arch": self.basearch,
                             "groups": [v.as_dict(self.opts.with_optional) for v in selected]})
        elif self.sub == "list":
            print(groups.format_list(selected, self.basearch))
        else:
            if not self.opts.groups:
                raise ClusterError("cluster-group info needs at least one GROUP")
            print("\n\n".join(groups.format_info(v, self.basearch, self.opts.with_optional) for v in selected))


class ClusterNodeCommand(_ClusterCommand):
    aliases = ("cluster-node",)
    summary = "converge this node to its role in the cluster profile (sync), or report drift (status)"
    subcommands = ("sync", "status")

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterNodeCommand, cls).set_argparser(parser)
        parser.add_argument("--role", help="the role to converge to (default: role= in cluster.conf)")
        parser.add_argument("--dry-run", action="store_true", default=False,
                            help="plan and show dnf's transaction, change nothing")
        parser.add_argument("--check", action="store_true", default=False,
                            help="like --dry-run, and exit 100 when the node has drifted")

    def configure(self):
        from . import state
        super(ClusterNodeCommand, self).configure()
        demands = self.cli.demands
        # A node must see the profile published now, not the one cached hours ago: check
        # every repomd.xml (like --refresh); unchanged metadata is revived, not downloaded.
        # -C/--cacheonly still wins, for nodes that must not touch the network.
        if not self.base.conf.cacheonly:
            demands.freshest_metadata = True
        self.plan_only = (self.sub == "status" or self.opts.dry_run or self.opts.check
                          or self.base.conf.assumeno)
        self.pending = None
        # plugins that filter the sack for resolving commands (versionlock) apply to sync;
        # `resolving` itself is demanded in run() only when there is a transaction to run
        demands.plugin_filtering_enabled = True
        if not self.plan_only:
            if self.opts.json and not self.base.conf.assumeyes:
                raise dnf.cli.CliError("cluster-node sync --json needs -y (or --dry-run / --check)")
            demands.root_user = True
            # one sync per root: a second one waits here, before dnf reads the rpm database
            self.lock = state.SyncLock(self.base.conf.persistdir).acquire(
                on_wait=lambda: logger.warning("Waiting for another cluster-node sync on this root..."))
        self.config = self.node_config()
        self.request_profile()

    # --- gathering ---------------------------------------------------------------------

    def installed_evrs(self):
        """{name: evr} of installed packages (the newest, for installonly names)."""
        from .plan import compare_evr
        out = {}
        for pkg in self.base.sack.query().installed():
            if pkg.name not in out or compare_evr(pkg.evr, out[pkg.name]) > 0:
                out[pkg.name] = pkg.evr
        return out

    def protected_names(self):
        names = set(p for p in self.base.conf.protected_packages if not p.startswith("glob:"))
        kernel = self.base.sack.get_running_kernel()
        if kernel is not None:
            names.add(kernel.name)
        return names

    def follow_channel(self, repo, view):
        """Stable roles take nothing from <repo>-testing; testing roles need it (it is
        enabled for this run when the node has it configured but disabled)."""
        testing = repo.id + "-testing"
        known = testing in self.base.repos
        if view.channel == "testing":
            if not known:
                raise ClusterError("role '{}' follows the testing channel, but repository '{}' is not "
                                   "configured on this node".format(view.name, testing))
            if not self.base.repos[testing].enabled:
                from .profile import MDTYPE
                self.base.repos[testing].enable()
                self.base.repos[testing].add_metadata_type_to_download(MDTYPE)
                self.base.fill_sack(load_system_repo=True, load_available_repos=True)
        elif known and self.base.repos[testing].enabled:
            self.base.sack.add_excludes(self.base.sack.query().available().filter(reponame=testing))

    def apply_pins(self, view, installed):
        """Like versionlock, for this transaction: every other build of a pinned name is
        excluded, so dependencies resolve to the pinned build too."""
        from .plan import format_evr, parse_evr
        available = self.base.sack.query().available()
        relevant = set(view.packages) | set(installed)
        for name, evr in sorted(view.pins.items()):
            epoch, version, release = parse_evr(evr)
            same = available.filter(name=name)
            exact = same.filter(epoch=int(epoch), version=version, release=release)
            needed = name in relevant and (name not in installed or format_evr(installed[name]) != format_evr(evr))
            if not exact and needed:
                raise ClusterError("pinned {}-{} is not available from any enabled repository".format(
                    name, format_evr(evr)))
            if exact:
                self.base.sack.add_excludes(same.difference(exact))

    def exact(self, name, evr):
        from .plan import parse_evr
        epoch, version, release = parse_evr(evr)
        found = self.base.sack.query().available().filter(
            name=name, epoch=int(epoch), version=version, release=release, arch=[self.basearch, "noarch"])
        if not found:
            raise ClusterError("pinned {}-{} is not available for {}".format(name, evr, self.basearch))
        return found[0]

    def mark(self, plan):
        for name, evr in plan.install:
            if evr:
                self.base.package_install(self.exact(name, evr))
                continue
            try:
                self.base.install(name)
            except dnf.exceptions.MarkingError:
                raise ClusterError("role '{}': package '{}' is not available from any enabled repository".format(
                    plan.role, name))
        for name, _, new in plan.upgrade:
            self.base.package_upgrade(self.exact(name, new))
        for name, _, new in plan.downgrade:
            self.base.package_downgrade(self.exact(name, new))
        for name in plan.remove:
            self.base.remove(name)

    def resolve_keeping(self, plan):
        """Resolve. Removals need dnf's allow_erasing (as `dnf remove` has), so every
        erasure is then checked: one that would take away a package the admin installed
        withdraws the planned removal it follows from, and the plan says why. Anything
        else that would remove a hand-installed package is refused."""
        import libdnf.transaction as lt
        by_hand = (lt.TransactionItemReason_USER, lt.TransactionItemReason_GROUP,
                   lt.TransactionItemReason_UNKNOWN)
        while True:
            try:
                self.base.resolve(self.cli.demands.allow_erasing or bool(plan.remove))
            except dnf.exceptions.DepsolveError as err:
                # dnf's main() would exit 1 silently: it expects resolving() to have said why
                raise ClusterError("role '{}': cannot resolve the sync: {}".format(
                    plan.role, " ".join(str(err).split())))
            erased = [t.pkg for t in self.base.transaction if t.action == lt.TransactionItemAction_REMOVE]
            candidates = set(plan.remove)
            collateral = [p for p in erased if p.name not in candidates
                          and self.base.history.rpm.get_reason(p) in by_hand]
            if not collateral:
                return
            erased_q = self.base.sack.query().installed().filter(pkg=erased)
            for victim in collateral:
                causes = self._needed_by(victim, erased_q) & candidates
                if not causes:
                    raise ClusterError("role '{}': the sync would remove {}, which the profile did not "
                                       "install; refusing".format(plan.role, victim))
                for name in causes:
                    plan.keep(name, "still needed by {}".format(victim.name))
            self.base.reset(goal=True)
            self.mark(plan)
            if plan.in_sync:
                return

    @staticmethod
    def _needed_by(pkg, erased_q):
        """Names among the erased packages that `pkg` needs, directly or through others."""
        seen, todo = set(), [pkg]
        while todo:
            current = todo.pop()
            for req in current.requires:
                for provider in erased_q.filter(provides=req):
                    if provider.name not in seen:
                        seen.add(provider.name)
                        todo.append(provider)
        return seen

    # --- running -----------------------------------------------------------------------

    def run_cluster(self):
        from . import plan as planning, profile, state
        repo, prof = self.load_profile(self.config.profile_repo)
        role = self.opts.role or self.config.role
        if not role:
            raise ClusterError("this node has no role: set role= in /etc/dnf/plugins/cluster.conf or pass --role")
        view = profile.RoleView(prof, role, self.basearch)
        self.follow_channel(repo, view)
        installed = self.installed_evrs()
        node_state = state.load(self.base.conf.persistdir)
        managed = node_state.reconciled(installed)
        plan = planning.compute(view.name, self.basearch, view.packages, installed, managed, view.pins,
                                self.protected_names())
        summary = {"role": view.name, "arch": self.basearch, "channel": view.channel,
                   "profile_repo": repo.id, "profile": profile.digest(prof)}
        header = "Cluster profile from repository '{}': role {} on {}, channel {}, {} packages, {} pins".format(
            repo.id, view.name, self.basearch, view.channel, len(view.packages), len(view.pins))
        if self.sub == "status":
            return self.report_status(plan, summary, header)
        self.apply_pins(view, installed)
        if not plan.in_sync:
            self.mark(plan)
            self.resolve_keeping(plan)
        transaction = [{"action": t.action_name, "package": str(t.pkg)} for t in (self.base.transaction or [])]
        if not self.opts.json:
            print(header)
            print("\n".join(plan.lines()) if plan.lines() else "  (nothing to change)")
        if self.plan_only:
            if self.base.transaction and not self.opts.json:
                print(self.base.output.list_transaction(self.base.transaction))
            if self.opts.check and not plan.in_sync:
                self.cli.demands.success_exit_status = 100
            result = "in-sync" if plan.in_sync else ("drift" if self.opts.check else "planned")
            if self.opts.json:
                self.print_json(dict(summary, plan=plan.as_dict(), transaction=transaction, result=result))
            elif plan.in_sync:
                print("In sync: nothing to do.")
            else:
                print("Dry run: nothing was changed." if not self.opts.check
                      else "Drift found: `dnf cluster-node sync` converges the node.")
            return
        if plan.in_sync:
            if self.opts.json:
                self.print_json(dict(summary, plan=plan.as_dict(), transaction=[], result="in-sync"))
            else:
                print("In sync: nothing to do.")
            return
        # intent first: if this run dies mid-transaction, the next one knows what it installed
        node_state.managed = managed
        node_state.pending = set(name for name, _ in plan.install)
        node_state.save()
        self.pending = (node_state, plan, managed, summary, transaction, view, prof)
        self.cli.demands.resolving = True

    def run_transaction(self):
        """After dnf's transaction succeeded: record what the profile now manages."""
        if self.pending is None:
            return
        import libdnf.transaction as lt
        from . import profile
        node_state, plan, managed, summary, transaction, view, prof = self.pending
        removed = set(t.pkg.name for t in self.base.transaction if t.action == lt.TransactionItemAction_REMOVE)
        node_state.managed = (set(managed) | set(n for n, _ in plan.install)) - removed
        node_state.pending = set()
        node_state.role = view.name
        node_state.profile = profile.digest(prof)
        node_state.save()
        if self.opts.json:
            self.print_json(dict(summary, plan=plan.as_dict(), transaction=transaction, result="synced"))

    def report_status(self, plan, summary, header):
        from .plan import drift
        found = drift(plan)
        if self.opts.json:
            self.print_json(dict(summary, in_sync=plan.in_sync, drift=found,
                                 kept=[{"name": n, "reason": r} for n, r in plan.kept]))
        else:
            print(header)
            for name in found["missing"]:
                print("  missing        {}".format(name))
            for item in found["wrong_version"]:
                print("  wrong version  {} {} (pinned {})".format(item["name"], item["installed"], item["pinned"]))
            for name in found["extra"]:
                print("  extra          {} (installed by the profile, no longer listed)".format(name))
            count = sum(len(v) for v in found.values())
            print("In sync." if plan.in_sync else
                  "Drift: {} difference{}; `dnf cluster-node sync` converges the node.".format(
                      count, "" if count == 1 else "s"))
        if not plan.in_sync:
            self.cli.demands.success_exit_status = 100


class ClusterMasterCommand(_ClusterCommand):
    aliases = ("cluster-master",)
    summary = "head node: publish the cluster profile into the repository, write kickstart fragments"
    subcommands = ("publish", "kickstart")

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

    def configure(self):
        super(ClusterMasterCommand, self).configure()
        demands = self.cli.demands
        if self.sub == "publish":
            if not self.opts.repo_dir or not (self.opts.roles or self.opts.lock or self.opts.unlock):
                raise dnf.cli.CliError("cluster-master publish needs --repo-dir and --roles (or --lock/--unlock)")
            if not self.opts.lock:
                demands.load_system_repo = False
        else:
            if not self.opts.role:
                raise dnf.cli.CliError("cluster-master kickstart needs --role")
            self.request_profile()

    def run_cluster(self):
        if self.sub == "publish":
            self.publish()
        else:
            self.kickstart()

    def lock_pins(self, names, excludes):
        """EVRs installed on this head node for the profile's packages and their whole
        installed dependency closure, minus the OS core (see profile.LOCK_EXCLUDE)."""
        import fnmatch
        from .plan import format_evr
        installed = self.base.sack.query().installed()
        installonly = set(self.base.conf.installonlypkgs)
        seen, todo = {}, list(installed.filter(name=sorted(names)))
        while todo:
            pkg = todo.pop()
            if pkg.name in seen:
                continue
            seen[pkg.name] = pkg
            for req in pkg.requires:
                todo += [p for p in installed.filter(provides=req) if p.name not in seen]
        return dict((name, format_evr(pkg.evr)) for name, pkg in seen.items()
                    if name not in installonly and not any(fnmatch.fnmatchcase(name, pat) for pat in excludes))

    def publish(self):
        from . import profile, publish, repobuild
        tree = os.path.abspath(self.opts.repo_dir)
        previous = publish.current(tree)
        if self.opts.roles:
            roles = profile.load_roles(self.opts.roles)
        elif previous is None:
            raise ClusterError("the repository has no profile yet: pass --roles", tree)
        doc = publish.tree_comps(tree)
        arches = sorted(publish.arch_repos(tree))
        available = set(p.name for p in self.base.sack.query().available())
        draft = profile.build(roles, doc, arches, known=(lambda arch: available) if available else None) \
            if self.opts.roles else dict(previous, pins={})
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
                sign = repobuild.Gpg(self.opts.sign_key, self.opts.gnupghome).sign_file
            publish.add(tree, prof, sign)
            where = ", ".join(os.path.join(tree, a, "repodata") for a in arches)
        if self.opts.json:
            self.print_json({"roles": sorted(prof["roles"]), "pins": prof["pins"], "written": where,
                             "profile": profile.digest(prof)})
        else:
            print("Published cluster profile: roles {}; {} pins -> {}".format(
                ", ".join(sorted(prof["roles"])), len(pins), where))

    def kickstart(self):
        from . import kickstart, profile
        repo, prof = self.load_profile(self.node_config().profile_repo)
        arch = self.opts.arch or self.basearch
        view = profile.RoleView(prof, self.opts.role, arch)
        url = self.opts.baseurl or self.node_baseurl(repo, arch)
        print(kickstart.render(view, [(repo.id, url)], "repository '{}'".format(repo.id)), end="")

    def node_baseurl(self, repo, arch):
        """The repository's baseurl as a node of `arch` sees it. dnf has already expanded
        $basearch for this host, so the template is read from the .repo file itself."""
        import configparser
        template = None
        if getattr(repo, "repofile", None):
            parser = configparser.RawConfigParser()
            parser.read(repo.repofile)
            if parser.has_option(repo.id, "baseurl"):
                template = parser.get(repo.id, "baseurl").replace(",", " ").split()[0]
        if not template:
            raise ClusterError("cannot tell the baseurl of repository '{}' for {} nodes: pass --baseurl".format(
                repo.id, arch))
        subst = dict(self.base.conf.substitutions, basearch=arch, arch=arch)
        for key, value in sorted(subst.items(), key=lambda kv: -len(kv[0])):
            template = template.replace("${%s}" % key, value).replace("$" + key, value)
        return template


COMMANDS = (ClusterGroupCommand, ClusterNodeCommand, ClusterMasterCommand)
