"""What a publish or rollback changes against the generation published now, before it
writes anything: `dnf cluster-master publish|rollback --dry-run` (or dnf's --assumeno)
shows it and writes nothing, and a publish that would change nothing makes no new
generation unless --republish asks for one.

Per role and arch: the packages added and removed (with the pinned version where the
role is pinned), the pins that move, appear or go, and the role's settings (channel,
update, groups); anything else in the profile that differs is named too, so nothing a
node would see changes unsaid. Besides the profile, a publish changes the site
repository when an arch repository is new, when cluster-site-release is (re)built (a
new base URL or key), or when the site-local packages in an arch directory differ from
what its metadata indexes. Reads only; Python 3.6."""
import os
import xml.etree.ElementTree as ET

from .. import mdfile, profile
from ..errors import ClusterError
from . import lock, repodata, siterelease

#: primary.xml of a site repository (its own few packages): read up to this size
PRIMARY_MAX_BYTES = 64 * 1024 * 1024
COMMON_NS = "{http://linux.duke.edu/metadata/common}"
ROLE_SETTINGS = ("channel", "update", "groups", "description")


def _content(prof):
    """The profile without its generation number (what nodes act on)."""
    return None if prof is None else dict((k, v) for k, v in prof.items() if k != "generation")


def _view(prof, role, arch):
    """(packages, effective pins, role entry) of one role and arch, or None."""
    if prof is None:
        return None
    entry = prof["roles"].get(role)
    if entry is None or arch not in entry.get("arches", {}):
        return None
    view = profile.RoleView(prof, role, arch)
    return set(view.packages), dict(view.pins), entry


def _show(value):
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "(none)" if value is None else str(value)


class RoleChange(object):
    """What changes for one role on one arch."""

    def __init__(self, role, arch, state):
        self.role, self.arch, self.state = role, arch, state      # new, removed, changed, same
        self.add, self.remove, self.pins, self.settings, self.other = [], [], [], [], []

    def key(self):
        """What identifies the change (arches of one role with the same key print once)."""
        return (self.state, tuple(self.add), tuple(self.remove), tuple(self.pins), tuple(self.settings),
                tuple(self.other))

    def lines(self):
        out = ["role added"] if self.state == "new" else ["role or arch removed"] if self.state == "removed" else []
        out += ["add      {}{}".format(n, " " + e if e else "") for n, e in self.add]
        out += ["remove   {}{}".format(n, " " + e if e else "") for n, e in self.remove]
        for name, old, new in self.pins:
            if old is None:
                out.append("lock     {} {} (newly locked)".format(name, new))
            elif new is None:
                out.append("unlock   {} {}".format(name, old))
            else:
                out.append("lock     {} {} -> {}".format(name, old, new))
        out += ["{:<8} {} -> {}".format(k, _show(a), _show(b)) for k, a, b in self.settings]
        out += ["changed  {}".format(what) for what in self.other]
        return out

    def as_dict(self):
        return {"role": self.role, "arch": self.arch, "state": self.state,
                "add": [{"name": n, "evr": e} for n, e in self.add],
                "remove": [{"name": n, "evr": e} for n, e in self.remove],
                "pins": [{"name": n, "from": a, "to": b} for n, a, b in self.pins],
                "settings": [{"key": k, "from": a, "to": b} for k, a, b in self.settings],
                "other": list(self.other)}


def role_changes(old, new):
    """[RoleChange] for every role and arch of either profile, in role, arch order."""
    pairs = set()
    for prof in (old, new):
        for role, entry in ((prof or {}).get("roles") or {}).items():
            pairs.update((role, arch) for arch in entry.get("arches", {}))
    out = []
    for role, arch in sorted(pairs):
        before, after = _view(old, role, arch), _view(new, role, arch)
        state = "new" if before is None else "removed" if after is None else "changed"
        change = RoleChange(role, arch, state)
        packages_a, pins_a, entry_a = before or (set(), {}, {})
        packages_b, pins_b, entry_b = after or (set(), {}, {})
        change.add = [(n, pins_b.get(n)) for n in sorted(packages_b - packages_a)]
        change.remove = [(n, pins_a.get(n)) for n in sorted(packages_a - packages_b)]
        if before is not None and after is not None:
            for name in sorted(set(pins_a) | set(pins_b)):
                if pins_a.get(name) != pins_b.get(name):
                    change.pins.append((name, pins_a.get(name), pins_b.get(name)))
            for key in ROLE_SETTINGS:
                if entry_a.get(key) != entry_b.get(key):
                    change.settings.append((key, entry_a.get(key), entry_b.get(key)))
            known = set(ROLE_SETTINGS) | {"arches"}
            for key in sorted((set(entry_a) | set(entry_b)) - known):
                if entry_a.get(key) != entry_b.get(key):
                    change.other.append(key)
            spec_a, spec_b = entry_a["arches"][arch], entry_b["arches"][arch]
            for key in sorted((set(spec_a) | set(spec_b)) - {"packages"}):
                if spec_a.get(key) != spec_b.get(key):
                    change.other.append(key)
            if not (change.add or change.remove or change.pins or change.settings or change.other):
                change.state = "same"
        out.append(change)
    return out


def role_lines(changes, indent="  "):
    """[RoleChange] as text, per role: the arches with the same change print once
    (publish's preview, `cluster-master history N`)."""
    out = []
    by_role = {}
    for change in changes:
        by_role.setdefault(change.role, []).append(change)
    for role in sorted(by_role):
        groups = []
        for change in by_role[role]:
            for group in groups:
                if group[0].key() == change.key():
                    group.append(change)
                    break
            else:
                groups.append([change])
        for group in groups:
            label = "{} {}".format(role, ", ".join(c.arch for c in group))
            lines = group[0].lines()
            if not lines:
                out.append("{}{}: no change".format(indent, label))
                continue
            out.append("{}{}:".format(indent, label))
            out.extend(indent + "  " + line for line in lines)
    return out


def indexed_differs(site, arch, local=None):
    """Whether the RPMs in an arch directory differ (by path and size) from what its
    primary metadata indexes: a site-local package added, replaced or removed; `local`
    (SiteTree.local_packages()) adds the noarch RPMs of other arches it will hold."""
    top = os.path.join(site.path, arch)
    on_disk = {}
    for directory, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (directory == top and d == "repodata")]
        for name in files:
            if name.endswith(".rpm"):
                path = os.path.join(directory, name)
                on_disk[os.path.relpath(path, top)] = os.path.getsize(path)
    for fname, entry in sorted(((local or {}).get(arch) or {}).items()):
        on_disk.setdefault(os.path.join("Packages", fname), os.path.getsize(entry.path))
    location = repodata.location(site.repodata(arch), "primary")
    if location is None:
        return True
    data = mdfile.read_bounded(location, PRIMARY_MAX_BYTES, "metadata 'primary'")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise ClusterError("cannot read repository metadata: {}".format(err), location)
    indexed = {}
    for package in root.findall(COMMON_NS + "package"):
        loc, size = package.find(COMMON_NS + "location"), package.find(COMMON_NS + "size")
        if loc is not None:
            indexed[loc.get("href")] = int(size.get("package")) if size is not None else None
    return indexed != on_disk


class Preview(object):
    """A publish's effect: the profile's changes per role and arch, and the site
    repository's other changes (new arches, cluster-site-release, site-local packages)."""

    def __init__(self, site, previous, prof, arches, gpg=None, baseurl=None):
        self.previous, self.profile, self.arches = previous, prof, list(arches)
        self.published = previous.get("generation") if previous else None
        self.generation = site.next_generation(previous)
        self.roles = role_changes(previous, prof)
        self.other = []
        before, after = _content(previous) or {}, _content(prof)
        for key in sorted((set(before) | set(after)) - {"roles", "pins", "format"}):
            if before.get(key) != after.get(key):
                self.other.append("the profile's {} changes".format(key))
        if previous is not None and before.get("pins") != after.get("pins") and not any(
                c.pins for c in self.roles):
            self.other.append("the locked versions change (no role is locked)")
        present = site.arches()
        new_arches = [a for a in self.arches if a not in present]
        if new_arches:
            self.other.append("new arch repositor{}: {}".format("y" if len(new_arches) == 1 else "ies",
                                                                ", ".join(new_arches)))
        release = siterelease.change(site, self.arches, gpg, baseurl)
        if release:
            self.other.append(release)
        local = site.local_packages(self.arches)
        for arch in self.arches:
            if arch in present and indexed_differs(site, arch, local):
                self.other.append("the site-local packages in {} are indexed again (they changed)".format(arch))
        self.profile_changed = previous is None or _content(previous) != after

    @property
    def changed(self):
        return self.profile_changed or bool(self.other)

    def role_lines(self, indent="  "):
        return role_lines(self.roles, indent)

    def lines(self, dry_run):
        """The text: what the next generation would change, or that nothing changes."""
        against = ("generation {} (published now)".format(self.published) if self.published is not None
                   else "nothing published yet")
        if not self.changed:
            return ["Nothing changed: generation {} (published now) has this profile already; no new "
                    "generation{}.".format(self.published, "" if dry_run else
                                            " (--republish publishes it again as generation {})".format(
                                                self.generation))]
        out = ["What generation {} would change, against {}:".format(self.generation, against)]
        if self.profile_changed:
            out += self.role_lines()
            locks = lock.history_lines(lock.record(self.profile, self.previous), indent="    ")
            if locks:                   # the complete locks per role and arch, with versions
                out += ["  locks:"] + locks
        else:
            out.append("  the profile is unchanged")
        out += ["  also: {}".format(text) for text in self.other]
        return out

    def as_dict(self):
        return {"format": 1, "changed": self.changed, "published": self.published,
                "generation": self.generation if self.changed else self.published,
                "next_generation": self.generation, "arches": self.arches,
                "roles": [c.as_dict() for c in self.roles], "other": list(self.other),
                "locks": lock.record(self.profile, self.previous),
                "digest": profile.digest(dict(self.profile, generation=self.generation))}
