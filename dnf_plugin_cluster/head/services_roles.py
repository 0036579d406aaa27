"""The site's roles and their nodes, as `dnf cluster-master services` sees them (issue 26):
what each role runs in Slurm (controller, compute, login), from the comps groups it
installs, and its nodes, from ClusterShell's node group @ROLE.

Pure logic, Python 3.6 (EL8): no dnf import.
"""
import re
import socket

from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet, NodeSetError
from ClusterShell.NodeUtils import GroupResolverError

from ..errors import ClusterError

#: what a role runs, from the comps groups it installs (roles/*.yaml `groups:`)
CONTROLLER, COMPUTE, LOGIN = "controller", "compute", "login"
GROUP_KINDS = {"cluster-master": CONTROLLER, "cluster-slurm-server": CONTROLLER,
               "cluster-node": COMPUTE, "cluster-gpu": COMPUTE, "cluster-slurm-client": COMPUTE,
               "cluster-login": LOGIN}
#: comps groups that make a role GPU-like: its nodes' NodeName lines get Gres=gpu:N
GPU_GROUPS = ("cluster-gpu",)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


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
