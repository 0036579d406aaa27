"""`publish --lock` locks every role on every arch: the whole set a fresh node of the role
installs (node floor + role), resolved in an empty root of that arch against the
refreshed repositories, never what the head node runs; nodes prove they run it with
the digest of their locked set as installed (real dnf 4, dnf-plugins-core's versionlock)."""
import fnmatch
import os
import shlex
import subprocess

from cluster_testkit.extra import Pkg, build_repo

from dnf_plugin_cluster import profile
from dnf_plugin_cluster.head import publish

from conftest import HOLD_BACK_OPENMPI
from test_version_lock import block


def lock_of(prof, role, arch):
    """{name: lock entry} of a role's lock on an arch."""
    return dict((e["name"], e) for e in prof["roles"][role]["arches"][arch]["lock"])


def left_to_the_distribution(name):
    return any(fnmatch.fnmatchcase(name, p) for p in profile.LOCK_EXCLUDE)


def newer_builds(site, name, packages, arch="x86_64"):
    """A repository of newer builds served beside the others: its URL."""
    build_repo(os.path.join(site.www, name), packages, arch=arch)
    return "{}/{}/".format(site.url, name)


def test_the_lock_is_every_package_a_fresh_node_of_the_role_installs(site):
    master = site.master                      # runs nothing of the compute role
    published = site.publish("--lock", "--json").json
    assert not set(master.installed()) & {"ncbi-blast+", "cluster-node", "cluster-apps-bio", "slurm-slurmd"}
    prof = publish.current(site.tree)
    assert prof["format"] == profile.LOCK_FORMAT and prof["pins"] == {}
    compute = lock_of(prof, "compute", "x86_64")
    for name in ("ncbi-blast+", "cluster-node", "cluster-apps-bio", "slurm-slurmd", "opa-basic-tools",
                 "python3-dnf-plugin-cluster"):
        assert name in compute, sorted(compute)
    assert all(e["checksum"].startswith("sha256:") and e["arch"] in ("x86_64", "noarch")
               for e in compute.values())
    assert not any(left_to_the_distribution(n) for n in compute)
    on_arm = lock_of(prof, "compute", "aarch64")
    assert "opa-basic-tools" not in on_arm and on_arm["ncbi-blast+"]["arch"] == "aarch64"
    assert set(e["arch"] for e in on_arm.values()) <= {"aarch64", "noarch"}
    assert published["locked"]["compute"]["x86_64"]["ncbi-blast+"] == compute["ncbi-blast+"]["evr"]
    assert set(lock_of(prof, "login", "x86_64")) >= {"cpuid", "cluster-apps-md"}

    # a fresh compute node: every package it installs is locked, at the locked build
    node = site.node("compute-1")
    node.dnf("-y", "cluster-node", "sync")
    installed = node.installed()
    assert [n for n in installed if n not in compute and not left_to_the_distribution(n)] == []
    for name, nevra in installed.items():
        if name in compute:
            entry = compute[name]
            assert nevra == profile.nevra(name, entry["evr"], entry["arch"])[len(name) + 1:], name
    assert len(block(node)) == len(compute)             # all of it handed to versionlock
    first = node.dnf("cluster-node", "status", "--json").json
    assert first["in_sync"] and first["lock_packages"] == len(set(installed) & set(compute))
    digest = first["lock_digest"]
    assert len(digest) == 64
    assert node.dnf("cluster-node", "status").out.splitlines()[-1] == \
        "In sync, generation 2, lock digest {}.".format(digest[:12])

    # newer builds of role packages and of a dependency appear; a plain upgrade keeps the lock
    updates = newer_builds(site, "updates", [
        Pkg("ncbi-blast+", "2.99.0", "1", noarch=False),
        Pkg("cluster-apps-bio", "99", "1", requires=["ncbi-blast+"]),
        Pkg("cluster-node", "99", "1")])
    node.add_repo("updates", updates)
    would = node.dnf("--disableplugin=versionlock", "--assumeno", "upgrade", check=False)
    assert "ncbi-blast+" in would.out and "2.99.0-1" in would.out, would
    node.dnf("-y", "upgrade")
    assert node.installed() == installed
    again = node.dnf("cluster-node", "status", "--json").json
    assert again["in_sync"] and again["lock_digest"] == digest

    # a second node, synced later with the newer builds in sight, runs the same set
    later = site.node("compute-2")
    later.add_repo("updates", updates)
    later.dnf("-y", "cluster-node", "sync")
    assert later.installed()["ncbi-blast+"] == installed["ncbi-blast+"]
    status = later.dnf("cluster-node", "status", "--json").json
    assert status["in_sync"] and status["lock_digest"] == digest

    # what the admin installs beside the lock is listed apart and changes neither
    later.dnf("-y", "install", "tmux")
    status = later.dnf("cluster-node", "status", "--json").json
    assert status["in_sync"] and status["lock_digest"] == digest
    assert [i["name"] for i in status["admin_installed"]] == ["tmux"]
    text = later.dnf("cluster-node", "status").out.splitlines()
    assert "  by hand        tmux 3.2a-5.el9 (the admin's; not part of the lock)" in text
    assert text[-1] == "In sync, generation 2, lock digest {}.".format(digest[:12])

    # a node off the lock has another digest, and says what is off
    later.dnf("-y", "--disableplugin=versionlock", "upgrade", "ncbi-blast+")
    off = later.dnf("cluster-node", "status", "--json", check=False)
    assert off.rc == 100 and off.json["lock_digest"] != digest
    assert off.json["drift"]["wrong_version"] == [{"name": "ncbi-blast+", "installed": "2.99.0-1.el9",
                                                   "locked": compute["ncbi-blast+"]["evr"],
                                                   "pinned": compute["ncbi-blast+"]["evr"]}]


def test_history_shows_what_each_lock_holds_and_what_changed(site):
    site.publish("--lock")
    count = len(lock_of(publish.current(site.tree), "compute", "x86_64"))
    site.master.add_repo("updates", newer_builds(site, "updates", [Pkg("ncbi-blast+", "2.99.0", "1", noarch=False)]))
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]")
    site.publish("--lock", "--message", "newer blast")
    site.edit_role("compute", "packages: [cluster-apps-bio, tmux]", "packages: [cluster-apps-bio]")
    site.publish("--lock")
    site.publish("--unlock")

    out = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree).out.splitlines()
    gen = dict((l.split()[0].rstrip("*"), i) for i, l in enumerate(out) if l[:1].isdigit())
    under = lambda number: out[gen[number] + 1:gen.get(str(int(number) + 1), len(out) - 1)]
    assert under("1") == []
    assert "    compute/x86_64: {} locked; new lock".format(count) in under("2")
    assert "    compute/x86_64: {} locked; added tmux 3.2a-5.el9; moved ncbi-blast+ 2.14.1-1.el9 -> " \
           "2.99.0-1.el9".format(count + 1) in under("3"), out
    assert any(l.startswith("    compute/aarch64: ") and "added tmux 3.2a-5.el9" in l and "moved" not in l
               for l in under("3")), out
    assert "    compute/x86_64: {} locked; removed tmux 3.2a-5.el9".format(count) in under("4"), out
    assert "    compute/x86_64: lock dropped" in under("5"), out

    data = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json").json
    third = [e for e in data["generations"] if e["generation"] == 3][0]
    assert third["locks"]["compute/x86_64"] == count + 1
    # the LOCKED column counts every role's and arch's locked packages (not the 0 pins)
    assert out[0].split()[:7] == ["GEN", "TIME", "(UTC)", "USER", "ACTION", "LOCKED", "DIGEST"]
    assert out[gen["3"]].split()[4] == str(sum(third["locks"].values())), out
    assert third["lock_changes"]["compute/x86_64"] == {
        "added": ["tmux 3.2a-5.el9"], "removed": [], "moved": ["ncbi-blast+ 2.14.1-1.el9 -> 2.99.0-1.el9"]}


def test_publish_locks_the_newest_build_even_with_a_cached_stale_view(site):
    """The head node's own metadata expires after 6 hours; a build the packager added
    since the head node last looked is what the lock takes, not the cached one."""
    master = site.master
    for repoid, path in (("base", "base/$basearch/"), ("cluster", "cluster/$releasever/$basearch/"),
                         ("cluster-site", "site/$releasever/$basearch/")):
        master.add_repo(repoid, "{}/{}".format(site.url, path), metadata_expire="6h")
    master.dnf("makecache")
    master.dnf("-C", "cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree)
    top = os.path.join(site.www, "base", "x86_64")
    build_repo(os.path.join(top, "Packages", "newer"), [Pkg("ncbi-blast+", "2.99.0", "1", noarch=False)])
    subprocess.run(["createrepo_c", "--quiet", "--no-database", top], check=True)
    assert "2.99.0" not in master.dnf("-C", "list", "--showduplicates", "ncbi-blast+").out

    locked = site.publish("--lock", "--json").json["locked"]
    assert locked["compute"]["x86_64"]["ncbi-blast+"] == "2.99.0-1.el9"
    assert locked["compute"]["aarch64"]["ncbi-blast+"] == "2.14.1-1.el9"


def test_a_lock_for_an_arch_the_repositories_lack_is_refused_in_one_line(site):
    before = sorted(os.listdir(os.path.join(site.tree, "generations")))
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             "--lock", "--arch", "ppc64le", check=False)
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert result.rc == 1 and len(errors) == 1, result
    assert "publish --lock for ppc64le" in errors[0] and "Traceback" not in result.err, result
    assert sorted(os.listdir(os.path.join(site.tree, "generations"))) == before
    assert not os.path.exists(os.path.join(site.tree, "ppc64le"))


def test_publish_for_an_arch_the_cluster_repository_lacks_is_refused_in_one_line(site):
    before = sorted(os.listdir(os.path.join(site.tree, "generations")))
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             "--arch", "ppc64le", check=False)
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, result
    assert errors[0] == ("Error: publish --arch ppc64le: repository 'cluster' has no ppc64le tree (nothing of "
                         "the cluster is built for ppc64le)"), errors
    assert sorted(os.listdir(os.path.join(site.tree, "generations"))) == before
    assert not os.path.exists(os.path.join(site.tree, "ppc64le"))
    # an arch it has is published as before
    site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                    "--arch", "aarch64")


def test_publish_lock_refuses_repositories_it_cannot_refresh(site):
    """A repository that cannot be read now (skip_if_unavailable on the head node) or
    the cache alone (-C) would let the lock take what the cache holds, or nothing of a
    repository: refused, nothing published."""
    before = sorted(os.listdir(os.path.join(site.tree, "generations")))
    master = site.master
    master.add_repo("vendor", "{}/gone/$basearch/".format(site.url), skip_if_unavailable=1)
    lock = ("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree, "--lock")
    result = master.dnf(*lock, check=False)
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, result
    assert "'vendor'" in errors[0], errors
    os.remove(master.path("etc/yum.repos.d/vendor.repo"))

    master.dnf("makecache")
    result = master.dnf("-C", *lock, check=False)
    assert result.rc == 1 and "Traceback" not in result.err, result
    assert [l for l in result.err.splitlines() if l.startswith("Error:")] == [
        "Error: publish --lock resolves against the repositories' current metadata, never the cache alone: "
        "run it without -C/--cacheonly"], result
    assert sorted(os.listdir(os.path.join(site.tree, "generations"))) == before


def test_lock_from_a_tested_node_makes_its_package_set_the_roles_lock(site, tmp_path):
    """publish --lock-from: the canary tried a newer build; the package set it runs
    (asked through the fleet transport) becomes the compute lock on its arch, without
    what the admin installed there by hand; a node synced later runs exactly that set."""
    from cluster_testkit.farm import Farm
    updates = newer_builds(site, "updates", [Pkg("ncbi-blast+", "2.99.0", "1", noarch=False)])
    canary = site.node("canary")
    canary.dnf("-y", "cluster-node", "sync")
    canary.add_repo("updates", updates)
    canary.dnf("-y", "upgrade", "ncbi-blast+")                 # what is being tested
    canary.dnf("-y", "install", "tmux")                        # the admin's, by hand
    other = site.node("other")
    other.dnf("-y", "cluster-node", "sync")
    farm = Farm(str(tmp_path / "farm"))
    farm.add("canary01", canary)
    farm.add("other01", other)
    transport = ("--worker", "exec", "--node-command", farm.node_command)

    def lock_from(nodes, check=True):
        return site.master.dnf("cluster-master", "publish", "--repo-dir", site.tree, "--lock-from", nodes,
                               "--json", *transport, check=check)

    # two nodes of one role and arch that run different sets: refused, nothing published
    before = sorted(os.listdir(os.path.join(site.tree, "generations")))
    refused = lock_from("canary01,other01", check=False)
    errors = [l for l in refused.err.splitlines() if l.startswith("Error:")]
    assert refused.rc == 1 and len(errors) == 1 and "Traceback" not in refused.err, refused
    assert "nodes canary01 and other01 of role 'compute' on x86_64 run different package sets" in errors[0]
    assert sorted(os.listdir(os.path.join(site.tree, "generations"))) == before

    published = lock_from("canary01").json
    assert published["generation"] == 2
    prof = publish.current(site.tree)
    compute = lock_of(prof, "compute", "x86_64")
    assert compute["ncbi-blast+"]["evr"] == "2.99.0-1.el9"
    assert "tmux" not in compute and not any(left_to_the_distribution(n) for n in compute)
    assert {"cluster-apps-bio", "cluster-node", "python3-dnf-plugin-cluster"} <= set(compute)
    assert "lock" not in prof["roles"]["compute"]["arches"]["aarch64"]       # not tested: as before
    assert "lock" not in prof["roles"]["login"]["arches"]["x86_64"]

    tested = canary.dnf("cluster-node", "status", "--json").json
    assert tested["in_sync"] and tested["admin_installed"] == [{"name": "tmux", "evr": "3.2a-5.el9"}]

    # the other node moves to the tested set; a fresh one installs exactly it
    other.add_repo("updates", updates)
    other.dnf("-y", "cluster-node", "sync")
    fresh = site.node("fresh")
    fresh.add_repo("updates", updates)
    fresh.dnf("-y", "cluster-node", "sync")
    for node in (other, fresh):
        status = node.dnf("cluster-node", "status", "--json").json
        assert status["in_sync"] and status["lock_digest"] == tested["lock_digest"], node
        assert node.installed()["ncbi-blast+"] == canary.installed()["ncbi-blast+"]
    history = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree).out
    assert "    compute/x86_64: {} locked; new lock".format(len(compute)) in history


def test_a_node_kickstarted_from_the_lock_starts_on_it(site, tmp_path):
    """The fragment's %packages installs the locked builds (Open MPI 4.1.5 while 4.1.6
    is in the repositories), its %post runs the first sync and enables the timer, and
    the node's first status is in sync with the same lock digest as a synced node."""
    site.publish("--lock", *HOLD_BACK_OPENMPI)
    ks = site.master.dnf("-q", "cluster-master", "kickstart", "--role", "compute",
                         "--baseurl", site.url + "/site").out
    assert "repo --name=cluster-site --baseurl={}/site/9/x86_64/\n".format(site.url) in ks
    assert "repo --name=cluster --baseurl={}/cluster/9/x86_64/\n".format(site.url) in ks
    body = ks.split("%packages\n")[1].split("%end")[0]
    packages = [l for l in body.splitlines() if l and not l.startswith("#")]
    compute = lock_of(publish.current(site.tree), "compute", "x86_64")
    assert "openmpi-0:4.1.5-1.el9.x86_64" in packages and "cluster-apps-bio" not in packages
    assert set(profile.nevra(n, e["evr"], e["arch"]) for n, e in compute.items()) <= set(packages)
    post = ks.split("%post\n")[1].split("%end")[0]
    assert "systemctl enable cluster-node-sync.timer\n" in post
    assert "\ndnf-cluster -y node sync || " in post           # the timer's command, dnf 4 and dnf5 alike

    # anaconda, simulated: %packages in one transaction into a root, then %post there
    node = site.node("kickstarted", role=None)
    node.dnf("-y", "install", *packages)
    assert node.installed()["openmpi"] == "0:4.1.5-1.el9.x86_64"
    enabled = str(tmp_path / "systemctl.log")
    dnf_cluster = " ".join(shlex.quote(a) for a in node.standalone_args())
    script = post.replace("/etc/dnf/plugins", node.path("etc/dnf/plugins")).replace("dnf-cluster -y ",
                                                                                      dnf_cluster + " -y ")
    ran = node.run(["sh", "-e", "-c", "systemctl() { echo \"$*\" >> " + shlex.quote(enabled) + "; }\n" + script])
    assert "cluster-node sync failed" not in ran.err, ran                 # the first sync itself worked
    with open(enabled) as handle:
        assert handle.read() == "enable cluster-node-sync.timer\n"

    synced = site.node("synced")
    synced.dnf("-y", "cluster-node", "sync")
    digest = synced.dnf("cluster-node", "status", "--json").json["lock_digest"]
    first = node.dnf("cluster-node", "status")
    assert first.out.splitlines()[-1] == "In sync, generation 2, lock digest {}.".format(digest[:12]), first
    assert node.installed()["openmpi"] == "0:4.1.5-1.el9.x86_64"


def test_a_testing_role_is_locked_against_the_testing_channel_a_stable_one_never(site, project):
    """Each role's fresh set is resolved against its own channel: the testing build of
    cluster-apps-bio goes into the testing role's lock, never into a stable one's."""
    site.build_testing_bio(project)
    site.edit_role("compute", "channel: stable", "channel: testing")
    master = site.master
    refused = master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree, "--lock",
                         check=False)
    assert refused.rc == 1 and "role 'compute' follows the testing channel, but repository 'cluster-testing' " \
        "is not configured on this host" in refused.err, refused
    master.add_repo("cluster-testing", "{}/cluster/testing/$releasever/$basearch/".format(site.url), enabled=0)
    site.publish("--lock")
    prof = publish.current(site.tree)
    for arch in ("x86_64", "aarch64"):
        assert lock_of(prof, "compute", arch)["cluster-apps-bio"]["evr"] == "1.0-2.el9"
        assert lock_of(prof, "login", arch)["cluster-apps-bio"]["evr"] == "1.0-1.el9"
