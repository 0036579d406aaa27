"""Day-1 services (issue 26): the site's roles and node groups turned into a running
Slurm cluster, for `dnf cluster-master services`.

From the roles (roles/*.yaml: which comps groups a role installs tells what it runs)
and ClusterShell's node groups (`@compute` holds the compute role's nodes):

- the head node (this host, the controller) gets a **configless** Slurm configuration,
  /etc/slurm/slurm.conf from templates/slurm.conf.in: `SlurmctldParameters=enable_configless`,
  one `NodeName` line per role and hardware (each node's `slurmd -C`, asked over the
  fleet transport), a partition per compute-like role, and `Include` of the site's own
  /etc/slurm/slurm-site.conf, created once and never written over;
- a munge key, /etc/munge/munge.key, created when there is none and never replaced
  without rotate=True; copied to every node over the fleet transport itself (on the
  worker's standard input: ssh, or the exec worker's local command; never through a
  repository or HTTP, never on a command line), mode 0400, owner munge;
- on slurmd nodes, the systemd drop-in templates/slurmd-conf-server.conf.in
  (`slurmd --conf-server CONTROLLER`);
- munge and slurmctld enabled and started on the head node, munge (and slurmd where it
  runs) on the nodes; restarted only when their key or configuration changed.

plan() only reads: the head node's files and services, and one read-only probe per node
(`slurmd -C`, the key's digest and mode, the drop-in's digest, the services' states). Its
Plan lists every file and service it would change, grouped by identical changes; an
empty plan is a second run's "nothing to change". apply() makes exactly those changes,
head node first, then each group of nodes in one fan-out.

Pure logic, Python 3.6 (EL8): no dnf import; ClusterShell through fleet.py.
"""
import hashlib
import os
import pwd
import re
import shlex
import socket
import stat
import subprocess
import time

from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet, NodeSetError
from ClusterShell.NodeUtils import GroupResolverError

from ..errors import ClusterError
from . import fleet

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
SLURM_CONF = "/etc/slurm/slurm.conf"
SITE_CONF = "/etc/slurm/slurm-site.conf"
GRES_CONF = "/etc/slurm/gres.conf"
GRES_MARK = b"# Written by `dnf cluster-master services`"     # the first line of the gres.conf it writes
MUNGE_KEY = "/etc/munge/munge.key"
DROPIN = "/etc/systemd/system/slurmd.service.d/cluster-conf-server.conf"
STATE_DIR = "/var/spool/slurmctld"
KEY_BYTES = 128                       # 1024 bits, mungekey's default
KEY_MIN_BYTES = 32                    # munged refuses shorter keys

#: what a role runs, from the comps groups it installs (roles/*.yaml `groups:`)
CONTROLLER, COMPUTE, LOGIN = "controller", "compute", "login"
GROUP_KINDS = {"cluster-master": CONTROLLER, "cluster-slurm-server": CONTROLLER,
               "cluster-node": COMPUTE, "cluster-gpu": COMPUTE, "cluster-slurm-client": COMPUTE,
               "cluster-login": LOGIN}
#: comps groups that make a role GPU-like: its nodes' NodeName lines get Gres=gpu:N
GPU_GROUPS = ("cluster-gpu",)
GRES_GPU_RE = re.compile(r"^gpu(?::([A-Za-z0-9_.-]{1,64}))?:([0-9]{1,4})$")
HARDWARE = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
PLACEHOLDER_RE = re.compile(r"@@|@([a-z][a-z_]*)@")

#: the read-only probe run on every node: KEY=VALUE lines
PROBE = r"""
key=none; keymode=none
if [ -L /etc/munge/munge.key ]; then key=symlink
elif [ -f /etc/munge/munge.key ]; then
  key=$(sha256sum < /etc/munge/munge.key | cut -d' ' -f1)
  keymode=$(stat -c '%U:%a' /etc/munge/munge.key)
fi
echo "key=$key"; echo "keymode=$keymode"
if [ -L "$1" ]; then echo "dropin=symlink"
elif [ -f "$1" ]; then echo "dropin=$(sha256sum < "$1" | cut -d' ' -f1)"
else echo "dropin=none"; fi
for unit in munge slurmd; do
  echo "$unit.enabled=$(systemctl is-enabled $unit 2>/dev/null | head -n1)"
  echo "$unit.active=$(systemctl is-active $unit 2>/dev/null | head -n1)"
done
if [ "$2" = slurmd ]; then
  if command -v slurmd >/dev/null 2>&1; then echo "hardware=$(slurmd -C 2>/dev/null | head -n1)"
  else echo "hardware=none"; fi
fi
"""

#: the changes on one group of nodes; $1: what to do (words), $2: the drop-in path,
#: $3: the drop-in's text; the key, when copied, is the standard input
APPLY = r"""
set -e
umask 077
todo=" $1 "
case "$todo" in *" key "*)
  mkdir -p /etc/munge
  tmp=$(mktemp /etc/munge/.munge.key.XXXXXX)
  cat > "$tmp"
  chown munge:munge "$tmp"; chmod 0400 "$tmp"
  mv -f "$tmp" /etc/munge/munge.key
  echo "copied the munge key" ;;
esac
case "$todo" in *" dropin "*)
  mkdir -p "$(dirname "$2")"
  tmp=$(mktemp "$2.XXXXXX")
  printf '%s' "$3" > "$tmp"; chmod 0644 "$tmp"
  mv -f "$tmp" "$2"
  systemctl daemon-reload
  echo "wrote $2" ;;
esac
for unit in munge slurmd; do
  case "$todo" in *" $unit.enable "*) systemctl -q enable "$unit"; echo "enabled $unit" ;; esac
  case "$todo" in *" $unit.restart "*) systemctl restart "$unit"; echo "restarted $unit" ;; esac
  case "$todo" in *" $unit.start "*) systemctl start "$unit"; echo "started $unit" ;; esac
done
"""


# --- the site: roles and their nodes ----------------------------------------------------

def this_host():
    """This host's short name: the controller's default name."""
    return socket.gethostname().split(".")[0]


def role_kind(role):
    """controller, compute, login, or None (a role that runs no Slurm part), from the
    comps groups the role installs."""
    kinds = set(GROUP_KINDS[gid] for gid, _ in role.groups if gid in GROUP_KINDS)
    for kind in (CONTROLLER, COMPUTE, LOGIN):
        if kind in kinds:
            return kind
    return None


def role_gpu(role):
    """True when the role is GPU-like: it installs a GPU group (cluster-gpu) or sets gpus."""
    return getattr(role, "gpus", None) is not None or any(gid in GPU_GROUPS for gid, _ in role.groups)


class SiteRole(object):
    """A role's part in Slurm: kind, nodes, and for a GPU-like role (gpu=True) the GPUs
    per node it declares (gpus: N, gpu_devices: gres.conf's File=; None: not declared)."""
    __slots__ = ("name", "kind", "nodes", "gpu", "gpus", "gpu_devices", "path")

    def __init__(self, name, kind, nodes, gpu=False, gpus=None, gpu_devices=None, path=None):
        self.name, self.kind, self.nodes = name, kind, nodes
        self.gpu, self.gpus, self.gpu_devices, self.path = gpu or gpus is not None, gpus, gpu_devices, path


def site_roles(roles, resolver, controller):
    """[SiteRole] of the roles that run a Slurm part and whose ClusterShell group
    (@ROLE) names nodes; the controller (this host) is never one of the nodes."""
    out, seen = [], {}
    for role in sorted(roles, key=lambda r: r.name):
        kind = role_kind(role)
        if kind in (None, CONTROLLER):
            continue
        try:
            nodes = NodeSet("@" + role.name, resolver=resolver)
        except (NodeSetError, GroupResolverError):
            nodes = NodeSet()
        nodes = NodeSet.fromlist([n for n in nodes if n != controller], resolver=RESOLVER_NOGROUP)
        for node in nodes:
            if not NAME_RE.match(node):
                raise ClusterError("node group @{}: '{}' is not a node name Slurm accepts".format(role.name, node))
            if node in seen:
                raise ClusterError("node {} is in two roles' groups: @{} and @{}".format(node, seen[node], role.name))
            seen[node] = role.name
        if nodes:
            out.append(SiteRole(role.name, kind, nodes, gpu=role_gpu(role), gpus=getattr(role, "gpus", None),
                                gpu_devices=getattr(role, "gpu_devices", None), path=getattr(role, "path", None)))
    if not any(r.kind == COMPUTE for r in out):
        raise ClusterError("no compute node: no compute-like role (groups cluster-node, cluster-gpu) has "
                           "nodes in its ClusterShell group (@ROLE)")
    return out


# --- rendering --------------------------------------------------------------------------

def render(name, values):
    """templates/NAME with its @name@ values filled in, by the rules of the other
    templates (siterelease.repo_text): `@#` lines are notes and go, `@@` is `@`."""
    path = os.path.join(TEMPLATES, name)
    with open(path) as handle:
        text = handle.read()
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("@#"):
            continue

        def fill(match, number=number):
            if match.group(0) == "@@":
                return "@"
            if match.group(1) not in values:
                raise ClusterError("unknown placeholder {}".format(match.group(0)), path, number)
            return values[match.group(1)]
        out.append(PLACEHOLDER_RE.sub(fill, line))
    return "\n".join(out) + "\n"


def parse_hardware(line):
    """The hardware of one `slurmd -C` line (NodeName=... CPUs=2 ... RealMemory=N) as
    an ordered tuple of (key, number); None when it is not such a line. RealMemory is
    rounded down to 64 MiB so that a few MiB more or less after a reboot change nothing."""
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    if not line.startswith("NodeName=") or not all(fields.get(k, "").isdigit() for k in HARDWARE):
        return None
    values = dict((k, int(fields[k])) for k in HARDWARE)
    if values["RealMemory"] > 64:
        values["RealMemory"] -= values["RealMemory"] % 64
    return tuple((k, values[k]) for k in HARDWARE)


def parse_gres(line):
    """(type or None, count) of the GPUs a `slurmd -C` line reports (Gres=gpu:2,
    Gres=gpu:a100:4, among other GRES), or None when it reports none."""
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    for item in fields.get("Gres", "").split(","):
        match = GRES_GPU_RE.match(item.split("(", 1)[0])
        if match and int(match.group(2)) > 0:
            return match.group(1), int(match.group(2))
    return None


def gpu_hardware(role, node, answer):
    """The ("Gres", "gpu[:TYPE]:N") field of a GPU-like role's node: the GPUs its own
    `slurmd -C` reports, else the role's `gpus: N`; None when neither says."""
    found = parse_gres(answer)
    if found is None and role.gpus:
        found = (None, role.gpus)
    if found is None:
        return None
    kind, count = found
    return ("Gres", "gpu:{}{}".format(kind + ":" if kind else "", count))


def render_gres_conf(roles, hardware):
    """gres.conf's text (configless slurmd fetches it with slurm.conf), or None when no
    node has GPUs: per GPU-like role and GPU count, `NodeName=NODES Name=gpu [Type=T]
    File=DEVICES`, DEVICES from the role's gpu_devices, else /dev/nvidia[0-N-1]."""
    lines = []
    for role in roles:
        if role.kind != COMPUTE or not role.gpu:
            continue
        by_gres = {}
        for node in role.nodes:
            gres = dict(hardware[node]).get("Gres")
            if gres:
                by_gres.setdefault(gres, []).append(node)
        for gres in sorted(by_gres):
            parts = gres.split(":")
            count = int(parts[-1])
            devices = role.gpu_devices or ("/dev/nvidia0" if count == 1 else "/dev/nvidia[0-{}]".format(count - 1))
            lines.append("NodeName={} Name=gpu{} File={}".format(
                NodeSet.fromlist(by_gres[gres], resolver=RESOLVER_NOGROUP),
                " Type=" + parts[1] if len(parts) == 3 else "", devices))
    if not lines:
        return None
    return render("gres.conf.in", {"lines": "\n".join(lines)})


def render_slurm_conf(cluster, controller, roles, hardware):
    """The slurm.conf text: NodeName lines per compute-like role and identical hardware
    (with Gres=gpu:N on a GPU-like role's nodes, and then GresTypes=gpu), a partition
    per such role (the first, by name, is the default). Login nodes run no slurmd: they
    have the munge key, no NodeName line."""
    node_lines, partitions = [], []
    if any(dict(hw).get("Gres") for hw in hardware.values() if hw):
        node_lines.append("GresTypes=gpu")
    for role in roles:
        if role.kind != COMPUTE:
            continue
        by_hw = {}
        for node in role.nodes:
            by_hw.setdefault(hardware[node], []).append(node)
        for hw in sorted(by_hw):
            names = NodeSet.fromlist(by_hw[hw], resolver=RESOLVER_NOGROUP)
            node_lines.append("NodeName={} {} State=UNKNOWN".format(
                names, " ".join("{}={}".format(k, v) for k, v in hw)))
        partitions.append("PartitionName={} Nodes={} Default={} MaxTime=INFINITE State=UP".format(
            role.name, role.nodes, "NO" if partitions else "YES"))
    return render("slurm.conf.in", {"cluster": cluster, "controller": controller,
                                    "nodes": "\n".join(node_lines), "partitions": "\n".join(partitions),
                                    "site_conf": SITE_CONF, "site_include": os.path.basename(SITE_CONF)})


def render_dropin(controller):
    return render("slurmd-conf-server.conf.in", {"conf_server": controller})


def digest(data):
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode("utf-8")).hexdigest()


# --- the head node's own files ----------------------------------------------------------

def read_nofollow(path, what):
    """The bytes of the regular file `path` (not followed if a symlink), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == 2:
            return None
        raise ClusterError("cannot read {}: {}".format(what, err.strerror or err), path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ClusterError("{} is not a regular file".format(what), path)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(path, data, mode, owner=None, exclusive=False):
    """`path` replaced whole (a temporary file in its directory, renamed over it),
    mode and owner ("user") set before the rename; exclusive: only if there is none."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    ids = _ids(owner) if owner else None
    tmp = os.path.join(directory, ".{}.{}".format(os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if ids:
                os.fchown(handle.fileno(), ids[0], ids[1])
            os.fchmod(handle.fileno(), mode)
            handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)          # fails if the file appeared meanwhile: never written over
            os.unlink(tmp)
        else:
            os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _ids(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ClusterError("no user '{}' on this host: is its package installed (munge, slurm)?".format(user))
    return entry.pw_uid, entry.pw_gid


# --- services ---------------------------------------------------------------------------

def local_unit_state(unit):
    """(enabled, active) of a unit on this host, as systemctl tells."""
    def ask(verb):
        try:
            proc = subprocess.run(["systemctl", verb, unit], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  universal_newlines=True)
        except OSError:
            raise ClusterError("cannot run systemctl: the services need systemd on the head node")
        return (proc.stdout.splitlines() or [""])[0].strip()
    return ask("is-enabled"), ask("is-active")


def unit_actions(unit, enabled, active, restart):
    """The systemctl actions that leave `unit` enabled and running, restarted when its
    key or configuration changed."""
    out = []
    if enabled not in ("enabled", "static", "alias", "indirect", "generated"):
        out.append(unit + ".enable")
    if active == "active":
        if restart:
            out.append(unit + ".restart")
    else:
        out.append(unit + ".start")
    return out


# --- the plan ---------------------------------------------------------------------------

class Change(object):
    """One change on the head node or on a node: `file PATH: what` or `service UNIT: what`."""
    __slots__ = ("kind", "name", "what")

    def __init__(self, kind, name, what):
        self.kind, self.name, self.what = kind, name, what

    def line(self):
        return "{} {}: {}".format(self.kind, self.name, self.what)

    def as_dict(self):
        return {"kind": self.kind, "name": self.name, "what": self.what}


class Plan(object):
    """What services would change. head: [Change] (with the bytes to write); nodes:
    {node: (role kind, [action word], [Change])}."""

    def __init__(self, controller):
        self.controller = controller
        self.head = []
        self.head_files = {}        # path -> (data, mode, owner, exclusive)
        self.head_units = []        # [(unit, [actions])]
        self.nodes = {}
        self.key = None
        self.dropin = None
        self.notes = []
        self.canaries = NodeSet()   # rotate: re-keyed first; must authenticate before the rest

    @property
    def empty(self):
        return not self.head and not any(changes for _, _, changes in self.nodes.values())

    def node_groups(self):
        """[(NodeSet, [Change], [action word])] of nodes with identical changes, in node order."""
        by = {}
        for node, (_, actions, changes) in self.nodes.items():
            if changes:
                key = (node in self.canaries, tuple(c.line() for c in changes), tuple(actions))
                by.setdefault(key, ([], changes, actions))[0].append(node)
        out = [(NodeSet.fromlist(nodes, resolver=RESOLVER_NOGROUP), changes, actions)
               for nodes, changes, actions in by.values()]
        order = dict((node, i) for i, node in enumerate(
            NodeSet.fromlist(list(self.nodes), resolver=RESOLVER_NOGROUP)))
        # the canaries' groups first (a rotation re-keys them first), then in node order
        return sorted(out, key=lambda g: (next(iter(g[0])) not in self.canaries, order[next(iter(g[0]))]))

    def lines(self):
        out = []
        if self.head:
            out.append("{} (head node):".format(self.controller))
            out.extend("  " + c.line() for c in self.head)
        for nodes, changes, _ in self.node_groups():
            canary = next(iter(nodes)) in self.canaries
            out.append("{} ({}){}:".format(nodes, len(nodes), ", canary: re-keyed first; the other nodes follow "
                                           "once its munge authenticates against the head node" if canary else ""))
            out.extend("  " + c.line() for c in changes)
        return out

    def as_dict(self):
        return {"format": 1, "controller": self.controller, "changes": not self.empty,
                "head": [c.as_dict() for c in self.head],
                "groups": [{"nodes": str(ns), "count": len(ns), "changes": [c.as_dict() for c in ch],
                            "canary": next(iter(ns)) in self.canaries}
                           for ns, ch, _ in self.node_groups()],
                "canary": str(self.canaries),
                "notes": list(self.notes)}


class Transport(object):
    """How the head node runs a shell script on nodes: fleet.run() with ssh (the script
    is the remote command) or the exec worker, whose `shell` prefix names the node with
    %h (e.g. "nsenter-node %h", "chroot /images/%h")."""

    def __init__(self, worker="ssh", shell="", **options):
        if worker == "exec" and "%h" not in shell:
            raise ClusterError("the exec worker needs --node-shell with %h (the node): how to run a command there")
        self.worker, self.shell, self.options = worker, shell, options

    def command(self, script, args):
        line = " ".join(shlex.quote(a) for a in ["sh", "-c", script, "sh"] + list(args))
        if self.worker == "exec":
            line = line.replace("%", "%%")        # the exec worker's %h templates; ssh sends it as it is
        return (self.shell + " " + line).strip()

    def run(self, nodes, script, args=(), stdin=None):
        results, timed_out, _ = fleet.run(nodes, self.command(script, args), worker=self.worker,
                                          stdin=stdin, **self.options)
        return results, timed_out


def _fail_line(node, rc, err, timed_out):
    if timed_out:
        return "{}: timeout".format(node)
    lines = [l for l in err.splitlines() if l.strip()]
    why = fleet._clean(lines[-1]) if lines else "exit {}".format(rc)
    if rc == 255 and lines:
        why = next((short for key, short in fleet.SSH_MESSAGES if key in lines[-1]), why)
    return "{}: {}".format(node, why)


def probe(transport, roles):
    """{node: {KEY: VALUE}} of every node's read-only probe; a node that cannot be asked
    is an error naming it (nothing has changed yet)."""
    answers, failed = {}, []
    for kind in (COMPUTE, LOGIN):
        nodes = NodeSet.fromlist([n for r in roles if r.kind == kind for n in r.nodes],
                                 resolver=RESOLVER_NOGROUP)
        if not nodes:
            continue
        results, timed_out = transport.run(nodes, PROBE, [DROPIN, "slurmd" if kind == COMPUTE else "-"])
        for node, (rc, out, err) in sorted(results.items()):
            if rc != 0 or node in timed_out:
                failed.append(_fail_line(node, rc, err, node in timed_out))
                continue
            answers[node] = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    if failed:
        raise ClusterError("cannot ask {} node{}: {}".format(
            len(failed), "" if len(failed) == 1 else "s", "; ".join(failed[:5])))
    return answers


def plan(roles, transport, controller=None, cluster="cluster", rotate=False, new_key=None, canary=None,
         resolver=None):
    """The Plan: reads the head node's files and services and probes the nodes; changes
    nothing. roles: site_roles(); new_key: the key to create or rotate to (default:
    random bytes); canary (rotate): the nodes re-keyed first, as a rollout's
    (fleet.plan_waves: N, a node set, or None: @canary's nodes, else the first node)."""
    controller = controller or this_host()
    if not NAME_RE.match(controller):
        raise ClusterError("'{}' is not a host name Slurm accepts for the controller".format(controller))
    if not re.match(r"^[a-z0-9_-]{1,40}$", cluster):
        raise ClusterError("cluster name '{}': lower-case letters, digits, - and _ only".format(cluster))
    result = Plan(controller)
    answers = probe(transport, roles)

    # hardware of every slurmd node, from its own `slurmd -C`; a GPU-like role's GPUs
    # from that answer, else from the role's `gpus: N`
    hardware, bad = {}, []
    for role in roles:
        if role.kind != COMPUTE:
            continue
        no_gpus = []
        for node in role.nodes:
            answer = answers[node].get("hardware", "")
            hw = parse_hardware(answer)
            if hw is None:
                bad.append(node)
            elif role.gpu:
                gres = gpu_hardware(role, node, answer)
                if gres is None:
                    no_gpus.append(node)
                else:
                    hw = hw + (gres,)
            hardware[node] = hw
        if no_gpus and not bad:
            raise ClusterError("role '{}' is GPU-like, but `slurmd -C` reports no GPUs on {} and the role sets no "
                               "count: add `gpus: N` (GPUs per node) to it".format(
                                   role.name, NodeSet.fromlist(no_gpus, resolver=RESOLVER_NOGROUP)), role.path)
    if bad:
        raise ClusterError("`slurmd -C` gave no hardware on {} (is slurmd installed there?)".format(
            NodeSet.fromlist(bad, resolver=RESOLVER_NOGROUP)))

    # the munge key: the admin's own is kept unless rotate
    key = read_nofollow(MUNGE_KEY, "the munge key")
    key_changed = False
    if key is None or rotate:
        key = new_key or os.urandom(KEY_BYTES)
        key_changed = True
        result.head.append(Change("file", MUNGE_KEY, "rotate: a new key (mode 0400, owner munge)" if rotate and
                                  read_nofollow(MUNGE_KEY, "the munge key") is not None else
                                  "create a new key (mode 0400, owner munge)"))
        result.head_files[MUNGE_KEY] = (key, 0o400, "munge", False)
    else:
        if len(key) < KEY_MIN_BYTES:
            raise ClusterError("the munge key is shorter than {} bytes: munged refuses it (--rotate makes a new "
                               "one)".format(KEY_MIN_BYTES), MUNGE_KEY)
        info = os.lstat(MUNGE_KEY)
        owner = _ids("munge")
        if info.st_mode & 0o077 or (info.st_uid, info.st_gid) != owner:
            result.head.append(Change("file", MUNGE_KEY, "owner munge, mode 0400 (was {:o})".format(
                info.st_mode & 0o777)))
            result.head_files[MUNGE_KEY] = (key, 0o400, "munge", False)
    result.key = key

    # the site's file, once; slurm.conf, whole
    if not os.path.lexists(SITE_CONF):
        text = render("slurm-site.conf.in", {})
        result.head.append(Change("file", SITE_CONF, "create (empty: the site's own lines; never written over)"))
        result.head_files[SITE_CONF] = (text.encode("utf-8"), 0o644, None, True)
    conf = render_slurm_conf(cluster, controller, roles, hardware).encode("utf-8")
    old = read_nofollow(SLURM_CONF, "slurm.conf")
    conf_changed = old != conf
    if conf_changed:
        result.head.append(Change("file", SLURM_CONF, "create" if old is None else "update ({})".format(
            _diff_summary(old, conf))))
        result.head_files[SLURM_CONF] = (conf, 0o644, None, False)
    # gres.conf only with GPUs; ours goes with the last GPU node (22.05 ignores it without
    # GresTypes=gpu, but a stale one would give GPUs back to nodes a site's own GresTypes
    # line names), an admin's own is left alone
    gres = render_gres_conf(roles, hardware)
    old = read_nofollow(GRES_CONF, "gres.conf")
    if gres is None and old is not None and old.startswith(GRES_MARK):
        conf_changed = True
        result.head.append(Change("file", GRES_CONF, "remove (written here; no node has GPUs now)"))
        result.head_files[GRES_CONF] = (None, 0, None, False)
    elif gres is not None:
        gres = gres.encode("utf-8")
        if old != gres:
            conf_changed = True
            result.head.append(Change("file", GRES_CONF, "create" if old is None else "update ({})".format(
                _diff_summary(old, gres))))
            result.head_files[GRES_CONF] = (gres, 0o644, None, False)
    if not os.path.isdir(STATE_DIR):
        result.head.append(Change("directory", STATE_DIR, "create (owner slurm): slurmctld's state"))

    for unit, restart in (("munge", key_changed), ("slurmctld", conf_changed or key_changed)):
        enabled, active = local_unit_state(unit)
        actions = unit_actions(unit, enabled, active, restart)
        if actions:
            result.head_units.append((unit, actions))
            result.head.append(Change("service", unit, ", ".join(a.split(".", 1)[1] for a in actions)))

    # the nodes
    result.dropin = render_dropin(controller)
    key_digest, dropin_digest = digest(key), digest(result.dropin)
    for role in roles:
        for node in role.nodes:
            info = answers[node]
            actions, changes = [], []
            node_key = info.get("key") != key_digest or info.get("keymode") != "munge:400"
            if node_key:
                actions.append("key")
                changes.append(Change("file", MUNGE_KEY, "copy the head node's key (mode 0400, owner munge)"))
            munge = unit_actions("munge", info.get("munge.enabled"), info.get("munge.active"), node_key)
            slurmd, dropin = [], False
            if role.kind == COMPUTE:
                dropin = info.get("dropin") != dropin_digest
                if dropin:
                    actions.append("dropin")
                    changes.append(Change("file", DROPIN, "slurmd --conf-server {}".format(controller)))
                slurmd = unit_actions("slurmd", info.get("slurmd.enabled"), info.get("slurmd.active"),
                                      node_key or dropin or conf_changed)
            for unit, unit_acts in (("munge", munge), ("slurmd", slurmd)):
                if unit_acts:
                    actions.extend(unit_acts)
                    changes.append(Change("service", unit, ", ".join(a.split(".", 1)[1] for a in unit_acts)))
            result.nodes[node] = (role.kind, actions, changes)
    if rotate and result.nodes:
        waves = fleet.plan_waves(NodeSet.fromlist(list(result.nodes), resolver=RESOLVER_NOGROUP), canary,
                                 len(result.nodes), resolver)
        if waves and waves[0].canary:
            result.canaries = waves[0].nodes
    return result


def _diff_summary(old, new):
    olds, news = old.decode("utf-8", "replace").splitlines(), new.decode("utf-8", "replace").splitlines()
    gone, added = [l for l in olds if l not in news], [l for l in news if l not in olds]
    return "{} line{} out, {} in".format(len(gone), "" if len(gone) == 1 else "s", len(added))


def _done(action):
    """What a node's action word did, for the log: "key" -> "copied the munge key"."""
    if action == "key":
        return "copied the munge key"
    if action == "dropin":
        return "wrote slurmd's --conf-server drop-in"
    unit, verb = action.split(".", 1)
    return "{}ed {}".format(verb.rstrip("e"), unit)


def apply(result, transport, log=lambda text: None):
    """Make the plan's changes: the head node's files and services, then each group of
    nodes with identical changes in one fan-out. Returns [failure line]; the head
    node's failures raise (the nodes are then not touched)."""
    for path, (data, mode, owner, exclusive) in sorted(result.head_files.items(), key=lambda kv: kv[0]):
        if exclusive and os.path.lexists(path):
            continue
        if data is None:
            os.unlink(path)
            log("{}: removed {}".format(result.controller, path))
            continue
        write_file(path, data, mode, owner, exclusive)
        log("{}: wrote {}".format(result.controller, path))
    if not os.path.isdir(STATE_DIR):
        os.makedirs(STATE_DIR, 0o755)
        uid, gid = _ids("slurm")
        os.chown(STATE_DIR, uid, gid)
        log("{}: created {}".format(result.controller, STATE_DIR))
    for unit, actions in result.head_units:
        for action in actions:
            verb = action.split(".", 1)[1]
            proc = subprocess.run(["systemctl", verb, unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True)
            if proc.returncode != 0:
                last = (proc.stdout.strip().splitlines() or ["exit {}".format(proc.returncode)])[-1]
                raise ClusterError("systemctl {} {} failed on the head node: {}".format(verb, unit, last))
            log("{}: {}ed {}".format(result.controller, verb.rstrip("e"), unit))
    groups = result.node_groups()
    canaries = [g for g in groups if next(iter(g[0])) in result.canaries]
    if canaries:
        failures = _apply_groups(canaries, result, transport, log)
        if not failures:
            failures = _canary_check(result.canaries, transport, log)
        if failures:
            rest = NodeSet.fromlist([n for g in groups if g not in canaries for n in g[0]],
                                    resolver=RESOLVER_NOGROUP)
            raise ClusterError(
                "the canary failed: {}; the rotation stopped: {} untouched{} (the head node has the new key). "
                "Fix the canary, then `services -y` copies the head node's key to the nodes that lack it".format(
                    "; ".join(failures[:5]), "the other nodes" if not rest else "{} ({})".format(rest, len(rest)),
                    ", still on the old key" if rest else ""))
        groups = [g for g in groups if g not in canaries]
    return _apply_groups(groups, result, transport, log)


def _apply_groups(groups, result, transport, log):
    failures = []
    for nodes, _, actions in groups:
        stdin = result.key if "key" in actions else None
        results, timed_out = transport.run(nodes, APPLY, [" ".join(actions), DROPIN, result.dropin], stdin=stdin)
        for node, (rc, out, err) in sorted(results.items()):
            if rc != 0 or node in timed_out:
                failures.append(_fail_line(node, rc, err, node in timed_out))
        done = NodeSet.fromlist([n for n, (rc, _, _) in results.items() if rc == 0 and n not in timed_out],
                                resolver=RESOLVER_NOGROUP)
        if done:
            log("{}: {}".format(done, ", ".join(_done(a) for a in actions)))
    return failures


def _canary_check(canaries, transport, log, attempts=3):
    """[failure line] of the canaries whose munge does not authenticate against the
    head node (health.munge_across); a munged still starting is asked again."""
    from . import health
    for attempt in range(attempts):
        found = health.munge_across(canaries, transport)
        bad = dict((n, why) for n, why in found.items() if why is not None)
        if not bad or all("key differs" in why for why in bad.values()) or attempt == attempts - 1:
            break
        time.sleep(1)
    if not bad:
        log("{}: munge authenticates against the head node with the new key".format(canaries))
    return ["{}: {}".format(n, bad[n]) for n in NodeSet.fromlist(list(bad), resolver=RESOLVER_NOGROUP)]
