"""`cluster-repo sources` and `new-sources` against a real HTTP server on 127.0.0.1:
Source URLs and lookaside mirrors, SHA512 verified before use, resumed downloads, size
bound, timeout, URL schemes; `build` reads only what was verified."""
import os
import re
import shutil

import pytest

from cluster_testkit.rangeserver import RangeServer
from cluster_testkit.upstream import UPSTREAM_DIR, fill_lookaside
from conftest import cluster_repo, on_a_terminal, read, write
from cluster_repo import lookaside

TARBALL = "mbw_1.2.2.orig.tar.gz"
TARBALLS = {"mbw": TARBALL, "netpipe": "netpipe_3.7.2.orig.tar.gz"}


def errors(proc):
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.fixture
def server(tmp_path):
    """Upstream's release directory, served with Range support; stopped after the test."""
    www = tmp_path / "www"
    www.mkdir()
    for name in TARBALLS.values():
        shutil.copy(os.path.join(UPSTREAM_DIR, name), str(www))
    srv = RangeServer(str(www)).start()
    try:
        yield srv
    finally:
        srv.stop()


def point_source_at(project, url):
    """Every tool's Source0 at `url` (the tests never reach upstream's real addresses)."""
    for tool in TARBALLS:
        spec = os.path.join(project, "specs", tool, tool + ".spec")
        write(spec, re.sub(r"^Source0:.*$", "Source0:        {}/{}_%{{version}}.orig.tar.gz".format(url, tool),
                           read(spec), flags=re.M))


def entry(project):
    return lookaside.parse(os.path.join(project, "specs", "mbw", "sources"))[0]


def test_sources_fetches_from_the_source_url_verifies_and_skips_what_is_cached(project, tmp_path, server):
    point_source_at(project, server.url)
    cache = str(tmp_path / "cache")
    proc = cluster_repo("-C", project, "sources", "--cache", cache, "-j", "2")    # both side by side
    assert "sources: 2 fetched, 0 already verified" in proc.stdout
    assert "\r" not in proc.stderr + proc.stdout            # no progress off a terminal
    cached = lookaside.cache_path(cache, "mbw", entry(project))
    assert lookaside.sha512_file(cached) == entry(project).sha512
    assert sorted(path for path, _ in server.requests) == sorted("/" + t for t in TARBALLS.values())
    again = cluster_repo("-C", project, "sources", "mbw", "--cache", cache)
    assert "sources: 0 fetched, 1 already verified" in again.stdout
    again = cluster_repo("-C", project, "sources", "--cache", cache)
    assert "sources: 0 fetched, 2 already verified" in again.stdout
    assert len(server.requests) == 2
    # what was verified builds, from the cache alone
    out = str(tmp_path / "out")
    build = cluster_repo("-C", project, "build", out, "--arch", "x86_64", "--cache", cache)
    assert re.search(r"built mbw-1\.2\.2-1\.el9 \(x86_64\)", build.stdout)
    assert len(server.requests) == 2


def test_sources_from_a_lookaside_mirror(project, tmp_path, server):
    mirror = fill_lookaside(os.path.join(server.directory, "repo", "pkgs"), project)
    cache = str(tmp_path / "cache")
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", cache, "--lookaside", server.url + "/repo/pkgs")
    assert "1 fetched" in proc.stdout
    sha = entry(project).sha512
    assert [path for path, _ in server.requests] == [
        "/repo/pkgs/mbw/{0}/sha512/{1}/{0}".format(TARBALL, sha)]
    # a local directory serves as well
    cache2 = str(tmp_path / "cache2")
    assert "2 fetched" in cluster_repo("-C", project, "sources", "--cache", cache2, "--lookaside", mirror).stdout


def test_an_interrupted_download_resumes_with_a_range_request(project, tmp_path, server):
    point_source_at(project, server.url)
    cache = str(tmp_path / "cache")
    size = os.path.getsize(os.path.join(UPSTREAM_DIR, TARBALL))
    server.cut[TARBALL] = 1000
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", cache, check=False)
    assert proc.returncode == 1 and len(errors(proc)) == 1, proc.stderr
    assert "{}: the connection closed after 1000 of {} bytes (run again to resume)".format(TARBALL, size) \
        in errors(proc)[0]
    final = lookaside.cache_path(cache, "mbw", entry(project))
    assert not os.path.exists(final) and os.path.getsize(final + ".part") == 1000
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", cache)
    assert server.requests[-1] == ("/" + TARBALL, "bytes=1000-")
    assert lookaside.sha512_file(final) == entry(project).sha512 and not os.path.exists(final + ".part")


def test_a_server_ignoring_range_restarts_the_file(project, tmp_path, server):
    point_source_at(project, server.url)
    server.ranges = False
    cache = str(tmp_path / "cache")
    server.cut[TARBALL] = 1000
    cluster_repo("-C", project, "sources", "mbw", "--cache", cache, check=False)
    cluster_repo("-C", project, "sources", "mbw", "--cache", cache)
    final = lookaside.cache_path(cache, "mbw", entry(project))
    assert lookaside.sha512_file(final) == entry(project).sha512


def test_a_tampered_tarball_is_refused_naming_expected_and_actual(project, tmp_path, server):
    point_source_at(project, server.url)
    with open(os.path.join(server.directory, TARBALL), "ab") as handle:
        handle.write(b"tampered")
    actual = lookaside.sha512_file(os.path.join(server.directory, TARBALL))
    cache = str(tmp_path / "cache")
    for _ in range(2):                  # nothing of it is kept to resume from
        proc = cluster_repo("-C", project, "sources", "mbw", "--cache", cache, check=False)
        assert proc.returncode == 1 and len(errors(proc)) == 1, proc.stderr
        assert "specs/mbw/sources:1: {}: SHA512 mismatch: expected {}, got {}".format(
            TARBALL, entry(project).sha512, actual) in errors(proc)[0]
        assert "Traceback" not in proc.stderr
    assert not [f for _, _, files in os.walk(cache) for f in files]
    assert [r for _, r in server.requests] == [None, None]


@pytest.mark.parametrize("no_length", [False, True], ids=["announced", "streamed"])
def test_a_download_over_its_size_bound_is_refused(project, tmp_path, server, no_length):
    point_source_at(project, server.url)
    if no_length:
        server.no_length.add(TARBALL)
    cache = str(tmp_path / "cache")
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", cache, "--max-size", "1024", check=False)
    assert proc.returncode == 1 and len(errors(proc)) == 1, proc.stderr
    assert re.search(r"{}: .*exceeds? the size bound of 1024 bytes \(--max-size\)".format(re.escape(TARBALL)),
                     errors(proc)[0])
    assert not os.path.exists(lookaside.cache_path(cache, "mbw", entry(project)))


def test_a_silent_server_times_out(project, tmp_path, server):
    point_source_at(project, server.url)
    server.stall.add(TARBALL)
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", str(tmp_path / "cache"), "--timeout", "1",
                        check=False)
    assert proc.returncode == 1 and len(errors(proc)) == 1, proc.stderr
    assert "{}: download timed out after 1 s without data".format(TARBALL) in errors(proc)[0]


@pytest.mark.parametrize("url", ["ftp://ftp.example.org/pub", "scp://host/x"])
def test_an_unsupported_url_scheme_is_refused(project, tmp_path, url):
    point_source_at(project, url)
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", str(tmp_path / "cache"), check=False)
    assert proc.returncode == 1 and len(errors(proc)) == 1, proc.stderr
    assert "unsupported URL scheme '{}'".format(url.split(":")[0]) in errors(proc)[0]
    proc = cluster_repo("-C", project, "sources", "mbw", "--cache", str(tmp_path / "cache"), "--lookaside",
                        "gopher://mirror/pkgs", check=False)
    assert proc.returncode == 1 and "unsupported URL scheme 'gopher'" in errors(proc)[0]


def test_new_sources_writes_the_lines_fedpkg_writes(project, tmp_path):
    tarball = str(tmp_path / "mbw_1.2.3.tar.gz")
    shutil.copy(os.path.join(UPSTREAM_DIR, TARBALL), tarball)
    cache = str(tmp_path / "cache")
    proc = cluster_repo("-C", project, "new-sources", "mbw", tarball, "--cache", cache)
    sha = lookaside.sha512_file(tarball)
    line = "SHA512 (mbw_1.2.3.tar.gz) = {}".format(sha)
    assert proc.stdout.strip() == line
    assert read(os.path.join(project, "specs", "mbw", "sources")) == line + "\n"
    assert os.path.isfile(os.path.join(cache, "mbw", "mbw_1.2.3.tar.gz", "sha512", sha, "mbw_1.2.3.tar.gz"))
    # lint now says the spec's Source has no line, and the new line no Source
    lint = cluster_repo("-C", project, "lint", check=False)
    assert lint.returncode == 1 and "'mbw_1.2.3.tar.gz' is named by no Source of mbw.spec" in lint.stderr
    bad = cluster_repo("-C", project, "new-sources", "nosuchtool", tarball, check=False)
    assert bad.returncode == 1 and errors(bad) == [
        "cluster-repo: error: no tool named 'nosuchtool' (a tool is specs/NAME/NAME.spec)"]


def test_progress_shows_on_a_terminal(project, tmp_path, server):
    """On a terminal each file's progress is one line rewritten in place (quiet otherwise:
    the first test)."""
    import sys
    from cluster_testkit import REPO_ROOT
    point_source_at(project, server.url)
    code, output = on_a_terminal([sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo"), "-C", project,
                                  "sources", "mbw", "--cache", str(tmp_path / "cache")], timeout=120)
    assert code == 0, output
    assert "\r\x1b[K{}: 0.0/0.0 MiB".format(TARBALL).encode() in output
    assert "\r\x1b[K{}: done".format(TARBALL).encode() in output


def test_verbose_names_each_url_and_quiet_only_errors(project, tmp_path, server):
    """-v: the URL of each download and each file already verified; -q: nothing but
    errors, which go to stderr at every level."""
    point_source_at(project, server.url)
    cache = str(tmp_path / "cache")
    loud = cluster_repo("-C", project, "-v", "sources", "mbw", "--cache", cache)
    assert "cluster-repo: fetching {} (mbw) from {}/{}\n".format(TARBALL, server.url, TARBALL) in loud.stdout
    assert "sources: 1 fetched, 0 already verified" in loud.stdout
    again = cluster_repo("-C", project, "-v", "sources", "mbw", "--cache", cache)
    assert "cluster-repo: already verified in the cache: {} (mbw)\n".format(TARBALL) in again.stdout
    assert "already verified in the cache" not in cluster_repo("-C", project, "sources", "mbw", "--cache", cache).stdout
    quiet = cluster_repo("-C", project, "-q", "sources", "--cache", cache)
    assert quiet.stdout == "" and quiet.stderr == ""
    assert len(os.listdir(os.path.join(cache, "netpipe"))) == 1        # it still did its work
    bad = cluster_repo("-C", project, "-q", "sources", "nosuchtool", "--cache", cache, check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == "cluster-repo: error: no tool named 'nosuchtool' (a tool is specs/NAME/NAME.spec)\n"
