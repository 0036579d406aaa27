"""What the no-op fast path's tests share on dnf 4 (tests/test_fast_path.py) and dnf5
(tests/test_dnf5_fast_path.py): the fast answer checked against the full one, the events
that may change the verdict which do not depend on the package manager (a new profile,
a changed repository, a cluster.conf edit), and the randomized sequences of events.
Each test file adds the events its package manager does its own way (rpm, dnf install,
remove and mark, the version lock file)."""
import json
import os

from dnf_plugin_cluster.head import publish, repodata

#: packages an event never removes (the node's floor)
FLOOR = ("bash", "glibc", "rpm", "dnf", "systemd", "kernel", "openssh-server", "python3", "filesystem", "setup")


def comparable(data):
    return dict((k, v) for k, v in data.items() if k != "path")


def verdict(answer):
    """(rc, answer, path) of a status, checked against the full path's answer;
    answer(*extra) -> (rc, the JSON answer) of `status --json EXTRA`."""
    rc, data = answer()
    full_rc, full = answer("--full")
    assert full["path"] == "full"
    assert (rc, comparable(data)) == (full_rc, comparable(full)), (data, full)
    return rc, data, data["path"]


def recorded(answer):
    """The node answers fast (recorded) when status says in sync."""
    rc, data, path = verdict(answer)
    if rc == 0:
        assert verdict(answer)[2] == "fast"
    return rc


def base_rpms(site):
    """{name: path} of the stand-in base repository's x86_64 and noarch packages."""
    top = os.path.join(site.www, "base", "x86_64")
    found = {}
    for directory, _, files in os.walk(top):
        for name in files:
            if name.endswith(".x86_64.rpm") or name.endswith(".noarch.rpm"):
                found[name.rsplit("-", 2)[0]] = os.path.join(directory, name)
    return found


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


#: events after which the answer may stay fast (nothing the verdict depends on changed
#: for a pinned role, or nothing happened)
NEUTRAL = (None, ev_base_repo, "sync")


def random_sequence(site, node, rng, events, answer, sync, steps=8, check=None):
    """`steps` random events (of `events`, a base repository change, nothing, or a
    sync(node)), each followed by a status whose fast answer must be the full one;
    after an event that invalidates the record, the full path must have answered.
    check(step, rc, data), if given, runs after every step."""
    for step in range(steps):
        event = rng.choice(list(events) + [ev_base_repo, None, "sync"])
        if event == "sync":
            sync(node)
        elif event is not None:
            event(site, node, rng)
        rc, data, path = verdict(answer)                # fast and full agree at every step
        if event not in NEUTRAL:
            assert path == "full", (step, event.__name__)
        if check is not None:
            check(step, rc, data)
