"""Tools from upstream sources in dist-git layout (specs/NAME/NAME.spec, `sources`,
patches beside the spec): lint, owners, the version gate and --update treat them as
every spec; bad `sources` lines and missing or altered tarballs stop everything."""
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from cluster_testkit import copy_project
from cluster_testkit.upstream import UPSTREAM_DIR, fill_lookaside
from conftest import cluster_repo, read, tree_snapshot, write
from cluster_repo import lookaside

MBW_TARBALL = "mbw_1.2.2.orig.tar.gz"


def error_lines(proc):
    return [line for line in proc.stderr.splitlines() if line.strip() and "problem(s)" not in line]


def test_a_tool_in_dist_git_layout_builds_an_srpm_carrying_its_verified_tarball(tools_build):
    project, out = tools_build
    srpm = os.path.join(out, "9", "SRPMS", "mbw-1.2.2-1.el9.src.rpm")
    listing = subprocess.run(["rpm", "-qpl", srpm], stdout=subprocess.PIPE, universal_newlines=True,
                             check=True).stdout.split()
    assert sorted(listing) == ["mbw.spec", MBW_TARBALL]
    rpm = os.path.join(out, "9", "x86_64", "Packages", "mbw-1.2.2-1.el9.x86_64.rpm")
    files = subprocess.run(["rpm", "-qpl", rpm], stdout=subprocess.PIPE, universal_newlines=True,
                           check=True).stdout.split()
    assert "/usr/bin/mbw" in files and "/usr/share/man/man1/mbw.1.gz" in files
    # the tarball inside the SRPM is the one its sources line names, byte for byte
    entry = lookaside.parse(os.path.join(project, "specs", "mbw", "sources"))[0]
    with open(os.path.join(UPSTREAM_DIR, MBW_TARBALL), "rb") as handle:
        assert hashlib.sha512(handle.read()).hexdigest() == entry.sha512
    owners = cluster_repo("-C", project, "owners", "mbw").stdout
    assert re.match(r"mbw\s+Cluster Packagers <cluster-packagers@example.org>", owners)


def _repack(src, dest):
    """The same upstream files in a tarball with other bytes (a new upstream release)."""
    with tarfile.open(src) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    with gzip.open(dest, "wb", compresslevel=1) as raw:
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for member, data in members:
                member.mtime += 1
                tar.addfile(member, None if data is None else io.BytesIO(data))


def _readme_patch(tmp_path, added):
    """A real patch (diff -u) adding a line to mbw's README."""
    work = tmp_path / "patch-work"
    shutil.rmtree(str(work), ignore_errors=True)
    work.mkdir()
    with tarfile.open(os.path.join(UPSTREAM_DIR, MBW_TARBALL)) as tar:
        readme = tar.extractfile("mbw-1.2.2/README").read().decode()
    first, rest = readme.split("\n", 1)
    write(str(work / "a"), readme)
    write(str(work / "b"), first + "\n" + added + "\n" + rest)
    diff = subprocess.run(["diff", "-u", "a", "b"], cwd=str(work), stdout=subprocess.PIPE,
                          universal_newlines=True).stdout
    return "--- a/README\n+++ b/README\n" + diff.split("\n", 2)[2]


def _bump_release(spec, release):
    write(spec, re.sub(r"^Release:.*$", "Release:        {}%{{?dist}}".format(release), read(spec), flags=re.M))


def test_update_rebuilds_a_tool_when_its_spec_patch_or_sources_line_changes(project, tmp_path, lookaside_cache):
    out = str(tmp_path / "out")
    first = cluster_repo("-C", project, "build", out, "--arch", "x86_64").stdout
    assert re.search(r"built mbw-1\.2\.2-1\.el9 \(x86_64\)", first)
    assert "unchanged" in cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update").stdout
    assert "built mbw" not in cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update").stdout
    tool = os.path.join(project, "specs", "mbw")
    spec = os.path.join(tool, "mbw.spec")

    # a patch beside the spec
    write(os.path.join(tool, "mbw-usage.patch"), _readme_patch(tmp_path, "Packaged by the cluster project."))
    text = read(spec).replace("BuildRequires:  gcc\n", "Patch0:         mbw-usage.patch\nBuildRequires:  gcc\n")
    write(spec, text)
    _bump_release(spec, 2)
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update")
    assert re.search(r"built mbw-1\.2\.2-2\.el9", proc.stdout)
    assert re.search(r"\b1 built, \d+ unchanged", proc.stdout)
    srpm = os.path.join(out, "9", "SRPMS", "mbw-1.2.2-2.el9.src.rpm")
    assert "mbw-usage.patch" in subprocess.run(["rpm", "-qpl", srpm], stdout=subprocess.PIPE,
                                               universal_newlines=True).stdout

    # the patch alone changes: the version gate wants a new release first
    write(os.path.join(tool, "mbw-usage.patch"), _readme_patch(tmp_path, "Built by the cluster project."))
    before = tree_snapshot(out)
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update", check=False)
    assert proc.returncode == 1 and len(error_lines(proc)) == 1
    assert "mbw changed but 1.2.2-2.el9 does not sort above the published 1.2.2-2.el9" in proc.stderr
    assert tree_snapshot(out) == before
    _bump_release(spec, 3)
    assert re.search(r"\b1 built", cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update").stdout)

    # a new tarball: only its sources line changes in the tree
    repacked = str(tmp_path / MBW_TARBALL)
    _repack(os.path.join(UPSTREAM_DIR, MBW_TARBALL), repacked)
    entry = lookaside.store(lookaside_cache, "mbw", repacked)
    lookaside.write(os.path.join(tool, "sources"), [entry])
    _bump_release(spec, 4)
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--update")
    assert re.search(r"built mbw-1\.2\.2-4\.el9", proc.stdout) and re.search(r"\b1 built", proc.stdout)
    assert "built cluster-" not in proc.stdout and "built dnf-plugin" not in proc.stdout


BAD_LINES = [
    ("malformed", "SHA512 ({}) = abc\n".format(MBW_TARBALL), r"sources:1: malformed sources line"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e  {}\n".format(MBW_TARBALL), r"sources:1: old md5 sources line"),
    ("dotdot", "SHA512 (../x) = {}\n".format("a" * 128), r"sources:1: '\.\./x' is not a plain file name"),
    ("absolute", "SHA512 (/etc/x) = {}\n".format("a" * 128), r"sources:1: '/etc/x' is not a plain file name"),
    ("twice", None, r"sources:2: 'mbw_1\.2\.2\.orig\.tar\.gz' is listed twice"),
]


@pytest.mark.parametrize("what,text,pattern", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_a_bad_sources_line_is_one_line_and_nothing_is_built(project, what, text, pattern):
    sources = os.path.join(project, "specs", "mbw", "sources")
    write(sources, text if text is not None else read(sources) * 2)
    out = os.path.join(project, "out")
    for command in (["lint"], ["build", out, "--arch", "x86_64"], ["sources", "mbw", "--cache", out + "-cache"]):
        proc = cluster_repo("-C", project, *command, check=False)
        lines = error_lines(proc)
        assert proc.returncode == 1 and len(lines) == 1, (command, proc.stderr)
        assert re.search(pattern, lines[0]) and "specs/mbw/sources" in lines[0], lines
        assert "Traceback" not in proc.stderr
    assert not os.path.exists(out) and not os.path.exists(out + "-cache")


def test_a_source_without_a_sources_line_is_refused(project):
    os.remove(os.path.join(project, "specs", "mbw", "sources"))
    out = os.path.join(project, "out")
    for command in (["lint"], ["build", out, "--arch", "x86_64"], ["sources", "mbw", "--cache", out + "-cache"]):
        proc = cluster_repo("-C", project, *command, check=False)
        lines = error_lines(proc)
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert re.search(r"specs/mbw/mbw\.spec:10: Source0 'mbw_1\.2\.2\.orig\.tar\.gz' is neither beside the "
                         r"spec nor listed in specs/mbw/sources: run `cluster-repo new-sources mbw FILE`", lines[0])
    assert not os.path.exists(out) and not os.path.exists(out + "-cache")


def test_a_tampered_or_missing_cached_tarball_stops_the_build(project, tmp_path):
    cache = fill_lookaside(str(tmp_path / "cache"), project)
    entry = lookaside.parse(os.path.join(project, "specs", "mbw", "sources"))[0]
    cached = lookaside.cache_path(cache, "mbw", entry)
    with open(cached, "ab") as handle:
        handle.write(b"tampered")
    out = str(tmp_path / "out")
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--cache", cache, check=False)
    lines = error_lines(proc)
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    actual = lookaside.sha512_file(cached)
    assert "{}: SHA512 mismatch: expected {}, got {}".format(MBW_TARBALL, entry.sha512, actual) in lines[0]
    assert not [f for f in tree_snapshot(out) if f.endswith(".rpm")]
    shutil.rmtree(os.path.join(cache, "mbw"))
    proc = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--cache", cache, check=False)
    lines = error_lines(proc)
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "{} is not in the lookaside cache {}: run `cluster-repo sources mbw`".format(MBW_TARBALL, cache) in lines[0]
    assert not [f for f in tree_snapshot(out) if f.endswith(".rpm")]
