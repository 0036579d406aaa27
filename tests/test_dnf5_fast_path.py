"""The no-op fast path on dnf5 hosts (issue 24; test_fast_path.py on dnf 4): in the sid
chroot, `dnf-cluster node status|sync` and `dnf5 cluster-node` answer an unchanged node
from the record of its last verification in sync before libdnf5 is even imported (the
proof read from files, fast5.py); every event that could change the verdict takes the
full path, and the fast answer is always the full one (checked against `--full` after
every event, also in seeded random sequences of events)."""
import json
import os
import random
import shutil

import pytest

from cluster_testkit.dnf5root import WORK
from test_dnf5 import make_node, plugin, standalone, world  # noqa: F401 (fixtures)
from cluster_testkit.fastevents import (FLOOR, base_rpms, comparable, ev_base_repo, ev_cluster_conf, ev_profile,
                                        make_latest, random_sequence, recorded as recorded_by, verdict as verdict_of)

pytestmark = pytest.mark.slow

#: a libdnf5 that cannot be imported, found first on PYTHONPATH: what answers with it
#: never imported libdnf5
NO_LIBDNF5 = WORK + "/no-libdnf5"


def without_libdnf5(node):
    os.makedirs(node.world.host_path(NO_LIBDNF5 + "/libdnf5"), exist_ok=True)
    with open(node.world.host_path(NO_LIBDNF5 + "/libdnf5/__init__.py"), "w") as handle:
        handle.write('raise ImportError("libdnf5 was imported")\n')
    return {"PYTHONPATH": NO_LIBDNF5}


def answer(node, *extra, **kwargs):
    door = kwargs.pop("door", standalone)
    res = door(node, "status", "--json", *extra, check=False, **kwargs)
    assert res.rc in (0, 100), res
    return res.rc, res.json


def verdict(node):
    """(rc, answer, path) of a status, checked against the full path's answer."""
    return verdict_of(lambda *extra: answer(node, *extra))


def recorded(node):
    return recorded_by(lambda *extra: answer(node, *extra))


def synced(make_node, name="node"):
    node = make_node(name)
    standalone(node, "-y", "sync")
    first = standalone(node, "status", "--json")            # full: records the verification
    assert first.json["path"] == "full" and first.rc == 0
    return node


def plugin_env(node, extra):
    return dict(node.env(), **extra)


def test_dnf5_unchanged_node_answers_fast_without_libdnf5(site, make_node):
    node = synced(make_node)
    rc, data, path = verdict(node)
    assert (rc, path) == (0, "fast")
    env = without_libdnf5(node)
    # both doors answer without importing libdnf5 (it cannot be imported here)
    fast = node.world.run(node.cluster_args("node", "status", "--json"), env=env)
    assert fast.json["path"] == "fast" and comparable(fast.json) == comparable(data)
    through = node.world.run(node.dnf5_args("cluster-node", "status", "--json"), env=plugin_env(node, env))
    assert through.json["path"] == "fast" and comparable(through.json) == comparable(data)
    full = node.world.run(node.cluster_args("node", "status", "--json", "--full"), env=env, check=False)
    assert full.rc == 1 and "libdnf5 was imported" in full.err         # the full path does import it
    # the same text as the full path's
    assert standalone(node, "status").out == standalone(node, "status", "--full").out
    for extra in (("--refresh",), ("--full",)):
        assert answer(node, *extra)[1]["path"] == "full"
    # -C answers from the cached repomd.xml, the same
    assert node.cluster("-C", "node", "status", "--json").json["path"] == "fast"
    # a no-op sync: the first real one records, the next answers fast, as --check does
    assert standalone(node, "-y", "sync", "--json").json["path"] == "full"
    again = node.world.run(node.cluster_args("-y", "node", "sync", "--json"), env=env)
    assert again.json["path"] == "fast" and again.json["result"] == "in-sync"
    again = node.world.run(node.dnf5_args("-y", "cluster-node", "sync", "--json"), env=plugin_env(node, env))
    assert again.json["path"] == "fast" and again.json["result"] == "in-sync"
    text = node.world.run(node.dnf5_args("-y", "cluster-node", "sync"), env=plugin_env(node, env))
    assert text.out == standalone(node, "-y", "sync", "--full").out
    assert plugin(node, "sync", "--check", "--json").json["path"] == "fast"


def test_dnf5_fast_path_fetches_only_the_profile_repositorys_repomd(site, make_node):
    node = synced(make_node)
    del site.server.requests[:]
    assert answer(node)[1]["path"] == "fast"
    assert site.server.requests == ["/site/9/x86_64/repodata/repomd.xml"]


def test_dnf5_a_stale_record_fetches_each_unchanged_repomd_once(site, make_node):
    """A latest role's record is stale when its base repository changed: the proof
    fetched every repository's repomd.xml, and libdnf5 does not fetch those of the
    unchanged repositories again (their cache is what the proof just fetched); the
    changed one it fetches itself, and the answer is the full path's."""
    make_latest(site)
    node = synced(make_node)
    assert recorded(node) == 0
    ev_base_repo(site, node, random.Random(5))
    del site.server.requests[:]
    rc, data = answer(node)
    assert data["path"] == "full"
    fetched = [p for p in site.server.requests if p.endswith("/repomd.xml")]
    assert fetched.count("/site/9/x86_64/repodata/repomd.xml") == 1, fetched
    assert fetched.count("/cluster/9/x86_64/repodata/repomd.xml") == 1, fetched
    assert fetched.count("/base/x86_64/repodata/repomd.xml") >= 2, fetched     # the proof's, then libdnf5's
    full_rc, full = answer(node, "--full")
    assert (rc, comparable(data)) == (full_rc, comparable(full))
    assert verdict(node)[2] == "fast"                                        # recorded anew


# --- events that may change the verdict ------------------------------------------------

def rpm(node, *args):
    return node.world.run(["rpm", "--root", node.root] + list(args), check=False)


def installed_names(node):
    return sorted(n for n in node.installed() if not n.startswith("gpg-pubkey"))


def removable(node):
    return [n for n in installed_names(node) if not n.startswith(FLOOR)]


def ev_rpm_install(site, node, rng):
    files = base_rpms(site)
    missing = sorted(set(files) - set(installed_names(node)))
    if missing:
        name = rng.choice(missing)
        inside = "{}/pkgs/{}".format(WORK, os.path.basename(files[name]))
        os.makedirs(os.path.dirname(node.world.host_path(inside)), exist_ok=True)
        shutil.copy(files[name], node.world.host_path(inside))
        result = rpm(node, "-i", "--nodeps", "--noscripts", "--nosignature", inside)
        assert result.rc == 0, result


def ev_rpm_erase(site, node, rng):
    result = rpm(node, "-e", "--nodeps", "--noscripts", rng.choice(removable(node)))
    assert result.rc == 0, result


def ev_dnf_install(site, node, rng):
    files = base_rpms(site)
    missing = sorted(set(files) - set(installed_names(node)))
    if missing:
        node.dnf5("-y", "install", rng.choice(missing), check=False)


def ev_dnf_remove(site, node, rng):
    node.dnf5("-y", "remove", rng.choice(removable(node)), check=False)


def ev_dnf_mark(site, node, rng):
    """`dnf5 mark`: a reason changes, not the rpm database."""
    name = rng.choice(removable(node))
    before = node.reasons()[name]
    node.dnf5("-y", "mark", "dependency" if before == "User" else "user", name)
    assert node.reasons()[name] != before


def ev_versionlock(site, node, rng):
    path = node.path("etc/dnf/versionlock.toml")
    if not os.path.exists(path):
        with open(path, "w") as handle:
            handle.write('version = "1.0"\n')
    with open(path, "a") as handle:
        handle.write("# an admin's note {}\n".format(rng.random()))


EVENTS = [ev_rpm_install, ev_rpm_erase, ev_dnf_install, ev_dnf_remove, ev_dnf_mark, ev_versionlock, ev_cluster_conf,
          ev_profile]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__[3:])
def test_dnf5_every_invalidating_event_takes_the_full_path(site, make_node, event):
    node = synced(make_node)
    assert recorded(node) == 0
    event(site, node, random.Random(24))
    rc, data, path = verdict(node)                   # the full path's verdict
    assert path == "full", event.__name__
    rc, data = answer(node, door=plugin)             # through dnf5 too
    assert data["path"] in ("full", "fast") and (rc == 0) == (data["result"] == "in-sync")


def test_dnf5_a_changed_repository_invalidates_a_latest_role_only(site, make_node):
    node = synced(make_node)
    assert recorded(node) == 0
    ev_base_repo(site, node, random.Random(1))
    assert verdict(node)[2] == "fast"               # pinned: only the profile repository counts
    make_latest(site)
    standalone(node, "-y", "sync")
    assert recorded(node) == 0
    ev_base_repo(site, node, random.Random(2))
    assert verdict(node)[2] == "full"


def test_dnf5_a_mirrorlist_means_no_record_and_the_full_path(site, make_node):
    with open(os.path.join(site.www, "base", "mirrors.txt"), "w") as handle:
        handle.write("{}/base/x86_64/\n".format(site.url))
    node = make_node("node")
    with open(node.path("etc/yum.repos.d/base.repo"), "a") as handle:
        handle.write("mirrorlist={}/base/mirrors.txt\n".format(site.url))
    standalone(node, "-y", "sync", check=False)
    for _ in range(2):
        assert answer(node)[1]["path"] == "full"
    assert not os.path.exists(node.path("var/lib/dnf/cluster/verified.json"))


@pytest.mark.parametrize("seed", [1, 2])
def test_dnf5_random_event_sequences_agree(site, make_node, seed):
    rng = random.Random(seed)
    node = synced(make_node)

    def sync(node):
        rng.choice([standalone, plugin])(node, "-y", "sync", check=False)

    def check(step, rc, data):
        if rc == 0:
            assert answer(node, door=plugin) == (rc, dict(data, path="fast")), step
    random_sequence(site, node, rng, EVENTS, lambda *extra: answer(node, *extra), sync, check=check)


def test_dnf5_record_has_the_dnf4_format(site, make_node):
    """The record is fastpath.py's (FORMAT, validated field by field as on dnf 4)."""
    from dnf_plugin_cluster import fastpath
    node = synced(make_node)
    with open(node.path("var/lib/dnf/cluster/verified.json")) as handle:
        data = json.load(handle)
    assert fastpath.valid(data) and data["format"] == fastpath.FORMAT
    assert sorted(k for k in data["inputs"] if k.startswith("repomd:")) == [
        "repomd:base", "repomd:cluster", "repomd:cluster-site"]
    assert json.loads(data["inputs"]["fetch:cluster-site"])["url"] == site.url + "/site/9/x86_64/repodata/repomd.xml"


@pytest.mark.parametrize("line", [
    ["node", "sync"], ["-y", "node", "sync", "--json"], ["node", "--json", "status", "--role", "gpu"],
    ["--installroot=/r", "-C", "node", "status", "--role=login", "--full"],
    ["-yq", "--setopt=a=b", "--setopt", "x.y=1", "node", "sync", "--check", "--dry-run", "--allow-mass-removal"],
    ["node", "status", "--packages", "--json", "--releasever", "9", "--forcearch=aarch64", "--enablerepo=t*"],
])
def test_dnf5_plain_parse_of_a_node_line_is_argparses(line):
    """The fast path reads `cluster-node sync|status` lines without argparse: what it reads
    is what the command's parser and the global one read."""
    from dnf_plugin_cluster import dnf5cli
    from dnf_plugin_cluster.commands.node import ClusterNodeCommand
    from dnf_plugin_cluster.dnf_cluster import translate
    found, rest = dnf5cli.split_globals(translate(line))
    plain_g, plain_o = dnf5cli.plain_globals(found), dnf5cli.plain_node_options(rest)
    assert vars(plain_g) == vars(dnf5cli.global_parser().parse_args(found))
    assert vars(plain_o) == vars(dnf5cli.command_parser(ClusterNodeCommand).parse_args(rest[1:]))


@pytest.mark.parametrize("line", [["node", "sync", "--jso"], ["node", "-h"], ["node", "sync", "status"],
                                  ["group", "list"], ["node", "sync", "--role"], ["--no-docs", "node", "sync"]])
def test_dnf5_plain_parse_leaves_anything_else_to_argparse(line):
    from dnf_plugin_cluster import dnf5cli
    from dnf_plugin_cluster.dnf_cluster import translate
    found, rest = dnf5cli.split_globals(translate(line))
    assert dnf5cli.plain_globals(found) is None or dnf5cli.plain_node_options(rest) is None


def test_repomd_is_fetched_by_hand_as_served(tmp_path):
    """fast5.py's own fetch: the bytes served (http, file, the cached copy under -C);
    anything but a plain 200 answer is no proof (None), never an error."""
    import hashlib
    from cluster_testkit.httpd import RepoServer
    from dnf_plugin_cluster import fast5
    data = b"<repomd>" + os.urandom(3000).hex().encode() + b"</repomd>\n"
    os.makedirs(str(tmp_path / "repo" / "repodata"))
    (tmp_path / "repo" / "repodata" / "repomd.xml").write_bytes(data)
    (tmp_path / "cached.xml").write_bytes(b"older")
    digest = hashlib.sha256(data).hexdigest()
    server = RepoServer(str(tmp_path))
    server.start()
    try:
        def spec(url):
            return fast5.spec(url, str(tmp_path / "cached.xml"))
        url = "{}/repo/repodata/repomd.xml".format(server.url)
        assert fast5.repomd_digest(spec(url), False) == digest
        assert fast5.repomd_digest(spec("file://{}/repo/repodata/repomd.xml".format(tmp_path)), False) == digest
        assert fast5.repomd_digest(spec(url), True) == hashlib.sha256(b"older").hexdigest()
        for bad in (url + ".missing", "{}/repo".format(server.url), "ftp://127.0.0.1/x", "http://127.0.0.1:1/x"):
            assert fast5.repomd_digest(spec(bad), False) is None, bad
    finally:
        server.stop()
