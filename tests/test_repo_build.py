"""`cluster-repo build`: SRPMs and RPMs per arch from the sources, a static repository
tree with comps, --update, immutable published builds, signing, and closure."""
import hashlib
import os
import re
import shutil
import subprocess

from cluster_testkit.gpgkey import make_key
from conftest import cluster_repo
from cluster_repo.build import file_url
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
                              ("dnf-plugin-cluster-0.1.0-1.el9.src.rpm", "x86_64", 3)):
        written = rpmbuild(os.path.join(srpms, name), "--rebuild", rpmdir=str(tmp_path), target=arch,
                           defines=get_target("el9").macros)
        assert len(written) == count and all(os.path.exists(w) for w in written)
    by_name = dict((os.path.basename(w).rsplit("-", 2)[0], w) for w in written)
    plugin, dnf4, repo = (by_name[n] for n in ("python3-dnf-plugin-cluster", "python3-dnf-plugin-cluster-dnf4",
                                               "cluster-repo"))
    files = rpm_query(plugin, "-l")
    assert [f for f in rpm_query(dnf4, "-l").split() if "site-packages" in f] == ["/usr/lib/python3.9/site-packages/dnf-plugins/__pycache__/"
                                               "cluster.cpython-39.opt-1.pyc",
                                               "/usr/lib/python3.9/site-packages/dnf-plugins/__pycache__/"
                                               "cluster.cpython-39.pyc",
                                               "/usr/lib/python3.9/site-packages/dnf-plugins/cluster.py"]
    assert "/usr/lib/python3.9/site-packages/dnf_plugin_cluster/commands/node.py" in files
    assert "/usr/bin/dnf-cluster" in files and "/etc/dnf/plugins/cluster.conf" in files
    assert "/usr/lib/systemd/system/cluster-node-sync.timer" in files
    assert "cluster_repo" not in files and "/usr/bin/cluster-repo" not in files and "dnf-plugins/" not in files
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
    assert re.search(r"\b(1[6-9]|[2-9][0-9]) built, 0 unchanged", first), first      # every spec this host builds
    before = files_with_digests(out)

    _bump(project, "cluster-apps-bio", "hdf5")
    proc = cluster_repo("-C", project, "build", out, "--update")
    assert "rendered specs/cluster-apps-bio.spec" in proc.stdout
    assert re.search(r"built cluster-apps-bio-1\.0-2\.el9", proc.stdout)
    assert "1 built, 16 unchanged, 3 files added" in proc.stdout
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
    assert re.search(r"\b(1[6-9]|[2-9][0-9]) built, 0 unchanged, 0 files added", proc.stdout), proc.stdout
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
    plugin = rpm_query(os.path.join(packages, "python3-dnf-plugin-cluster-dnf4-0.1.0-1.fc41.noarch.rpm"), "-l")
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


# --- what a build publishes, and when ----------------------------------------------------

def tree_state(top):
    """Every entry under top (itself included) with its kind, bytes, mode and mtime: equal
    states mean nothing was written, renamed or touched."""
    out = {}
    for directory, dirs, files in os.walk(top):
        for name in dirs + files + [""]:
            path = os.path.join(directory, name) if name else directory
            info = os.lstat(path)
            data = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    data = hashlib.sha256(handle.read()).hexdigest()
            out[os.path.relpath(path, top)] = (data, info.st_mode, info.st_mtime_ns, info.st_ino)
    return out


def test_fc42_closes_against_the_stand_in_fedora(cluster_repo_for):
    """Fedora 42 has dnf5 (python3-libdnf5, libdnf5, dnf5 providing dnf): every package
    and role of ours installs there. The C++ dnf5 plugin, which a host without libdnf5's
    headers cannot build, is one "not built" line, not a closure problem."""
    out = cluster_repo_for("fc42")
    log = cluster_repo_for.output("fc42")
    assert "cluster-repo: closure: every package and every role installs on every arch" in log
    assert "closure check failed" not in log and "\nclosure:" not in log
    packages = os.listdir(os.path.join(out, "42", "x86_64", "Packages"))
    if not [p for p in packages if p.startswith("dnf5-plugin-cluster-")]:
        mentions = [line for line in log.splitlines() if "dnf5-plugin-cluster" in line]
        assert len(mentions) == 1 and mentions[0].startswith("cluster-repo: not built: dnf5-plugin-cluster ("), log


def _add_role_the_base_lacks(project):
    """A role needing a package the project's base list knows (so lint passes) but the
    stand-in base repository, built from the original list, does not carry."""
    with open(os.path.join(project, "base", "packages.yaml"), "a") as handle:
        handle.write("  paraview: {evr: [5.11.2-1], requires: [glibc]}\n")
    with open(os.path.join(project, "roles", "viz.yaml"), "w") as handle:
        handle.write("description: Visualisation node\nchannel: stable\ngroups: [cluster-node]\n"
                     "packages: [paraview]\n")


def _assert_closure_refused(proc):
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(r"^closure: x86_64: role viz does not install as a whole: .*paraview", proc.stderr, re.M)
    assert "cluster-repo: error: closure check failed (1 problem(s)); nothing was published" in proc.stderr


def test_a_failing_closure_publishes_nothing(project, tmp_path, standin_el9, cluster_repo_el9):
    _add_role_the_base_lacks(project)
    base = "file://{}/$basearch".format(standin_el9)
    # an empty OUTDIR stays empty, and nothing is left beside it
    empty = tmp_path / "empty"
    empty.mkdir()
    beside = sorted(os.listdir(str(tmp_path)))
    proc = cluster_repo("-C", project, "build", str(empty), "--arch", "x86_64", "--base-repo", base, check=False)
    _assert_closure_refused(proc)
    assert os.listdir(str(empty)) == [] and sorted(os.listdir(str(tmp_path))) == beside
    # a published tree stays byte for byte, inode for inode, as it was (cluster_repo_el9's
    # sources and base URL are these but for the role: --update rebuilds nothing, the closure fails)
    out = str(tmp_path / "out")
    shutil.copytree(cluster_repo_el9, out, symlinks=True)
    before = tree_state(out)
    for extra in (["--update"], []):
        proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--base-repo", base,
                            "--baseurl", file_url(cluster_repo_el9), *extra, check=False)
        _assert_closure_refused(proc)
        assert tree_state(out) == before
        assert sorted(os.listdir(str(tmp_path))) == sorted(beside + ["out"])


# --- unsafe defaults say so (issue 25, item 4) -------------------------------------------

def test_build_refuses_a_directory_it_did_not_make(project, tmp_path):
    """A non-empty directory that is not a tree `build` made is refused, with one line and
    nothing written; --force builds there anyway, and from then on it is a build's tree
    (so is a tree made before the stamp, known by its build manifest)."""
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine\n")
    before = tree_state(str(tmp_path))
    proc = cluster_repo("-C", project, "build", str(junk), "--arch", "x86_64", check=False)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0] == ("cluster-repo: error: {}: not empty and not a tree `cluster-repo build` made (no .cluster-repo "
                        "stamp): build into a new or empty directory, or pass --force to build here anyway"
                        .format(junk))
    assert tree_state(str(tmp_path)) == before
    (tmp_path / "a-file").write_text("")
    proc = cluster_repo("-C", project, "build", str(tmp_path / "a-file"), check=False)
    assert proc.returncode == 1 and "a-file: not a directory" in proc.stderr and "Traceback" not in proc.stderr
    cluster_repo("-C", project, "build", str(junk), "--arch", "x86_64", "--force")
    assert (junk / "notes.txt").read_text() == "mine\n"
    assert os.path.isfile(str(junk / ".cluster-repo")) and os.path.isdir(str(junk / "9" / "x86_64" / "repodata"))
    os.unlink(str(junk / ".cluster-repo"))                  # a tree from before the stamp
    proc = cluster_repo("-C", project, "build", str(junk), "--arch", "x86_64", "--update")
    assert "0 built, 17 unchanged" in proc.stdout and os.path.isfile(str(junk / ".cluster-repo"))


def _release_in(out, name="cluster-release-latest-9.noarch.rpm"):
    """(NEVR, baseurl line) of a cluster-release RPM at the top of OUTDIR."""
    path = os.path.join(out, name)
    nevr = rpm_query(path, "--qf", "%{name}-%{version}-%{release}").strip()
    cpio = subprocess.run("rpm2cpio {} | cpio -i --quiet --to-stdout ./etc/yum.repos.d/cluster.repo".format(path),
                          shell=True, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return nevr, [line for line in cpio.splitlines() if line.startswith("baseurl=")][0]


def test_defaults_are_named_and_fixed_later_without_a_release_bump(project, tmp_path):
    """A build without --base-repo, --baseurl and --sign-key says what it left unchecked
    and what nodes would get; rebuilding with --baseurl, then --sign-key, raises
    cluster-release's Release by itself (the spec unchanged), and a rebuild with the same
    options keeps that build."""
    out = str(tmp_path / "out")
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("cluster-repo: warning: ")]
    assert len(warnings) == 3, proc.stderr
    assert "closure: not checked: pass the distribution's repositories with --base-repo" in warnings[0]
    assert "points nodes at file://{} (a path on this host): rebuild with --baseurl URL".format(out) in warnings[1]
    assert "unsigned: cluster-release sets gpgcheck=0" in warnings[2] and "--sign-key KEYID" in warnings[2]
    assert _release_in(out) == ("cluster-release-1-1.el9", "baseurl=file://{}/$releasever/$basearch/".format(out))

    mirror = "https://mirror.example.org/cluster"
    for extra in (["--update"], [], ["--update"]):          # the second and third change nothing
        proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--baseurl", mirror, *extra)
        assert "does not sort above" not in proc.stderr and "points nodes at" not in proc.stderr
        assert _release_in(out) == ("cluster-release-1-1.1.el9", "baseurl={}/$releasever/$basearch/".format(mirror))
    assert "Release goes up to 1-1.1.el9 (above the published 1-1.el9)" not in proc.stdout

    home = str(tmp_path / "gnupg")
    key_id, _ = make_key(home)
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--baseurl", mirror, "--update",
                        "--sign-key", key_id, "--gnupghome", home)
    assert "cluster-release: its base URL or key changed; Release goes up to 1-1.2.el9" in proc.stdout
    assert [line for line in proc.stderr.splitlines() if "warning" in line] == [warnings[0]], proc.stderr
    assert _release_in(out)[0] == "cluster-release-1-1.2.el9"
    keydb = str(tmp_path / "keydb")
    os.makedirs(keydb)
    subprocess.run(["rpmkeys", "--dbpath", keydb, "--import", os.path.join(out, "RPM-GPG-KEY-cluster")], check=True)
    packages = os.path.join(out, "9", "x86_64", "Packages")
    assert sorted(p for p in os.listdir(packages) if p.startswith("cluster-release-")) == [
        "cluster-release-1-1.1.el9.noarch.rpm", "cluster-release-1-1.2.el9.noarch.rpm",
        "cluster-release-1-1.el9.noarch.rpm"]                   # the earlier builds stay
    for name in os.listdir(packages):                       # the ones built unsigned are signed now
        check = subprocess.run(["rpmkeys", "--dbpath", keydb, "-K", os.path.join(packages, name)],
                               stdout=subprocess.PIPE, universal_newlines=True)
        assert check.returncode == 0 and "signatures OK" in check.stdout, check.stdout


def test_build_progress_on_a_terminal_and_its_quiet_and_verbose_lines(project, tmp_path):
    """Off a terminal not a byte of progress, and -q prints nothing on stdout; on a
    terminal one line counts the specs (building spec N of M), and -v adds each rpmbuild
    run and each spec left unchanged."""
    import sys
    from cluster_testkit import REPO_ROOT
    from conftest import on_a_terminal
    out = str(tmp_path / "out")
    quiet = cluster_repo("-C", project, "-q", "build", out)
    assert quiet.stdout == "" and "\r" not in quiet.stderr and "building spec" not in quiet.stderr
    assert os.path.isdir(os.path.join(out, "9", "x86_64", "repodata"))
    _bump(project, "cluster-apps-bio", "hdf5")
    rc, output = on_a_terminal([sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo"), "-C", project, "-v",
                                "build", out, "--update", "--arch", "x86_64"])
    text = output.decode()
    assert rc == 0, text
    # the specs --update builds (a spec this host cannot build, the C++ dnf5 plugin on
    # Debian, is counted too, then named as not built)
    assert re.search(r"\r\x1b\[Kbuilding spec [12] of [12]: cluster-apps-bio", text), repr(text)
    assert "cluster-repo: rpmbuild -bs specs/cluster-apps-bio.spec\r\n" in text
    assert "cluster-repo: rpmbuild -bb --target x86_64 specs/cluster-apps-bio.spec\r\n" in text
    assert re.search(r"cluster-repo: unchanged: cluster-users \(its inputs are those of the published 1\.0-\d+\.el9\)",
                     text)
    assert "cluster-repo: 1 built, 16 unchanged" in text
    # every informational line starts at the line's beginning: the progress line was cleared first
    assert "\r\x1b[Kcluster-repo: built cluster-apps-bio" in text or "\ncluster-repo: built cluster-apps-bio" in text
