"""The cluster profile: per role and per arch, the groups and packages a node of that role
must have, the channel it follows, and exact version pins (an EVR lock from the tested
head node). It is JSON (nothing in it can execute or expand) and travels inside the
repository metadata as the extra type `cluster`, checksummed (and signed, with a signed
repomd.xml) like the rest of the metadata.

Role definitions (roles/<role>.yaml) are what packagers and admins write:

    description: Compute node
    channel: stable            # stable | testing
    groups: [cluster-node]     # comps groups: mandatory + default tiers
    with_optional: false       # also the optional tier
    packages: [cluster-apps-bio]
    arch:                      # per-arch additions
      x86_64: {packages: [cpuid]}
    update: pinned             # pinned | latest | present (default: pinned when the
                               # profile has pins, else present; see RoleView.update)

A profile published by `dnf cluster-master publish` into a site repository also carries
its `generation` (1, 2, ...; see publish.py); a default profile from the packager's
build has none.

Pins come in two forms. Format 1: `pins`, one {name: evr} for every role and arch (what
older head nodes published; still read). Format 2 (`publish --lock`, head/lock.py): a
**lock per role and arch**, the whole set a fresh node of that role installs, beside
the role's package list:

    "arches": {"x86_64": {"packages": [...],
                          "lock": [{"name": "ncbi-blast+", "evr": "2.14.0-1.el9",
                                    "arch": "x86_64", "checksum": "sha256:..."}, ...]}}

A role's pins are its arch's lock when there is one, else the top-level `pins`. The
format number goes up only for profiles that carry a lock, so a plugin that reads
format 1 refuses them by name ("unsupported format 2") instead of syncing unpinned.
"""
import hashlib
import json
import os
import re

from .errors import ClusterError, quote
from .names import CLUSTER_ARCHES, KNOWN_BASEARCHES, check_name, is_name

FORMAT = 1
#: The format of a profile that carries locks per role and arch.
LOCK_FORMAT = 2
FORMATS = (FORMAT, LOCK_FORMAT)
MDTYPE = "cluster"
CHANNELS = ("stable", "testing")
#: How a role's packages move: to the profile's pins, to the newest build of the role's
#: channel, or not at all once installed.
UPDATE_POLICIES = ("pinned", "latest", "present")
EVR_RE = re.compile(r"\A(?:(\d+):)?[0-9A-Za-z._+~^]+-[0-9A-Za-z._+~^]+\Z")
#: rpm stores the epoch as a 32-bit integer; dnf's bindings take a C int.
MAX_EPOCH = 2 ** 31 - 1
#: Generations count publishes: far below this, and the number names a file on the head
#: node, so 10**300 (a 301-digit file name) is refused as nodes read the profile.
MAX_GENERATION = 2 ** 31 - 1
#: An rpm file is named name-version-release.arch.rpm in at most 255 bytes, so no
#: package has a longer version-release; the epoch adds at most 11.
MAX_EVR = 255
MAX_BYTES = 16 * 1024 * 1024
#: An rpm arch in a lock entry (x86_64, aarch64, noarch, i686, ...).
ARCH_RE = re.compile(r"\A[A-Za-z0-9_]{1,32}\Z")
#: A role's gpu_devices: absolute device paths, with gres.conf's [0-3] ranges, comma-separated.
GPU_DEVICES_RE = re.compile(r"\A/[A-Za-z0-9_./\[\]-]{1,200}(,/[A-Za-z0-9_./\[\]-]{1,200})*\Z")
#: A package checksum in a lock entry, as the repository metadata gives it.
CHECKSUM_RE = re.compile(r"\A(md5|sha1|sha224|sha256|sha384|sha512):[0-9a-f]{32,128}\Z")
#: Left unpinned by `publish --lock`: the OS core the distribution keeps updating
#: (security fixes must reach every node), and dnf/rpm themselves.
LOCK_EXCLUDE = ("kernel*", "glibc*", "systemd*", "filesystem", "setup", "bash", "shadow-utils",
                "openssl*", "openssh*", "ca-certificates", "tzdata", "crypto-policies*",
                "dnf", "dnf-*", "libdnf*", "rpm", "rpm-*", "python3", "python3-libs", "python3-dnf",
                "python3-rpm", "python3-libcomps", "python3-hawkey")


class Role(object):
    def __init__(self, name, path=None):
        self.name = name
        self.path = path
        self.description = ""
        self.channel = "stable"
        self.groups = []              # [(group id, line)]
        self.with_optional = False
        self.packages = []            # [(name, line)]
        self.arch_packages = {}       # arch -> [(name, line)]
        self.update = None            # one of UPDATE_POLICIES, or None: the default
        self.gpus = None              # GPUs per node (services: Gres=gpu:N), or None
        self.gpu_devices = None       # their device files (gres.conf File=), or None: /dev/nvidia[0-N-1]


def load_role(path):
    from . import yamlsrc            # YAML is the head node's: a node never loads it
    data = yamlsrc.load_file(path)
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        check_name(name, "role name")
    except ClusterError as err:
        raise ClusterError(err.bare, path)
    check = yamlsrc.Checker(data, path, "role definition")
    check.keys(optional=("description", "channel", "groups", "with_optional", "packages", "arch", "update",
                         "gpus", "gpu_devices"))
    role = Role(name, path)
    role.description = check.get("description", str, "")
    role.channel = check.get("channel", str, "stable")
    if role.channel not in CHANNELS:
        check.fail("channel must be one of {}".format(", ".join(CHANNELS)), "channel")
    role.with_optional = check.get("with_optional", bool, False)
    if "update" in data:
        role.update = check.get("update", str)
        if role.update not in UPDATE_POLICIES:
            check.fail("update must be one of {}".format(", ".join(UPDATE_POLICIES)), "update")
    if "gpus" in data:
        role.gpus = data["gpus"]
        if isinstance(role.gpus, bool) or not isinstance(role.gpus, int) or not 1 <= role.gpus <= 1024:
            check.fail("gpus must be a whole number of GPUs per node, 1 to 1024", "gpus")
    if "gpu_devices" in data:
        role.gpu_devices = check.get("gpu_devices", str)
        if not GPU_DEVICES_RE.match(role.gpu_devices):
            check.fail("gpu_devices must be device files as gres.conf's File= takes them (/dev/nvidia[0-3])",
                       "gpu_devices")
        if role.gpus is None:
            check.fail("gpu_devices needs gpus (how many GPUs each node has)", "gpu_devices")

    def names(container, key, what):
        items = yamlsrc.Checker(container, path, what).get(key, list, yamlsrc.Seq())
        out = []
        for index, item in enumerate(items):
            line = items.item_line(index)
            try:
                out.append((check_name(item, "package name" if key == "packages" else "group id"), line))
            except ClusterError as err:
                raise ClusterError("{}: {}".format(key, err.bare), path, line)
        return out

    role.groups = names(data, "groups", "role definition")
    role.packages = names(data, "packages", "role definition")
    arches = check.get("arch", dict, yamlsrc.Map())
    for arch, spec in arches.items():
        if arch not in KNOWN_BASEARCHES:
            raise ClusterError("unknown arch {}".format(quote(arch)), path, arches.key_line(arch))
        sub = yamlsrc.Checker(spec, path, "arch '{}'".format(arch))
        sub.keys(optional=("packages",))
        role.arch_packages[arch] = names(spec, "packages", "arch '{}'".format(arch))
    return role


def load_roles(directory):
    if not os.path.isdir(directory):
        raise ClusterError("no role definitions: not a directory", directory)
    files = sorted(f for f in os.listdir(directory) if f.endswith((".yaml", ".yml")))
    if not files:
        raise ClusterError("no role definitions (*.yaml)", directory)
    roles = [load_role(os.path.join(directory, f)) for f in files]
    seen = {}
    for role in roles:
        if role.name in seen:
            raise ClusterError("role '{}' is defined twice (also {})".format(role.name, seen[role.name]), role.path)
        seen[role.name] = role.path
    return roles


def build(roles, catalog, arches=CLUSTER_ARCHES, pins=None, known=None):
    """The profile dict for `roles`, resolving groups with `catalog` per arch (comps
    read by comps.RepoComps or cluster_repo's compsfile: see groups.py).

    known(arch) -> set of available names, to refuse roles naming unknown packages."""
    out_roles = {}
    for role in roles:
        for gid, line in role.groups:
            if not catalog.has_group(gid):
                raise ClusterError("role '{}': unknown group '{}'".format(role.name, gid), role.path, line)
        per_arch = {}
        for arch in arches:
            names = set(n for n, _ in role.packages + role.arch_packages.get(arch, []))
            for gid, _ in role.groups:
                view = catalog.group_view(gid, arch)         # None: the group is limited to other arches
                names.update(view.packages(role.with_optional) if view is not None else ())
            if known is not None:
                available = known(arch)
                for name, line in role.packages + role.arch_packages.get(arch, []):
                    if name not in available:
                        raise ClusterError("role '{}': package '{}' is not available for {}".format(
                            role.name, name, arch), role.path, line)
            per_arch[arch] = {"packages": sorted(names)}
        out_roles[role.name] = {
            "description": role.description,
            "channel": role.channel,
            "groups": [g for g, _ in role.groups],
            "arches": per_arch,
        }
        if role.update is not None:
            out_roles[role.name]["update"] = role.update
    profile = {"format": FORMAT, "roles": out_roles, "pins": dict(pins or {})}
    validate(profile, "generated profile")
    return profile


def dumps(profile):
    return json.dumps(profile, indent=2, sort_keys=True) + "\n"


def digest(profile):
    return hashlib.sha256(dumps(profile).encode("utf-8")).hexdigest()


def _fail(where, message, source):
    raise ClusterError("invalid cluster profile ({}): {}: {}".format(source, where, message))


def validate(data, source):
    """Strict check of a profile from anywhere (it may come from a remote repository)."""
    if not isinstance(data, dict):
        _fail("top level", "not an object", source)
    unknown = set(data) - {"format", "roles", "pins", "generation"}
    if unknown:
        _fail("top level", "unknown key {}".format(quote(sorted(unknown)[0])), source)
    if data.get("format") not in FORMATS or isinstance(data.get("format"), bool):
        _fail("format", "unsupported format {} (this plugin reads {})".format(
            quote(data.get("format")), " and ".join(str(f) for f in FORMATS)), source)
    generation = data.get("generation", 1)
    if not _is_int(generation) or not 1 <= generation <= MAX_GENERATION:
        _fail("generation", "must be a whole number from 1 to {}, not {}".format(MAX_GENERATION, quote(generation)),
              source)
    roles = data.get("roles")
    if not isinstance(roles, dict) or not roles:
        _fail("roles", "must be a non-empty object", source)
    for name, role in roles.items():
        if not is_name(name):
            _fail("roles", "invalid role name {}".format(quote(name)), source)
        where = "roles.{}".format(name)
        if not isinstance(role, dict) or set(role) - {"description", "channel", "groups", "arches", "update"}:
            _fail(where, "must be an object with description, channel, groups, arches (and update)", source)
        if role.get("update", "pinned") not in UPDATE_POLICIES:
            _fail(where + ".update", "must be one of {}".format(", ".join(UPDATE_POLICIES)), source)
        if role.get("channel") not in CHANNELS:
            _fail(where + ".channel", "must be one of {}".format(", ".join(CHANNELS)), source)
        if not isinstance(role.get("description", ""), str):
            _fail(where + ".description", "must be a string", source)
        _names(role.get("groups"), where + ".groups", source)
        arches = role.get("arches")
        if not isinstance(arches, dict) or not arches:
            _fail(where + ".arches", "must be a non-empty object", source)
        for arch, spec in arches.items():
            if arch not in KNOWN_BASEARCHES:
                _fail(where + ".arches", "unknown arch {}".format(quote(arch)), source)
            locked = data["format"] == LOCK_FORMAT and isinstance(spec, dict) and "lock" in spec
            if not isinstance(spec, dict) or set(spec) != ({"packages", "lock"} if locked else {"packages"}):
                _fail("{}.arches.{}".format(where, arch), "must be an object with packages{}".format(
                    " (and lock)" if data["format"] == LOCK_FORMAT else ""), source)
            _names(spec["packages"], "{}.arches.{}.packages".format(where, arch), source)
            if locked:
                _lock(spec["lock"], "{}.arches.{}.lock".format(where, arch), source)
    pins = data.get("pins", {})
    if not isinstance(pins, dict):
        _fail("pins", "must be an object", source)
    for name, evr in pins.items():
        if not is_name(name):
            _fail("pins", "invalid package name {}".format(quote(name)), source)
        check_evr(evr, "pins.{}".format(name), source)
    return data


def validate_lock(entries, where, source):
    """A lock's entries from elsewhere (a node's answer): as in a profile."""
    _lock(entries, where, source)


def _lock(entries, where, source):
    """A lock: a list of {name, evr, arch, checksum (optional)}, one build per name."""
    if not isinstance(entries, list):
        _fail(where, "must be a list", source)
    seen = {}
    for index, entry in enumerate(entries):
        here = "{}[{}]".format(where, index)
        if not isinstance(entry, dict) or not {"name", "evr", "arch"} <= set(entry) or \
                set(entry) - {"name", "evr", "arch", "checksum"}:
            _fail(here, "must be an object with name, evr, arch (and checksum)", source)
        if not is_name(entry["name"]):
            _fail(here, "invalid package name {!r}".format(entry["name"]), source)
        check_evr(entry["evr"], here + ".evr", source)
        if not isinstance(entry["arch"], str) or not ARCH_RE.match(entry["arch"]):
            _fail(here, "invalid arch {!r}".format(entry["arch"]), source)
        if "checksum" in entry and (not isinstance(entry["checksum"], str) or
                                    not CHECKSUM_RE.match(entry["checksum"])):
            _fail(here, "invalid checksum {!r} (want TYPE:HEX)".format(entry["checksum"]), source)
        if seen.setdefault(entry["name"], entry["evr"]) != entry["evr"]:
            _fail(here, "{} is locked at two versions".format(entry["name"]), source)


def nevra(name, evr, arch):
    """name-epoch:version-release.arch, the epoch always written (a lock digest's lines)."""
    from .plan import parse_evr
    return "{}-{}:{}-{}.{}".format(name, *(parse_evr(evr) + (arch,)))


def lock_digest(nevras):
    """The digest of a locked set as installed: sha256 over its sorted nevra() lines.
    The same set gives the same digest on every node, whenever it was synced."""
    return hashlib.sha256("".join(line + "\n" for line in sorted(nevras)).encode("utf-8")).hexdigest()


def check_evr(evr, where, source):
    """A pinned "[epoch:]version-release": one line of rpm's characters, epoch in range."""
    if isinstance(evr, str) and len(evr) > MAX_EVR:
        _fail(where, "version {} is {} characters long (at most {})".format(quote(evr), len(evr), MAX_EVR), source)
    match = EVR_RE.match(evr) if isinstance(evr, str) else None
    if match is None:
        _fail(where, "invalid version {} (want [epoch:]version-release)".format(quote(evr)), source)
    if match.group(1) is not None and int(match.group(1)) > MAX_EPOCH:
        _fail(where, "epoch {} is out of range (0 to {})".format(match.group(1), MAX_EPOCH), source)
    return evr


def _names(items, where, source):
    if not isinstance(items, list):
        _fail(where, "must be a list", source)
    for index, item in enumerate(items):
        if not is_name(item):
            _fail("{}[{}]".format(where, index), "invalid name {}".format(quote(item)), source)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs):
    """object_pairs_hook: a JSON object that repeats a key is refused (json would
    silently keep the last value, so what a reviewer reads is not what nodes do)."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _no_constant(name):
    raise ValueError("{} is not JSON".format(name))


def read_file(path, source):
    """Read, size-check and validate a profile file (any compression createrepo_c writes)."""
    from . import mdfile
    return loads(mdfile.read_bounded(path, MAX_BYTES, "cluster profile of {}".format(source)), source)


def loads(text, source):
    """Parse and validate profile text (bytes or str) received from `source`."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            _fail("top level", "larger than {} bytes".format(MAX_BYTES), source)
        text = text.decode("utf-8", "replace")
    if len(text) > MAX_BYTES:
        _fail("top level", "larger than {} bytes".format(MAX_BYTES), source)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Duplicate as dup:
        _fail("JSON", "duplicate key {}".format(quote(dup.args[0])), source)
    except ValueError as err:
        raise ClusterError("invalid cluster profile ({}): not JSON: {}".format(source, err))
    except RecursionError:
        _fail("top level", "nested too deeply", source)
    return validate(data, source)


class RoleView(object):
    """One role of a loaded profile, for one arch."""

    def __init__(self, profile, role, arch):
        roles = profile["roles"]
        if role not in roles:
            raise ClusterError("unknown role {} (the profile has: {})".format(quote(role), ", ".join(sorted(roles))))
        entry = roles[role]
        if arch not in entry["arches"]:
            raise ClusterError("role '{}' has no package set for arch {} (it has: {})".format(
                role, arch, ", ".join(sorted(entry["arches"]))))
        self.name = role
        self.arch = arch
        self.description = entry.get("description", "")
        self.channel = entry["channel"]
        self.groups = list(entry["groups"])
        self.packages = list(entry["arches"][arch]["packages"])
        self.generation = profile.get("generation")
        #: the role's lock for this arch (format 2), or None: the profile's pins, if any
        self.lock = entry["arches"][arch].get("lock")
        if self.lock is not None:
            all_pins = dict((e["name"], e["evr"]) for e in self.lock)
        else:
            all_pins = dict(profile.get("pins", {}))
        #: pinned (the default when the profile has pins): every node runs exactly the
        #: versions the head node runs; present (the default without pins): sync installs
        #: what is missing and never moves what is there; latest: sync also upgrades the
        #: role's packages to the newest build of its channel.
        self.update = entry.get("update") or ("pinned" if all_pins else "present")
        self.pins = all_pins if self.update == "pinned" else {}
        #: where the channel comes from: "role", or "cluster.conf" (follow())
        self.channel_from = "role"

    def follow(self, channel):
        """This node follows `channel` whatever its role's (cluster.conf `channel`): a
        channel other than the role's is followed to its newest builds (update latest),
        and the role's pins, resolved for the role's channel, do not apply here."""
        if channel is None or channel == self.channel:
            return self
        self.channel, self.channel_from = channel, "cluster.conf"
        self.update, self.pins = "latest", {}
        return self
