"""The node's own state (<root>/var/lib/dnf/cluster) with the real dnf: state.json of the
wrong shape, symbolic links where the state files or their directory should be, and a
state directory someone else owns are refused with one line naming the file; nothing on
the node changes, and nothing outside the root is read as state or written."""
import json
import os

import pytest

STATE_DIR = "var/lib/dnf/cluster"


def refused(node, *args):
    result = node.dnf(*args, check=False)
    assert result.rc == 1, result
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.err, result
    return errors[0]


@pytest.fixture
def synced(site):
    """A compute node after its first sync, with htop installed by hand since."""
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    node.dnf("-y", "install", "htop")
    return node


def good_state(node):
    with open(node.path(STATE_DIR + "/state.json")) as handle:
        return json.load(handle)


BAD = [
    ("5", "5"),
    ("null", "null"),
    ("a list", "[]"),
    ("managed as an object", {"managed": {"htop": True}}),
    ("managed as a number", {"managed": 5}),
    ("managed null", {"managed": None}),
    ("managed name with a newline", {"managed": ["htop\n"]}),
    ("managed path", {"managed": ["../../etc/passwd"]}),
    ("pending as a number", {"pending": 5}),
    ("pending without a tag", {"pending": {"names": ["htop"]}}),
    ("pending with a bad tag", {"pending": {"tag": "../x", "names": ["htop"]}}),
    ("pending names as a string", {"pending": {"tag": "0" * 32, "names": "htop"}}),
    ("role as a number", {"role": 5}),
    ("profile as a list", {"profile": ["x"]}),
    ("unknown key", {"adopt": ["htop"]}),
]


def test_state_of_the_wrong_shape_is_refused(synced):
    """`"managed": {"htop": true}` once made sync remove the admin's htop; 5 and null
    gave tracebacks. Every field is checked for its type; the file is never rewritten."""
    node = synced
    path = node.path(STATE_DIR + "/state.json")
    good = good_state(node)
    for label, bad in BAD:
        text = bad if isinstance(bad, str) else json.dumps(dict(good, **bad))
        with open(path, "w") as handle:
            handle.write(text)
        for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
            error = refused(node, *args)
            assert path + ": invalid node state" in error, (label, error)
        with open(path) as handle:
            assert handle.read() == text, label
        assert "htop" in node.installed(), label
    with open(path, "w") as handle:
        json.dump(good, handle)
    assert node.dnf("cluster-node", "status").rc == 0


def test_state_files_behind_symbolic_links_are_refused(synced, tmp_path):
    node = synced
    state_dir = node.path(STATE_DIR)
    path = os.path.join(state_dir, "state.json")
    outside = str(tmp_path / "outside.json")

    # state.json -> a file outside the root that names the admin's htop as the profile's
    good = good_state(node)
    with open(outside, "w") as handle:
        json.dump(dict(good, managed=good["managed"] + ["htop"]), handle)
    os.rename(path, path + ".real")
    os.symlink(outside, path)
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        assert "state.json: refusing to follow a symbolic link" in refused(node, *args)
    assert "htop" in node.installed()
    os.remove(path)
    os.rename(path + ".real", path)

    # state.json.tmp (the fixed temporary name of old) -> a file outside the root
    with open(outside, "w") as handle:
        handle.write("precious\n")
    os.symlink(outside, path + ".tmp")
    node.dnf("-y", "remove", "cluster-apps-bio")
    node.dnf("-y", "cluster-node", "sync")                  # reinstalls it, writes state.json
    assert "cluster-apps-bio" in good_state(node)["managed"] and "cluster-apps-bio" in node.installed()
    with open(outside) as handle:
        assert handle.read() == "precious\n"
    assert os.path.islink(path + ".tmp")
    assert not [n for n in os.listdir(state_dir) if n not in ("state.json", "state.json.tmp", "sync.lock")]

    # sync.lock -> a path outside the root: not created, not locked
    lock = os.path.join(state_dir, "sync.lock")
    os.remove(lock)
    os.symlink(str(tmp_path / "lock"), lock)
    assert "sync.lock: refusing to follow a symbolic link" in refused(node, "-y", "cluster-node", "sync")
    assert not os.path.exists(str(tmp_path / "lock"))
    os.remove(lock)

    # the state directory itself -> a directory outside the root
    os.rename(state_dir, str(tmp_path / "moved"))
    os.symlink(str(tmp_path / "moved"), state_dir)
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        assert STATE_DIR + ": the node state directory is a symbolic link" in refused(node, *args)


def test_state_directory_must_belong_to_root(synced):
    node = synced
    state_dir = node.path(STATE_DIR)
    before = good_state(node)
    os.chown(state_dir, 1000, 1000)
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        assert STATE_DIR + ": the node state directory is not owned by root" in refused(node, *args)
    os.chown(state_dir, 0, 0)
    os.chmod(state_dir, 0o777)
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        assert STATE_DIR + ": the node state directory is writable by others" in refused(node, *args)
    os.chmod(state_dir, 0o755)
    assert node.dnf("cluster-node", "status").rc == 0 and good_state(node) == before
