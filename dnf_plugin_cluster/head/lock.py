"""The lock per role and arch (`dnf cluster-master publish --lock`).

A role's lock is the whole set a fresh node of that role installs: the node floor
plus the role's packages for the arch, resolved as an install into a throwaway empty
root of that arch (the backend's fresh_resolver(): this head node's repository
configuration read for the arch, as `--forcearch` does, metadata refreshed first), and
never run. Every package of it is pinned by name, epoch:version-release, arch and
checksum, except what is left to the distribution (profile.LOCK_EXCLUDE, --lock-exclude)
and install-only packages (kernels). What the head node itself runs plays no part.

The locks travel in the profile (format 2, profile.py) and so are part of the
generation; the generation's record keeps how many packages each role/arch locks and
what changed from the profile published before (added, removed, moved, with
versions), which `cluster-master history` shows.

Python 3.6 (EL8)."""
import fnmatch

from .. import profile, progress
from ..errors import ClusterError
from ..nodeconf import SITE_PROFILE_REPO, testing_repo
from ..plan import FLOOR

#: Floor names a fresh node gets beside its role (plan.FLOOR as names: `kernel*` is
#: `kernel`); installed when available. dnf5's own names are left out: where dnf5 is
#: the package manager, `dnf` names it.
FRESH_FLOOR = tuple(sorted(set(p.rstrip("*") for p in FLOOR if not p.startswith("dnf5"))))


def _key(role, arch):
    return "{}/{}".format(role, arch)


def excluded(name, patterns):
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def resolve(backend, draft, arches, excludes=(), log=None, local=None):
    """{role: {arch: [backends.Locked]}}: every role's fresh-node set on every arch of
    `arches` that it has, minus the names left unpinned. One empty root per arch and
    channel; stable roles never see the testing repository, testing roles do. `local`:
    {arch: repository directory} of the site-local RPMs this publish indexes
    (publish.SiteTree.local_repos()), seen by every channel's resolver of that arch."""
    local = local or {}
    log = log or (lambda text: None)
    patterns = list(profile.LOCK_EXCLUDE) + list(excludes)
    installonly = set(backend.installonly())
    testing = testing_repo(SITE_PROFILE_REPO)
    out = {}
    total = sum(1 for arch in arches for entry in draft["roles"].values() if arch in entry["arches"])
    with progress.Counter("resolving", total) as bar:
        for arch in arches:
            _resolve_arch(backend, draft, arch, bar, out, (patterns, installonly, testing, local.get(arch)), log)
    return out


def _resolve_arch(backend, draft, arch, bar, out, context, log):
    """resolve()'s work on one arch: one fresh resolver per channel."""
    patterns, installonly, testing, local = context
    resolvers = {}
    try:
        for role, entry in sorted(draft["roles"].items()):
            if arch not in entry["arches"]:
                continue
            bar.step("role {} on {}".format(role, arch))
            channel = entry["channel"]
            if channel not in resolvers:
                if channel == "testing" and backend.repo_state(testing) is None:
                    raise ClusterError("role '{}' follows the testing channel, but repository '{}' is not "
                                       "configured on this host".format(role, testing))
                hide, enable = ((), (testing,)) if channel == "testing" else ((testing,), ())
                try:
                    resolvers[channel] = backend.fresh_resolver(arch, hide=hide, enable=enable,
                                                                optional=(SITE_PROFILE_REPO,), local=local)
                except ClusterError as err:
                    raise ClusterError("publish --lock for {}: {}".format(arch, err))
            try:
                found = resolvers[channel].resolve(entry["arches"][arch]["packages"], FRESH_FLOOR)
            except ClusterError as err:
                raise ClusterError("publish --lock: role '{}' on {}: {}".format(role, arch, err))
            kept = [p for p in found if p.name not in installonly and not excluded(p.name, patterns)]
            out.setdefault(role, {})[arch] = kept
            bar.clear()
            log("role {} on {}: a fresh node installs {} packages, {} locked".format(
                role, arch, len(found), len(kept)))
    finally:
        for resolver in resolvers.values():
            resolver.close()


def from_nodes(results, installonly=(), excludes=()):
    """`publish --lock-from NODESET`: {(role, arch): (node, [backends.Locked])} from the
    nodes' `status --json --packages` answers (results: {node: fleet.NodeResult}): the
    package set each tested node runs becomes its role's lock on its arch, minus what
    is left to the distribution (as --lock). Every node must answer; nodes of one role
    and arch must run the same set."""
    from ..backends import Locked
    from ..names import KNOWN_BASEARCHES, is_name
    patterns = list(profile.LOCK_EXCLUDE) + list(excludes)
    found = {}
    for node in sorted(results):
        result = results[node]
        answer = result.answer if isinstance(result.answer, dict) else {}
        if result.state not in ("in-sync", "drift"):
            raise ClusterError("publish --lock-from: node {} gave no package set: {}".format(node, result.summary))
        role, arch, entries = answer.get("role"), answer.get("arch"), answer.get("packages")
        if not is_name(role) or arch not in KNOWN_BASEARCHES:
            raise ClusterError("publish --lock-from: node {} answered without a valid role and arch".format(node))
        if not isinstance(entries, list):
            raise ClusterError("publish --lock-from: node {} sent no package set (its dnf-plugin-cluster is older "
                               "than `status --packages`)".format(node))
        left = lambda e: isinstance(e, dict) and isinstance(e.get("name"), str) and (
            e["name"] in installonly or excluded(e["name"], patterns))
        entries = [e for e in entries if not left(e)]       # kernels: several builds, never locked
        profile.validate_lock(entries, "packages", "the answer of node {}".format(node))
        kept = sorted((Locked(e["name"], e["evr"], e["arch"]) for e in entries), key=lambda p: (p.name, p.arch))
        key = (role, arch)
        if key in found:
            first, before = found[key]
            was = set((p.name, p.evr, p.arch) for p in before)
            now = set((p.name, p.evr, p.arch) for p in kept)
            if was != now:
                odd = sorted(was ^ now)[0]
                raise ClusterError("publish --lock-from: nodes {} and {} of role '{}' on {} run different package "
                                   "sets (e.g. {} {}.{} on {} only): name the node that was tested".format(
                                       first, node, role, arch, odd[0], odd[1], odd[2],
                                       first if odd in was else node))
            continue
        found[key] = (node, kept)
    return found


def attach_from_nodes(prof, found):
    """`prof` (carried or unlocked, no generation) with the locks of `found`
    (from_nodes()) in place of its own for those roles and arches: format 2. A role or
    arch the profile does not have, or a role package the node does not run, is
    refused: the lock would not be what was tested."""
    roles = dict((name, dict(entry, arches=dict((a, dict(s)) for a, s in entry["arches"].items())))
                 for name, entry in prof["roles"].items())
    for (role, arch), (node, locked) in sorted(found.items()):
        if role not in roles or arch not in roles[role]["arches"]:
            raise ClusterError("publish --lock-from: node {} runs role '{}' on {}, which the profile does not "
                               "have".format(node, role, arch))
        spec = roles[role]["arches"][arch]
        names = set(p.name for p in locked)
        lacking = [n for n in spec["packages"] if n not in names and not excluded(n, profile.LOCK_EXCLUDE)]
        if lacking:
            raise ClusterError("publish --lock-from: node {} does not run {} of role '{}': sync and test it "
                               "first".format(node, lacking[0], role))
        spec["lock"] = [p.as_dict() for p in locked]
    out = dict(prof, format=profile.LOCK_FORMAT, roles=roles)
    return profile.validate(out, "locked profile")


def attach(draft, locks):
    """The profile `draft` (no generation) with `locks` (resolve()) in its arch entries:
    format 2, no top-level pins."""
    roles = {}
    for role, entry in draft["roles"].items():
        arches = {}
        for arch, spec in entry["arches"].items():
            spec = {"packages": list(spec["packages"])}
            if arch in locks.get(role, {}):
                spec["lock"] = [p.as_dict() for p in locks[role][arch]]
            arches[arch] = spec
        roles[role] = dict(entry, arches=arches)
    prof = dict(draft, format=profile.LOCK_FORMAT, roles=roles, pins={})
    return profile.validate(prof, "locked profile")


def unlocked(prof):
    """`prof` without pins or locks (format 1)."""
    roles = dict((name, dict(entry, arches=dict((arch, {"packages": list(spec["packages"])})
                                                for arch, spec in entry["arches"].items())))
                 for name, entry in prof["roles"].items())
    return dict(prof, format=profile.FORMAT, roles=roles, pins={})


def carry(draft, previous, warn=None):
    """Without --lock or --unlock: the previous profile's pins go on, its top-level
    pins as they were and its locks for every role and arch that is still there (with a
    warning when the role's package list changed since: its new names float until the
    next --lock)."""
    warn = warn or (lambda text: None)
    prof = dict(draft, pins=dict(previous.get("pins", {})))
    roles, carried = {}, False
    for role, entry in draft["roles"].items():
        old = previous["roles"].get(role, {}).get("arches", {})
        arches = {}
        for arch, spec in entry["arches"].items():
            spec = dict(spec)
            if "lock" in old.get(arch, {}):
                spec["lock"] = old[arch]["lock"]
                carried = True
                if sorted(old[arch]["packages"]) != sorted(spec["packages"]):
                    warn("role '{}' on {} changed since it was locked: what it adds is not locked until "
                         "`publish --lock`".format(role, arch))
            arches[arch] = spec
        roles[role] = dict(entry, arches=arches)
    prof["roles"] = roles
    if carried:
        prof["format"] = profile.LOCK_FORMAT
    return profile.validate(prof, "published profile")


def locks_of(prof):
    """{"role/arch": {name: (evr, arch)}} of a profile's locks (none for format 1)."""
    out = {}
    for role, entry in (prof or {}).get("roles", {}).items():
        for arch, spec in entry.get("arches", {}).items():
            if "lock" in spec:
                out[_key(role, arch)] = dict((e["name"], (e["evr"], e["arch"])) for e in spec["lock"])
    return out


def pins_of(prof):
    """{role: {arch: {name: evr}}} of a profile's locks (publish --json)."""
    out = {}
    for key, entries in locks_of(prof).items():
        role, arch = key.split("/")
        out.setdefault(role, {})[arch] = dict((n, evr) for n, (evr, _) in entries.items())
    return out


def changes(old, new):
    """What each role/arch lock of `new` changed from `old`'s:
    {"role/arch": {"added": ["name evr"], "removed": ["name evr"],
                   "moved": ["name old -> new"]}}, {"new": True} for a role/arch that
    had no lock before, {"dropped": True} for one whose lock is gone."""
    before, after = locks_of(old), locks_of(new)
    out = {}
    for key in sorted(set(before) | set(after)):
        if key not in after:
            out[key] = {"dropped": True}
            continue
        if key not in before:
            out[key] = {"new": True}
            continue
        was, now = before[key], after[key]
        out[key] = {
            "added": ["{} {}".format(n, now[n][0]) for n in sorted(set(now) - set(was))],
            "removed": ["{} {}".format(n, was[n][0]) for n in sorted(set(was) - set(now))],
            "moved": ["{} {} -> {}".format(n, was[n][0], now[n][0]) for n in sorted(set(was) & set(now))
                      if was[n] != now[n]]}
    return out


def record(prof, previous):
    """What a generation's record (and index entry) keeps of its locks: `locks`
    {"role/arch": count} and `lock_changes` (changes()); nothing when neither profile
    has a lock."""
    counts = dict((key, len(entries)) for key, entries in locks_of(prof).items())
    if not counts and not locks_of(previous):
        return {}
    return {"locks": counts, "lock_changes": changes(previous, prof)}


def describe(prof):
    """How publish says what it locked: "N locked", or the count of every lock."""
    counts = locks_of(prof)
    if not counts:
        return "{} locked".format(len(prof.get("pins", {})))
    return "locks " + ", ".join("{} {}".format(key, len(counts[key])) for key in sorted(counts))


def history_lines(entry, indent="    "):
    """Lines under a generation in `cluster-master history`: per role/arch, how many
    packages it locks and what changed."""
    counts = entry.get("locks")
    if not isinstance(counts, dict):
        return []
    moves = entry.get("lock_changes") if isinstance(entry.get("lock_changes"), dict) else {}
    lines = []
    for key in sorted(set(counts) | set(moves)):
        change = moves.get(key) if isinstance(moves.get(key), dict) else {}
        if change.get("dropped"):
            lines.append("{}{}: lock dropped".format(indent, key))
            continue
        parts = []
        if change.get("new"):
            parts.append("new lock")
        for label in ("added", "removed", "moved"):
            items = change.get(label) or []
            if items:
                parts.append("{} {}".format(label, ", ".join(" ".join(str(i).split()) for i in items)))
        if not parts and change:
            parts.append("unchanged")
        lines.append("{}{}: {} locked{}".format(indent, key, counts.get(key, 0),
                                                "; " + "; ".join(parts) if parts else ""))
    return lines
