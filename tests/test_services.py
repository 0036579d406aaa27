"""`dnf cluster-master services` (issue 26): the site's roles and node groups turned into
a running configless Slurm cluster, with Debian's real munged, slurmctld and slurmd on a
head node and two compute nodes, each in namespaces of its own (cluster_testkit.slurmworld),
reached by the fleet's exec worker; real jobs run there (srun, an MPI allreduce)."""
import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from ClusterShell.NodeSet import NodeSet

from cluster_repo import compsfile
from cluster_testkit import REPO_ROOT
from cluster_testkit import slurmworld
from conftest import publish_site, tree_snapshot
from dnf_plugin_cluster import profile
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.head import fleet
from dnf_plugin_cluster.head.services_conf import (gpu_hardware, parse_gres, parse_hardware, render_gres_conf,
                                                  render_slurm_conf)
from dnf_plugin_cluster.head.services_nodes import Transport
from dnf_plugin_cluster.head.services_roles import COMPUTE, LOGIN, SiteRole, role_gpu, role_kind, site_roles

ROLES = os.path.join(REPO_ROOT, "roles")
SITE_LINES, MPI_HELLO = slurmworld.SITE_LINES, slurmworld.MPI_HELLO


def test_hardware_from_slurmd_C():
    line = ("NodeName=node1 CPUs=8 Boards=1 SocketsPerBoard=2 CoresPerSocket=4 ThreadsPerCore=1 "
            "RealMemory=31999")
    assert parse_hardware(line) == (("CPUs", 8), ("Boards", 1), ("SocketsPerBoard", 2),
                                    ("CoresPerSocket", 4), ("ThreadsPerCore", 1), ("RealMemory", 31936))
    for bad in ("", "UpTime=0-00:01:02", "NodeName=x CPUs=many Boards=1", "slurmd: error: ..."):
        assert parse_hardware(bad) is None, bad


def test_slurm_conf_lines_per_role_and_hardware():
    small = parse_hardware("NodeName=a CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 "
                           "RealMemory=4000")
    big = parse_hardware("NodeName=a CPUs=64 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 ThreadsPerCore=1 "
                         "RealMemory=512000")
    roles = [SiteRole("compute", COMPUTE, NodeSet("n[01-04]")),
             SiteRole("gpu", COMPUTE, NodeSet("g[1-2]")),
             SiteRole("login", LOGIN, NodeSet("login1"))]
    hardware = {"n01": small, "n02": small, "n03": big, "n04": small, "g1": big, "g2": big}
    lines = render_slurm_conf("hpc", "head", roles, hardware).splitlines()
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


def test_test_world_disables_cgroups_where_slurm_takes_it():
    """The world's nodes use no cgroups: from Slurm 24.05 (Debian 13's 24.11) its cgroup.conf
    says CgroupPlugin=disabled; 22.05 (Debian 12) has no such plugin and gets no cgroup.conf."""
    for version in ((22, 5), (23, 2), (23, 11), None):
        assert slurmworld.cgroup_conf(version) is None, version
    for version in ((24, 5), (24, 11), (25, 5)):
        assert "CgroupPlugin=disabled" in slurmworld.cgroup_conf(version).splitlines(), version


def test_gpu_roles_get_gres_lines_and_a_gres_conf():
    assert parse_gres("NodeName=g CPUs=8 Boards=1 RealMemory=1 Gres=gpu:4") == (None, 4)
    assert parse_gres("NodeName=g CPUs=8 Gres=mps:100,gpu:a100:2(S:0-1)") == ("a100", 2)
    for line in ("NodeName=g CPUs=8", "NodeName=g Gres=mps:100", "NodeName=g Gres=gpu:0", "Gres=gpu:x:y;z"):
        assert parse_gres(line) is None, line
    line = "NodeName=a CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=64000"
    gpu = SiteRole("gpu", COMPUTE, NodeSet("g[1-3]"), gpu=True, gpus=2)
    amd = SiteRole("amd", COMPUTE, NodeSet("r1"), gpus=4, gpu_devices="/dev/dri/renderD[128-131]")
    cpu = SiteRole("compute", COMPUTE, NodeSet("n1"))
    hw = parse_hardware(line)
    # the node's own answer wins over the role's count (g3 autodetected a typed GPU)
    hardware = {"g1": hw + (gpu_hardware(gpu, "g1", line),), "g2": hw + (gpu_hardware(gpu, "g2", line),),
                "g3": hw + (gpu_hardware(gpu, "g3", line + " Gres=gpu:a100:1"),),
                "r1": hw + (gpu_hardware(amd, "r1", line),), "n1": hw}
    lines = render_slurm_conf("hpc", "head", [amd, cpu, gpu], hardware).splitlines()
    assert [l for l in lines if l.startswith(("NodeName", "Gres"))] == [
        "GresTypes=gpu",
        "NodeName=r1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=64000 "
        "Gres=gpu:4 State=UNKNOWN",
        "NodeName=n1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=64000 "
        "State=UNKNOWN",
        "NodeName=g[1-2] CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=64000 "
        "Gres=gpu:2 State=UNKNOWN",
        "NodeName=g3 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=64000 "
        "Gres=gpu:a100:1 State=UNKNOWN"]
    gres = render_gres_conf([amd, cpu, gpu], hardware).splitlines()
    assert [l for l in gres if not l.startswith("#")] == [
        "NodeName=r1 Name=gpu File=/dev/dri/renderD[128-131]",
        "NodeName=g[1-2] Name=gpu File=/dev/nvidia[0-1]",
        "NodeName=g3 Name=gpu Type=a100 File=/dev/nvidia0"]
    # no GPU anywhere: neither GresTypes nor a gres.conf
    assert "GresTypes=gpu" not in render_slurm_conf("hpc", "head", [cpu], {"n1": hw})
    assert render_gres_conf([cpu], {"n1": hw}) is None
    assert gpu_hardware(SiteRole("gpu", COMPUTE, NodeSet("g1"), gpu=True), "g1", line) is None


def test_role_gpu_keys_are_checked_in_one_line(tmp_path):
    path = tmp_path / "gpu.yaml"
    base = "groups: [cluster-gpu]\n"
    path.write_text(base + "gpus: 4\ngpu_devices: /dev/nvidia[0-3]\n")
    role = profile.load_role(str(path))
    assert (role.gpus, role.gpu_devices, role_gpu(role)) == (4, "/dev/nvidia[0-3]", True)
    for text, message in (("gpus: 0\n", "gpus must be a whole number of GPUs per node, 1 to 1024"),
                          ("gpus: four\n", "gpus must be a whole number of GPUs per node, 1 to 1024"),
                          ("gpus: true\n", "gpus must be a whole number of GPUs per node, 1 to 1024"),
                          ("gpu_devices: /dev/nvidia0\n", "gpu_devices needs gpus (how many GPUs each node has)"),
                          ("gpus: 1\ngpu_devices: 'nvidia0; rm -rf /'\n", "gpu_devices must be device files")):
        path.write_text(base + text)
        with pytest.raises(ClusterError) as err:
            profile.load_role(str(path))
        assert str(err.value).startswith(str(path) + ":") and message in str(err.value), str(err.value)
        assert "\n" not in str(err.value)


def test_roles_and_groups(tmp_path):
    roles = profile.load_roles(ROLES)
    kinds = dict((r.name, role_kind(r)) for r in roles)
    assert kinds == {"compute": "compute", "gpu": "compute", "login": "login", "master": "controller"}
    (tmp_path / "groups.d").mkdir()
    (tmp_path / "groups.conf").write_text("[Main]\ndefault: c\nautodir: $CFGDIR/groups.d\n")
    (tmp_path / "groups.d" / "c.yaml").write_text("c:\n  master: head\n  compute: 'head,n[1-3]'\n"
                                                 "  login: 'l1'\n")
    resolver = fleet.group_resolver(str(tmp_path / "groups.conf"))
    found = [(r.name, r.kind, str(r.nodes)) for r in site_roles(roles, resolver, "head")]
    assert found == [("compute", "compute", "n[1-3]"), ("login", "login", "l1")]
    (tmp_path / "groups.d" / "c.yaml").write_text("c:\n  compute: 'n[1-3]'\n  gpu: 'n3'\n")
    with pytest.raises(ClusterError, match=r"^node n3 is in two roles' groups: @compute and @gpu$"):
        site_roles(roles, fleet.group_resolver(str(tmp_path / "groups.conf")), "head")
    (tmp_path / "groups.d" / "c.yaml").write_text("c:\n  login: 'l1'\n")
    with pytest.raises(ClusterError, match="no compute node"):
        site_roles(roles, fleet.group_resolver(str(tmp_path / "groups.conf")), "head")


def test_transport_quotes_scripts_for_clustershell():
    link = Transport("exec", "/x/node-shell %h")
    command = link.command("printf '%s' \"$1\"", ["a b", "50%"])
    assert command == "/x/node-shell %h sh -c 'printf '\"'\"'%%s'\"'\"' \"$1\"' sh 'a b' 50%%"
    # ClusterShell's ssh worker sends the command as it is (no %h templates): no %% there
    assert Transport("ssh").command("printf '%s' \"$1\"", ["50%"]) == \
        "sh -c 'printf '\"'\"'%s'\"'\"' \"$1\"' sh 50%"
    with pytest.raises(ClusterError, match="--node-shell with %h"):
        Transport("exec", "")


def test_health_states_and_option_errors_are_one_line():
    from dnf_plugin_cluster.head import health as hl
    states = {"n1": ("IDLE", ""), "n2": ("DOWN*", "Not responding"), "n3": ("IDLE+DRAIN", "disk dead"),
              "n4": ("MIXED", ""), "n5": ("IDLE*", "")}
    assert [hl.slurm_phrase(n, states, None) for n in ("n1", "n2", "n3", "n4", "n5", "n6")] == [
        (True, "slurm idle"), (False, "slurm: down* (Not responding)"), (False, "slurm: idle+drain (disk dead)"),
        (True, "slurm mixed"), (False, "slurm: idle*"),
        (False, "slurm: unknown to slurmctld (no NodeName line in slurm.conf)")]
    assert hl.slurm_phrase("n1", None, "cannot ask slurmctld: x") == (False, "slurm: cannot ask slurmctld: x")
    # --noplugins: the host's dnf plugins are not ours to judge (Debian 13's dnf-plugins-core
    # lacks python3-systemd, so its system_upgrade plugin says it failed to load on stderr)
    base = [sys.executable, os.path.join(REPO_ROOT, "bin", "dnf-cluster"), "--backend", "dnf4", "-q",
            "--noplugins", "--releasever=9", "master"]
    for argv, line in ((["sync", "-w", "n1", "--health"], "Error: --health is an option of cluster-master status"),
                       (["status", "-w", "n1", "--health", "--worker", "exec"],
                        "Error: the exec worker needs --node-shell with %h (the node): how to run a command there")):
        proc = subprocess.run(base + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (1, "", line), proc


def test_demo_stage_brings_up_slurm_runs_jobs_and_ends_everything(tmp_path, capsys, monkeypatch):
    """`make demo`'s last step: services on a head node and two compute nodes, srun on
    both, a 2-node MPI job; the world ended and removed after. Without namespaces it
    says why, in one line, and does not fail the demo."""
    from cluster_testkit import demo
    why = slurmworld.usable()
    if why:
        assert demo.run_services(str(tmp_path / "slurm")) == 0
        assert capsys.readouterr().out.splitlines()[-1] == "skipped: " + why
        return
    top = os.path.join(tempfile.mkdtemp(prefix="demo-", dir="/var/tmp"), "slurm")
    namespaces = set()
    real_close = slurmworld.World.close

    def close(world):
        for proc in world.holders.values():
            namespaces.add(os.readlink("/proc/{}/ns/net".format(proc.pid)))
        real_close(world)
    monkeypatch.setattr(slurmworld.World, "close", close)
    try:
        assert demo.run_services(top) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        assert not os.path.exists(top)
        lines = out.splitlines()
        assert "node[1-2]: copied the munge key, wrote slurmd's --conf-server drop-in, enabled munge, started munge, " \
               "enabled slurmd, started slurmd" in lines, out
        jobs = lines[lines.index("$ srun -N2 hostname"):]
        assert jobs == ["$ srun -N2 hostname", "node1", "node2", "$ srun -N2 -n2 --mpi=pmix mpi-hello",
                        "rank 0 of 2 on node1: allreduce sum 3", "rank 1 of 2 on node2: allreduce sum 3"], out
        # every namespace (switch, head, node1, node2) ended: no process is left in one
        assert len(namespaces) == 4
        left = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and os.readlink("/proc/{}/ns/net".format(entry)) in namespaces:
                    left.append(entry)
            except OSError:
                pass
        assert not left, left
    finally:
        shutil.rmtree(os.path.dirname(top), ignore_errors=True)
    monkeypatch.setattr(slurmworld, "usable", lambda: "this machine does not allow network namespaces: EPERM")
    assert demo.run_services(top) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "skipped: this machine does not allow network namespaces: EPERM"
    assert not os.path.exists(top)


def test_gpu_node_gets_gres_and_jobs_get_its_gpu():
    """A GPU-like role's node (its own world: head and gpu1): refused in one line while the
    role says nothing of its GPUs (slurmd -C finds none here); with `gpus: 1` and a device
    file that exists here (/dev/null), Gres=gpu:1 and GresTypes=gpu in slurm.conf, a
    gres.conf that configless slurmd fetches, and real slurmctld accepts the node: it is
    idle with gpu:1, and a job asking for the GPU gets it."""
    why = slurmworld.usable()
    if why:
        pytest.skip(why)
    with slurmworld.running(prefix="slurmworld-gpu-", computes=()) as world:
        roles = os.path.join(world.top, "roles")    # not under /tmp: each node has a /tmp of its own
        shutil.copytree(ROLES, roles)
        world.add("gpu1")
        world.groups_conf = slurmworld.write_groups(world, "gpu-groups", "cluster:\n  master: head\n  gpu: gpu1\n")

        def run(*args):
            return world.enter("head", *slurmworld.services_argv(world, roles, *args), check=False,
                               stdin=subprocess.DEVNULL)
        refused = run("-y")
        assert (refused.returncode, refused.stdout) == (1, ""), refused
        assert refused.stderr.strip().splitlines()[-1] == (
            "Error: {}: role 'gpu' is GPU-like, but `slurmd -C` reports no GPUs on gpu1 and the role sets no count: "
            "add `gpus: N` (GPUs per node) to it".format(os.path.join(roles, "gpu.yaml"))), refused.stderr
        assert not os.listdir(world.path("head", "/etc/munge"))

        with open(os.path.join(roles, "gpu.yaml"), "a") as handle:
            handle.write("gpus: 1\ngpu_devices: /dev/null\n")
        first = run("-y")
        assert first.returncode == 0, (first.stdout, first.stderr)
        assert "file /etc/slurm/gres.conf: create" in first.stdout, first.stdout
        with open(world.path("head", "/etc/slurm/slurm.conf")) as handle:
            lines = handle.read().splitlines()
        assert "GresTypes=gpu" in lines
        assert [l for l in lines if l.startswith(("NodeName", "PartitionName"))] == [
            "NodeName=gpu1 " + " ".join(l for l in lines if l.startswith("NodeName=")).split(" ", 1)[1],
            "PartitionName=gpu Nodes=gpu1 Default=YES MaxTime=INFINITE State=UP"]
        assert [l for l in lines if l.startswith("NodeName")][0].endswith(" Gres=gpu:1 State=UNKNOWN"), lines
        with open(world.path("head", "/etc/slurm/gres.conf")) as handle:
            assert [l for l in handle.read().splitlines() if not l.startswith("#")] == [
                "NodeName=gpu1 Name=gpu File=/dev/null"]
        slurmworld.wait_idle(world, ("gpu1",))
        # configless: gpu1 has no configuration of its own; slurmd fetched gres.conf too
        assert not os.listdir(world.path("gpu1", "/etc/slurm"))
        assert "gres.conf" in os.listdir(world.path("gpu1", "/var/spool/slurmd/conf-cache"))
        gres = world.enter("head", "sinfo", "-h", "-N", "-o", "%N %t %G").stdout.split()
        assert gres == ["gpu1", "idle", "gpu:1"], gres
        job = world.enter("head", "srun", "--gres=gpu:1", "sh", "-c", "echo $(hostname) $CUDA_VISIBLE_DEVICES",
                          check=False)
        assert (job.returncode, job.stdout) == (0, "gpu1 0\n"), job
        assert run("-y").stdout.strip() == "Nothing to change: the Slurm services are configured and running."

        # gpu1 becomes a plain compute node: the gres.conf written here goes, GresTypes too
        world.groups_conf = slurmworld.write_groups(world, "gpu-groups", "cluster:\n  master: head\n  compute: gpu1\n")
        plain = run("-y")
        assert plain.returncode == 0, (plain.stdout, plain.stderr)
        assert "file /etc/slurm/gres.conf: remove (written here; no node has GPUs now)" in plain.stdout, plain.stdout
        assert "head: removed /etc/slurm/gres.conf" in plain.stdout, plain.stdout
        assert not os.path.lexists(world.path("head", "/etc/slurm/gres.conf"))
        with open(world.path("head", "/etc/slurm/slurm.conf")) as handle:
            assert "Gres" not in handle.read()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = world.enter("head", "sinfo", "-h", "-N", "-o", "%N %t %G %P").stdout.split()
            if state == ["gpu1", "idle", "(null)", "compute*"]:
                break
            time.sleep(0.2)
        assert state == ["gpu1", "idle", "(null)", "compute*"], (state, world.log("head", "slurmctld")[-2000:])
        assert run("-y").stdout.strip() == "Nothing to change: the Slurm services are configured and running."


def test_services_over_clustershells_ssh_worker():
    """The transport admins use: ClusterShell's ssh worker (clush.conf's ssh_options: the
    world's key, the nodes' host keys, StrictHostKeyChecking=yes) to an sshd in each
    compute node. A node whose host key is unknown stops it before anything changed;
    then the key goes to both nodes over ssh's standard input, slurmd fetches its
    configuration, srun names both nodes, health answers over ssh, and a second run
    changes nothing."""
    why = slurmworld.usable() or slurmworld.ssh_usable()
    if why:
        pytest.skip(why)
    with slurmworld.running(prefix="slurmworld-ssh-") as world:
        top = world.top
        cfgdir = slurmworld.start_sshd(world, ("node1", "node2"))
        known = os.path.join(top, "ssh", "known_hosts")
        with open(known) as handle:
            every_host = handle.read()
        argv = slurmworld.services_argv(world, ROLES)
        at = argv.index("--worker")
        del argv[at:at + 4]                            # ssh, ClusterShell's default worker

        def run(*args):
            return world.enter("head", "env", "CLUSTERSHELL_CFGDIR=" + cfgdir, *(argv + list(args)), check=False,
                               stdin=subprocess.DEVNULL)
        with open(known, "w") as handle:
            handle.write("".join(l for l in every_host.splitlines(True) if not l.startswith("node2,")))
        refused = run("-y")
        assert (refused.returncode, refused.stdout) == (1, ""), refused
        # the last line: dnf may first say that a plugin of its own did not load (Debian 13's
        # system_upgrade lacks python3-systemd)
        assert refused.stderr.strip().splitlines()[-1] == (
            "Error: cannot ask 1 node: node2: ssh: host key verification failed"), refused.stderr
        assert not os.listdir(world.path("head", "/etc/munge"))
        assert not os.listdir(world.path("node1", "/etc/munge"))

        with open(known, "w") as handle:
            handle.write(every_host)
        first = run("-y")
        assert first.returncode == 0, (first.stdout, first.stderr)
        assert "node[1-2]: copied the munge key, wrote slurmd's --conf-server drop-in" in first.stdout, first.stdout
        for node in ("node1", "node2"):
            with open(os.path.join(top, "ssh", node + "_sshd.log")) as handle:
                assert "Accepted publickey for root" in handle.read(), node
        with open(world.path("head", "/etc/munge/munge.key"), "rb") as handle:
            key = handle.read()
        for node in ("node1", "node2"):
            path = world.path(node, "/etc/munge/munge.key")
            assert stat.S_IMODE(os.lstat(path).st_mode) == 0o400
            with open(path, "rb") as handle:
                assert handle.read() == key, node
            # the drop-in's text reached the node as it is (no ClusterShell template escapes)
            with open(world.path(node, "/etc/systemd/system/slurmd.service.d/cluster-conf-server.conf")) as handle:
                assert "ExecStart=/usr/sbin/slurmd --conf-server head" in handle.read(), node
        slurmworld.wait_idle(world, ("node1", "node2"))
        hosts = world.enter("head", "srun", "-N2", "hostname", check=False)
        assert sorted(hosts.stdout.split()) == ["node1", "node2"], hosts
        healthy = world.enter("head", "env", "CLUSTERSHELL_CFGDIR=" + cfgdir, sys.executable,
                              os.path.join(REPO_ROOT, "bin", "dnf-cluster"), "--backend", "dnf4", "-q",
                              "--releasever=9", "master", "status", "-w", "@compute", "--health", "--groups-conf",
                              world.groups_conf, check=False, stdin=subprocess.DEVNULL)
        assert (healthy.returncode, healthy.stdout) == (0, "node[1-2] (2)  munge ok; slurm idle\n"), healthy
        again = run("-y")
        assert again.stdout.strip() == "Nothing to change: the Slurm services are configured and running.", again


def services(world, *args, check=True):
    """`dnf-cluster master services` as the admin runs it on the head node."""
    argv = slurmworld.services_argv(world, ROLES, *args)
    # run from the top of the head node's site repository, as an admin may (nsenter --mount
    # starts at the node's /: env -C changes there)
    result = world.enter("head", "env", "-C", world.site, *argv, check=False, stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def health(world, nodes, *args):
    """`dnf-cluster master status -w NODES --health` as the admin runs it on the head node."""
    argv = [sys.executable, os.path.join(REPO_ROOT, "bin", "dnf-cluster"), "--backend", "dnf4", "-q", "--releasever=9",
            "master", "status", "-w", nodes, "--health", "--groups-conf", world.groups_conf,
            "--worker", "exec", "--node-shell", world.node_shell + " %h"] + list(args)
    return world.enter("head", *argv, check=False, stdin=subprocess.DEVNULL)


wait_idle = slurmworld.wait_idle


def snapshot(world):
    """Every file services manages, as the nodes see them, with mode and owner."""
    out = {}
    for node, paths in (("head", ("/etc/slurm/slurm.conf", "/etc/slurm/slurm-site.conf", "/etc/munge/munge.key")),
                        ("node1", ("/etc/munge/munge.key", "/etc/systemd/system/slurmd.service.d/"
                                                           "cluster-conf-server.conf")),
                        ("node2", ("/etc/munge/munge.key",))):
        for path in paths:
            real = world.path(node, path)
            info = os.lstat(real)
            with open(real, "rb") as handle:
                out[(node, path)] = (handle.read(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_mtime_ns)
    return out


def daemon_pids(world):
    out = {}
    for node, units in (("head", ("munge", "slurmctld")), ("node1", ("munge", "slurmd")),
                        ("node2", ("munge", "slurmd"))):
        for unit in units:
            with open(world.path(node, "/run/fake-systemd/{}.pid".format(unit))) as handle:
                out[(node, unit)] = handle.read().strip()
    return out


@pytest.fixture(scope="module")
def cluster():
    why = slurmworld.usable()
    if why:
        pytest.skip(why)
    with slurmworld.running() as world:
        top = world.top
        # the head node's site repository (published as `cluster-master publish` does, from
        # an upstream tree that carries the project's comps): the key must never get there
        xml = compsfile.to_xml(compsfile.merge(compsfile.load_dir(os.path.join(REPO_ROOT, "comps"))))
        for arch in ("x86_64", "aarch64"):
            upstream = os.path.join(top, "upstream", arch)
            os.makedirs(upstream)
            with open(os.path.join(upstream, "comps.xml"), "w") as handle:
                handle.write(xml)
            subprocess.run(["createrepo_c", "--quiet", "--no-database", "-g", "comps.xml", upstream], check=True)
        world.site = os.path.join(top, "site")
        publish_site(os.path.join(world.site, "9"), os.path.join(top, "upstream"), ROLES)
        world.site_before = tree_snapshot(world.site)
        # /run is each node's own tmpfs: the stand-in's state is reached through the node
        world.path = _run_aware_path(world)

        dry = services(world, "--dry-run")
        world.dry_run = dry.stdout
        world.untouched_after_dry_run = not os.listdir(world.path("head", "/etc/munge")) and not any(
            os.listdir(world.path(n, "/etc/munge")) for n in ("node1", "node2"))

        first = services(world, "-y")
        world.first_run = first.stdout
        wait_idle(world, ("node1", "node2"))
        yield world


def _run_aware_path(world):
    """world.path(), but /run/... is read through the node (its own tmpfs), copied out."""
    plain = world.path

    def path(node, inside):
        if not inside.startswith("/run/"):
            return plain(node, inside)
        copy = os.path.join(world.top, node, "run-copy", inside.lstrip("/").replace("/", "_"))
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        with open(copy, "w") as handle:
            handle.write(world.enter(node, "cat", inside).stdout)
        return copy
    return path


def test_dry_run_shows_every_change_and_writes_nothing(cluster):
    out = cluster.dry_run
    assert cluster.untouched_after_dry_run
    assert "head (head node):" in out, out
    for line in ("file /etc/munge/munge.key: create a new key (mode 0400, owner munge)",
                 "file /etc/slurm/slurm.conf: create", "service munge: enable, start",
                 "service slurmctld: enable, start",
                 "node[1-2] (2):", "file /etc/munge/munge.key: copy the head node's key (mode 0400, owner munge)",
                 "file /etc/systemd/system/slurmd.service.d/cluster-conf-server.conf: slurmd --conf-server head",
                 "service slurmd: enable, start", "dry run: nothing was changed."):
        assert line in out, out
    # the site's own file exists: it is neither created nor touched
    assert "slurm-site.conf" not in out, out


def test_configless_slurm_conf_from_roles_and_groups(cluster):
    with open(cluster.path("head", "/etc/slurm/slurm.conf")) as handle:
        conf = handle.read()
    lines = conf.splitlines()
    assert "SlurmctldParameters=enable_configless" in lines
    assert "SlurmctldHost=head" in lines
    node_lines = [l for l in lines if l.startswith("NodeName=")]
    assert len(node_lines) == 1 and node_lines[0].startswith("NodeName=node[1-2] CPUs="), node_lines
    assert "CPUs={}".format(os.cpu_count()) in node_lines[0].split()
    assert [l for l in lines if l.startswith("PartitionName=")] == [
        "PartitionName=compute Nodes=node[1-2] Default=YES MaxTime=INFINITE State=UP"]
    assert lines[-1] == "Include slurm-site.conf"
    with open(cluster.path("head", "/etc/slurm/slurm-site.conf")) as handle:
        assert handle.read() == SITE_LINES
    # configless: the compute nodes have no slurm.conf of their own, slurmd fetched it (and
    # the head node's cgroup.conf, where the world has one: Slurm >= 24.05)
    cgroups = slurmworld.cgroup_conf(slurmworld.slurm_version())
    for node in ("node1", "node2"):
        assert not os.listdir(cluster.path(node, "/etc/slurm"))
        fetched = os.listdir(cluster.path(node, "/var/spool/slurmd/conf-cache"))
        assert "slurm.conf" in fetched and ("cgroup.conf" in fetched) == (cgroups is not None), fetched
        cmd = cluster.enter(node, "cat", "/run/fake-systemd/slurmd.cmd").stdout.strip()
        assert cmd == "/usr/sbin/slurmd --conf-server head -D -s", cmd


def test_srun_names_both_nodes(cluster):
    result = cluster.enter("head", "srun", "-N2", "hostname", check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["node1", "node2"], result


def test_mpi_allreduce_across_two_nodes(cluster):
    hello = os.path.join(cluster.top, "hello.c")
    with open(hello, "w") as handle:
        handle.write(MPI_HELLO)
    subprocess.run(["mpicc", "-o", hello[:-2], hello], check=True)
    result = cluster.enter("head", "env", *slurmworld.MPI_ENV, "srun", "-N2", "-n2", "--mpi=pmix", hello[:-2],
                           check=False)
    # srun can exit 0 when its tasks failed: the output is what counts
    lines = sorted(l for l in result.stdout.splitlines() if l.startswith("rank "))
    assert lines == ["rank 0 of 2 on node1: allreduce sum 3", "rank 1 of 2 on node2: allreduce sum 3"], (
        result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr


def test_key_copied_never_world_readable(cluster):
    with open(cluster.path("head", "/etc/munge/munge.key"), "rb") as handle:
        key = handle.read()
    assert len(key) >= 32
    munge_uid = int(subprocess.run(["id", "-u", "munge"], stdout=subprocess.PIPE, check=True).stdout)
    for node in ("head", "node1", "node2"):
        path = cluster.path(node, "/etc/munge/munge.key")
        info = os.lstat(path)
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o400, (node, oct(info.st_mode))
        assert info.st_uid == munge_uid, node
        with open(path, "rb") as handle:
            assert handle.read() == key, node
    # the key is nowhere else: not under the site repository (unchanged), not in the roles, not
    # in any other file of the world (logs, temporary copies), raw, hex or base64
    assert tree_snapshot(cluster.site) == cluster.site_before
    assert os.path.isfile(os.path.join(cluster.site, "9", "x86_64", "repodata", "repomd.xml"))
    forms = (key, key.hex().encode("ascii"), base64.b64encode(key))
    copies = set(cluster.path(n, "/etc/munge/munge.key") for n in ("head", "node1", "node2"))
    for top in (cluster.site, ROLES, cluster.top):
        for directory, _, files in os.walk(top):
            for name in files:
                path = os.path.join(directory, name)
                if path in copies or not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
                assert not any(form in data for form in forms), path
    # nothing in the munge directories is readable by others (no temporary copy left behind)
    for node in ("head", "node1", "node2"):
        directory = cluster.path(node, "/etc/munge")
        assert not os.stat(directory).st_mode & 0o002, node
        for name in os.listdir(directory):
            assert not os.lstat(os.path.join(directory, name)).st_mode & 0o077, (node, name)
    # munge authenticates across: a credential made on node1 decodes on the head
    cred = cluster.enter("node1", "munge", "-n").stdout
    decoded = cluster.enter("head", "unmunge", input=cred, check=False)
    assert decoded.returncode == 0 and "STATUS:          Success (0)" in decoded.stdout, decoded


def test_second_run_changes_nothing(cluster):
    before, pids = snapshot(cluster), daemon_pids(cluster)
    again = services(cluster, "-y")
    assert again.stdout.strip() == "Nothing to change: the Slurm services are configured and running.", again
    assert snapshot(cluster) == before
    assert daemon_pids(cluster) == pids
    data = json.loads(services(cluster, "--json", "--dry-run").stdout)
    assert (data["format"], data["changes"], data["head"], data["groups"]) == (1, False, [], [])


def test_a_readable_key_is_closed_and_a_symlinked_one_refused(cluster):
    key = cluster.path("head", "/etc/munge/munge.key")
    with open(key, "rb") as handle:
        data = handle.read()
    pids = daemon_pids(cluster)
    os.chmod(key, 0o644)
    fixed = services(cluster, "-y")
    assert "file /etc/munge/munge.key: owner munge, mode 0400 (was 644)" in fixed.stdout, fixed.stdout
    assert "node" not in fixed.stdout.replace("head node", "")         # the same key: nodes untouched
    info = os.lstat(key)
    assert stat.S_IMODE(info.st_mode) == 0o400
    with open(key, "rb") as handle:
        assert handle.read() == data
    assert daemon_pids(cluster) == pids                                # same key: nothing restarted

    aside = key + ".aside"
    os.rename(key, aside)
    os.symlink(aside, key)
    try:
        refused = services(cluster, "-y", check=False)
        assert refused.returncode == 1 and refused.stdout == "", refused
        assert refused.stderr.strip().splitlines()[-1].startswith(
            "Error: /etc/munge/munge.key: cannot read the munge key:"), refused.stderr
        assert os.path.islink(key)
    finally:
        os.unlink(key)
        os.rename(aside, key)


def test_a_node_that_cannot_be_asked_is_one_line_and_nothing_changes(cluster):
    before, pids = snapshot(cluster), daemon_pids(cluster)
    groups = os.path.join(cluster.top, "groups-more.conf")
    os.makedirs(os.path.join(cluster.top, "groups-more.d"))
    with open(os.path.join(cluster.top, "groups-more.d", "cluster.yaml"), "w") as handle:
        handle.write("cluster:\n  compute: 'node[1-2,9]'\n")
    with open(groups, "w") as handle:
        handle.write("[Main]\ndefault: cluster\nautodir: $CFGDIR/groups-more.d\n")
    saved, cluster.groups_conf = cluster.groups_conf, groups
    try:
        result = services(cluster, "-y", check=False)
    finally:
        cluster.groups_conf = saved
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines()[-1] == "Error: cannot ask 1 node: node9: no node node9", result.stderr
    assert result.stdout == ""
    assert snapshot(cluster) == before and daemon_pids(cluster) == pids


def test_node_with_another_key_is_refused(cluster):
    cluster.add("node3")
    with open(cluster.path("node3", "/etc/munge/munge.key"), "wb") as handle:
        handle.write(os.urandom(128))
    key = cluster.path("node3", "/etc/munge/munge.key")
    shutil.chown(key, "munge", "munge")
    os.chmod(key, 0o400)
    os.makedirs(cluster.path("node3", "/etc/systemd/system/slurmd.service.d"))
    with open(cluster.path("node3", "/etc/systemd/system/slurmd.service.d/cluster-conf-server.conf"), "w") as h:
        h.write("[Service]\nExecStart=\nExecStart=/usr/sbin/slurmd --conf-server head -D -s $SLURMD_OPTIONS\n")
    cluster.enter("node3", "systemctl", "start", "munge")
    cluster.enter("node3", "systemctl", "start", "slurmd")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        refused = "Munge decode failed" in cluster.log("head", "slurmctld")
        if refused and "fetch" in cluster.log("node3", "slurmd"):
            break
        time.sleep(0.2)
    assert "Munge decode failed" in cluster.log("head", "slurmctld"), cluster.log("head", "slurmctld")[-2000:]
    slurmd_log = cluster.log("node3", "slurmd")
    assert "fetch" in slurmd_log.lower(), slurmd_log
    assert not os.listdir(cluster.path("node3", "/etc/slurm"))
    assert "node3" not in cluster.enter("head", "sinfo", "-h", "-N", "-o", "%N").stdout


def test_a_node_added_to_the_group_joins(cluster):
    cluster.add("node4")
    with open(os.path.join(cluster.top, "groups.d", "cluster.yaml"), "w") as handle:
        handle.write("cluster:\n  master: head\n  compute: 'node[1-2,4]'\n")
    result = services(cluster, "-y")
    out = result.stdout
    # a new node count: slurmctld is restarted (22.05 refuses `scontrol reconfigure`), then the
    # nodes' slurmd fetch the new configuration
    assert "file /etc/slurm/slurm.conf: update" in out and "service slurmctld: restart" in out, out
    assert "node4 (1):" in out and "service slurmd: enable, start" in out, out
    assert "node[1-2] (2):" in out and "service slurmd: restart" in out, out
    wait_idle(cluster, ("node1", "node2", "node4"))
    hosts = cluster.enter("head", "srun", "-N3", "hostname", check=False)
    assert sorted(hosts.stdout.split()) == ["node1", "node2", "node4"], hosts
    assert services(cluster, "-y").stdout.startswith("Nothing to change")


def test_health_shows_a_stale_key_and_a_node_slurm_does_not_know_as_one_line_each(cluster):
    """status --health: per group of nodes, munge across (a credential decoded each way)
    and slurmctld's state; a stale key and a node slurm.conf lacks are one line each."""
    ok = health(cluster, "@compute")
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
    compute = str(NodeSet.fromlist(sorted(n for n in ("node1", "node2", "node4")
                                          if os.path.exists(cluster.path(n, "/etc/munge/munge.key")))))
    lines = ok.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(compute + " (") and lines[0].endswith(
        "  munge ok; slurm idle"), ok.stdout

    # node2 gets a key of its own (its munged restarted with it); node5 has the head
    # node's key but is in no group, so slurm.conf has no NodeName line for it
    key = cluster.path("node2", "/etc/munge/munge.key")
    with open(key, "rb") as handle:
        good = handle.read()
    os.chmod(key, 0o600)
    with open(key, "wb") as handle:
        handle.write(os.urandom(128))
    os.chmod(key, 0o400)
    cluster.enter("node2", "systemctl", "restart", "munge")
    cluster.add("node5")
    copy = cluster.path("node5", "/etc/munge/munge.key")
    with open(copy, "wb") as handle:
        handle.write(good)
    shutil.chown(copy, "munge", "munge")
    os.chmod(copy, 0o400)
    cluster.enter("node5", "systemctl", "start", "munge")
    try:
        sick = health(cluster, "@compute,node5")
        assert sick.returncode == 100, (sick.stdout, sick.stderr)
        lines = sick.stdout.splitlines()
        rest = NodeSet(compute) - NodeSet("node2")
        assert lines == [
            "{:<{w}}  munge ok; slurm idle".format("{} ({})".format(rest, len(rest)), w=len(lines[0].split("  ")[0])),
            "{:<{w}}  munge: key differs from the head node's; slurm idle".format(
                "node2 (1)", w=len(lines[0].split("  ")[0])),
            "{:<{w}}  munge ok; slurm: unknown to slurmctld (no NodeName line in slurm.conf)".format(
                "node5 (1)", w=len(lines[0].split("  ")[0]))], sick.stdout
        data = json.loads(health(cluster, "@compute,node5", "--json").stdout)
        assert (data["command"], data["exit"]) == ("health", 100)
        assert data["nodes"]["node2"]["state"] == "unhealthy"
        assert data["nodes"]["node2"]["answer"]["munge"] == "key differs from the head node's"
        assert data["nodes"]["node1"]["answer"]["slurm_state"] == "IDLE"

        # a node that cannot be asked: one line, exit 1
        gone = health(cluster, "node[1,9]")
        assert gone.returncode == 1, gone
        assert "node9 (1)  unreachable: no node %h" in gone.stdout, gone.stdout
        assert gone.stderr.strip().splitlines()[-1] == "Error: 1 node could not be asked: node9", gone.stderr
    finally:
        # services puts the head node's key back on node2 and restarts its munge
        fixed = services(cluster, "-y")
        assert "node2 (1):" in fixed.stdout and "restarted munge" in fixed.stdout, fixed.stdout
    wait_idle(cluster, list(NodeSet(compute)))
    again = health(cluster, "@compute")
    assert again.returncode == 0 and again.stdout.endswith("  munge ok; slurm idle\n"), again.stdout


def test_rotate_asks_then_rekeys_head_and_nodes(cluster):
    with open(cluster.path("head", "/etc/munge/munge.key"), "rb") as handle:
        old = handle.read()
    asked = services(cluster, "--rotate", check=False)
    assert asked.returncode == 1, asked
    assert "file /etc/munge/munge.key: rotate: a new key" in asked.stdout
    assert "Operation aborted" in asked.stderr, asked.stderr
    with open(cluster.path("head", "/etc/munge/munge.key"), "rb") as handle:
        assert handle.read() == old

    # canary first, like a rollout: the first node (no @canary group) is re-keyed and must
    # authenticate against the head node before the other nodes get the key
    assert "node1 (1), canary: re-keyed first; the other nodes follow once its munge authenticates against " \
           "the head node:" in asked.stdout, asked.stdout
    rotated = services(cluster, "--rotate", "-y")
    out = rotated.stdout
    assert "restarted munge" in out, out
    steps = [out.index("head: wrote /etc/munge/munge.key"), out.index("node1: copied the munge key"),
             out.index("node1: munge authenticates against the head node with the new key"),
             out.index("copied the munge key", out.index("node1: munge authenticates"))]
    assert steps == sorted(steps), out
    keys = []
    for node in ("head", "node1", "node2"):
        with open(cluster.path(node, "/etc/munge/munge.key"), "rb") as handle:
            keys.append(handle.read())
    assert keys[0] != old and keys == [keys[0]] * 3
    wait_idle(cluster, ("node1", "node2"))
    result = cluster.enter("head", "srun", "-N2", "hostname", check=False)
    assert sorted(result.stdout.split()) == ["node1", "node2"], result
    assert services(cluster, "-y").stdout.startswith("Nothing to change")


def test_rotate_stops_at_a_canary_that_does_not_authenticate(cluster):
    """--rotate --canary node2: node2's munged keeps running with another key (a key file
    of its own on munged's command line), so the canary does not authenticate with the new
    key: the rotation stops, the other nodes keep the old key and their running munged."""
    with open(cluster.path("head", "/etc/munge/munge.key"), "rb") as handle:
        old = handle.read()
    others = [n for n in ("node1", "node4") if os.path.exists(cluster.path(n, "/etc/munge/munge.key"))]
    stale = cluster.path("node2", "/etc/munge/stale.key")
    with open(stale, "wb") as handle:
        handle.write(old)
    shutil.chown(stale, "munge", "munge")
    os.chmod(stale, 0o400)
    shutil.copy("/usr/sbin/munged", cluster.path("node2", "/var/lib/munge/munged-real"))
    wrapper = cluster.path("node2", "/var/lib/munge/munged-stale")
    with open(wrapper, "w") as handle:
        handle.write("#!/bin/sh\nexec /var/lib/munge/munged-real --key-file=/etc/munge/stale.key \"$@\"\n")
    os.chmod(wrapper, 0o755)
    cluster.enter("node2", "mount", "--bind", "/var/lib/munge/munged-stale", "/usr/sbin/munged")
    pids = dict((n, cluster.enter(n, "cat", "/run/fake-systemd/munge.pid").stdout) for n in others)
    try:
        stopped = services(cluster, "--rotate", "-y", "--canary", "node2", check=False)
        assert stopped.returncode == 1, stopped
        rest = NodeSet.fromlist(others)
        assert stopped.stderr.strip().splitlines()[-1] == (
            "Error: the canary failed: node2: munge: key differs from the head node's; the rotation stopped: "
            "{} ({}) untouched, still on the old key (the head node has the new key). Fix the canary, then "
            "`services -y` copies the head node's key to the nodes that lack it".format(rest, len(rest))), \
            stopped.stderr
        assert "node2: copied the munge key" in stopped.stdout, stopped.stdout
        with open(cluster.path("head", "/etc/munge/munge.key"), "rb") as handle:
            new = handle.read()
        with open(cluster.path("node2", "/etc/munge/munge.key"), "rb") as handle:
            assert handle.read() == new != old
        for node in others:
            with open(cluster.path(node, "/etc/munge/munge.key"), "rb") as handle:
                assert handle.read() == old, node
            assert cluster.enter(node, "cat", "/run/fake-systemd/munge.pid").stdout == pids[node], node
        # the fleet view says the same: every node (the canary's munged, the others' keys) is off
        view = health(cluster, "@compute")
        everyone = NodeSet.fromlist(others + ["node2"])
        assert view.returncode == 100 and view.stdout.startswith(
            "{} ({})  munge: key differs from the head node's; ".format(everyone, len(everyone))), view.stdout
        assert len(view.stdout.splitlines()) == 1, view.stdout
    finally:
        cluster.enter("node2", "umount", "/usr/sbin/munged", check=False)
        cluster.enter("node2", "systemctl", "restart", "munge")
        cluster.enter("node2", "systemctl", "restart", "slurmd")
    # the canary fixed: services copies the head node's key to the rest
    finished = services(cluster, "-y")
    assert "copied the munge key" in finished.stdout, finished.stdout
    for node in others:
        with open(cluster.path(node, "/etc/munge/munge.key"), "rb") as handle:
            assert handle.read() == new, node
    wait_idle(cluster, others + ["node2"])
    healthy = health(cluster, "@compute")
    assert healthy.returncode == 0 and len(healthy.stdout.splitlines()) == 1, healthy.stdout
