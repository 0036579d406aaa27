"""The benchmark command keeps working: `python -m bench --smoke` runs every figure
(the seventh in the dnf5 test world's sid chroot) on tiny sizes with one run each, and
`--only 9` the tools figure alone.
Timings are printed by the benchmark, never asserted."""
import re
import subprocess
import sys

from cluster_testkit import REPO_ROOT


def test_bench_smoke_prints_every_figure(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--workdir", str(tmp_path / "work"),
                           "--cache-dir", str(tmp_path / "cache")],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[0] for line in proc.stdout.splitlines() if line[:1].isdigit()]
    assert sorted(set(rows)) == ["1", "2", "3", "4", "5", "6", "7", "8", "9"], proc.stdout
    assert rows.count("3") == 2 and rows.count("4") == 2 and rows.count("7") == 6 and rows.count("9") == 2
    fetched = [l for l in proc.stdout.splitlines() if "files a no-op sync fetches" in l]
    assert len(fetched) == 2 and all("repomd.xml only  met" in l for l in fetched)     # dnf 4 and dnf5
    rebuilt = [l for l in proc.stdout.splitlines() if "`build --update` after one change" in l][0]
    assert "1 spec(s) rebuilt" in rebuilt
    per_node = [l for l in proc.stdout.splitlines() if "fleet status, seconds per node" in l][0]
    assert "2 nodes:" in per_node and "4 nodes:" in per_node
    locked = [l for l in proc.stdout.splitlines() if "lock resolution: `publish --lock` of 4 roles" in l][0]
    assert re.search(r"locked: compute \d+, gpu \d+, login \d+, master \d+", locked), locked
    changed = [l for l in proc.stdout.splitlines() if "fetched after a profile-only change" in l][0]
    assert re.search(r"<= 10 kB +met ", changed), changed
    assert_figure_9(proc.stdout, 3)


def assert_figure_9(out, tools):
    sources = [l for l in out.splitlines() if "`cluster-repo sources` of {} cached, verified tarballs".format(tools)
               in l]
    assert len(sources) == 1 and "<= 1.5x" in sources[0], out
    bumped = [l for l in out.splitlines() if "`build --update` after one tool's `bump`" in l][0]
    assert re.search(r"1 spec\(s\) rebuilt \(bench-tool-\d\d\)", bumped) and " met " in bumped, bumped


def test_bench_figure_9_alone_sets_up_no_site(tmp_path):
    """`--only 9`: the tools figure by itself (no site, no dnf roots): the sources row
    and the bump row, which rebuilt the bumped tool only."""
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--only", "9", "--workdir",
                           str(tmp_path / "work"), "--cache-dir", str(tmp_path / "cache")],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[0] for line in proc.stdout.splitlines() if line[:1].isdigit()]
    assert rows == ["9", "9"], proc.stdout
    assert "stand-in base" not in proc.stderr
    assert_figure_9(proc.stdout, 3)
