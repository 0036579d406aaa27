"""An in-memory package manager behind the backend seam, for unit tests of the logic
above it (sync.py): packages are plain (name, evr, requires) records, resolving is a
small closure over requires, history is a list of transactions with their comments,
and nothing touches a disk but the node state directory. Faults are injected with
`fail_next` (the transaction fails before anything changes, as a failed download) and
`die_after_next` (it runs, then the process "dies" before done())."""
from dnf_plugin_cluster.backends import Backend, Item
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.plan import compare_evr


class Pkg(object):
    def __init__(self, name, evr="1.0-1", requires=(), arch="noarch", obsoletes=(), provides=()):
        self.name, self.evr, self.requires, self.arch = name, evr, tuple(requires), arch
        self.obsoletes = tuple(obsoletes)
        self.provides = tuple(provides)


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self, persistdir, available=(), installed=(), reasons=None, repos=None, basearch="x86_64",
                 protected=("dnf",)):
        self.persistdir = persistdir
        self.basearch = basearch
        self.available = list(available)              # [Pkg]
        self.system = dict((p.name, p) for p in installed)
        self.reasons = dict(reasons or {})           # name -> reason (default "dependency")
        self.repos = dict(repos or {})               # repo id -> {"enabled": bool, "metadata": {type: path}}
        self._protected = set(protected)
        self.hidden = set()
        self.held = set()
        self.marks = []
        self.ran = []
        self._resolved = []
        self.history = []                            # [(comment, {name: evr} put on the system)]
        self.origin = {}                             # installed name -> index of its latest transaction
        self.by_hands = {}                           # installed name -> installed/reinstalled by hand last
        self.fail_next = False
        self.die_after_next = False
        self.admin_locks = {}                        # the admin's own version locks: {name: evr}
        self.locks = None                            # the cluster's entries, once handed over

    # repositories
    def load(self):
        pass

    def want_metadata(self, mdtype):
        pass

    def enabled_repos(self):
        return sorted(r for r, info in self.repos.items() if info.get("enabled", True))

    def repo_state(self, repoid):
        return None if repoid not in self.repos else self.repos[repoid].get("enabled", True)

    def strict_repos(self, optional=()):
        pass

    def has_tree(self, repoid, arch):
        return None

    def enable_repo(self, repoid, mdtype=None):
        self.repos[repoid]["enabled"] = True

    def hide_repo(self, repoid, keep=None):
        self.hidden.add(repoid)

    def metadata_path(self, repoid, mdtype):
        return self.repos[repoid].get("metadata", {}).get(mdtype)

    # packages
    def installed(self):
        return dict((n, p.evr) for n, p in self.system.items())

    def reason(self, name):
        return self.reasons.get(name, "dependency")

    def available_names(self):
        return set(p.name for p in self.available)

    def protected(self):
        return set(self._protected)

    def installonly(self):
        return set()

    def _closure(self, names, pool):
        seen, todo = set(), list(names)
        while todo:
            pkg = pool.get(todo.pop())
            if pkg is None:
                continue
            for req in pkg.requires:
                if req not in seen and req in pool:
                    seen.add(req)
                    todo.append(req)
        return seen

    def newest(self, names):
        builds = [self._build(n) for n in names]
        return dict((p.name, p.evr) for p in builds if p is not None)

    def installed_requires(self, names):
        found = set(n for n in names if n in self.system) | self._closure(names, self.system)
        return dict((n, self.system[n].evr) for n in found)

    def installed_nevras(self, names):
        from dnf_plugin_cluster.profile import nevra
        return sorted(nevra(p.name, p.evr, p.arch) for n, p in self.system.items() if n in set(names))

    def fresh_resolver(self, arch, hide=(), enable=(), optional=(), local=None):
        return _MemoryFresh(self)

    def needs(self, name, among):
        pool = dict((n, self.system[n]) for n in among if n in self.system)
        pool[name] = self.system[name]
        return self._closure([name], pool) - {name}

    def providers(self, names):
        known = set(self.system) | set(p.name for p in self.available)
        return dict((n, sorted(p.name for p in self.system.values() if n in p.provides))
                    for n in names if n not in known)

    def rpmdb_problem(self):
        return None

    def rpmdb_now(self, provides=()):
        provided = self.providers(provides)
        return self.installed(), dict((n, p[0]) for n, p in provided.items() if p)

    # one transaction
    def _build(self, name, evr=None):
        builds = [p for p in self.available if p.name == name and (evr is None or p.evr == evr)]
        return max(builds, key=lambda p: _Key(p.evr)) if builds else None

    def has_build(self, name, evr):
        return self._build(name, evr) is not None

    def pin(self, name, evr):
        if self._build(name, evr) is None:
            return False
        self.available = [p for p in self.available if p.name != name or p.evr == evr]
        return True

    def install(self, name, evr=None):
        if self._build(name, evr) is None:
            raise ClusterError("package '{}' is not available from any enabled repository".format(name))
        self.marks.append(("install", name, evr))

    def upgrade(self, name, evr):
        self.marks.append(("upgrade", name, evr))

    def downgrade(self, name, evr):
        self.marks.append(("downgrade", name, evr))

    def remove(self, name):
        self.marks.append(("remove", name, None))

    def hold(self, names):
        self.held = set(names)

    def reset(self):
        self.marks = []

    def resolve(self, allow_erasing):
        items, want = [], {}
        for action, name, evr in self.marks:
            if action == "remove":
                # removing a package takes every installed package that needs it along
                doomed = set([name])
                changed = True
                while changed:
                    changed = False
                    for other in self.system.values():
                        if other.name not in doomed and doomed & set(other.requires):
                            doomed.add(other.name)
                            changed = True
                items += [Item("remove", n, self.system[n].evr, self.system[n].arch) for n in sorted(doomed)]
            else:
                want[name] = self._build(name, evr)
        for name in sorted(self._closure(list(want), dict((p.name, p) for p in self.available)) - set(want)):
            if name not in self.system:
                want[name] = self._build(name)
        for name, pkg in sorted(want.items()):
            action = "install" if name not in self.system else (
                "upgrade" if compare_evr(pkg.evr, self.system[name].evr) > 0 else "downgrade")
            items.append(Item(action, name, pkg.evr, pkg.arch))
            items += [Item("obsoleted", n, self.system[n].evr, self.system[n].arch) for n in pkg.obsoletes
                      if n in self.system]
        self._resolved = items
        return items

    def table(self, items):
        return "\n".join("{} {}".format(i.label, i.nevra) for i in items)

    def run(self, comment, done):
        """Apply the resolved transaction to the in-memory system and its history."""
        self.ran.append(comment)
        self.marks = []                              # the next run starts afresh, as a new dnf process
        if self.fail_next:
            self.fail_next = False
            raise ClusterError("Error downloading packages: simulated")
        self._apply(comment, [(i.action, i.name, i.evr) for i in self._resolved])
        if self.die_after_next:
            self.die_after_next = False
            raise Died()
        done()

    def by_hand(self, action, name, reason="user"):
        """What the admin does with plain dnf: install, reinstall or remove `name`, one
        history transaction without a cluster comment."""
        evr = None if action == "remove" else (self.system.get(name) or self._build(name)).evr
        self._apply("", [(action, name, evr)])
        if action != "remove":
            self.reasons[name] = reason

    def _apply(self, comment, changes):
        index = len(self.history)
        self.history.append((comment, {}))
        for action, name, evr in changes:
            self.origin.pop(name, None)
            if action in ("remove", "obsoleted"):
                self.system.pop(name, None)
                continue
            self.system[name] = self._build(name, evr)
            self.reasons.setdefault(name, "dependency")
            self.history[index][1][name] = evr
            self.origin[name] = index
            self.by_hands[name] = not comment.startswith("cluster-node sync") and action in ("install", "reinstall")

    def apply_admin_locks(self):
        """The admin's own locks: {name: evr} in self.admin_locks keep only that build."""
        for name, evr in sorted(self.admin_locks.items()):
            self.pin(name, evr)

    def hand_pins(self, pins):
        """The version lock: self.locks holds the cluster's entries as handed over."""
        self.locks = dict(pins)
        return None

    def taken_by_hand(self, names):
        return set(n for n in names if n in self.system and self.by_hands.get(n))

    def installed_by(self, tag):
        for index in range(len(self.history) - 1, -1, -1):
            comment, changed = self.history[index]
            if tag in comment.replace(":", " ").split():
                return dict((n, e) for n, e in changed.items() if self.origin.get(n) == index)
        return None


class Died(Exception):
    """The sync process was killed (after its transaction, before done())."""


class _Key(object):
    def __init__(self, evr):
        self.evr = evr

    def __lt__(self, other):
        return compare_evr(self.evr, other.evr) < 0


class _MemoryFresh(object):
    """An empty root over the available packages (newest builds, pins ignored)."""

    def __init__(self, backend):
        self.backend = backend

    def resolve(self, wanted, optional=()):
        from dnf_plugin_cluster.backends import Locked
        backend = self.backend
        names = [n for n in wanted] + [n for n in optional if backend._build(n) is not None]
        for name in wanted:
            if backend._build(name) is None:
                raise ClusterError("package '{}' is not available".format(name))
        pool = dict((p.name, backend._build(p.name)) for p in backend.available)
        found = set(names) | backend._closure(names, pool)
        return sorted((Locked(n, pool[n].evr, pool[n].arch) for n in found), key=lambda p: p.name)

    def close(self):
        pass
