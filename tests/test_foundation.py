"""The ground everything stands on: the stand-in base built with rpmbuild and
createrepo_c, real dnf installing into throwaway roots of both arches, the plugin
loading through real dnf, and the package layout."""
import os
import subprocess
import sys

from cluster_testkit import REPO_ROOT

from conftest import make_comps_repo


def test_standin_base_is_per_arch_with_real_names(standin_el9):
    x86 = set(os.listdir(os.path.join(standin_el9, "x86_64", "Packages")))
    arm = set(os.listdir(os.path.join(standin_el9, "aarch64", "Packages")))
    assert "openmpi-4.1.6-1.el9.x86_64.rpm" in x86
    assert "openmpi-4.1.5-1.el9.x86_64.rpm" in x86          # older build kept beside the newer
    assert "openmpi-4.1.6-1.el9.aarch64.rpm" in arm
    assert "libpsm2-11.2.230-1.el9.x86_64.rpm" in x86        # x86_64-only
    assert not any(name.startswith("libpsm2-") for name in arm)
    assert "clustershell-1.9.2-1.el9.noarch.rpm" in x86 and "clustershell-1.9.2-1.el9.noarch.rpm" in arm
    assert not any(name.startswith("rocm-smi-") for name in x86)   # Fedora-only, this is EL9
    assert os.path.exists(os.path.join(standin_el9, "x86_64", "repodata", "repomd.xml"))


def test_real_dnf_installs_into_roots_of_both_arches(standin_el9, make_root):
    for arch in ("x86_64", "aarch64"):
        node = make_root("node-" + arch, arch=arch)
        node.add_repo("base", "file://{}/$basearch".format(standin_el9))
        node.dnf("-y", "install", "openmpi", "slurm-slurmd")
        installed = node.installed()
        assert installed["openmpi"] == "0:4.1.6-1.el9." + arch
        assert installed["slurm-slurmd"] == "0:23.11.10-1.el9." + arch
        assert installed["slurm"] == "0:23.11.10-1.el9." + arch   # pulled in as a dependency
        assert installed["hwloc-libs"].endswith(arch)
        # the rpm database lives inside the root, as on Fedora/EL
        assert os.path.isdir(node.path("var/lib/rpm"))
        assert os.listdir(node.path("var/lib/rpm"))


def test_standin_services_create_their_accounts_as_useradd_r_does(standin_el9, make_root):
    """munge, slurm and slurm-slurmd create their accounts in %pre with dynamic system
    ids from 999 down, as the real packages' `useradd -r` does (the stand-in shadow-utils
    carries this host's useradd); setup ships /etc/passwd and /etc/group first."""
    for arch in ("x86_64", "aarch64"):
        node = make_root("node-" + arch, arch=arch)
        node.add_repo("base", "file://{}/$basearch".format(standin_el9))
        node.dnf("-y", "install", "slurm-slurmd")
        assert {"setup", "shadow-utils", "munge"} <= set(node.installed())
        assert node.ids("munge", "slurm", "root") == {"munge": (999, 999, 999), "slurm": (998, 998, 998),
                                                      "root": (0, 0, 0)}
        assert node.getent("passwd")["munge"][4:] == ["Runs Uid 'N' Gid Emporium", "/run/munge", "/sbin/nologin"]
        assert node.owner("etc/munge") == (999, 999) and node.owner("var/spool/slurm/d") == (998, 998)
        with open(node.path("etc/shadow")) as handle:
            locked = [l.split(":")[:2] for l in handle if l.startswith(("munge:", "slurm:"))]
            # a locked password: `!!` from older shadow-utils' useradd, `!` from 4.14 on
            assert [n for n, _ in locked] == ["munge", "slurm"] and all(p in ("!", "!!") for _, p in locked)
    # an account that exists keeps its id (getent || useradd)
    node = make_root("preset")
    node.add_repo("base", "file://{}/$basearch".format(standin_el9))
    node.dnf("-y", "install", "setup")
    with open(node.path("etc/group"), "a") as handle:
        handle.write("munge:x:640:\n")
    with open(node.path("etc/passwd"), "a") as handle:
        handle.write("munge:x:640:640::/run/munge:/sbin/nologin\n")
    node.dnf("-y", "install", "munge")
    assert node.ids("munge") == {"munge": (640, 640, 640)}


def test_cluster_group_list_loads_through_real_dnf(standin_el9, project_comps_xml, make_root, tmp_path):
    repo = make_comps_repo(os.path.join(standin_el9, "x86_64"), str(tmp_path / "repo-x86_64"),
                           project_comps_xml)
    make_comps_repo(os.path.join(standin_el9, "aarch64"), str(tmp_path / "repo-aarch64"), project_comps_xml)
    node = make_root("node")
    node.add_repo("cluster", "file://{}/repo-$basearch".format(tmp_path))

    table = node.dnf("cluster-group", "list").out
    assert "Cluster groups for x86_64:" in table
    for gid in ("cluster-master", "cluster-node", "cluster-mpi", "cluster-scheduler-slurm", "cluster-tools"):
        assert gid in table

    x86 = node.dnf("cluster-group", "list", "--json").json
    arm = make_root("arm", arch="aarch64")
    arm.add_repo("cluster", "file://{}/repo-$basearch".format(tmp_path))
    aarch = arm.dnf("cluster-group", "list", "--json").json
    tiers = lambda data, gid: [g for g in data["groups"] if g["id"] == gid][0]["tiers"]
    assert "opa-basic-tools" in tiers(x86, "cluster-node")["default"]      # arch="x86_64"
    assert "opa-basic-tools" not in tiers(aarch, "cluster-node")["default"]
    assert aarch["arch"] == "aarch64"
    assert os.path.exists(repo)


def test_standalone_front_door_gives_the_same_answer(standin_el9, project_comps_xml, make_root, tmp_path):
    make_comps_repo(os.path.join(standin_el9, "x86_64"), str(tmp_path / "repo"), project_comps_xml)
    node = make_root("node")
    node.add_repo("cluster", "file://{}/repo".format(tmp_path))
    via_plugin = node.dnf("cluster-group", "list", "--json").json
    via_standalone = node.cluster("group", "list", "--json").json
    assert via_plugin == via_standalone


def test_unknown_group_is_one_clear_line(standin_el9, project_comps_xml, make_root, tmp_path):
    make_comps_repo(os.path.join(standin_el9, "x86_64"), str(tmp_path / "repo"), project_comps_xml)
    node = make_root("node")
    node.add_repo("cluster", "file://{}/repo".format(tmp_path))
    result = node.dnf("cluster-group", "info", "no-such-group", check=False)
    assert result.rc == 1
    errors = [l for l in result.err.splitlines() if l.strip()]
    assert errors == [l for l in errors if "no-such-group" in l] and len(errors) == 1


def test_setup_installs_plugin_where_dnf_looks(tmp_path):
    subprocess.run([sys.executable, "setup.py", "-q", "build", "--build-base", str(tmp_path / "b")],
                   cwd=REPO_ROOT, check=True)
    lib = tmp_path / "b" / "lib"
    assert (lib / "dnf-plugins" / "cluster.py").is_file()
    assert (lib / "dnf_plugin_cluster" / "commands" / "node.py").is_file()
    assert (tmp_path / "b" / "scripts-{}.{}".format(*sys.version_info[:2]) / "dnf-cluster").is_file()


def test_library_runs_on_el8_python_3_6():
    """Nodes run the library under EL8's Python 3.6: no newer syntax or APIs."""
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "vermin"), "--no-tips", "--violations", "-t=3.6-",
                           "--eval-annotations", "--feature", "fstring-self-doc", "dnf_plugin_cluster", "plugins", "bin"],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    assert proc.returncode == 0, proc.stdout


def test_versions_agree():
    """setup.py, the library and the plugin's own spec name one version (the source
    tarball the build makes is named after the spec's), and the spec's newest
    %changelog entry is for the Version-Release it builds."""
    import re
    import dnf_plugin_cluster
    with open(os.path.join(REPO_ROOT, "setup.py")) as handle:
        setup_version = re.search(r'version="([^"]+)"', handle.read()).group(1)
    with open(os.path.join(REPO_ROOT, "specs", "dnf-plugin-cluster.spec")) as handle:
        spec = handle.read()
    spec_version = re.search(r"^Version:\s+(\S+)", spec, re.M).group(1)
    release = re.search(r"^Release:\s+(\d+)%\{\?dist\}", spec, re.M).group(1)
    assert setup_version == dnf_plugin_cluster.__version__ == spec_version
    newest = spec[spec.index("\n%changelog\n"):].splitlines()[2]
    assert newest.startswith("* ") and newest.endswith(" - {}-{}".format(spec_version, release)), newest
