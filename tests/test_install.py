"""`dnf install cluster-master` for real: the built repository plus the stand-in base,
installed into throwaway roots of both arches with the real dnf."""
import os
import re

import pytest

from cluster_testkit import REPO_ROOT
from conftest import libcomps_iteration_crashes

HEAD_NODE = ("slurm-slurmctld", "slurm-slurmdbd", "munge", "openmpi", "openmpi-devel", "pdsh", "pdsh-rcmd-ssh",
             "clustershell", "Lmod", "nfs-utils", "chrony", "ipmitool", "python3-dnf-plugin-cluster",
             "cluster-users", "createrepo_c", "python3-createrepo_c", "rpm-build")


def test_dnf_install_cluster_master_installs_the_head_node_stack(node_factory):
    head = node_factory("head")
    head.dnf("-y", "install", "cluster-master")
    installed = head.installed()
    for name in HEAD_NODE:
        assert name in installed, name
    # the MPI alternative falls to Open MPI (Suggests), so the devel stack follows it
    assert "cluster-mpi-openmpi" in installed and "cluster-mpi-mpich" not in installed
    assert "mpich-devel" not in installed
    assert "slurm-slurmd" not in installed              # compute-node daemon stays off the head node
    # the packager's toolchain too (rpm-build is there: publish builds cluster-site-release)
    assert "cluster-repo" not in installed and "rpmlint" not in installed and "rpm-sign" not in installed
    # the plugin lands where EL9's dnf looks for plugins, with its configuration
    assert os.path.isfile(head.path("usr/lib/python3.9/site-packages/dnf-plugins/cluster.py"))
    assert os.path.isfile(head.path("etc/dnf/plugins/cluster.conf"))
    # and what publish builds cluster-site-release from
    assert os.path.isfile(head.path("usr/lib/python3.9/site-packages/dnf_plugin_cluster/head/templates/"
                                    "cluster-site-release.spec"))
    # the project's roles, where `dnf cluster-master publish` reads them by default, as
    # configuration the admin's edits survive upgrades in
    roles = sorted(n for n in os.listdir(os.path.join(REPO_ROOT, "roles")) if n.endswith(".yaml"))
    assert sorted(os.listdir(head.path("etc/cluster/roles"))) == roles
    for name in roles:
        with open(head.path("etc/cluster/roles/" + name)) as ours, \
                open(os.path.join(REPO_ROOT, "roles", name)) as source:
            assert ours.read() == source.read(), name
    flags = dict(line.split(" ", 1) for line in head.run(
        ["rpm", "--root", head.root, "-q", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\\n]",
         "python3-dnf-plugin-cluster"]).out.splitlines())
    for name in roles:
        assert set(flags["/etc/cluster/roles/" + name]) >= {"c", "n"}, name     # %config(noreplace)
    with open(head.path("usr/lib/sysusers.d/cluster-users.conf")) as handle:
        sysusers = handle.read()
    assert 'u slurm 450 "Slurm workload manager"' in sysusers and 'u munge 451' in sysusers


def test_dnf_install_cluster_node_installs_the_right_set_per_arch(node_factory):
    sets = {}
    for arch in ("x86_64", "aarch64"):
        node = node_factory("node-" + arch, arch)
        node.dnf("-y", "install", "cluster-node")
        sets[arch] = node.installed()
        assert sets[arch]["cluster-node"] == "0:1.0-1.el9." + arch
        assert "python3-dnf-plugin-cluster" in sets[arch] and "cluster-repo" not in sets[arch]
        # dnf 4 (EL): the dnf 4 plugin and versionlock come with the library
        assert "python3-dnf-plugin-cluster-dnf4" in sets[arch] and "python3-dnf-plugin-versionlock" in sets[arch]
        for name in ("slurm-slurmd", "slurm-pmi", "munge", "openmpi", "Lmod", "chrony", "nfs-utils"):
            assert sets[arch][name].endswith((arch, "noarch")), (arch, name)
        assert "slurm-slurmctld" not in sets[arch] and "openmpi-devel" not in sets[arch]
    assert "libpsm2" in sets["x86_64"]                  # x86_64-only fabric library
    assert "libpsm2" not in sets["aarch64"]


def test_mpi_flavour_is_an_alternative(node_factory):
    node = node_factory("mpich-node")
    node.dnf("-y", "install", "cluster-node", "cluster-mpi-mpich")
    installed = node.installed()
    assert "mpich" in installed and "cluster-mpi-mpich" in installed
    assert "openmpi" not in installed and "cluster-mpi-openmpi" not in installed


def test_app_metapackages_pull_mpi_builds(node_factory):
    node = node_factory("apps", "aarch64")
    node.dnf("-y", "install", "cluster-apps-md", "cluster-apps-bio")
    installed = node.installed()
    for name in ("gromacs-openmpi", "lammps-openmpi", "fftw-openmpi", "hdf5-openmpi", "ncbi-blast+", "openmpi"):
        assert name in installed, name


@pytest.mark.skipif(libcomps_iteration_crashes(), reason="this host's python3-libcomps crashes when a comps "
                    "list is iterated (Debian 13, libcomps PR #132), so `dnf group install` itself dies; "
                    "`dnf cluster-group install` does not use it (test_node.py)")
def test_dnf_group_install_cluster_master(node_factory):
    head = node_factory("group-head")
    head.dnf("-y", "group", "install", "cluster-master")
    installed = head.installed()
    assert "cluster-master" in installed                 # mandatory
    assert "ipmitool" in installed                       # default
    assert "cluster-mpi-mpich" not in installed          # optional
    assert "Cluster head node" in head.dnf("group", "list", "--installed").out
    groups = head.dnf("cluster-group", "list", "--json").json["groups"]
    assert [g["installed"] for g in groups if g["id"] == "cluster-master"] == [True]


def test_cluster_release_writes_a_working_repo_file(make_root, standin_el9, cluster_repo_el9):
    node = make_root("fresh")
    node.add_repo("base", "file://{}/$basearch".format(standin_el9))
    # the stable address at the top of the tree, as EPEL's epel-release-latest-9.noarch.rpm
    release = os.path.join(cluster_repo_el9, "cluster-release-latest-9.noarch.rpm")
    with open(release, "rb") as latest, open(os.path.join(
            cluster_repo_el9, "9", "x86_64", "Packages", "cluster-release-1-1.el9.noarch.rpm"), "rb") as built:
        assert latest.read() == built.read()
    node.dnf("-y", "install", release)
    with open(node.path("etc/yum.repos.d/cluster.repo")) as handle:
        repo = handle.read()
    assert "baseurl=file://{}/$releasever/$basearch/".format(cluster_repo_el9) in repo
    # nothing but the installed repo file (and the base) tells dnf where the cluster packages are
    node.dnf("-y", "install", "cluster-node")
    assert "cluster-node" in node.installed()
    assert "cluster" in node.dnf("-q", "repolist").out


def test_cluster_release_from_an_outdir_with_spaces_works(project, tmp_path, make_root, standin_el9):
    """OUTDIR with a space, a `$` and a comma: the default baseurl is percent-encoded,
    so dnf neither splits it nor expands `$x` in it."""
    from urllib.parse import quote
    from conftest import cluster_repo
    out = str(tmp_path / "out dir $x,y")
    cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    node = make_root("fresh")
    node.add_repo("base", "file://{}/$basearch".format(standin_el9))
    node.dnf("-y", "install", os.path.join(out, "9", "x86_64", "Packages", "cluster-release-1-1.el9.noarch.rpm"))
    with open(node.path("etc/yum.repos.d/cluster.repo")) as handle:
        repo = handle.read()
    assert "baseurl=file://{}/$releasever/$basearch/\n".format(quote(out)) in repo
    assert "%20" in repo and "%24x%2Cy" in repo
    node.dnf("-y", "install", "cluster-node")
    assert "cluster-node" in node.installed()
    repolist = node.dnf("repolist", "--enabled").out
    assert re.search(r"^cluster\s+Cluster packages 9 - x86_64", repolist, flags=re.M), repolist


DNF4_STACK = ("python3-dnf", "dnf4", "python3-dnf-plugin-cluster-dnf4", "python3-dnf-plugin-versionlock",
              "python3-dnf-plugins-core")


def test_a_dnf5_host_gets_no_dnf4_package(make_root, standin_for, cluster_repo_for):
    """Fedora 42 (dnf5): the library, dnf-cluster and the dnf5 plugin (where this host
    could build it) with a node's role install without any package of the dnf 4 stack."""
    out = cluster_repo_for("fc42")
    node = make_root("fc42-node", releasever="42")
    node.add_repo("base", "file://{}/$basearch".format(standin_for("fc42")))
    node.add_repo("cluster", "file://{}/$releasever/$basearch".format(out))
    names = ["cluster-node", "python3-dnf-plugin-cluster"]
    if [p for p in os.listdir(os.path.join(out, "42", "x86_64", "Packages")) if p.startswith("dnf5-plugin-cluster-")]:
        names.append("dnf5-plugin-cluster")
    node.dnf("-y", "install", *names)
    installed = node.installed()
    assert "python3-libdnf5" in installed and "cluster-node" in installed
    assert ("dnf5" in installed) == ("dnf5-plugin-cluster" in names)
    assert os.path.isfile(node.path("usr/bin/dnf-cluster"))
    assert [name for name in DNF4_STACK if name in installed] == []
    assert not os.path.exists(node.path("usr/lib/python3.13/site-packages/dnf-plugins/cluster.py"))
