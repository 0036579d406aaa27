"""`make demo`: the main job end to end, with real tools, in ./out/demo (rebuilt each run).

1. the stand-in EL9 base repository (Fedora/EL mirrors are out of reach here);
2. packager: `cluster-repo build` turns the sources into a repository (SRPMs, RPMs for
   x86_64 and aarch64, comps, cluster profile), served over HTTP on 127.0.0.1;
3. admin: a head node installs cluster-release from its stable address, then `dnf
   install cluster-master`, publishes the profile locked to its versions into the site
   repository (`dnf cluster-master publish --lock`, generation 1) and installs
   cluster-site-release;
4. nodes: an x86_64 compute node and an aarch64 GPU node install both release packages
   and converge with `dnf cluster-node sync`; `dnf cluster-node status` shows them in
   sync; `dnf cluster-master history` lists the generation;
5. admin: `dnf cluster-master status -w NODESET` shows the fleet, grouped by answer
   (ClusterShell's exec worker reaches the node roots by name, as image roots would);
6. the compute node installs NetPIPE for Open MPI (a tool built in step 2 from its
   upstream tarball, fetched with `cluster-repo sources` from the demo's lookaside
   mirror) and runs it under mpirun with 2 ranks;
7. admin: `dnf cluster-master services` turns the roles and node groups into a running
   configless Slurm cluster, on a head node and two compute nodes in network namespaces
   with Debian's real munged, slurmctld and slurmd (cluster_testkit.slurmworld, as
   tests/test_services.py), then `srun -N2 hostname` and a two-node MPI job run there;
   everything it started is ended, also on failure. Where the machine allows no network
   namespaces (or lacks the daemons) it prints one "skipped: WHY" line."""
import os
import shutil
import subprocess
import sys

from . import REPO_ROOT, slurmworld, standin
from .dnfroot import DnfRoot
from .farm import Farm
from .httpd import RepoServer
from .upstream import fill_lookaside


def step(text):
    print("\n==> " + text, flush=True)


def show(result):
    sys.stdout.write(result.out)
    sys.stdout.flush()


def main():
    out = os.path.join(REPO_ROOT, "out", "demo")
    shutil.rmtree(out, ignore_errors=True)
    www = os.path.join(out, "www")
    os.makedirs(www)
    server = RepoServer(www).start()
    try:
        return run(out, www, server.url)
    finally:
        server.stop()


def run(out, www, url):
    step("stand-in EL9 base repository (real package names, empty RPMs), served at {}/base".format(url))
    standin.build(os.path.join(www, "base"), "el9")

    step("packager: the tools' upstream tarballs into the lookaside cache, verified (SHA512), from the "
         "project's lookaside mirror at {}/lookaside".format(url))
    fill_lookaside(os.path.join(www, "lookaside"))
    cache = os.path.join(out, "lookaside-cache")
    cmd = [sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo"), "-C", REPO_ROOT, "sources",
           "--lookaside", url + "/lookaside", "--cache", cache]
    print("$ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)

    step("packager: one command from the sources to a mirrorable repository")
    repo = os.path.join(www, "cluster")
    cmd = [sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo"), "-C", REPO_ROOT, "build", repo,
           "--target", "el9", "--baseurl", url + "/cluster", "--cache", cache,
           "--base-repo", "file://{}/base/$basearch".format(www)]
    print("$ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)
    releases = ["{}/cluster/cluster-release-latest-9.noarch.rpm".format(url)]
    site_release = "{}/site/cluster-site-release-latest-9.noarch.rpm".format(url)

    def machine(name, arch, role):
        root = DnfRoot(os.path.join(out, name), arch=arch)
        root.add_repo("base", "{}/base/$basearch/".format(url))
        root.dnf("-y", "-q", "install", *releases)
        root.set_role(role)
        return root

    step("admin: head node (x86_64): cluster-release, then `dnf install cluster-master`")
    head = machine("head", "x86_64", "master")
    result = head.dnf("-y", "install", "cluster-master")
    print("    installed {} packages, among them: {}".format(
        len(head.installed()), ", ".join(n for n in ("slurm-slurmctld", "munge", "openmpi-devel", "pdsh",
                                                      "clustershell", "Lmod", "python3-dnf-plugin-cluster")
                                         if n in head.installed())))
    assert "Complete!" in result.out

    step("admin: publish the node profile, pinned to the head node's versions, into the site repository")
    site = os.path.join(www, "site", "9")
    show(head.dnf("-q", "cluster-master", "publish", "--roles", os.path.join(REPO_ROOT, "roles"),
                  "--repo-dir", site, "--baseurl", url + "/site", "--lock", "--message", "demo: first profile"))
    head.dnf("-y", "-q", "install", site_release)
    releases.append(site_release)

    nodes = [machine("node-x86_64", "x86_64", "compute"), machine("node-aarch64", "aarch64", "gpu")]
    for node in nodes:
        step("node {}: `dnf cluster-node sync`".format(os.path.basename(node.root)))
        result = node.dnf("-y", "cluster-node", "sync")
        lines = result.out.splitlines()
        plan = [l for l in lines if l.startswith(("Cluster profile", "  install", "  upgrade", "  downgrade",
                                                  "  remove", "  keep"))]
        print("\n".join(plan))
        summary = [l for l in lines if l.startswith(("Install ", "Upgrade ", "Remove ", "Complete!"))]
        print("\n".join(summary))

    for node in nodes:
        step("node {}: `dnf cluster-node status`".format(os.path.basename(node.root)))
        show(node.dnf("-q", "cluster-node", "status"))

    step("admin: `dnf cluster-master history`")
    show(head.dnf("-q", "cluster-master", "history", "--repo-dir", site))

    step("admin: the whole cluster at a glance, `dnf cluster-master status -w NODESET`")
    farm = Farm(os.path.join(out, "farm"))
    for node in nodes:
        farm.add(os.path.basename(node.root), node)
    args = farm.fleet_args("status", ",".join(sorted(farm.nodes)))
    print("$ dnf cluster-master status -w {} --worker exec --node-command '{}'".format(
        args[3], farm.node_command), flush=True)
    result = head.dnf(*args, check=False)
    show(result)
    if result.rc != 0:
        print("fleet status exited {}:\n{}".format(result.rc, result.err), flush=True)
        return 1
    return run_tool(nodes[0]) or run_services(os.path.join(out, "slurm"))


def run_tool(node):
    """A tool built here from its upstream tarball, in the site's MPI family, installed
    by name and run with 2 ranks (the test world's binaries link Debian's Open MPI)."""
    step("node {}: `dnf install netpipe-openmpi`, a tool built from upstream source, run under mpirun "
         "with 2 ranks".format(os.path.basename(node.root)))
    result = node.dnf("-y", "install", "netpipe-openmpi")
    print("\n".join(l for l in result.out.splitlines() if l.startswith(("Install", "Complete!"))))
    mpirun = shutil.which("mpirun.openmpi")
    if not mpirun:
        print("    (no mpirun.openmpi on this host: tools/bootstrap installs openmpi-bin)", flush=True)
        return 1
    binary = node.path("usr/lib64/openmpi/bin/NPmpi_openmpi")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl="self,vader")
    print("$ mpirun -np 2 {} -u 1024 -n 3".format(binary), flush=True)
    run_dir = os.path.join(os.path.dirname(node.root), "netpipe-run")
    os.makedirs(run_dir, exist_ok=True)
    proc = subprocess.run([mpirun, "-np", "2", "--oversubscribe", binary, "-u", "1024", "-n", "3"], cwd=run_dir,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300)
    print("\n".join(proc.stdout.splitlines()[-5:]), flush=True)
    return 0 if proc.returncode == 0 else 1


def run_services(top):
    """Step 7: `services` on a head node and two compute nodes (network namespaces), then
    jobs on both nodes; the world is ended and its directory (the munge key) removed."""
    step("admin: `dnf cluster-master services` on a head node and two compute nodes (network namespaces with "
         "Debian's munged, slurmctld and slurmd), then `srun -N2 hostname` and a 2-node MPI job")
    why = slurmworld.usable()
    if why:
        print("skipped: " + why, flush=True)
        return 0
    try:
        with slurmworld.running(top) as world:
            argv = slurmworld.services_argv(world, os.path.join(REPO_ROOT, "roles"), "-y")
            print("# the nodes: ClusterShell's group @compute = node[1-2]; the exec worker reaches them through "
                  "their namespaces")
            print("$ dnf cluster-master services --roles roles/ -y --worker exec --node-shell "
                  "'{}/node-shell %h'".format(os.path.relpath(top, REPO_ROOT)), flush=True)
            result = world.enter("head", *argv, check=False, stdin=subprocess.DEVNULL)
            sys.stdout.write(result.stdout)
            if result.returncode != 0:
                print("services exited {}:\n{}".format(result.returncode, result.stderr), flush=True)
                return 1
            slurmworld.wait_idle(world, ("node1", "node2"))
            ok = run_job(world, ["srun", "-N2", "hostname"], ["node1", "node2"])
            hello = os.path.join(top, "mpi-hello")
            with open(hello + ".c", "w") as handle:
                handle.write(slurmworld.MPI_HELLO)
            subprocess.run(["mpicc", "-o", hello, hello + ".c"], check=True)
            ok = run_job(world, ["srun", "-N2", "-n2", "--mpi=pmix", hello],
                         ["rank 0 of 2 on node1: allreduce sum 3", "rank 1 of 2 on node2: allreduce sum 3"],
                         env=slurmworld.MPI_ENV) and ok
            return 0 if ok else 1
    except (AssertionError, OSError, RuntimeError, subprocess.SubprocessError) as err:
        print("the Slurm world failed: {}".format(str(err).strip()[-2000:]), flush=True)
        return 1


def run_job(world, argv, expected, env=()):
    """argv run on the head node as a user would; True when its lines are `expected`."""
    print("$ " + " ".join(os.path.basename(a) if os.path.isabs(a) else a for a in argv), flush=True)
    result = world.enter("head", "env", *(tuple(env) + tuple(argv)), check=False)
    lines = sorted(l for l in result.stdout.splitlines() if l.strip())
    print("\n".join(lines), flush=True)
    if lines != expected:
        print("expected {}; srun said: {}".format(expected, result.stderr.strip()[-1000:]), flush=True)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
