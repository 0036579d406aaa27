"""What a node must do to match its role: a plan computed from plain data (what the
profile wants, what is installed, what the profile installed earlier, the pins).

Removal is narrow on purpose: only packages that sync itself installed (the managed
set in the node's state) and that the profile no longer lists are removed. What the
admin installed by hand, what was there before the profile listed it, and the node
floor are never removed; a pin never downgrades the floor."""
import fnmatch

#: Names a profile never removes or downgrades on any node: the kernel, the OS core,
#: the package manager (dnf 4 or dnf5), remote access and this plugin itself.
FLOOR = ("kernel*", "glibc", "systemd", "bash", "rpm", "dnf", "dnf5", "openssh-server", "python3-dnf-plugin-cluster",
         "python3-dnf-plugin-cluster-dnf4", "dnf5-plugin-cluster")


class Floor(object):
    """The node floor: what dnf protects (names), FLOOR, and cluster.conf's `protected`
    (names or globs)."""

    def __init__(self, protected=(), configured=()):
        self.protected = set(protected)
        self.configured = tuple(configured)

    def reason(self, name):
        """Why `name` is on the floor, or None."""
        if name in self.protected:
            return "protected by dnf"
        if any(fnmatch.fnmatchcase(name, p) for p in FLOOR):
            return "node floor"
        if any(fnmatch.fnmatchcase(name, p) for p in self.configured):
            return "protected in cluster.conf"
        return None


def parse_evr(evr):
    """"[epoch:]version-release" -> (epoch, version, release) with epoch as a string."""
    epoch, _, rest = evr.rpartition(":")
    version, _, release = rest.rpartition("-")
    return (epoch or "0", version, release)


def format_evr(evr):
    """Canonical text: epoch shown only when not 0."""
    epoch, version, release = parse_evr(evr)
    return "{}{}-{}".format("" if epoch == "0" else epoch + ":", version, release)


def compare_evr(a, b):
    import rpm
    return rpm.labelCompare(parse_evr(a), parse_evr(b))


class Plan(object):
    def __init__(self, role, arch):
        self.role = role
        self.arch = arch
        self.install = []          # [(name, evr or None)]
        self.upgrade = []          # [(name, from_evr, to_evr)]
        self.downgrade = []        # [(name, from_evr, to_evr)]
        self.remove = []           # [name]
        self.kept = []             # [(name, reason)]
        self.unpinned = set()      # pinned names whose pin is not applied (the floor)
        self.latest = set()        # upgrades to the newest build (update: latest), not to a pin

    @property
    def in_sync(self):
        return not (self.install or self.upgrade or self.downgrade or self.remove)

    def keep(self, name, reason):
        """Withdraw a planned removal (e.g. a hand-installed package still needs it)."""
        if name in self.remove:
            self.remove.remove(name)
            self.kept.append((name, reason))

    def as_dict(self):
        return {
            "role": self.role, "arch": self.arch, "in_sync": self.in_sync,
            "install": [{"name": n, "evr": e} for n, e in self.install],
            "upgrade": [{"name": n, "from": a, "to": b, "why": "latest" if n in self.latest else "pinned"}
                        for n, a, b in self.upgrade],
            "downgrade": [{"name": n, "from": a, "to": b} for n, a, b in self.downgrade],
            "remove": list(self.remove),
            "kept": [{"name": n, "reason": r} for n, r in self.kept],
        }

    def lines(self):
        out = []
        for name, evr in self.install:
            out.append("  install    {}{}".format(name, " " + evr + " (locked)" if evr else ""))
        for label, items in (("upgrade", self.upgrade), ("downgrade", self.downgrade)):
            for name, old, new in items:
                out.append("  {:<10} {} {} -> {} ({})".format(label, name, old, new,
                                                             "latest" if name in self.latest else "locked"))
        for name in self.remove:
            out.append("  remove     {} (installed by the profile, no longer listed)".format(name))
        for name, reason in self.kept:
            out.append("  keep       {} ({})".format(name, reason))
        return out


def compute(role, arch, wanted, installed, managed, pins, protected=(), latest=None):
    """The plan for one node.

    wanted:    names the role wants on this arch
    installed: {name: evr} of installed packages (one evr per name; installonly
               packages such as kernels are not pinned)
    managed:   names sync installed earlier (the node's state)
    pins:      {name: evr} exact versions the cluster runs
    protected: the node's Floor (or the names dnf protects)
    latest:    {name: evr} the newest builds of the role's channel, for a role that
               follows them (update: latest): installed older builds are upgraded"""
    floor = protected if isinstance(protected, Floor) else Floor(protected)
    plan = Plan(role, arch)
    wanted = set(wanted)
    for name in sorted(wanted):
        if name not in installed:
            plan.install.append((name, format_evr(pins[name]) if name in pins else None))
    for name in sorted(pins):
        if name not in installed:
            continue
        have, want = format_evr(installed[name]), format_evr(pins[name])
        order = compare_evr(have, want)
        if order < 0:
            plan.upgrade.append((name, have, want))
        elif order > 0 and floor.reason(name):
            plan.unpinned.add(name)
            plan.kept.append((name, "{}: locked {} is older than the installed {}; not applied".format(
                floor.reason(name), want, have)))
        elif order > 0:
            plan.downgrade.append((name, have, want))
    for name in sorted(set(latest or ()) & wanted & set(installed) - set(pins)):
        have, newest = format_evr(installed[name]), format_evr(latest[name])
        if compare_evr(have, newest) < 0:
            plan.upgrade.append((name, have, newest))
            plan.latest.add(name)
    for name in sorted(set(managed) & set(installed) - wanted):
        if floor.reason(name):
            plan.kept.append((name, floor.reason(name)))
        else:
            plan.remove.append(name)
    return plan


def drift(plan):
    """The status view of a plan: what is missing, what a sync removes (installed by the
    profile, no longer listed), what is at the wrong version (not the locked one) or
    outdated (older than the newest build, for a role that follows it). `extra` and
    `pinned` are the older names of `remove` and `locked`, kept for format 1 readers."""
    return {
        "missing": [n for n, _ in plan.install],
        "wrong_version": [{"name": n, "installed": a, "locked": b, "pinned": b}
                          for n, a, b in plan.upgrade + plan.downgrade if n not in plan.latest],
        "outdated": [{"name": n, "installed": a, "latest": b} for n, a, b in plan.upgrade if n in plan.latest],
        "remove": list(plan.remove),
        "extra": list(plan.remove),
    }
