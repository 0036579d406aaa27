"""`cluster-repo bump NAME VERSION`: the owner's update of a tool from a new upstream
tarball (served over HTTP on 127.0.0.1), then `build --update` rebuilds that tool only."""
import datetime
import io
import os
import re
import subprocess
import tarfile

import pytest

from cluster_testkit.rangeserver import RangeServer
from cluster_testkit.upstream import UPSTREAM_DIR
from conftest import cluster_repo
from cluster_repo import changelog, lookaside
from test_sources import point_source_at, read

NEW = "mbw_1.2.3.orig.tar.gz"


def release_tarball(dest):
    """mbw 1.2.2's files as upstream would release 1.2.3 (top directory mbw-1.2.3)."""
    with tarfile.open(os.path.join(UPSTREAM_DIR, "mbw_1.2.2.orig.tar.gz")) as old:
        members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]
    with tarfile.open(dest, "w:gz") as tar:
        for member, data in members:
            member.name = member.name.replace("mbw-1.2.2", "mbw-1.2.3", 1)
            tar.addfile(member, None if data is None else io.BytesIO(data))
    return dest


@pytest.fixture
def upstream(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    release_tarball(str(www / NEW))
    srv = RangeServer(str(www)).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_bump_fetches_the_new_tarball_and_update_rebuilds_only_that_tool(project, tmp_path, upstream,
                                                                         lookaside_cache):
    point_source_at(project, upstream.url)
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    proc = cluster_repo("-C", project, "bump", "mbw", "1.2.3", "--comment", "New upstream release 1.2.3")
    sha = lookaside.sha512_file(os.path.join(upstream.directory, NEW))
    line = "SHA512 ({}) = {}".format(NEW, sha)
    assert proc.stdout.splitlines()[0] == line
    tool = os.path.join(project, "specs", "mbw")
    assert read(os.path.join(tool, "sources")) == line + "\n"
    spec = read(os.path.join(tool, "mbw.spec"))
    assert re.search(r"^Version:\s+1\.2\.3$", spec, re.M) and re.search(r"^Release:\s+1%\{\?dist\}$", spec, re.M)
    today = changelog.Entry(datetime.datetime.utcnow().date(), "x", "1-1", []).render().split(" x ")[0]
    assert ("%changelog\n{} Cluster Packagers <cluster-packagers@example.org> - 1.2.3-1\n"
            "- New upstream release 1.2.3\n\n* Mon Dec 07 2026".format(today)) in spec
    assert os.path.isfile(lookaside.cache_path(lookaside_cache, "mbw", lookaside.Entry(NEW, sha)))
    build = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update")
    assert re.search(r"built mbw-1\.2\.3-1\.el9 \(x86_64\)", build.stdout)
    assert re.search(r"\b1 built, \d+ unchanged", build.stdout), build.stdout
    packages = os.path.join(out, "9", "x86_64", "Packages")
    assert {"mbw-1.2.2-1.el9.x86_64.rpm", "mbw-1.2.3-1.el9.x86_64.rpm"} <= set(os.listdir(packages))


@pytest.mark.parametrize("version,pattern", [
    ("1.2.2", r"mbw\.spec:5: 1\.2\.2 does not sort above the spec's Version 1\.2\.2"),
    ("1.0", r"mbw\.spec:5: 1\.0 does not sort above the spec's Version 1\.2\.2"),
    ("1.3 beta", r"'1\.3 beta' is not an rpm version"),
    ("1.2.4", r"mbw_1\.2\.4\.orig\.tar\.gz: download failed: HTTP 404"),
])
def test_a_bump_that_cannot_happen_changes_nothing(project, upstream, version, pattern):
    point_source_at(project, upstream.url)
    tool = os.path.join(project, "specs", "mbw")
    before = (read(os.path.join(tool, "mbw.spec")), read(os.path.join(tool, "sources")), sorted(os.listdir(tool)))
    proc = cluster_repo("-C", project, "bump", "mbw", version, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert (read(os.path.join(tool, "mbw.spec")), read(os.path.join(tool, "sources")),
            sorted(os.listdir(tool))) == before


def test_new_writes_a_skeleton_that_lints_and_builds(project, tmp_path, upstream, lookaside_cache):
    """`cluster-repo new` from a real tarball (plain make), and with --mpi once per family."""
    proc = cluster_repo("-C", project, "new", "memband", "--url", upstream.url + "/" + NEW,
                        "--owner", "Jane Doe <jane@example.org>")
    assert "(make build)" in proc.stdout
    spec = read(os.path.join(project, "specs", "memband", "memband.spec"))
    assert spec.startswith("# Owners: Jane Doe <jane@example.org>\n")
    assert re.search(r"^Version:\s+1\.2\.3$", spec, re.M)
    assert re.search(r"^Source0:\s+{}/mbw_%{{version}}\.orig\.tar\.gz$".format(re.escape(upstream.url)), spec, re.M)
    assert "%autosetup -p1 -n mbw-%{version}" in spec
    sha = lookaside.sha512_file(os.path.join(upstream.directory, NEW))
    assert read(os.path.join(project, "specs", "memband", "sources")) == "SHA512 ({}) = {}\n".format(NEW, sha)
    mpi = cluster_repo("-C", project, "new", "memband-mpi", "--mpi", "--url", upstream.url + "/" + NEW)
    assert "per MPI family" in mpi.stdout
    assert "%{_openmpi_load}" in read(os.path.join(project, "specs", "memband-mpi", "memband-mpi.spec"))
    cluster_repo("-C", project, "lint")
    assert cluster_repo("-C", project, "owners", "memband").stdout.split(None, 1)[1].strip() == \
        "Jane Doe <jane@example.org>"
    out = str(tmp_path / "out")
    build = cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    assert "built memband-1.2.3-1.el9 (x86_64)" in build.stdout
    packages = os.path.join(out, "9", "x86_64", "Packages")
    listing = subprocess.run(
        ["rpm", "-qpl"] + [os.path.join(packages, "memband-1.2.3-1.el9.x86_64.rpm"),
                           os.path.join(packages, "memband-mpi-openmpi-1.2.3-1.el9.x86_64.rpm"),
                           os.path.join(packages, "memband-mpi-mpich-1.2.3-1.el9.x86_64.rpm")],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    assert {"/usr/bin/mbw", "/usr/lib64/openmpi/bin/mbw_openmpi", "/usr/lib64/mpich/bin/mbw_mpich"} <= set(listing)
    again = cluster_repo("-C", project, "new", "memband", "--url", upstream.url + "/" + NEW, check=False)
    assert again.returncode == 1 and "specs/memband already exists" in again.stderr
