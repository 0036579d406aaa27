"""The no-op fast path (issue 24) on dnf 4: a status or sync that can prove nothing
changed since the node was last verified in sync answers from that record without
loading the sack, through `dnf cluster-node` (inside dnf) and `dnf-cluster node`
(before dnf is even imported, fast4.py); every event that could change the verdict
takes the full path, and the fast answer is always the full one (checked against
`--full` after every event, also in seeded random sequences of events)."""
import json
import os
import random
import shutil
import subprocess

import pytest

from cluster_testkit.dnfroot import Result
from cluster_testkit.fastevents import (FLOOR, base_rpms, comparable, ev_base_repo, ev_cluster_conf, ev_profile,
                                        make_latest, random_sequence, recorded, verdict)


def plugin(node, *args, **kwargs):
    """`dnf [globals] cluster-node ARGS`: inside dnf, through the plugin."""
    return node.dnf(*(["cluster-node"] + list(args)), **kwargs)


def standalone(node, *args, **kwargs):
    """`dnf-cluster [globals] node ARGS`: the timer's command."""
    return node.cluster(*(["node"] + list(args)), **kwargs)


DOORS = {"plugin": plugin, "dnf-cluster": standalone}


def answering(node, door=plugin):
    """answer(*extra) -> (rc, JSON) of `status --json EXTRA` through `door`."""
    def answer(*extra):
        res = door(node, "status", "--json", *extra, check=False)
        assert res.rc in (0, 100), res
        return res.rc, res.json
    return answer


def answer(node, *extra):
    return answering(node)(*extra)


def answer_lines(out):
    """stdout without dnf's download progress lines"""
    return [line for line in out.splitlines() if "/s |" not in line]


def synced(site, name="compute"):
    node = site.node(name)
    node.dnf("-y", "cluster-node", "sync")
    first = node.dnf("cluster-node", "status", "--json")           # full: records the verification
    assert first.json["path"] == "full" and first.rc == 0
    return node


def test_unchanged_node_answers_fast_and_the_same(site):
    node = synced(site)
    rc, data, path = verdict(answering(node))
    assert (rc, path) == (0, "fast")
    text = node.dnf("cluster-node", "status")
    full_text = node.dnf("cluster-node", "status", "--full")
    assert answer_lines(text.out) == answer_lines(full_text.out)
    for extra in (("--refresh",), ("--full",)):
        assert answer(node, *extra)[1]["path"] == "full"
    # a no-op sync: the first real one records, the next answers fast, as --check does
    assert node.dnf("-y", "cluster-node", "sync", "--json").json["path"] == "full"
    again = node.dnf("-y", "cluster-node", "sync", "--json")
    assert again.json["path"] == "fast" and again.json["result"] == "in-sync"
    assert node.dnf("cluster-node", "sync", "--check", "--json").json["path"] == "fast"
    verbose = node.dnf("-v", "cluster-node", "sync", "--check", "--json").out    # dnf -v logs on stdout too
    assert json.loads(verbose[verbose.index("{\n"):])["path"] == "full"


#: a `dnf` package that cannot be imported, found first on PYTHONPATH: what answers with
#: it never imported dnf
def without_dnf(node, *args):
    """`dnf-cluster ARGS` where dnf cannot be imported."""
    poison = os.path.join(node.home, "no-dnf")
    os.makedirs(os.path.join(poison, "dnf"), exist_ok=True)
    with open(os.path.join(poison, "dnf", "__init__.py"), "w") as handle:
        handle.write('raise ImportError("dnf was imported")\n')
    env = dict(node.env)
    env["PYTHONPATH"] = os.pathsep.join([poison, env.get("PYTHONPATH", "")])
    argv = node.standalone_args(*args)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
    return Result(argv, proc.returncode, proc.stdout, proc.stderr)


def test_dnf_cluster_answers_an_unchanged_node_without_importing_dnf(site):
    """The timer's `dnf-cluster -y -q node sync` on dnf 4: the record `dnf cluster-node`
    wrote answers it before dnf is imported, the same as the full path; -C reads the
    cached repomd.xml; --refresh and --full take the full path, and a line with options
    the reader does not know goes to dnf."""
    node = synced(site)
    rc, data, path = verdict(answering(node, standalone))
    assert (rc, path) == (0, "fast")

    def bare(*args):
        return without_dnf(node, *args)
    fast = bare("node", "status", "--json")
    assert fast.rc == 0 and fast.json["path"] == "fast" and comparable(fast.json) == comparable(data), fast
    full = bare("node", "status", "--json", "--full")
    assert full.rc == 1 and "needs python3-dnf" in full.err          # the full path does import dnf
    assert bare("-C", "node", "status", "--json").json["path"] == "fast"
    # the text is the full path's
    text, full_text = standalone(node, "status"), standalone(node, "status", "--full")
    assert (text.rc, answer_lines(text.out)) == (full_text.rc, answer_lines(full_text.out))
    # the timer's sync: recorded by a real no-op sync, then answered fast, quietly
    assert standalone(node, "-y", "sync", "--json").json["path"] == "full"
    timer = bare("-y", "-q", "node", "sync")
    assert timer.rc == 0 and timer.out.strip().endswith("In sync: nothing to do."), timer
    again = bare("-y", "node", "sync", "--json")
    assert again.json["path"] == "fast" and again.json["result"] == "in-sync"
    for extra in (("--refresh",), ("--full",)):
        assert standalone(node, "status", "--json", *extra).json["path"] == "full", extra
    for extra in (("-v",), ("--disableexcludes=all",), ("--setopt=reposdir",)):      # left to dnf
        res = bare("node", "status", "--json", *extra)
        assert res.rc == 1 and "needs python3-dnf" in res.err, (extra, res)
    assert bare("node", "status", "--json").json["path"] == "fast"        # those left the record as it was


def test_dnf_cluster_fast_path_fetches_only_the_profile_repositorys_repomd(site):
    node = synced(site)
    assert standalone(node, "status", "--json").json["path"] == "fast"
    del site.server.requests[:]
    assert standalone(node, "status", "--json").json["path"] == "fast"
    assert site.server.requests == ["/site/9/x86_64/repodata/repomd.xml"]


def test_a_stale_record_fetches_each_unchanged_repomd_once(site):
    """A latest role's record is stale when its base repository changed: the proof
    fetched every repository's repomd.xml, and dnf does not fetch those of the unchanged
    repositories again (their cache is what the proof just fetched); the changed one it
    fetches itself, and the answer is the full path's."""
    make_latest(site)
    node = synced(site)
    assert recorded(answering(node, standalone)) == 0
    ev_base_repo(site, node, random.Random(5))
    del site.server.requests[:]
    rc, data = answering(node, standalone)()
    assert data["path"] == "full"
    fetched = [p for p in site.server.requests if p.endswith("/repomd.xml")]
    assert fetched.count("/site/9/x86_64/repodata/repomd.xml") == 1, fetched
    assert fetched.count("/cluster/9/x86_64/repodata/repomd.xml") == 1, fetched
    assert fetched.count("/base/x86_64/repodata/repomd.xml") >= 2, fetched     # the proof's, then dnf's
    assert (rc, comparable(data)) == (lambda r: (r[0], comparable(r[1])))(answering(node, standalone)("--full"))
    assert verdict(answering(node, standalone))[2] == "fast"            # recorded anew


def test_a_record_dnf_cluster_cannot_read_from_files_is_not_read(site):
    """Where dnf reads its configuration from somewhere fast4.py does not look (a varsdir
    set in dnf.conf), the record has no fetch entries: dnf-cluster goes on to dnf, whose
    fast path inside still answers, comparing dnf's configuration as parsed (a new
    variable there counts)."""
    node = synced(site)
    extra = node.path("etc/more.vars.d")
    os.makedirs(extra)
    with open(node.path("etc/dnf/dnf.conf"), "a") as handle:
        handle.write("varsdir=/etc/more.vars.d\n")            # inside the root, as dnf reads it
    node.dnf("-y", "cluster-node", "sync")
    assert recorded(answering(node)) == 0
    with open(node.path("var/lib/dnf/cluster/verified.json")) as handle:
        inputs = json.load(handle)["inputs"]
    assert not any(k.startswith("fetch:") for k in inputs)
    before_dnf = without_dnf(node, "node", "status", "--json")
    assert before_dnf.rc == 1 and "needs python3-dnf" in before_dnf.err, before_dnf
    assert verdict(answering(node, standalone))[2] == "fast"          # from inside dnf
    with open(os.path.join(extra, "site"), "w") as handle:
        handle.write("elsewhere\n")
    assert verdict(answering(node))[2] == "full"


@pytest.mark.parametrize("line", [
    ["-y", "-q", "cluster-node", "sync"], ["-C", "cluster-node", "status", "--json", "--role", "gpu"],
    ["-c", "/r/etc/dnf/dnf.conf", "--installroot=/r", "--setopt=reposdir=/r/etc/yum.repos.d",
     "--setopt=pluginconfpath=/r/etc/dnf/plugins", "--releasever=9", "--forcearch=x86_64", "cluster-node", "status"],
    ["-yq", "--setopt", "x.y=1", "--enablerepo=t*", "--disablerepo", "u", "cluster-node", "sync", "--check"],
])
def test_dnf4_plain_parse_of_a_node_line_is_dnfs(line):
    """fast4.py reads dnf 4's global options without dnf's parser: what it reads is what
    dnf's own parser reads, and where dnf reads its configuration follows from them."""
    import dnf.cli.option_parser
    from dnf_plugin_cluster import fast4
    settings, gopts, rest = fast4.parse(line)
    opts = dnf.cli.option_parser.OptionParser().parse_main_args(line)
    assert settings.installroot == (opts.installroot or "/")
    assert settings.config_file == opts.config_file_path
    assert bool(gopts.assumeyes) == bool(opts.assumeyes) and bool(gopts.cacheonly) == bool(opts.cacheonly)
    assert rest[0] == "cluster-node"
    root = settings.installroot
    assert settings.persistdir == os.path.join(root, "var/lib/dnf")
    if "--setopt=pluginconfpath=/r/etc/dnf/plugins" in line:
        assert settings.pluginconfpath == ["/r/etc/dnf/plugins"] and settings.reposdirs == ["/r/etc/yum.repos.d"]
        assert settings.config_files == ["/r/etc/dnf/dnf.conf"]


@pytest.mark.parametrize("line", [["-v", "cluster-node", "status"], ["--disableexcludes=all", "cluster-node", "sync"],
                                  ["--installroot"], ["--setvar=a=b", "cluster-node", "status"]])
def test_dnf4_plain_parse_leaves_anything_else_to_dnf(line):
    from dnf_plugin_cluster import fast4
    from dnf_plugin_cluster.cmdline import plain_node_options
    parsed = fast4.parse(line)
    assert parsed is None or plain_node_options(parsed[2]) is None


# --- events that may change the verdict ------------------------------------------------

def rpm(node, *args):
    return node.run(["rpm", "--root", node.root] + list(args), check=False)


def installed_names(node):
    out = rpm(node, "-qa", "--qf", "%{NAME}\n").out.split()
    return sorted(set(n for n in out if not n.startswith("gpg-pubkey")))


def ev_rpm_install(site, node, rng):
    files = base_rpms(site)
    missing = sorted(set(files) - set(installed_names(node)))
    if missing:
        rpm(node, "-i", "--nodeps", "--noscripts", files[rng.choice(missing)])


def ev_rpm_erase(site, node, rng):
    names = [n for n in installed_names(node) if not n.startswith(FLOOR)]
    rpm(node, "-e", "--nodeps", "--noscripts", rng.choice(names))


def ev_dnf_install(site, node, rng):
    files = base_rpms(site)
    missing = sorted(set(files) - set(installed_names(node)))
    if missing:
        node.dnf("-y", "install", rng.choice(missing), check=False)


def ev_dnf_remove(site, node, rng):
    names = [n for n in installed_names(node) if not n.startswith(FLOOR)]
    node.dnf("-y", "remove", rng.choice(names), check=False)


def ev_dnf_mark(site, node, rng):
    names = [n for n in installed_names(node) if not n.startswith(FLOOR)]
    node.dnf("mark", rng.choice(["install", "remove"]), rng.choice(names), check=False)


def ev_versionlock(site, node, rng):
    path = node.path("etc/dnf/plugins/versionlock.list")
    with open(path, "a") as handle:
        handle.write("# an admin's note {}\n".format(rng.random()))


EVENTS = [ev_rpm_install, ev_rpm_erase, ev_dnf_install, ev_dnf_remove, ev_dnf_mark, ev_versionlock, ev_cluster_conf,
          ev_profile]


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__[3:])
def test_every_invalidating_event_takes_the_full_path(site, event, door):
    node = synced(site)
    answer_ = answering(node, DOORS[door])
    assert recorded(answer_) == 0
    event(site, node, random.Random(24))
    rc, data, path = verdict(answer_)
    assert path == "full", event.__name__


@pytest.mark.parametrize("door", sorted(DOORS))
def test_a_changed_repository_invalidates_a_latest_role_only(site, door):
    node = synced(site)
    answer_ = answering(node, DOORS[door])
    assert recorded(answer_) == 0
    ev_base_repo(site, node, random.Random(1))
    assert verdict(answer_)[2] == "fast"               # pinned: only the profile repository counts
    make_latest(site)
    DOORS[door](node, "-y", "sync")
    assert recorded(answer_) == 0
    ev_base_repo(site, node, random.Random(2))
    assert verdict(answer_)[2] == "full"


@pytest.mark.parametrize("door", sorted(DOORS))
def test_a_damaged_record_means_the_full_path(site, door):
    node = synced(site)
    answer_ = answering(node, DOORS[door])
    assert recorded(answer_) == 0
    path = node.path("var/lib/dnf/cluster/verified.json")
    with open(path) as handle:
        data = json.load(handle)
    data["answers"]["status"]["status"] = 100
    with open(path, "w") as handle:
        json.dump(data, handle)
    assert verdict(answer_)[2] == "full"
    os.unlink(path)
    target = node.path("etc/elsewhere.json")
    shutil.copy(node.path("var/lib/dnf/cluster/state.json"), target)
    os.symlink(target, path)                        # never followed; replaced, not written through
    assert answer_()[1]["path"] == "full"
    with open(target, "rb") as handle, open(node.path("var/lib/dnf/cluster/state.json"), "rb") as state:
        assert handle.read() == state.read()
    assert not os.path.islink(path)                 # the full answer recorded anew
    assert verdict(answer_)[2] == "fast"


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize("seed", [1, 2])
def test_random_event_sequences_agree(site, seed, door):
    """Fast and full agree after every step; the sync between the events goes through
    either door, and the other door's fast answer is this door's."""
    rng = random.Random(seed)
    node = synced(site)
    other = DOORS["plugin" if door == "dnf-cluster" else "dnf-cluster"]

    def sync(node):
        rng.choice([plugin, standalone])(node, "-y", "sync", check=False)

    def check(step, rc, data):
        if rc == 0 and data["path"] == "fast":
            assert answering(node, other)() == (rc, data), step
    random_sequence(site, node, rng, EVENTS, answering(node, DOORS[door]), sync, check=check)


def test_a_node_on_the_default_profile_counts_every_repository(site):
    """The profile repository was chosen among the enabled ones (no site repository yet):
    another repository that starts carrying a profile changes the answer, so a change of
    any repository takes the full path."""
    node = site.make_root("plain")
    node.add_repo("base", "{}/base/$basearch/".format(site.url))
    node.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(site.url))
    node.set_role("compute")
    node.dnf("-y", "cluster-node", "sync")
    assert answer(node)[1]["profile_origin"] == "default"
    assert recorded(answering(node)) == 0
    ev_base_repo(site, node, random.Random(3))
    assert verdict(answering(node))[2] == "full"
