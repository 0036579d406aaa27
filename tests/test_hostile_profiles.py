"""Hostile cluster profiles and role files against the real dnf: names that smuggle a
newline, epochs no integer type holds, JSON nested beyond any parser's stack, and a
compressed profile that expands past every limit. Each is refused with one line, exit 1,
and the node is left as it was."""
import json
import os
import sys

import pytest

from cluster_testkit.bomb import gzip_bomb, zstd_bomb
from cluster_testkit.repomd import put_packed
from dnf_plugin_cluster.head import publish, repodata

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
    ("a key twice", r"JSON: duplicate key 'roles'"),
    ("generation 10**300", r"generation: must be a whole number from 1 to 2147483647, not 1000000000\d*\.\.\."),
    ("an 8 MB version", r"pins\.htop: version '1111111111\d*\.\.\.' is 8000002 characters long \(at most 255\)"),
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
        # the last value silently won: a profile whose first `roles` a reviewer reads
        "a key twice": lambda: '{"roles": {}, ' + json.dumps(good)[1:],
        "generation 10**300": lambda: json.dumps(dict(good, generation=10 ** 300)),
        "an 8 MB version": lambda: with_compute(good, pins={"htop": "1" * 8000000 + "-1"}),
    }[case]()
    replace_profile(site, text)
    node = site.node("compute")
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        error = refused(node, *args)
        assert "invalid cluster profile" in error and re.search(message, error), error[:1000]
        assert len(error) < 300, error[:1000]


BIG = "x" * (8 * 1000 * 1000)


@pytest.mark.parametrize("case", ["unknown key", "role name", "arch", "pinned name", "package name", "format",
                                  "YAML key", "YAML tag", "YAML scalar tag", "conf role", "conf protected",
                                  "conf max_remove", "state key", "state format"])
def test_every_quoted_value_in_an_error_is_cut(tmp_path, case):
    """An 8 MB value made an 8 MB `Error:` line: each is quoted cut, with '...'."""
    from dnf_plugin_cluster import profile, yamlsrc
    from dnf_plugin_cluster.errors import ClusterError
    arches = {"x86_64": {"packages": ["htop"]}}
    role = {"description": "", "channel": "stable", "groups": [], "arches": arches}
    good = {"format": 1, "roles": {"compute": role}, "pins": {}}
    texts = {
        "unknown key": lambda: dict(good, **{BIG: 1}),
        "role name": lambda: dict(good, roles={BIG: role}),
        "arch": lambda: dict(good, roles={"compute": dict(role, arches={BIG: arches["x86_64"]})}),
        "pinned name": lambda: dict(good, pins={BIG: "1-1"}),
        "package name": lambda: dict(good, roles={"compute": dict(role, arches={"x86_64": {"packages": [BIG]}})}),
        "format": lambda: dict(good, format=BIG),
    }
    with pytest.raises(ClusterError) as err:
        if case == "YAML key":
            path = tmp_path / "compute.yaml"
            path.write_text("? {}\n: 1\n".format(BIG))        # a simple key stops at 1024
            profile.load_role(str(path))
        elif case == "YAML tag":
            yamlsrc.load("!{} [1]\n".format(BIG), "compute.yaml")
        elif case == "YAML scalar tag":                      # PyYAML's own message quotes it
            yamlsrc.load("summary: !{} 1\n".format(BIG), "compute.yaml")
        elif case.startswith("conf "):                       # cluster.conf holds at most 64 KB
            from dnf_plugin_cluster import nodeconf
            (tmp_path / "cluster.conf").write_text("[main]\n{} = {}\n".format(case[5:], "x" * 60000))
            nodeconf.read(None, [str(tmp_path)])
        elif case.startswith("state "):
            from dnf_plugin_cluster import state
            raise ClusterError(state.invalid({"format": BIG} if case == "state format" else {BIG: 1}))
        else:
            profile.loads(json.dumps(texts[case]()), "test")
    message = str(err.value)
    assert "xxxxxxxxxx...'" in message and len(message) < 300, message[:1000]


@pytest.mark.parametrize("what", ["role", "profile_repo"])
def test_a_name_in_cluster_conf_is_at_most_255_characters(tmp_path, what):
    """Names are letters, digits and ._+- up to 255 characters, in cluster.conf too."""
    from dnf_plugin_cluster import nodeconf
    from dnf_plugin_cluster.errors import ClusterError
    conf = tmp_path / "cluster.conf"
    conf.write_text("[main]\n{} = {}\n".format(what, "a" * 255))
    assert getattr(nodeconf.read(None, [str(tmp_path)]), what) == "a" * 255
    conf.write_text("[main]\n{} = {}\n".format(what, "a" * 256))
    with pytest.raises(ClusterError, match=r"cluster.conf: invalid {} 'a{{60}}\.\.\.': 256 characters long \(at most 255\)$".format(what)):
        nodeconf.read(None, [str(tmp_path)])


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


BOMBS = {
    # 1.2 MB of gzip that expands to 1.25 GB (the bomb cost every node 3.7 GB)
    "gzip": lambda: gzip_bomb(1250 * 1000 * 1000) + (".gz", "larger than 16777216 bytes when decompressed"),
    # 61 KB of zstd that expands to 2 GB, as `zstd -19` writes zeros (an 8 MiB window)
    "zstd": lambda: zstd_bomb(2 * 1000 ** 3, window_log=23) + (".zst", "larger than 16777216 bytes when decompressed"),
    # the same with a 128 MiB window (`zstd -19 --long=27`): it cost 111 MB
    "zstd --long=27": lambda: zstd_bomb(2 * 1000 ** 3, window_log=27) + (
        ".zst", "zstd window of 128 MiB is larger than 8 MiB"),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_compressed_bomb_profile_is_refused_in_bounded_memory(site, tmp_path, kind):
    """A small compressed profile that expands past a gigabyte is refused with one
    line, and the dnf process (with what it runs) never holds more than 100 MB."""
    bomb, expanded, suffix, message = BOMBS[kind]()
    assert len(bomb) < 1300 * 1000 and expanded > 1024 ** 3
    for md in publish.arch_repos(site.tree).values():
        put_packed(md, "cluster", publish.PROFILE_FILE + suffix, bomb, open_size=expanded)
    node = site.node("compute")
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        peak = str(tmp_path / "peak")
        result = node.run([sys.executable, "-c", PEAK_RSS, peak] + node.dnf_args(*args), check=False)
        assert result.rc == 1, result
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert len(errors) == 1 and "Traceback" not in result.err, result
        assert message in errors[0] and "refused" in errors[0], result
        with open(peak) as handle:
            kib = int(handle.read())
        assert kib < 100 * 1024, "peak RSS {} MiB".format(kib // 1024)
    assert node.installed() == {}
