"""The node's own record of what the profile installed (`managed`), kept in dnf's
persistdir (<root>/var/lib/dnf/cluster/state.json, so image roots carry their own).

Before a transaction runs, the names it is about to install are recorded as `pending`;
after it succeeds they move to `managed`. A sync killed in between leaves `pending`
behind, and the next run counts those that did get installed as managed, so a rerun
converges and nothing the profile installed is forgotten. Writes are atomic
(temporary file + rename)."""
import errno
import fcntl
import json
import os

from .errors import ClusterError

FORMAT = 1


class State(object):
    def __init__(self, path, data=None):
        self.path = path
        data = data or {}
        self.managed = set(data.get("managed", []))
        self.pending = set(data.get("pending", []))
        self.role = data.get("role")
        self.profile = data.get("profile")
        self.generation = data.get("generation")      # of the profile last synced to

    def reconciled(self, installed_names):
        """Managed names as they stand: pending installs that happened count, and
        names no longer installed are no longer managed."""
        installed_names = set(installed_names)
        return (self.managed | (self.pending & installed_names)) & installed_names

    def as_dict(self):
        return {"format": FORMAT, "role": self.role, "profile": self.profile, "generation": self.generation,
                "managed": sorted(self.managed), "pending": sorted(self.pending)}

    def save(self):
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(self.as_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.path)


def state_dir(persistdir):
    return os.path.join(persistdir, "cluster")


def load(persistdir):
    path = os.path.join(state_dir(persistdir), "state.json")
    try:
        with open(path) as handle:
            data = json.load(handle)
    except IOError as err:
        if err.errno == errno.ENOENT:
            return State(path)
        raise ClusterError("cannot read node state: {}".format(err.strerror), path)
    except ValueError as err:
        raise ClusterError("corrupt node state ({}); move it aside to start over".format(err), path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ClusterError("unknown node state format; move it aside to start over", path)
    return State(path, data)


class SyncLock(object):
    """One cluster sync per root at a time: a second one waits, then plans against the
    first one's result (dnf's own rpmdb lock only covers the transaction itself)."""

    def __init__(self, persistdir):
        self.path = os.path.join(state_dir(persistdir), "sync.lock")
        self.handle = None

    def acquire(self, on_wait=None):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except IOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def release(self):
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
