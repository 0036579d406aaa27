"""The tools really run: NetPIPE built per MPI family (Fedora's layout: $MPI_BIN,
$MPI_SUFFIX, %_openmpi_load/%_mpich_load) and mbw, installed into a node root with real
dnf from the built repository, run from there; NetPIPE under the host's mpirun with 2
ranks for each family. The test world builds with Debian's compilers and MPI
(libopenmpi-dev, libmpich-dev) behind cluster_repo/mpi.py's shim of the macros.
The SRPMs rebuild with `rpmbuild --rebuild`."""
import glob
import os
import re
import subprocess

import pytest

from cluster_repo import mpi
from cluster_repo.targets import get_target

#: family -> (the host's mpirun, the library the binary must link, extra mpirun arguments)
FAMILIES = {
    "openmpi": ("mpirun.openmpi", "libmpi.so.40", ["--oversubscribe"]),
    "mpich": ("mpirun.mpich", "libmpich.so.12", []),
}
#: Open MPI refuses root unless told; the suite runs as root (dnf installroots)
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl": "self,vader"}


def need_family(family):
    if not mpi.debian_compiler(family) or not subprocess.run(["which", FAMILIES[family][0]],
                                                             stdout=subprocess.DEVNULL).returncode == 0:
        pytest.fail("the host lacks {} (mpicc.{} and {}): run tools/bootstrap, which installs "
                    "lib{}-dev".format(family, family, FAMILIES[family][0], family), pytrace=False)


@pytest.fixture(scope="module")
def node(tools_build, standin_el9, tmp_path_factory):
    """A node root with the stand-in base and the tools' repository; netpipe (both
    families) and mbw installed by real dnf."""
    from cluster_testkit.dnfroot import DnfRoot
    _, out = tools_build
    root = DnfRoot(str(tmp_path_factory.mktemp("mpi-node") / "node"), arch="x86_64", releasever="9")
    root.add_repo("base", "file://{}/$basearch".format(standin_el9))
    root.add_repo("cluster", "file://{}/$releasever/$basearch".format(out))
    root.dnf("-y", "install", "netpipe-openmpi", "netpipe-mpich", "mbw")
    return root


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_netpipe_runs_under_mpirun_with_two_ranks_per_family(node, family, tmp_path):
    need_family(family)
    mpirun, library, extra = FAMILIES[family]
    binary = node.path("usr/lib64/{0}/bin/NPmpi_{0}".format(family))
    assert os.access(binary, os.X_OK)
    rpm = subprocess.run(["rpm", "--root", node.path("/"), "--dbpath", "/var/lib/rpm", "-qf",
                          "/usr/lib64/{0}/bin/NPmpi_{0}".format(family)],
                         stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    assert rpm.startswith("netpipe-{}-3.7.2-1.el9".format(family)), rpm
    linked = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, universal_newlines=True).stdout
    assert library in linked, linked
    env = dict(os.environ, **MPI_ENV)
    proc = subprocess.run([mpirun, "-np", "2"] + extra + [binary, "-u", "1024", "-n", "3"], cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout
    # both ranks report in, then the ping-pong over every block size up to 1024 bytes
    assert re.search(r"^0: \S+", proc.stdout, re.M) and re.search(r"^1: \S+", proc.stdout, re.M), proc.stdout
    rows = re.findall(r"^\s*\d+:\s+(\d+) bytes\s+3 times -->\s+[\d.]+ Mbps in\s+[\d.]+ usec$", proc.stdout, re.M)
    assert rows and rows[0] == "1" and rows[-1] == "1027", proc.stdout
    assert os.path.isfile(str(tmp_path / "np.out"))             # NetPIPE's own result file


def test_mbw_runs_from_the_node_root(node):
    proc = subprocess.run([node.path("usr/bin/mbw"), "-n", "2", "-t", "0", "4"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert re.search(r"^AVG\s+Method: MEMCPY\s+Elapsed: [\d.]+\s+MiB: 4\.0+\s+Copy: [\d.]+ MiB/s$", proc.stdout,
                     re.M), proc.stdout


def test_the_mpi_subpackages_follow_fedoras_layout(tools_build):
    _, out = tools_build
    packages = os.path.join(out, "9", "x86_64", "Packages")
    for family in sorted(FAMILIES):
        rpm = os.path.join(packages, "netpipe-{}-3.7.2-1.el9.x86_64.rpm".format(family))
        query = subprocess.run(["rpm", "-qp", "-l", "--requires", rpm], stdout=subprocess.PIPE,
                               universal_newlines=True, check=True).stdout.splitlines()
        assert "/usr/lib64/{0}/bin/NPmpi_{0}".format(family) in query
        assert "{}(x86-64)".format(family) in query
    main = subprocess.run(["rpm", "-qpl", os.path.join(packages, "netpipe-3.7.2-1.el9.x86_64.rpm")],
                          stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    assert "/usr/bin/NPtcp" in main and not [f for f in main if "NPmpi" in f]


@pytest.mark.parametrize("name,made", [
    ("netpipe-3.7.2-1.el9.src.rpm", ["netpipe-3.7.2-1.el9.x86_64.rpm", "netpipe-mpich-3.7.2-1.el9.x86_64.rpm",
                                     "netpipe-openmpi-3.7.2-1.el9.x86_64.rpm"]),
    ("mbw-1.2.2-1.el9.src.rpm", ["mbw-1.2.2-1.el9.x86_64.rpm"]),
])
def test_the_srpm_rebuilds_with_rpmbuild(tools_build, tmp_path, name, made):
    """The SRPM is the product: it carries its verified tarball and rebuilds alone."""
    _, out = tools_build
    srpm = os.path.join(out, "9", "SRPMS", name)
    from cluster_repo.rpmbuild import host_macros
    defines = dict(get_target("el9").macros, **mpi.build_macros(str(tmp_path / "mpi")))
    defines.update(host_macros())
    defines["_topdir"] = str(tmp_path / "top")
    cmd = ["rpmbuild", "--rebuild", "--nodeps"]
    for key, value in sorted(defines.items()):
        cmd += ["--define", "{} {}".format(key, value)]
    proc = subprocess.run(cmd + [srpm], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    built = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "top" / "RPMS" / "*" / "*.rpm")))
    assert built == made


def test_a_family_the_host_lacks_is_built_without_it_with_a_note(tmp_path, monkeypatch, lookaside_cache):
    """No mpicc.mpich on the host: netpipe builds its Open MPI subpackage only, and the
    build says why netpipe-mpich is missing."""
    from cluster_repo.project import Project
    from cluster_repo.rpmbuild import rpmbuild
    from cluster_testkit import REPO_ROOT
    need_family("openmpi")
    real = mpi.debian_compiler
    monkeypatch.setattr(mpi, "debian_compiler", lambda family: None if family == "mpich" else real(family))
    notes = []
    macros = mpi.build_macros(str(tmp_path / "shim"), log=notes.append)
    assert macros["_without_mpich"] == "--without-mpich" and "_mpich_load" not in macros
    assert notes == ["MPI family mpich not built on this host: mpicc.mpich is missing (Debian: apt-get install "
                     "libmpich-dev)"]
    tool = Project(REPO_ROOT).tool("netpipe")
    srcdir = tmp_path / "src"
    srcdir.mkdir()
    for name, path in tool.verified_files(lookaside_cache).items():
        os.symlink(path, str(srcdir / name))
    written = rpmbuild(tool.spec, "-bb", rpmdir=str(tmp_path / "rpms"), sourcedir=str(srcdir),
                       defines=dict(get_target("el9").macros, **macros))
    assert sorted(os.path.basename(p) for p in written) == ["netpipe-3.7.2-1.el9.x86_64.rpm",
                                                             "netpipe-openmpi-3.7.2-1.el9.x86_64.rpm"]
