"""`cluster-repo build`: SRPMs and RPMs per arch from the sources, a static repository
tree with comps, --update, immutable published builds, signing, and closure."""
import hashlib
import os
import re
import subprocess

from cluster_testkit.gpgkey import make_key
from conftest import cluster_repo
from cluster_repo.project import Project
from cluster_repo.rpmbuild import rpmbuild
from cluster_repo.targets import get_target

ARCHES = ("x86_64", "aarch64")


def files_with_digests(tree):
    out = {}
    for top, _, names in os.walk(tree):
        for name in names:
            path = os.path.join(top, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, tree)] = (hashlib.sha256(handle.read()).hexdigest(),
                                                    os.stat(path).st_mtime_ns)
    return out


def rpm_query(path, *args):
    return subprocess.run(["rpm", "-qp", "--nosignature"] + list(args) + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout


def spec_names(project_root):
    return sorted(os.path.basename(s)[:-5] for s in Project(project_root).spec_files())


def test_tree_layout(cluster_repo_el9):
    tree = os.path.join(cluster_repo_el9, "9")
    assert sorted(os.listdir(tree)) == [".cluster-build.json", "SRPMS", "aarch64", "x86_64"]
    for arch in ARCHES:
        pkgs = os.listdir(os.path.join(tree, arch, "Packages"))
        assert "cluster-node-1.0-1.el9.{}.rpm".format(arch) in pkgs       # arch-specific
        assert "cluster-master-1.0-1.el9.noarch.rpm" in pkgs              # noarch, in every arch repo
        assert "python3-dnf-plugin-cluster-0.1.0-1.el9.noarch.rpm" in pkgs
        assert not [p for p in pkgs if p.endswith(".{}.rpm".format(ARCHES[1 - ARCHES.index(arch)]))]
        with open(os.path.join(tree, arch, "repodata", "repomd.xml")) as handle:
            repomd = handle.read()
        # createrepo_c 0.x writes group and group_gz, 1.x only group: dnf reads either
        assert re.search(r'type="group(_gz)?"', repomd)
    srpms = sorted(os.listdir(os.path.join(tree, "SRPMS")))
    assert "repodata" in srpms
    from cluster_testkit import REPO_ROOT
    # every spec but the dnf5 plugin, which is for Fedora 41 and later only
    assert sorted(s.rsplit("-", 2)[0] for s in srpms if s.endswith(".src.rpm")) == \
        [n for n in spec_names(REPO_ROOT) if n != "dnf5-plugin-cluster"]


def test_srpms_are_self_contained(cluster_repo_el9, tmp_path):
    """Anyone can rebuild our packages from the published SRPMs alone."""
    srpms = os.path.join(cluster_repo_el9, "9", "SRPMS")
    for name, arch, count in (("cluster-node-1.0-1.el9.src.rpm", "aarch64", 1),
                              ("dnf-plugin-cluster-0.1.0-1.el9.src.rpm", "x86_64", 2)):
        written = rpmbuild(os.path.join(srpms, name), "--rebuild", rpmdir=str(tmp_path), target=arch,
                           defines=get_target("el9").macros)
        assert len(written) == count and all(os.path.exists(w) for w in written)
    plugin, repo = sorted(written, key=lambda w: "cluster-repo-" in w)
    files = rpm_query(plugin, "-l")
    assert "/usr/lib/python3.9/site-packages/dnf-plugins/cluster.py" in files
    assert "/usr/lib/python3.9/site-packages/dnf_plugin_cluster/commands/node.py" in files
    assert "/usr/bin/dnf-cluster" in files and "/etc/dnf/plugins/cluster.conf" in files
    assert "/usr/lib/systemd/system/cluster-node-sync.timer" in files
    assert "cluster_repo" not in files and "/usr/bin/cluster-repo" not in files
    assert "/usr/lib/python3.9/site-packages/cluster_repo/build.py" in rpm_query(repo, "-l")


def _bump(project, name, extra_requires, release="2"):
    path = os.path.join(project, "metapackages", name + ".yaml")
    with open(path) as handle:
        text = handle.read()
    text = text.replace("requires:\n", "requires:\n  - {}\n".format(extra_requires), 1)
    if release:
        text = text.replace('release: "1"', 'release: "{}"'.format(release))
    with open(path, "w") as handle:
        handle.write(text)


def test_update_rebuilds_only_the_changed_spec_and_keeps_old_builds(project, tmp_path, make_root):
    out = str(tmp_path / "out")
    first = cluster_repo("-C", project, "build", out).stdout
    assert "16 built, 0 unchanged" in first
    before = files_with_digests(out)

    _bump(project, "cluster-apps-bio", "hdf5")
    proc = cluster_repo("-C", project, "build", out, "--update")
    assert "rendered specs/cluster-apps-bio.spec" in proc.stdout
    assert re.search(r"built cluster-apps-bio-1\.0-2\.el9", proc.stdout)
    assert "1 built, 15 unchanged, 3 files added" in proc.stdout
    after = files_with_digests(out)
    added = sorted(set(after) - set(before))
    assert [p for p in added if p.endswith(".rpm")] == [
        "9/SRPMS/cluster-apps-bio-1.0-2.el9.src.rpm",
        "9/aarch64/Packages/cluster-apps-bio-1.0-2.el9.noarch.rpm",
        "9/x86_64/Packages/cluster-apps-bio-1.0-2.el9.noarch.rpm"]
    # every earlier file is still there, byte for byte: nothing published is replaced or removed
    for rel, digest in before.items():
        if "/repodata/" not in rel and not rel.endswith(".cluster-build.json"):
            assert after[rel] == digest, rel
    # both builds are in the repository: sites can go back
    node = make_root("n")
    node.add_repo("cluster", "file://{}/$releasever/$basearch".format(out))
    listing = node.dnf("-q", "--showduplicates", "list", "--available", "cluster-apps-bio").out
    assert "1.0-1.el9" in listing and "1.0-2.el9" in listing


def test_changed_sources_must_sort_above_the_published_build(project, tmp_path):
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out)
    before = files_with_digests(out)
    _bump(project, "cluster-apps-bio", "hdf5", release=None)      # changed, release not bumped
    for extra in (["--update"], []):
        proc = cluster_repo("-C", project, "build", out, *extra, check=False)
        assert proc.returncode == 1
        errors = [l for l in proc.stderr.splitlines() if l.strip()]
        assert len(errors) == 1
        assert ("cluster-apps-bio.spec: cluster-apps-bio changed but 1.0-1.el9 does not sort above the "
                "published 1.0-1.el9: bump its Release (or Version)") in errors[0]
        assert files_with_digests(os.path.join(out)) == before


def test_a_failing_spec_publishes_nothing_from_the_same_build(project, tmp_path):
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out)
    before = files_with_digests(out)
    _bump(project, "cluster-apps-bio", "hdf5")                      # sound change, built first
    _bump(project, "cluster-users", "hdf5", release=None)          # refused, built last
    for jobs in ("1", "4"):
        proc = cluster_repo("-C", project, "build", out, "--update", "-j", jobs, check=False)
        assert proc.returncode == 1 and "cluster-users changed but" in proc.stderr
        assert files_with_digests(out) == before


def test_full_rebuild_never_replaces_published_files(project, tmp_path):
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out)
    before = files_with_digests(out)
    proc = cluster_repo("-C", project, "build", out)
    assert "16 built, 0 unchanged, 0 files added" in proc.stdout
    after = files_with_digests(out)
    for rel in before:
        if rel.endswith(".rpm"):
            assert after[rel] == before[rel], rel


def test_signed_build(project, tmp_path, make_root, standin_el9):
    home = str(tmp_path / "gnupg")
    key_id, public = make_key(home)
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--sign-key", key_id, "--gnupghome", home)
    with open(os.path.join(out, "RPM-GPG-KEY-cluster"), "rb") as handle:
        assert handle.read() == public
    keydb = str(tmp_path / "keydb")
    os.makedirs(keydb)
    subprocess.run(["rpmkeys", "--dbpath", keydb, "--import", os.path.join(out, "RPM-GPG-KEY-cluster")], check=True)
    packages = os.path.join(out, "9", "x86_64", "Packages")
    for name in os.listdir(packages):
        check = subprocess.run(["rpmkeys", "--dbpath", keydb, "-K", os.path.join(packages, name)],
                               stdout=subprocess.PIPE, universal_newlines=True)
        assert check.returncode == 0 and "signatures OK" in check.stdout, check.stdout
    repomd = os.path.join(out, "9", "x86_64", "repodata", "repomd.xml")
    subprocess.run(["gpg", "--homedir", home, "--batch", "--verify", repomd + ".asc", repomd], check=True,
                   stderr=subprocess.DEVNULL)
    release = os.path.join(packages, "cluster-release-1-1.el9.noarch.rpm")
    assert "/etc/pki/rpm-gpg/RPM-GPG-KEY-cluster" in rpm_query(release, "-l")
    # a node that insists on signatures (packages and repository metadata) installs from it
    node = make_root("signed-node")
    node.add_repo("base", "file://{}/$basearch".format(standin_el9))
    node.add_repo("cluster", "file://{}/$releasever/$basearch".format(out), gpgcheck=1, repo_gpgcheck=1,
                  gpgkey="file://{}/RPM-GPG-KEY-cluster".format(out))
    node.dnf("-y", "install", "cluster-node")
    assert "cluster-node" in node.installed()


def test_unsigned_cluster_release_has_no_key(cluster_repo_el9):
    release = os.path.join(cluster_repo_el9, "9", "x86_64", "Packages", "cluster-release-1-1.el9.noarch.rpm")
    assert rpm_query(release, "-l").split() == ["/etc/yum.repos.d/cluster.repo"]


def test_testing_channel_lives_beside_stable(project, tmp_path):
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out, "--channel", "testing", "--arch", "x86_64")
    assert os.path.exists(os.path.join(out, "testing", "9", "x86_64", "repodata", "repomd.xml"))
    assert not os.path.exists(os.path.join(out, "9"))
    assert not os.path.exists(os.path.join(out, "cluster-release-latest-9.noarch.rpm"))     # stable only


def test_closure(cluster_repo_el9, standin_el9, tmp_path):
    proc = cluster_repo("closure", cluster_repo_el9, "--base-repo", "file://{}/$basearch".format(standin_el9))
    assert "every package and every role installs on every arch" in proc.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["createrepo_c", "--quiet", str(empty)], check=True)
    proc = cluster_repo("closure", cluster_repo_el9, "--base-repo", "file://{}".format(empty), check=False)
    assert proc.returncode == 1
    assert re.search(r"closure: x86_64: cluster-node is not installable: .*nothing provides", proc.stderr)
    assert re.search(r"closure: aarch64: role gpu does not install as a whole", proc.stderr)
    assert re.search(r"closure: aarch64: group cluster-tools lists pdsh, which no repository provides",
                     proc.stderr)


def test_fedora_target_gets_fedora_names(project, tmp_path):
    out = str(tmp_path / "out")
    build = cluster_repo("-C", project, "build", out, "--target", "fc41", "--arch", "aarch64")
    packages = os.path.join(out, "41", "aarch64", "Packages")
    if os.uname().machine != "aarch64":        # compiled code: built on a host of its own arch only
        assert "not built: dnf5-plugin-cluster (it compiles code and this {} host cannot build aarch64)".format(
            os.uname().machine) in build.stdout + build.stderr
        assert not [p for p in os.listdir(packages) if p.startswith("dnf5-plugin-cluster")]
    node = rpm_query(os.path.join(packages, "cluster-node-1.0-1.fc41.aarch64.rpm"), "--requires").split("\n")
    assert "environment-modules" in node and "Lmod" not in node and "libpsm2" not in node
    gpu = rpm_query(os.path.join(packages, "cluster-gpu-1.0-1.fc41.noarch.rpm"), "--requires").split("\n")
    assert "rocm-smi" in gpu and "rocminfo" in gpu
    plugin = rpm_query(os.path.join(packages, "python3-dnf-plugin-cluster-0.1.0-1.fc41.noarch.rpm"), "-l")
    assert "/usr/lib/python3.13/site-packages/dnf-plugins/cluster.py" in plugin


def test_specs_build_with_plain_rhel_and_fedora_defines(tmp_path):
    """The committed specs alone, with nothing but --define 'rhel 9' or 'fedora 41'."""
    from cluster_testkit import REPO_ROOT
    expectations = {"rhel 9": ("Lmod", "environment-modules"), "fedora 41": ("environment-modules", "Lmod")}
    for define, (present, absent) in expectations.items():
        out = tmp_path / define.replace(" ", "")
        cmd = ["rpmbuild", "-bb", "--nodeps", "--define", "_topdir {}".format(out), "--define", define,
               "--target", "x86_64", os.path.join(REPO_ROOT, "specs", "cluster-master.spec")]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rpm = [os.path.join(d, f) for d, _, fs in os.walk(str(out / "RPMS")) for f in fs][0]
        requires = rpm_query(rpm, "--requires").split("\n")
        assert present in requires and absent not in requires, (define, requires)


def _definition(name, version="1.0", release="1"):
    return ('name: {}\nversion: "{}"\nrelease: "{}"\nsummary: Long names\nowners:\n  - jdoe\n'
            "description: |\n  Long names.\nrequires:\n  - chrony\n  - {{name: libpsm2, arch: x86_64}}\n"
            .format(name, version, release))


def test_a_name_too_long_for_an_rpm_file_name_is_refused(project, tmp_path):
    """A 248-character name used to crash the build (the file name of its work
    directory, then of its RPM, passes the 255-byte limit); it is refused instead."""
    name = "cluster-" + "x" * 240
    path = os.path.join(project, "metapackages", name + ".yaml")
    with open(path, "w") as handle:
        handle.write(_definition(name))
    out = str(tmp_path / "out")
    for command in (["render"], ["lint"], ["build", out]):
        proc = cluster_repo("-C", project, *command, check=False)
        lines = proc.stderr.splitlines()
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (command, proc.stderr)
        assert "{}:1: name is 248 characters long; at most 100, so its RPM file names stay under 255 bytes".format(
            path) in lines[0], (command, lines[0])
    assert not os.path.exists(os.path.join(project, "specs", name + ".spec"))
    assert not os.path.exists(os.path.join(out, "9", "x86_64", "Packages")) or \
        not os.listdir(os.path.join(out, "9", "x86_64", "Packages"))


def test_the_longest_name_version_and_release_build(project, tmp_path):
    """At the limits (name 100, version 64, release 32), with the longest dist tag and
    arch, the RPMs build and their file names stay under 255 bytes."""
    name = "cluster-" + "y" * 92
    version, release = "1." + "2" * 62, "3" * 32
    with open(os.path.join(project, "metapackages", name + ".yaml"), "w") as handle:
        handle.write(_definition(name, version, release))
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out, "--target", "el10", "--arch", "aarch64")
    rpm = "{}-{}-{}.el10.aarch64.rpm".format(name, version, release)
    assert os.path.exists(os.path.join(out, "10", "aarch64", "Packages", rpm))
    assert os.path.exists(os.path.join(out, "10", "SRPMS", "{}-{}-{}.el10.src.rpm".format(name, version, release)))
    assert len(rpm) < 255
