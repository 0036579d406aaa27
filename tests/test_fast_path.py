"""The no-op fast path (issue 24): a status or sync that can prove nothing changed since
the node was last verified in sync answers from that record without loading the sack;
every event that could change the verdict takes the full path, and the fast answer is
always the full one (checked against `--full` after every event, also in seeded random
sequences of events)."""
import json
import os
import random
import shutil

import pytest

from dnf_plugin_cluster.head import publish, repodata


def answer(node, *extra):
    res = node.dnf("cluster-node", "status", "--json", *extra, check=False)
    assert res.rc in (0, 100), res
    return res.rc, res.json


def comparable(data):
    return dict((k, v) for k, v in data.items() if k != "path")


def verdict(node):
    """(rc, answer, path) of a status, checked against the full path's answer."""
    rc, data = answer(node)
    full_rc, full = answer(node, "--full")
    assert full["path"] == "full"
    assert (rc, comparable(data)) == (full_rc, comparable(full)), (data, full)
    return rc, data, data["path"]


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
    rc, data, path = verdict(node)
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



# --- events that may change the verdict ------------------------------------------------

FLOOR = ("bash", "glibc", "rpm", "dnf", "systemd", "kernel", "openssh-server", "python3", "filesystem", "setup")


def rpm(node, *args):
    return node.run(["rpm", "--root", node.root] + list(args), check=False)


def installed_names(node):
    out = rpm(node, "-qa", "--qf", "%{NAME}\n").out.split()
    return sorted(set(n for n in out if not n.startswith("gpg-pubkey")))


def base_rpms(site):
    top = os.path.join(site.www, "base", "x86_64")
    found = {}
    for directory, _, files in os.walk(top):
        for name in files:
            if name.endswith(".x86_64.rpm") or name.endswith(".noarch.rpm"):
                found[name.rsplit("-", 2)[0]] = os.path.join(directory, name)
    return found


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


def ev_cluster_conf(site, node, rng):
    node.set_role(rng.choice(["compute", "login", "gpu"]), max_remove=rng.randint(30, 60))


def ev_profile(site, node, rng):
    """A new profile in the site repository: the compute role gains or loses a package,
    or becomes `update: latest` (what a publish puts there)."""
    good = publish.current(site.tree)
    new = json.loads(json.dumps(good))
    role = new["roles"]["compute"]
    packages = role["arches"]["x86_64"]["packages"]
    choice = rng.randint(0, 2)
    if choice == 0 and "fftw-openmpi" not in packages:
        packages.append("fftw-openmpi")
    elif choice == 1 and packages:
        packages.pop(rng.randrange(len(packages)))
    else:
        role["update"] = "latest" if role.get("update") != "latest" else "pinned"
    new["generation"] = good["generation"] + 1
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, json.dumps(new).encode())


def make_latest(site):
    good = publish.current(site.tree)
    new = json.loads(json.dumps(good))
    new["roles"]["compute"]["update"] = "latest"
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, json.dumps(new).encode())


def ev_base_repo(site, node, rng):
    """The base repository changes (a new revision of its metadata)."""
    md = os.path.join(site.www, "base", "x86_64", "repodata")
    repodata.replace(md, "note", "note.txt", str(rng.random()).encode())


EVENTS = [ev_rpm_install, ev_rpm_erase, ev_dnf_install, ev_dnf_remove, ev_dnf_mark, ev_versionlock, ev_cluster_conf,
          ev_profile]


def recorded(node):
    """The node answers fast (recorded) when status says in sync."""
    rc, data, path = verdict(node)
    if rc == 0:
        assert verdict(node)[2] == "fast"
    return rc


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__[3:])
def test_every_invalidating_event_takes_the_full_path(site, event):
    node = synced(site)
    assert recorded(node) == 0
    event(site, node, random.Random(24))
    rc, data, path = verdict(node)
    assert path == "full", event.__name__


def test_a_changed_repository_invalidates_a_latest_role_only(site):
    node = synced(site)
    assert recorded(node) == 0
    ev_base_repo(site, node, random.Random(1))
    assert verdict(node)[2] == "fast"               # pinned: only the profile repository counts
    make_latest(site)
    node.dnf("-y", "cluster-node", "sync")
    assert recorded(node) == 0
    ev_base_repo(site, node, random.Random(2))
    assert verdict(node)[2] == "full"


def test_a_damaged_record_means_the_full_path(site):
    node = synced(site)
    assert recorded(node) == 0
    path = node.path("var/lib/dnf/cluster/verified.json")
    with open(path) as handle:
        data = json.load(handle)
    data["answers"]["status"]["status"] = 100
    with open(path, "w") as handle:
        json.dump(data, handle)
    assert verdict(node)[2] == "full"
    os.unlink(path)
    target = node.path("etc/elsewhere.json")
    shutil.copy(node.path("var/lib/dnf/cluster/state.json"), target)
    os.symlink(target, path)                        # never followed; replaced, not written through
    assert answer(node)[1]["path"] == "full"
    with open(target, "rb") as handle, open(node.path("var/lib/dnf/cluster/state.json"), "rb") as state:
        assert handle.read() == state.read()
    assert not os.path.islink(path)                 # the full answer recorded anew
    assert verdict(node)[2] == "fast"


@pytest.mark.parametrize("seed", [1, 2])
def test_random_event_sequences_agree(site, seed):
    rng = random.Random(seed)
    node = synced(site)
    for step in range(8):
        event = rng.choice(EVENTS + [ev_base_repo, None, "sync"])
        if event == "sync":
            node.dnf("-y", "cluster-node", "sync", check=False)
        elif event is not None:
            event(site, node, rng)
        rc, data, path = verdict(node)                # fast and full agree at every step
        if event not in (None, ev_base_repo, "sync"):
            assert path == "full", (step, event.__name__)


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
    assert recorded(node) == 0
    ev_base_repo(site, node, random.Random(3))
    assert verdict(node)[2] == "full"
