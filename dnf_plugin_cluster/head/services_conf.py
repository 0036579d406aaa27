"""The Slurm configuration `dnf cluster-master services` writes (issue 26): the files it
manages, and their text rendered from templates/ (slurm.conf, gres.conf, the site's own
file, slurmd's --conf-server drop-in) from the site's roles and each node's `slurmd -C`.

Pure logic, Python 3.6 (EL8): no dnf import.
"""
import hashlib
import os
import re

from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet

from .services_roles import COMPUTE
from .template import fill

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
SLURM_CONF = "/etc/slurm/slurm.conf"
SITE_CONF = "/etc/slurm/slurm-site.conf"
GRES_CONF = "/etc/slurm/gres.conf"
GRES_MARK = b"# Written by `dnf cluster-master services`"     # the first line of the gres.conf it writes
MUNGE_KEY = "/etc/munge/munge.key"
DROPIN = "/etc/systemd/system/slurmd.service.d/cluster-conf-server.conf"
STATE_DIR = "/var/spool/slurmctld"

GRES_GPU_RE = re.compile(r"^gpu(?::([A-Za-z0-9_.-]{1,64}))?:([0-9]{1,4})$")
HARDWARE = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")


def render(name, values):
    """templates/NAME with its @name@ values filled in (template.fill)."""
    return fill(os.path.join(TEMPLATES, name), values)


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
