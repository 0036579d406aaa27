"""Nodes converge to the cluster profile with the real dnf: several installroots as
nodes (x86_64 and aarch64; compute and gpu roles) against a repository served over HTTP
on 127.0.0.1, the profile published by a head node into the repository metadata."""
import json
import os
import re
import subprocess

from cluster_testkit.dnfroot import Result

from conftest import HOLD_BACK_OPENMPI, state_of


def history_count(node):
    out = node.dnf("-q", "history", "list").out
    return len([l for l in out.splitlines() if re.match(r"\s*\d+\s*\|", l)])


def test_initial_sync_installs_the_role_per_arch_and_a_second_sync_is_a_noop(site):
    x86 = site.node("compute-x86", "x86_64", "compute")
    arm = site.node("compute-arm", "aarch64", "compute")
    gpu = site.node("gpu-x86", "x86_64", "gpu")
    for node in (x86, arm, gpu):
        result = node.dnf("-y", "cluster-node", "sync")
        assert "role {} on {}".format("gpu" if node is gpu else "compute", node.arch) in result.out
        assert "Complete!" in result.out
    a, b, g = x86.installed(), arm.installed(), gpu.installed()
    for name in ("cluster-node", "cluster-apps-bio", "slurm-slurmd", "openmpi", "munge", "ncbi-blast+"):
        assert name in a and name in b, name
    assert "opa-basic-tools" in a and "libpsm2" in a           # x86_64-only, from comps arch= and %ifarch
    assert "opa-basic-tools" not in b and "libpsm2" not in b
    assert a["cluster-node"].endswith(".x86_64") and b["cluster-node"].endswith(".aarch64")
    for name in ("cluster-gpu", "nvtop", "cluster-apps-md", "gromacs-openmpi"):
        assert name in g, name
    assert "cluster-apps-bio" not in g
    # the site's profile was fetched over HTTP through dnf, with the site repository's metadata
    assert any(re.search(r"/site/9/x86_64/repodata/[0-9a-f]+-cluster-profile\.json\.gz$", r)
               for r in site.server.requests)
    assert "(generation 1)" in result.out

    for node in (x86, arm):
        before, transactions = node.installed(), history_count(node)
        del site.server.requests[:]
        again = node.dnf("-y", "cluster-node", "sync")
        assert "In sync: nothing to do." in again.out
        # unchanged metadata is checked, not downloaded again: one repomd.xml per repository
        assert sorted(site.server.requests) == ["/base/{}/repodata/repomd.xml".format(node.arch),
                                                "/cluster/9/{}/repodata/repomd.xml".format(node.arch),
                                                "/site/9/{}/repodata/repomd.xml".format(node.arch)]
        assert node.installed() == before and history_count(node) == transactions


def test_sync_converges_exactly_after_profile_changes(site):
    node = site.node("compute", "x86_64", "compute")
    other = site.node("compute-arm", "aarch64", "compute")
    for n in (node, other):
        n.dnf("-y", "cluster-node", "sync")

    # package added to the role
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, cluster-apps-md]")
    site.publish()
    for n in (node, other):
        n.dnf("-y", "cluster-node", "sync")
        assert "gromacs-openmpi" in n.installed()
        assert n.dnf("cluster-node", "status").rc == 0

    # package dropped from the role: removed, with the dependencies only it needed
    site.edit_role("compute", "packages: [cluster-apps-bio, cluster-apps-md]", "packages: [cluster-apps-md]")
    site.publish()
    plan = node.dnf("cluster-node", "sync", "--dry-run").out
    assert "remove     cluster-apps-bio (installed by the profile, no longer listed)" in plan
    for n in (node, other):
        n.dnf("-y", "cluster-node", "sync")
        installed = n.installed()
        assert "cluster-apps-bio" not in installed and "ncbi-blast+" not in installed
        assert "gromacs-openmpi" in installed and "cluster-node" in installed
        assert "cluster-apps-bio" not in state_of(n)["managed"]

    # pin moved: the lock holds the older Open MPI back (the head node's dnf hides 4.1.6)
    locked = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]
    for arch in ("x86_64", "aarch64"):
        pins = locked["compute"][arch]
        assert pins["openmpi"] == "4.1.5-1.el9"
        assert pins["slurm"] == "23.11.10-1.el9"
        assert "glibc" not in pins and "kernel-core" not in pins
    for n in (node, other):
        status = n.dnf("cluster-node", "status", "--json", check=False)
        assert status.rc == 100
        assert status.json["drift"]["wrong_version"] == [
            {"name": "openmpi", "installed": "4.1.6-1.el9", "locked": "4.1.5-1.el9", "pinned": "4.1.5-1.el9"}]
        n.dnf("-y", "cluster-node", "sync")
        assert n.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
        assert n.dnf("cluster-node", "status").rc == 0
    # a new node resolves dependencies to the pinned builds at once
    fresh = site.node("compute-new", "aarch64", "compute")
    fresh.dnf("-y", "cluster-node", "sync")
    assert fresh.installed()["openmpi"] == "0:4.1.5-1.el9.aarch64"

    # the newer build is let through; the pin follows; nodes upgrade
    site.publish("--lock")
    for n in (node, other, fresh):
        out = n.dnf("-y", "cluster-node", "sync").out
        assert "upgrade    openmpi 4.1.5-1.el9 -> 4.1.6-1.el9 (locked)" in out
        assert n.installed()["openmpi"].startswith("0:4.1.6-1.el9.")
        assert n.dnf("-y", "cluster-node", "sync").out.count("In sync") == 1


def test_hand_installed_packages_survive(site):
    site.edit_role("compute", "packages: [cluster-apps-bio]",
                   "packages: [cluster-apps-bio, fftw-openmpi, apptainer]")
    site.publish()
    node = site.node("compute")
    node.dnf("-y", "install", "htop", "apptainer")         # by hand, before the profile's first sync
    node.dnf("-y", "cluster-node", "sync")
    node.dnf("-y", "install", "gromacs-openmpi")           # by hand, needs the profile's fftw-openmpi
    managed = set(state_of(node)["managed"])
    assert managed >= {"cluster-node", "cluster-apps-bio", "fftw-openmpi"}
    assert not managed & {"htop", "apptainer", "gromacs-openmpi"}

    site.edit_role("compute", "packages: [cluster-apps-bio, fftw-openmpi, apptainer]", "packages: []")
    site.publish()
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "remove     cluster-apps-bio (installed by the profile, no longer listed)" in out
    assert "keep       fftw-openmpi (still needed by gromacs-openmpi)" in out
    assert "apptainer" not in out.split("Dependencies resolved")[0]     # never even planned
    installed = node.installed()
    for name in ("htop", "apptainer", "gromacs-openmpi", "fftw-openmpi"):
        assert name in installed, name                     # none of them is the profile's to remove
    assert "cluster-apps-bio" not in installed             # this one the profile installed and dropped
    assert node.dnf("-y", "cluster-node", "sync").out.count("keep       fftw-openmpi") == 1


def test_status_reports_drift_and_dry_run_changes_nothing(site):
    node = site.node("compute", "aarch64")
    result = node.dnf("cluster-node", "status", check=False)
    assert result.rc == 100
    assert "  missing        cluster-node" in result.out
    assert "Drift: 3 differences" in result.out

    before, transactions = node.installed(), history_count(node)
    dry = node.dnf("cluster-node", "sync", "--dry-run")
    assert dry.rc == 0 and "Dry run: nothing was changed." in dry.out
    assert "Transaction Summary" in dry.out and "cluster-node" in dry.out
    check = node.dnf("cluster-node", "sync", "--check", check=False)
    assert check.rc == 100
    assumeno = node.dnf("--assumeno", "cluster-node", "sync")
    assert assumeno.rc == 0 and "Dry run" in assumeno.out
    planned = node.dnf("cluster-node", "sync", "--dry-run", "--json").json
    assert planned["result"] == "planned" and planned["arch"] == "aarch64"
    assert [i["name"] for i in planned["plan"]["install"]] == ["cluster-apps-bio", "cluster-node",
                                                               "python3-dnf-plugin-cluster"]
    assert node.installed() == before == {} and history_count(node) == transactions
    assert not os.path.exists(node.path("var/lib/dnf/cluster/state.json"))

    synced = node.dnf("-y", "cluster-node", "sync", "--json").json
    assert synced["result"] == "synced"
    assert any(t["package"].startswith("cluster-node-1.0-1.el9.aarch64") for t in synced["transaction"])
    node.dnf("-y", "remove", "cluster-apps-bio")                # drift by hand
    status = node.dnf("cluster-node", "status", "--json", check=False)
    assert status.rc == 100 and status.json["drift"]["missing"] == ["cluster-apps-bio"]


def test_standalone_front_door_syncs_the_same(site):
    node = site.node("compute", "aarch64")
    result = node.cluster("-y", "node", "sync")
    assert "role compute on aarch64" in result.out
    assert node.cluster("node", "status").rc == 0
    assert node.dnf("cluster-node", "status").rc == 0


def test_bad_input_is_one_line_and_changes_nothing(site, tmp_path):
    from dnf_plugin_cluster.head import publish, repodata
    node = site.node("compute")

    def refused(*args, **kwargs):
        result = node.dnf(*args, check=False)
        assert result.rc == 1, result
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert len(errors) == 1, result
        assert node.installed() == {} and not os.path.exists(node.path("var/lib/dnf/cluster/state.json"))
        return errors[0]

    assert "unknown role 'storage' (the profile has: compute, gpu, login, master)" in refused(
        "-y", "cluster-node", "sync", "--role", "storage")
    node.set_role("")
    os.remove(node.path("etc/dnf/plugins/cluster.conf"))
    assert "this node has no role" in refused("-y", "cluster-node", "sync")
    node.set_role("compute")

    # a profile naming a package no repository has
    good = publish.current(site.tree)
    bad = json.loads(json.dumps(good))
    bad["roles"]["compute"]["arches"]["x86_64"]["packages"].append("no-such-package")
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", "cluster-profile.json", json.dumps(bad).encode())
    assert "role 'compute': package 'no-such-package' is not available" in refused("-y", "cluster-node", "sync")

    # malformed or hostile profiles
    for text, message in (('{"format": 1, "roles": ', "not JSON"),
                          (json.dumps(dict(good, pins={"../../etc/passwd": "1-1"})), "invalid package name"),
                          (json.dumps(dict(good, format=7)), "unsupported format 7")):
        for md in publish.arch_repos(site.tree).values():
            repodata.replace(md, "cluster", "cluster-profile.json", text.encode())
        assert message in refused("-y", "cluster-node", "sync")
        assert message in refused("cluster-node", "status")

    # no profile at all (neither the site's nor the packager's default)
    for tree in (site.tree, site.upstream):
        for md in publish.arch_repos(tree).values():
            os.system("modifyrepo_c --remove cluster {} >/dev/null".format(md))
    assert "no enabled repository carries a cluster profile" in refused("-y", "cluster-node", "sync")

    # publish refuses unknown groups with file:line
    site.edit_role("compute", "groups: [cluster-node]", "groups: [cluster-nodes]")
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             check=False)
    assert result.rc == 1
    assert re.search(r"Error: .*compute\.yaml:3: role 'compute': unknown group 'cluster-nodes'", result.err)


def test_cluster_group_install_honours_arch(site):
    arm = site.node("arm", "aarch64", role=None)
    arm.dnf("-y", "cluster-group", "install", "cluster-node")
    installed = arm.installed()
    assert "cluster-node" in installed and "python3-dnf-plugin-cluster" in installed
    assert "apptainer" not in installed                       # optional tier
    x86 = site.node("x86", "x86_64", role=None)
    x86.dnf("-y", "cluster-group", "install", "--with-optional", "cluster-node")
    assert {"opa-basic-tools", "apptainer"} <= set(x86.installed())
    info = x86.dnf("cluster-group", "info", "cluster-node").out
    assert "Status: installed" in info and "opa-basic-tools" in info
    x86.dnf("-y", "cluster-group", "remove", "cluster-node")
    assert "cluster-node" not in x86.installed()
    result = x86.dnf("-y", "cluster-group", "install", "cluster-nope", check=False)
    assert result.rc == 1 and "unknown cluster group 'cluster-nope'" in result.err


def test_kickstart_for_a_role(site):
    ks = site.master.dnf("-q", "cluster-master", "kickstart", "--role", "compute", "--arch", "aarch64").out
    assert "from the cluster profile in repository 'cluster-site'" in ks
    assert "repo --name=cluster-site --baseurl={}/site/9/aarch64/\n".format(site.url) in ks
    assert "repo --name=cluster --baseurl={}/cluster/9/aarch64/\n".format(site.url) in ks
    packages = ks.split("%packages\n")[1].split("%end")[0].split()
    assert "cluster-node" in packages and "cluster-apps-bio" in packages
    # the installed node keeps both repositories configured
    assert "cluster-site-release" in packages and "cluster-release" in packages
    assert "opa-basic-tools" not in packages                  # x86_64 only
    assert "role = compute" in ks
    x86 = site.master.dnf("-q", "cluster-master", "kickstart", "--role", "compute").out
    assert "opa-basic-tools" in x86.split("%packages\n")[1]
    mirrored = site.master.dnf("-q", "cluster-master", "kickstart", "--role", "compute",
                               "--baseurl", "https://head/site/9/x86_64/",
                               "--baseurl", "cluster=https://mirror/cluster/9/x86_64/").out
    assert "repo --name=cluster-site --baseurl=https://head/site/9/x86_64/\n" in mirrored
    assert "repo --name=cluster --baseurl=https://mirror/cluster/9/x86_64/\n" in mirrored
    bad = site.master.dnf("-q", "cluster-master", "kickstart", "--role", "compute", "--baseurl", "base=x:/",
                          check=False)
    assert bad.rc == 1 and "--baseurl for 'base', which the kickstart does not use" in bad.err


def test_roles_follow_their_channel(site, project, tmp_path):
    site.build_testing_bio(project)             # a newer cluster-apps-bio, only in the testing channel

    site.edit_role("compute", "channel: stable", "channel: testing")
    site.publish()
    tester = site.node("tester", "aarch64", "compute")
    tester.add_repo("cluster-testing", "{}/cluster/testing/$releasever/$basearch/".format(site.url), enabled=0)
    out = tester.dnf("-y", "cluster-node", "sync").out
    assert "channel testing" in out
    assert tester.installed()["cluster-apps-bio"] == "0:1.0-2.el9.noarch"

    # a stable role takes nothing from testing, even where the testing repository is enabled
    login = site.node("login", "x86_64", "login")
    login.add_repo("cluster-testing", "{}/cluster/testing/$releasever/$basearch/".format(site.url), enabled=1)
    login.dnf("-y", "cluster-node", "sync")
    assert login.installed()["cluster-apps-bio"] == "0:1.0-1.el9.noarch"

    # a testing role on a node without the testing repository: one clear error, nothing done
    bare = site.node("bare", "x86_64", "compute")
    result = bare.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 1 and bare.installed() == {}
    assert "role 'compute' follows the testing channel, but repository 'cluster-testing' is not configured" \
        in result.err


def test_profile_in_every_compression_createrepo_c_writes(site):
    """createrepo_c 1.x recompresses metadata with zstd; a mirror's tools may use xz or
    bzip2. Nodes and the head node read the profile whatever its compression."""
    from cluster_testkit.repomd import put_record
    from dnf_plugin_cluster import profile
    from dnf_plugin_cluster.head import publish, repodata
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]")
    site.publish()
    published = publish.current(site.tree)
    node = site.node("compute")
    for kind in ("zstd", "xz", "bz2", "gz"):
        for md in publish.arch_repos(site.tree).values():
            path = put_record(md, "cluster", "cluster-profile.json", profile.dumps(published).encode(), kind)
            assert repodata.location(md, "cluster") == path
        assert publish.current(site.tree) == published
        status = node.dnf("-q", "cluster-node", "status", "--json", check=False)
        assert status.json["profile"] == profile.digest(published), (kind, status)
    node.dnf("-y", "cluster-node", "sync")
    assert "tmux" in node.installed()
    assert any(r.endswith("-cluster-profile.json.zst") for r in site.server.requests)


DEFAULT_WARNING = ("Warning: this node follows the packager's default profile, not a site profile: install "
                   "cluster-site-release from the head node")


def test_a_node_without_the_site_repository_is_told_on_every_run(site, tmp_path):
    """Only cluster-release (no site repository): the node takes the packager's unpinned
    default profile; every sync and status says so in one line, the JSON answer carries
    the profile's origin, and the fleet view shows it."""
    from cluster_testkit.farm import Farm
    lone = site.make_root("default-only")
    lone.add_repo("base", "{}/base/$basearch/".format(site.url))
    lone.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(site.url))
    lone.set_role("compute")
    runs = [lone.dnf("cluster-node", "status", check=False), lone.dnf("-y", "cluster-node", "sync"),
            lone.dnf("cluster-node", "status"), lone.dnf("-y", "cluster-node", "sync")]
    for result in runs:
        assert [l for l in result.err.splitlines() if "default profile" in l] == [DEFAULT_WARNING], result
        assert "from repository 'cluster' (the packager's default profile)" in result.out
    assert runs[2].out.rstrip().endswith("In sync, packager's default profile.")
    status = lone.dnf("cluster-node", "status", "--json").json
    assert status["profile_origin"] == "default" and status["warnings"] == [DEFAULT_WARNING[len("Warning: "):]]
    synced = lone.dnf("-y", "cluster-node", "sync", "--json").json
    assert synced["profile_origin"] == "default" and DEFAULT_WARNING[len("Warning: "):] in synced["warnings"]

    node = site.node("site-node")                               # with the site repository: no warning
    node.dnf("-y", "cluster-node", "sync")
    ok = node.dnf("cluster-node", "status", "--json")
    assert ok.json["profile_origin"] == "site" and "warnings" not in ok.json and "default profile" not in ok.err

    farm = Farm(str(tmp_path / "farm"))
    farm.add("lone", lone)
    farm.add("sited", node)
    fleet = site.master.dnf(*farm.fleet_args("status", "lone,sited"))
    assert fleet.out.splitlines() == ["lone (1)   role compute on x86_64, channel stable: in sync, packager's default "
                                      "profile", "sited (1)  role compute on x86_64, channel stable: in sync, "
                                      "generation 1"], fleet


def test_a_sync_by_another_user_says_it_needs_superuser_privileges(site):
    """As dnf says it (not `cannot open the sync lock: Permission denied`), and nothing changes.
    The root lies where another user can reach it (pytest's directories are root's alone),
    as a live node's / is; the user cache dnf makes for that user in /var/tmp goes after."""
    import glob
    import shutil
    import tempfile
    from cluster_testkit.dnfroot import DnfRoot
    public = tempfile.mkdtemp(prefix="cluster-nonroot-")
    caches = set(glob.glob("/var/tmp/dnf-nobody-*"))
    try:
        os.chmod(public, 0o755)
        node = DnfRoot(os.path.join(public, "compute"))
        site.repo_lines(node)
        node.set_role("compute")
        os.makedirs(node.path("var/tmp"), exist_ok=True)
        os.chmod(node.path("var/tmp"), 0o1777)                  # as on every system: dnf's user cache goes there
        home = os.path.join(public, "nobody")
        os.mkdir(home)
        os.chown(home, 65534, 65534)
        before = node.installed()
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + node.dnf_args(
            "-y", "cluster-node", "sync")
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=dict(node.env, HOME=home), cwd=home, timeout=300)
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and errors == ["Error: This command has to be run with superuser privileges (under "
                                             "the root user on most systems)."], result
        assert "sync lock" not in result.err and node.installed() == before
        assert not os.path.exists(node.path("var/lib/dnf/cluster"))
    finally:
        shutil.rmtree(public)
        for cache in set(glob.glob("/var/tmp/dnf-nobody-*")) - caches:
            shutil.rmtree(cache)
