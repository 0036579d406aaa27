"""The benchmark command keeps working: `python -m bench --smoke` runs every figure
(the seventh in the dnf5 test world's sid chroot) on tiny sizes with one run each, and
`--only 9` the tools figure alone and `--only 10` the fleet's no-op fast path alone
(figure 11, the fleet of simulated nodes, runs with 10 and 30 of them).
Timings are printed by the benchmark, never asserted."""
import re
import subprocess
import sys

from cluster_testkit import REPO_ROOT


def bench_smoke(tmp_path, *options):
    """(the process, the figure number of each row it printed) of `python -m bench
    --smoke OPTIONS`, its work and cache under tmp_path; it must succeed."""
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke"] + list(options) +
                          ["--workdir", str(tmp_path / "work"), "--cache-dir", str(tmp_path / "cache")],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    return proc, [line.split()[0] for line in proc.stdout.splitlines() if line[:1].isdigit()]


def test_bench_smoke_prints_every_figure(tmp_path):
    proc, rows = bench_smoke(tmp_path)
    assert rows == sorted(rows, key=int), proc.stdout
    assert sorted(set(rows), key=int) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"], proc.stdout
    assert rows.count("3") == 2 and rows.count("4") == 2 and rows.count("7") == 6 and rows.count("9") == 2
    assert rows.count("10") == 4 and rows.count("11") == 2
    fetched = [l for l in proc.stdout.splitlines() if "files a no-op sync fetches" in l]
    assert len(fetched) == 2 and all(re.search(r"repomd\.xml only +met", l) for l in fetched)     # dnf 4 and dnf5
    rebuilt = [l for l in proc.stdout.splitlines() if "`build --update` after one change" in l][0]
    assert "1 spec(s) rebuilt" in rebuilt
    per_node = [l for l in proc.stdout.splitlines() if "fleet status, seconds per node" in l][0]
    assert "2 nodes:" in per_node and "4 nodes:" in per_node
    locked = [l for l in proc.stdout.splitlines() if "lock resolution: `publish --lock` of 4 roles" in l][0]
    assert re.search(r"locked: compute \d+, gpu \d+, login \d+, master \d+", locked), locked
    changed = [l for l in proc.stdout.splitlines() if "fetched after a profile-only change" in l][0]
    assert re.search(r"<= 10 kB +met ", changed), changed
    assert_figure_9(proc.stdout, 3)
    assert_figure_10(proc.stdout, 4)
    simulated = [l for l in proc.stdout.splitlines() if "fleet status of 30 simulated nodes" in l]
    assert len(simulated) == 1 and "10 nodes: " in simulated[0] and "30 nodes: " in simulated[0], proc.stdout
    assert len([l for l in proc.stdout.splitlines() if "head node's peak memory, 30 simulated nodes" in l]) == 1


def assert_figure_10(out, nodes):
    """Both node commands: the fleet's default `dnf-cluster -q node`, and `dnf -q cluster-node`."""
    for how in ("`dnf-cluster -q node`", "`dnf -q cluster-node`"):
        fleet = [l for l in out.splitlines() if "fleet status of {} nodes in sync through {} (fast path)".format(
            nodes, how) in l]
        assert len(fleet) == 1, out
        assert "answered by the fast path: {0} of {0} nodes ({0} with --full: all full)".format(nodes) in fleet[0]
        assert re.search(r"the head's own part \(fleet status of one node less its answer\): -?\d+\.\d\ds", fleet[0])
        assert len([l for l in out.splitlines() if "one node's status through {} (fast path)".format(how) in l]) == 1


def assert_figure_9(out, tools):
    sources = [l for l in out.splitlines() if "`cluster-repo sources` of {} cached, verified tarballs".format(tools)
               in l]
    assert len(sources) == 1 and "<= 1.5x" in sources[0], out
    bumped = [l for l in out.splitlines() if "`build --update` after one tool's `bump`" in l][0]
    assert re.search(r"1 spec\(s\) rebuilt \(bench-tool-\d\d\)", bumped) and " met " in bumped, bumped


def test_bench_figure_9_alone_sets_up_no_site(tmp_path):
    """`--only 9`: the tools figure by itself (no site, no dnf roots): the sources row
    and the bump row, which rebuilt the bumped tool only."""
    proc, rows = bench_smoke(tmp_path, "--only", "9")
    assert rows == ["9", "9"], proc.stdout
    assert "stand-in base" not in proc.stderr
    assert_figure_9(proc.stdout, 3)


def test_bench_figure_10_alone(tmp_path):
    """`--only 10`: the fleet's no-op fast path by itself: fleet status of the largest
    fleet size (4 with --smoke) of nodes in sync, every node answering by its fast path,
    and by its full path with --full, through either node command."""
    proc, rows = bench_smoke(tmp_path, "--only", "10")
    assert rows == ["10"] * 4, proc.stdout
    assert_figure_10(proc.stdout, 4)
