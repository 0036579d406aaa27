"""Hostile cluster profiles and role files against the real dnf: names that smuggle a
newline, epochs no integer type holds, JSON nested beyond any parser's stack, and a
compressed profile that expands past every limit. Each is refused with one line, exit 1,
and the node is left as it was."""
import json
import os
import sys

import pytest

from cluster_testkit.bomb import gzip_bomb
from cluster_testkit.repomd import put_packed
from dnf_plugin_cluster import publish, repodata

#: Runs one command and writes the peak RSS (KiB) of it and what it waited for: only
#: that command counts, not the test process or other children.
PEAK_RSS = ("import resource, subprocess, sys\n"
            "rc = subprocess.call(sys.argv[2:])\n"
            "with open(sys.argv[1], 'w') as out:\n"
            "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
            "sys.exit(rc)\n")


def replace_profile(site, text):
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, text.encode())


def refused(node, *args):
    """Run dnf; it must fail with exactly one `Error:` line, no traceback, nothing done."""
    result = node.dnf(*args, check=False)
    assert result.rc == 1, result
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.err, result
    assert node.installed() == {} and not os.path.exists(node.path("var/lib/dnf/cluster/state.json"))
    return errors[0]


def with_compute(good, packages=None, pins=None):
    bad = json.loads(json.dumps(good))
    if packages is not None:
        bad["roles"]["compute"]["arches"]["x86_64"]["packages"] = packages
    if pins is not None:
        bad["pins"] = pins
    return json.dumps(bad)


@pytest.mark.parametrize("case,message", [
    ("newline in a package name", r"invalid name 'htop\\n'"),
    ("newline in a pinned name", r"invalid package name 'htop\\n'"),
    ("newline in a pin", r"invalid version '3.3.0-1.el9\\n'"),
    ("epoch past 32 bits", "epoch 99999999999999999999 is out of range"),
    ("nested 100000 deep", "nested too deeply"),
])
def test_hostile_profile_is_one_line(site, case, message):
    import re
    good = publish.current(site.tree)
    text = {
        "newline in a package name": lambda: with_compute(good, packages=["htop\n"]),
        "newline in a pinned name": lambda: with_compute(good, pins={"htop\n": "3.3.0-1.el9"}),
        "newline in a pin": lambda: with_compute(good, pins={"htop": "3.3.0-1.el9\n"}),
        "epoch past 32 bits": lambda: with_compute(good, pins={"htop": "99999999999999999999:3.3.0-1.el9"}),
        "nested 100000 deep": lambda: "[" * 100000 + "]" * 100000,
    }[case]()
    replace_profile(site, text)
    node = site.node("compute")
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        error = refused(node, *args)
        assert "invalid cluster profile" in error and re.search(message, error), error


def test_role_file_names_with_a_newline_are_refused(site):
    path = os.path.join(site.roles, "compute.yaml")
    with open(path, "a") as handle:
        handle.write('arch:\n  x86_64: {packages: ["tmux\\n"]}\n')
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             check=False)
    assert result.rc == 1
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and "compute.yaml:6: packages: invalid package name 'tmux\\n'" in errors[0], result


def test_role_file_nested_600_deep_names_file_and_line(site):
    """PyYAML composes recursively: a role nested 600 deep ended in `unexpected
    RecursionError` without naming the file."""
    path = os.path.join(site.roles, "compute.yaml")
    with open(path, "a") as handle:
        handle.write("arch:\n  x86_64: {packages: " + "[" * 600 + "]" * 600 + "}\n")
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             check=False)
    assert result.rc == 1
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.err, result
    assert "compute.yaml:6: invalid YAML: nested more than 64 deep" in errors[0], result


def test_gzip_bomb_profile_is_refused_in_bounded_memory(site, tmp_path):
    """1.2 MB of gzip that expands to 1.25 GB (the issue's bomb cost every node 3.7 GB):
    refused with one line once 16 MB are decompressed, and the dnf process never
    holds more than 100 MB."""
    bomb, expanded = gzip_bomb(1250 * 1000 * 1000)
    assert len(bomb) < 1300 * 1000 and expanded > 1024 ** 3
    for md in publish.arch_repos(site.tree).values():
        put_packed(md, "cluster", publish.PROFILE_FILE + ".gz", bomb, open_size=expanded)
    node = site.node("compute")
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        peak = str(tmp_path / "peak")
        result = node.run([sys.executable, "-c", PEAK_RSS, peak] + node.dnf_args(*args), check=False)
        assert result.rc == 1, result
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert len(errors) == 1 and "Traceback" not in result.err, result
        assert "larger than 16777216 bytes when decompressed; refused" in errors[0], result
        with open(peak) as handle:
            kib = int(handle.read())
        assert kib < 100 * 1024, "peak RSS {} MiB".format(kib // 1024)
    assert node.installed() == {}
