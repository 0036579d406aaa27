"""`dnf cluster-master services` (issue 26): the site's roles and node groups turned into
a configless Slurm configuration."""
import os

import pytest

from ClusterShell.NodeSet import NodeSet

from cluster_testkit import REPO_ROOT
from dnf_plugin_cluster import profile
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.head import fleet
from dnf_plugin_cluster.head import services as svc

ROLES = os.path.join(REPO_ROOT, "roles")


def test_hardware_from_slurmd_C():
    line = ("NodeName=node1 CPUs=8 Boards=1 SocketsPerBoard=2 CoresPerSocket=4 ThreadsPerCore=1 "
            "RealMemory=31999")
    assert svc.parse_hardware(line) == (("CPUs", 8), ("Boards", 1), ("SocketsPerBoard", 2),
                                        ("CoresPerSocket", 4), ("ThreadsPerCore", 1), ("RealMemory", 31936))
    for bad in ("", "UpTime=0-00:01:02", "NodeName=x CPUs=many Boards=1", "slurmd: error: ..."):
        assert svc.parse_hardware(bad) is None, bad


def test_slurm_conf_lines_per_role_and_hardware():
    small = svc.parse_hardware("NodeName=a CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 "
                               "RealMemory=4000")
    big = svc.parse_hardware("NodeName=a CPUs=64 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 ThreadsPerCore=1 "
                             "RealMemory=512000")
    roles = [svc.SiteRole("compute", svc.COMPUTE, NodeSet("n[01-04]")),
             svc.SiteRole("gpu", svc.COMPUTE, NodeSet("g[1-2]")),
             svc.SiteRole("login", svc.LOGIN, NodeSet("login1"))]
    hardware = {"n01": small, "n02": small, "n03": big, "n04": small, "g1": big, "g2": big}
    lines = svc.render_slurm_conf("hpc", "head", roles, hardware).splitlines()
    assert [l for l in lines if l.startswith(("NodeName", "PartitionName", "Include", "Slurmctld"))] == [
        "SlurmctldHost=head", "SlurmctldParameters=enable_configless",
        "NodeName=n[01-02,04] CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 "
        "RealMemory=3968 State=UNKNOWN",
        "NodeName=n03 CPUs=64 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 ThreadsPerCore=1 "
        "RealMemory=512000 State=UNKNOWN",
        "NodeName=g[1-2] CPUs=64 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 ThreadsPerCore=1 "
        "RealMemory=512000 State=UNKNOWN",
        "PartitionName=compute Nodes=n[01-04] Default=YES MaxTime=INFINITE State=UP",
        "PartitionName=gpu Nodes=g[1-2] Default=NO MaxTime=INFINITE State=UP",
        "Include slurm-site.conf"]
    assert "ClusterName=hpc" in lines
    assert not any(l.startswith("@") for l in lines)


def test_roles_and_groups(tmp_path):
    roles = profile.load_roles(ROLES)
    kinds = dict((r.name, svc.role_kind(r)) for r in roles)
    assert kinds == {"compute": "compute", "gpu": "compute", "login": "login", "master": "controller"}
    (tmp_path / "groups.d").mkdir()
    (tmp_path / "groups.conf").write_text("[Main]\ndefault: c\nautodir: $CFGDIR/groups.d\n")
    (tmp_path / "groups.d" / "c.yaml").write_text("c:\n  master: head\n  compute: 'head,n[1-3]'\n"
                                                 "  login: 'l1'\n")
    resolver = fleet.group_resolver(str(tmp_path / "groups.conf"))
    found = [(r.name, r.kind, str(r.nodes)) for r in svc.site_roles(roles, resolver, "head")]
    assert found == [("compute", "compute", "n[1-3]"), ("login", "login", "l1")]
    (tmp_path / "groups.d" / "c.yaml").write_text("c:\n  compute: 'n[1-3]'\n  gpu: 'n3'\n")
    with pytest.raises(ClusterError, match=r"^node n3 is in two roles' groups: @compute and @gpu$"):
        svc.site_roles(roles, fleet.group_resolver(str(tmp_path / "groups.conf")), "head")
    (tmp_path / "groups.d" / "c.yaml").write_text("c:\n  login: 'l1'\n")
    with pytest.raises(ClusterError, match="no compute node"):
        svc.site_roles(roles, fleet.group_resolver(str(tmp_path / "groups.conf")), "head")


def test_transport_quotes_scripts_for_clustershell():
    link = svc.Transport("exec", "/x/node-shell %h")
    command = link.command("printf '%s' \"$1\"", ["a b", "50%"])
    assert command == "/x/node-shell %h sh -c 'printf '\"'\"'%%s'\"'\"' \"$1\"' sh 'a b' 50%%"
    with pytest.raises(ClusterError, match="--node-shell with %h"):
        svc.Transport("exec", "")
