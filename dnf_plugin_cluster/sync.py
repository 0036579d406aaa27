"""`cluster-node sync` and `status` above the backend seam: find the profile, compute
the plan for this node's role, turn it into one resolved transaction that never takes
a hand-installed package along, and record what the profile installed. Written once
for every package manager (backends/); the commands only print and hand over."""
import math
import uuid

from . import nodeconf, plan as planning, profile, state
from .backends import BY_HAND
from .errors import ClusterError
from .names import check_name

def find_profile(backend, preferred=None):
    """(repository id, profile) from the enabled repositories' `cluster` metadata:
    `preferred` (profile_repo in cluster.conf), else the site repository
    `cluster-site`, else the repository `cluster`, else the only one that carries a
    profile."""
    by_id = dict((r, backend.metadata_path(r, profile.MDTYPE)) for r in backend.enabled_repos())
    by_id = dict((r, path) for r, path in by_id.items() if path)
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
        self.repo, self.profile = find_profile(backend, self.config.profile_repo)
        if not self.role:
            raise ClusterError("this node has no role: set role= in /etc/dnf/plugins/cluster.conf or pass --role")
        arch = backend.basearch
        self.view = profile.RoleView(self.profile, self.role, arch)
        self.follow_channel()
        # the admin's own version locks hold for this run too; the cluster's entries are
        # the last sync's pins, which this run replaces (see hand_pins)
        backend.apply_admin_locks()
        self.installed = backend.installed()
        self.state = state.load(backend.persistdir)
        self.managed = (self.state.managed | self.adopted()) & set(self.installed)
        # what the admin removed and installed again, or reinstalled, by hand is the admin's
        self.managed -= backend.taken_by_hand(self.managed)
        self.floor = planning.Floor(backend.protected(), self.config.protected)
        newest = None
        if self.view.update == "latest":
            newest = backend.newest(set(self.view.packages) & set(self.installed))
        self.plan = planning.compute(self.view.name, arch, self.view.packages, self.installed, self.managed,
                                     self.view.pins, self.floor, newest)
        self.summary = {"role": self.view.name, "arch": arch, "channel": self.view.channel,
                        "update": self.view.update, "profile_repo": self.repo,
                        "profile": profile.digest(self.profile), "published_generation": self.view.generation}
        self.header = ("Cluster profile from repository '{}'{}: role {} on {}, channel {}, {} packages, "
                       "{} pins{}".format(self.repo, "" if self.view.generation is None else
                                          " (generation {})".format(self.view.generation),
                                          self.view.name, arch, self.view.channel, len(self.view.packages),
                                          len(self.view.pins), "" if self.view.update == "pinned" else
                                          ", update {}".format(self.view.update)))
        self.lock_note = None
        return self

    def follow_channel(self):
        """Stable roles take nothing from the testing repository; testing roles need it
        (it is enabled for this run when the node has it configured but disabled)."""
        testing = nodeconf.testing_repo(self.repo)
        known = self.backend.repo_state(testing)
        if self.view.channel == "testing":
            if known is None:
                raise ClusterError("role '{}' follows the testing channel, but repository '{}' is not "
                                   "configured on this node".format(self.view.name, testing))
            if not known:
                self.backend.enable_repo(testing, profile.MDTYPE)
        elif known:
            self.backend.hide_repo(testing)

    # --- turning the plan into one transaction -------------------------------------------
    def prepare(self):
        """Pins, marks and resolution: the resolved transaction ([backends.Item])."""
        self.apply_pins()
        # the floor stays, and so does what it needs: never cleaned up as unneeded
        self.backend.hold(sorted(n for n in self.installed if self.floor.reason(n)))
        if not self.plan.in_sync:
            self.mark()
            self.resolve_keeping()
        return self.items

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
        then checked: one that would take away a package the admin installed, or one of
        the floor, withdraws the planned removal it follows from, and the plan says why.
        Anything else that would remove such a package, or downgrade the floor, is
        refused."""
        plan, backend = self.plan, self.backend
        while True:
            try:
                self.items = backend.resolve(bool(plan.remove))
            except ClusterError as err:
                raise ClusterError("role '{}': cannot resolve the sync: {}".format(plan.role, err))
            self.refuse_floor_downgrades()
            erased = [i.name for i in self.items if i.action in ("remove", "obsoleted")]
            candidates = set(plan.remove)
            collateral = [n for n in erased if n not in candidates and
                          (self.floor.reason(n) or backend.reason(n) in BY_HAND)]
            if not collateral:
                return
            for victim in collateral:
                causes = backend.needs(victim, erased) & candidates
                if not causes:
                    item = [i for i in self.items if i.name == victim][0]
                    why = self.floor.reason(victim)
                    raise ClusterError("role '{}': the sync would remove {}{}; refusing".format(
                        plan.role, item.nevra, " ({}), which a profile never removes".format(why) if why
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
                raise ClusterError("role '{}': the sync would downgrade {} to {} ({}), which a profile never "
                                   "does; refusing".format(self.plan.role, item.name, item.evr, why))

    def removal_limit(self):
        """max_remove from cluster.conf, else 25 or a tenth of the installed packages
        (rounded up), whichever is smaller."""
        if self.config.max_remove is not None:
            return self.config.max_remove
        return min(25, int(math.ceil(len(self.installed) / 10.0)))

    def mass_removal(self):
        """Why this transaction may not run without --allow-mass-removal, or None."""
        count = len([i for i in self.items if i.action == "remove"])
        limit = self.removal_limit()
        if count <= limit:
            return None
        return ("role '{}': the sync would remove {} packages, more than max_remove allows ({}); check the "
                "plan with --dry-run, then rerun with --allow-mass-removal (or raise max_remove in "
                "cluster.conf)".format(self.plan.role, count, limit))

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
        now = (self.view.name, profile.digest(self.profile), self.view.generation)
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
        self.state.profile = profile.digest(self.profile)
        self.state.generation = self.view.generation
        self.state.save()
