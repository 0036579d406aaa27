"""`cluster-node sync` and `status` above the backend seam: find the profile, compute
the plan for this node's role, turn it into one resolved transaction that never takes
a hand-installed package along, and record what the profile installed. Written once
for every package manager (backends/); the commands only print and hand over."""
import math
import uuid

from . import nodeconf, plan as planning, profile, state
from .backends import BY_HAND
from .errors import ClusterError, RpmdbError
from .names import check_name

#: Transaction actions that take a package off the node, and that put one on it.
ERASING = ("remove", "obsoleted")
PUTTING = ("install", "upgrade", "downgrade", "reinstall", "obsolete")


class Refused(ClusterError):
    """A transaction the node floor forbids (it would remove or downgrade a floor
    package, or take away what the admin installed or the role lists): a real sync
    fails with it; a dry run or check shows it as the plan's refusal (`refusal` in the
    JSON answer), as it shows the removal limit's."""

def find_profile(backend, preferred=None, sticky=None):
    """(repository id, profile) from the enabled repositories' `cluster` metadata:
    `preferred` (profile_repo in cluster.conf), else the site repository
    `cluster-site`, else the repository `cluster`, else the only one that carries a
    profile.

    `sticky`: the site repository this node last synced from (its node state). A node
    that can no longer see it never falls back to another profile (the packager's
    default one would unpin it and call it in sync): that is an error naming it, until
    the repository is back or cluster.conf names the profile repository."""
    by_id = dict((r, backend.metadata_path(r, profile.MDTYPE)) for r in backend.enabled_repos())
    by_id = dict((r, path) for r, path in by_id.items() if path)
    if not preferred and sticky and sticky not in by_id:
        known = backend.repo_state(sticky)
        why = ("is not configured on this node" if known is None else "is disabled" if not known else
               "carries no cluster profile now")
        raise ClusterError("this node synced from the site repository '{}', which {}: refusing to fall back to "
                           "another profile (restore that repository, or name the profile repository with "
                           "profile_repo in cluster.conf)".format(sticky, why))
    if not preferred and sticky:
        return sticky, profile.read_file(by_id[sticky], "repository '{}'".format(sticky))
    if preferred:
        if not backend.repo_state(preferred):
            raise ClusterError("profile repository '{}' is not an enabled repository".format(preferred))
        if preferred not in by_id:
            raise ClusterError("repository '{}' carries no cluster profile (metadata type '{}')".format(
                preferred, profile.MDTYPE))
        repoid = preferred
    elif any(r in by_id for r in nodeconf.PROFILE_REPOS):
        repoid = [r for r in nodeconf.PROFILE_REPOS if r in by_id][0]
    elif len(by_id) == 1:
        repoid = list(by_id)[0]
    elif not by_id:
        raise ClusterError("no enabled repository carries a cluster profile (metadata type '{}')".format(
            profile.MDTYPE))
    else:
        raise ClusterError("several repositories carry a cluster profile ({}): set profile_repo in "
                           "cluster.conf".format(", ".join(sorted(by_id))))
    return repoid, profile.read_file(by_id[repoid], "repository '{}'".format(repoid))


class NodeRun(object):
    """One sync or status of one node against its role in the published profile."""

    def __init__(self, backend, config, role=None):
        self.backend = backend
        self.config = config
        self.role = role or config.role
        self.items = []

    # --- what the node must do -----------------------------------------------------------
    def load(self):
        backend = self.backend
        if self.role is not None:
            check_name(self.role, "role")
        self.state = state.load(backend.persistdir)
        self.repo, self.profile = find_profile(backend, self.config.profile_repo, self.state.site_repo())
        # once: the digest dumps the whole profile (json with indent, Python's slow encoder)
        self.profile_digest = profile.digest(self.profile)
        if self.state.generation is not None and self.profile.get("generation") is None and \
                not self.config.profile_repo:
            raise ClusterError("this node synced to generation {} of a site profile, but repository '{}' carries "
                               "the packager's default profile: refusing to fall back to it (restore the site "
                               "repository, or name the profile repository with profile_repo in "
                               "cluster.conf)".format(self.state.generation, self.repo))
        if not self.role:
            raise ClusterError("this node has no role: set role= in /etc/dnf/plugins/cluster.conf or pass --role")
        arch = backend.basearch
        # cluster.conf's channel (a test node following testing) wins over the role's
        self.view = profile.RoleView(self.profile, self.role, arch).follow(self.config.channel)
        self.follow_channel()
        # the admin's own version locks hold for this run too; the cluster's entries are
        # the last sync's pins, which this run replaces (see hand_pins)
        backend.apply_admin_locks()
        self.installed = backend.installed()
        self.check_rpmdb()
        self.managed = (self.state.managed | self.adopted()) & set(self.installed)
        # what the admin removed and installed again, or reinstalled, by hand is the admin's
        self.managed -= backend.taken_by_hand(self.managed)
        self.floor = planning.Floor(backend.protected(), self.config.protected)
        # a listed name that no package has as its own but an installed one provides (a
        # virtual provide, such as systemd-sysusers): dnf installs nothing for it, so it
        # is there, by its provider
        self.virtual = backend.providers(set(self.view.packages) - set(self.installed))
        self.provided = dict((n, p[0]) for n, p in self.virtual.items() if p)
        self.newest = None
        if self.view.update == "latest":
            self.newest = backend.newest(set(self.view.packages) & set(self.installed))
        self.plan = planning.compute(self.view.name, arch, self.wanted(self.provided), self.installed,
                                     self.managed, self.view.pins, self.floor, self.newest)
        # a site profile is a generation `cluster-master publish` made; the packager's
        # default profile (the cluster repository's, never pinned) has none
        self.origin = "default" if self.view.generation is None else "site"
        self.summary = {"role": self.view.name, "arch": arch, "channel": self.view.channel,
                        "channel_from": self.view.channel_from,
                        "update": self.view.update, "profile_repo": self.repo, "profile_origin": self.origin,
                        "profile": self.profile_digest, "published_generation": self.view.generation}
        self.header = ("Cluster profile from repository '{}'{}: role {} on {}, channel {}, {} packages, "
                       "{} locked, update {}".format(self.repo, " (the packager's default profile)"
                                                     if self.view.generation is None else
                                                     " (generation {})".format(self.view.generation),
                                                     self.view.name, arch, self.view.channel +
                                                     (" (cluster.conf)" if self.view.channel_from != "role" else ""),
                                                     len(self.view.packages), len(self.view.pins),
                                                     self.view.update))
        self.lock_note = None
        return self

    def wanted(self, provided):
        """The role's names, a virtual provide replaced by the installed package providing it."""
        return sorted((set(self.view.packages) - set(provided)) | set(provided.values()))

    def check_rpmdb(self):
        """An rpm database that cannot be read is an error, never drift: the backend says
        why when it knows; an empty one where the node state says the profile installed
        packages is one too."""
        if self.installed:
            return
        problem = self.backend.rpmdb_problem()
        if problem is None and (self.state.managed or self.state.generation is not None):
            problem = "it lists no installed package, but this node synced before"
        if problem:
            raise RpmdbError(self.backend.installroot or "/", problem)

    def follow_channel(self):
        """Stable roles take nothing from the testing repository but the exact builds
        their lock pins (a lock made `--lock-from` a test node names what it ran, which
        may be in testing only); testing roles need it (it is enabled for this run when
        the node has it configured but disabled)."""
        testing = nodeconf.testing_repo(self.repo)
        known = self.backend.repo_state(testing)
        if self.view.channel == "testing":
            if known is None:
                raise ClusterError("role '{}' follows the testing channel, but repository '{}' is not "
                                   "configured on this node".format(self.view.name, testing))
            if not known:
                self.backend.enable_repo(testing, profile.MDTYPE)
            return
        if known is False:
            lacking = self.lacking_pins()
            if lacking:
                self.backend.enable_repo(testing)
                self.backend.hide_repo(testing, keep=lacking)
        elif known:
            self.backend.hide_repo(testing, keep=self.view.pins)

    def lacking_pins(self):
        """{name: evr} of the pinned builds this node does not run (dependencies too: a
        tested build may need a new one) that none of its enabled repositories has."""
        if not self.view.pins:
            return {}
        installed = self.backend.installed()
        return dict((name, evr) for name, evr in sorted(self.view.pins.items())
                    if (name not in installed or planning.format_evr(installed[name]) != planning.format_evr(evr))
                    and not self.backend.has_build(name, evr))

    # --- turning the plan into one transaction -------------------------------------------
    def prepare(self):
        """Pins, marks and resolution: the resolved transaction ([backends.Item])."""
        self.apply_pins()
        # the floor stays, and so does what it needs; so do the role's own packages (one
        # that an earlier role pulled in as a dependency must not go as unneeded when
        # that role's package goes): never cleaned up as unneeded
        listed = set(self.wanted(self.provided)) & set(self.installed)
        self.backend.hold(sorted(n for n in self.installed if self.floor.reason(n) or n in listed))
        if self.plan.remove:
            self.keep_what_the_floor_needs()
        if not self.plan.in_sync:
            self.mark()
            self.resolve_keeping()
        return self.items

    def keep_what_the_floor_needs(self):
        """A planned removal that the floor needs is withdrawn before resolving ("still
        needed by dnf"): removing it would take a protected package along, which dnf
        refuses outright, and the node could never converge."""
        floor = sorted(n for n in self.installed if self.floor.reason(n))
        if not set(self.backend.installed_requires(floor)) & set(self.plan.remove):
            return
        for name in floor:
            needed = set(self.backend.installed_requires([name])) - set([name])
            for victim in sorted(needed & set(self.plan.remove)):
                self.plan.keep(victim, "still needed by {}".format(name))

    def apply_pins(self):
        """Like versionlock, for this transaction: every other build of a pinned name is
        hidden, so dependencies resolve to the pinned build too."""
        relevant = set(self.view.packages) | set(self.installed)
        for name, evr in sorted(self.view.pins.items()):
            if name in self.plan.unpinned:
                continue                     # a pin below the floor: the node keeps its build
            found = self.backend.pin(name, evr)
            installed = self.installed.get(name)
            needed = name in relevant and (installed is None or
                                           planning.format_evr(installed) != planning.format_evr(evr))
            if not found and needed:
                raise ClusterError("pinned {}-{} is not available from any enabled repository".format(
                    name, planning.format_evr(evr)))

    def mark(self):
        plan, backend = self.plan, self.backend
        for name, evr in plan.install:
            try:
                backend.install(name, evr)
            except ClusterError as err:
                raise ClusterError(str(err) if evr else "role '{}': {}".format(plan.role, err))
        for name, _, new in plan.upgrade:
            backend.upgrade(name, new)
        for name, _, new in plan.downgrade:
            backend.downgrade(name, new)
        for name in plan.remove:
            backend.remove(name)

    def resolve_keeping(self):
        """Resolve. Removals need allow_erasing (as `dnf remove` has), so every erasure is
        then checked: one that would take away a package the admin installed, one of the
        floor, or one the role lists, withdraws the planned removal it follows from, and
        the plan says why. Anything else that would remove such a package (an Obsoletes:
        of another package, say), or downgrade the floor, or install a build other than
        its pin, is refused before anything is installed."""
        plan, backend = self.plan, self.backend
        while True:
            try:
                self.items = backend.resolve(bool(plan.remove))
            except ClusterError as err:
                raise ClusterError("role '{}': cannot resolve the sync: {}".format(plan.role, err))
            self.refuse_floor_downgrades()
            self.refuse_off_pins()
            erased = [i.name for i in self.items if i.action in ERASING]
            candidates = set(plan.remove)
            listed = set(self.wanted(self.provided))
            collateral = [n for n in erased if n not in candidates and
                          (self.floor.reason(n) or n in listed or backend.reason(n) in BY_HAND)]
            if not collateral:
                return
            # a hand-installed or floor package is named first, the role's own after
            for victim in sorted(collateral, key=lambda n: n in listed):
                causes = backend.needs(victim, erased) & candidates
                if not causes:
                    item = [i for i in self.items if i.name == victim][0]
                    why = self.floor.reason(victim)
                    raise Refused("role '{}': the sync would remove {}{}; refusing".format(
                        plan.role, item.nevra, " ({}), which a profile never removes".format(why) if why
                        else " ({}), which the role lists".format(item.label.lower()) if victim in listed
                        else ", which the profile did not install"))
                for name in causes:
                    plan.keep(name, "still needed by {}".format(victim))
            backend.reset()
            self.items = []
            if plan.in_sync:
                return
            self.mark()

    def refuse_floor_downgrades(self):
        for item in self.items:
            why = self.floor.reason(item.name)
            if item.action == "downgrade" and why:
                raise Refused("role '{}': the sync would downgrade {} to {} ({}), which a profile never "
                                   "does; refusing".format(self.plan.role, item.name, item.evr, why))

    def refuse_off_pins(self):
        """Every pin holds for every package the transaction puts on the node, dependencies
        too: a pinned build that no enabled repository has fails the sync before anything
        is installed (dnf would take another build)."""
        for item in self.items:
            pin = self.view.pins.get(item.name)
            if (item.action in PUTTING and pin is not None and item.name not in self.plan.unpinned and
                    planning.format_evr(item.evr) != planning.format_evr(pin)):
                raise ClusterError("role '{}': pinned {}-{} is not available from any enabled repository (the "
                                   "sync would install {}); refusing".format(
                                       self.plan.role, item.name, planning.format_evr(pin), item.nevra))

    def verify(self):
        """After the transaction: the plan resolved again from the rpm database as it is
        now. A sync ends where status says in sync, or it is an error naming what is still
        off (a listed package that went, a pin not met, a removal that did not happen)."""
        installed, provided = self.backend.rpmdb_now(sorted(self.virtual))
        managed = set(self.managed) & set(installed)
        again = planning.compute(self.view.name, self.plan.arch, self.wanted(provided), installed, managed,
                                 dict((n, e) for n, e in self.view.pins.items() if n not in self.plan.unpinned),
                                 self.floor, self.newest)
        kept = set(n for n, _ in self.plan.kept)
        gone = set(i.name for i in self.items if i.action in ERASING)
        off = ["missing {}{}".format(n, " (the transaction removed it)" if n in gone else "")
               for n, _ in again.install]
        off += ["{} {} ({} {})".format(n, a, "latest" if n in again.latest else "pinned", b)
                for n, a, b in again.upgrade + again.downgrade]
        off += ["still installed {}".format(n) for n in again.remove if n not in kept]
        if off:
            raise ClusterError("role '{}': the transaction ran, but the node is still off its profile: {}".format(
                self.view.name, "; ".join(off)))

    def removal_limit(self):
        """max_remove from cluster.conf, else 25 or a tenth of the installed packages
        (rounded up), whichever is smaller."""
        if self.config.max_remove is not None:
            return self.config.max_remove
        return min(25, int(math.ceil(len(self.installed) / 10.0)))

    def mass_removal(self):
        """Why this transaction may not run without --allow-mass-removal, or None."""
        erased = set(i.name for i in self.items if i.action in ERASING)
        obsoleted = set(i.name for i in self.items if i.action == "obsoleted") - set(
            i.name for i in self.items if i.action == "remove")
        limit = self.removal_limit()
        if len(erased) <= limit:
            return None
        return ("role '{}': the sync would remove {} packages{}, more than max_remove allows ({}); check the "
                "plan with --dry-run, then rerun with --allow-mass-removal (or raise max_remove in "
                "cluster.conf)".format(self.plan.role, len(erased), " ({} of them obsoleted)".format(len(obsoleted))
                                       if obsoleted else "", limit))

    # --- recording -----------------------------------------------------------------------
    def adopted(self):
        """The pending names of a run that did not finish (download failed, killed) that
        its own transaction installed, as the package manager's history shows them
        (found by the run's tag). Never by name alone: a package the admin installed
        (or reinstalled) since is the admin's."""
        pending = self.state.pending
        if not pending or not pending["names"] or pending["tag"] is None:
            return set()
        return set(pending["names"]) & set(self.backend.installed_by(pending["tag"]) or ())

    def settle(self):
        """A real sync first writes down how the unfinished run ended (its adopted names
        become managed, its pending intent is dropped) and forgets managed names no longer
        installed, even when there is then nothing to do."""
        if self.state.pending is not None or self.state.managed != self.managed:
            self.state.managed = set(self.managed)
            self.state.pending = None
            self.state.save()

    def record_intent(self):
        """Before the transaction runs: its tag and the names it installs, so that the
        next run can find out what it did if it never finishes. Returns the history
        comment that carries the tag."""
        self.tag = uuid.uuid4().hex
        self.state.managed = set(self.managed)
        self.state.pending = {"tag": self.tag, "names": set(name for name, _ in self.plan.install)}
        self.state.save()
        return "cluster-node sync {}: role {}, profile {}".format(self.tag, self.view.name,
                                                                   self.summary["profile"][:12])

    def finish(self):
        """After the transaction succeeded: record what the profile now manages, the
        planned installs this very transaction installed."""
        removed = set(i.name for i in self.items if i.action == "remove")
        installed_now = set(i.name for i in self.items if i.action == "install")
        self.managed = (set(self.managed) | (set(n for n, _ in self.plan.install) & installed_now)) - removed
        self.state.managed = set(self.managed)
        self.state.pending = None
        self._record_profile()

    def record_in_sync(self):
        """A real sync found nothing to do (settle() has written down the rest): the node
        is at the published profile."""
        now = (self.view.name, self.profile_digest, self.view.generation)
        if (self.state.role, self.state.profile, self.state.generation) != now:
            self._record_profile()

    def hand_pins(self):
        """After a real sync (with or without a transaction): the role's pins go to the
        package manager's own version lock, so plain `dnf upgrade` keeps them; none for a
        role that is not pinned. Returns why they could not be handed over, or None."""
        self.lock_note = self.backend.hand_pins(self.view.pins)
        return self.lock_note

    def _record_profile(self):
        """Which profile the node is at now (its generation, for status and the fleet)."""
        self.state.role = self.view.name
        self.state.profile_repo = self.repo
        self.state.profile = self.profile_digest
        self.state.generation = self.view.generation
        self.state.save()


def lock_set(run):
    """The role's package set as this node runs it (`status --json --packages`, what
    `publish --lock-from` makes the role's lock): the role's packages, what the profile
    installed and the node floor, with every installed package they need, as
    [{"name", "evr", "arch"}] (every installed build of an installonly name). What the
    admin installed beside them, and only it needs, is not part of it."""
    installed = set(run.installed)
    roots = (set(run.view.packages) | set(run.managed) | set(n for n in installed if run.floor.reason(n))) & installed
    out = []
    for line in run.backend.installed_nevras(set(run.backend.installed_requires(roots))):
        rest, arch = line.rsplit(".", 1)             # name-epoch:version-release.arch
        name, epoch_version, release = rest.rsplit("-", 2)
        out.append({"name": name, "evr": planning.format_evr(epoch_version + "-" + release), "arch": arch})
    return out


def lock_proof(run):
    """What proves the node runs its role's lock: the digest of the locked set as
    installed (profile.lock_digest over the installed builds of every pinned name: the
    same on every node that runs the same set, whenever it was synced), how many
    packages it covers, and the packages the admin installed beside it (installed by
    hand, neither locked, listed nor the profile's, nor the OS core left unpinned),
    which never change the verdict. None for a role without pins."""
    import fnmatch
    if not run.view.pins:
        return None
    locked = run.backend.installed_nevras(set(run.view.pins))
    skip = set(run.view.pins) | set(run.view.packages) | set(run.managed)
    patterns = profile.LOCK_EXCLUDE + planning.FLOOR
    admin = sorted(name for name in run.installed
                   if name not in skip and not any(fnmatch.fnmatchcase(name, p) for p in patterns)
                   and not run.floor.reason(name) and run.backend.reason(name) in BY_HAND)
    return {"digest": profile.lock_digest(locked), "packages": len(locked),
            "admin_installed": [{"name": n, "evr": run.installed[n]} for n in admin]}
