"""The node's own record of what the profile installed (`managed`), kept in dnf's
persistdir (<root>/var/lib/dnf/cluster/state.json, so image roots carry their own).

Before a transaction runs, its tag (the nonce in its history comment) and the names it
is about to install are recorded as `pending`; after it succeeds they move to
`managed`. A run that failed or died in between leaves `pending` behind; the next one
asks dnf's history what that very transaction installed (sync.py): a name is never
adopted by name alone.

The state is trusted only from where root put it: the directory must be a real
directory owned by root and writable by nobody else; state.json and sync.lock are
opened without following symbolic links; every field is checked for its type; writes
go to a fresh temporary file in the directory (mkstemp), then rename."""
import errno
import fcntl
import json
import os
import re
import stat

from .errors import ClusterError, quote
from .files import NOFOLLOW, open_regular
from .names import is_name

FORMAT = 1
KEYS = ("format", "role", "profile", "profile_repo", "generation", "managed", "pending")
#: a dnf repository id
REPO_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,99}\Z")
TAG_RE = re.compile(r"\A[0-9a-f]{32}\Z")
DIGEST_RE = re.compile(r"\A[0-9a-f]{64}\Z")
MAX_BYTES = 4 * 1024 * 1024


class State(object):
    def __init__(self, path, data=None):
        self.path = path
        data = data or {}
        self.managed = set(data.get("managed") or [])
        pending = data.get("pending")
        if isinstance(pending, dict):
            self.pending = {"tag": pending["tag"], "names": set(pending["names"])}
        elif pending:
            # a list, as written before transactions were tagged: nothing can prove what
            # those names' transaction installed, so none of them will be adopted
            self.pending = {"tag": None, "names": set(pending)}
        else:
            self.pending = None
        self.role = data.get("role")
        self.profile = data.get("profile")
        self.generation = data.get("generation")      # of the profile last synced to
        self.profile_repo = data.get("profile_repo")  # the repository it came from

    def site_repo(self):
        """The site repository this node synced from, or None: a site's profile carries a
        generation (the packager's default one has none). States written before the
        repository was recorded do not know it (NodeRun.load checks the generation)."""
        if self.generation is None:
            return None
        return self.profile_repo

    def as_dict(self):
        pending = None
        if self.pending:
            pending = {"tag": self.pending["tag"], "names": sorted(self.pending["names"])}
        out = {"format": FORMAT, "role": self.role, "profile": self.profile, "generation": self.generation,
               "managed": sorted(self.managed), "pending": pending}
        if self.profile_repo is not None:
            out["profile_repo"] = self.profile_repo
        return out

    def save(self):
        import tempfile                  # only when writing (a no-op answer never does)
        directory = check_dir(os.path.dirname(self.path), create=True)
        fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(self.as_dict(), handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fchmod(handle.fileno(), 0o644)
                os.fsync(handle.fileno())
            os.rename(tmp, self.path)
        except OSError as err:
            _unlink(tmp)
            raise ClusterError("cannot write node state: {}".format(err.strerror), self.path)
        except BaseException:
            _unlink(tmp)
            raise
        _fsync_dir(directory)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | NOFOLLOW)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def state_dir(persistdir):
    return os.path.join(persistdir, "cluster")


def check_dir(directory, create=False):
    """The state directory, if root alone could have put what is in it: not a symbolic
    link, a directory, owned by root, writable by nobody else. Created (0755) when
    missing and `create`; None when missing otherwise."""
    try:
        info = os.lstat(directory)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise ClusterError("cannot use the node state directory: {}".format(err.strerror), directory)
        if not create:
            return None
        try:
            parent = os.path.dirname(directory)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            os.mkdir(directory, 0o755)
        except OSError as err:
            raise ClusterError("cannot create the node state directory: {}".format(err.strerror), directory)
        info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode):
        raise ClusterError("the node state directory is a symbolic link; refusing", directory)
    if not stat.S_ISDIR(info.st_mode):
        raise ClusterError("the node state directory is not a directory", directory)
    if info.st_uid != 0:
        raise ClusterError("the node state directory is not owned by root (uid {}); refusing".format(
            info.st_uid), directory)
    if info.st_mode & 0o022:
        raise ClusterError("the node state directory is writable by others (mode {:o}); refusing".format(
            stat.S_IMODE(info.st_mode)), directory)
    return directory


def load(persistdir):
    directory = check_dir(state_dir(persistdir))
    path = os.path.join(state_dir(persistdir), "state.json")
    if directory is None:
        return State(path)
    try:
        fd = open_regular(path, os.O_RDONLY, "the node state")
    except OSError:                                  # ENOENT: no state yet
        return State(path)
    with os.fdopen(fd, "rb") as handle:
        try:
            raw = handle.read(MAX_BYTES + 1)
        except OSError as err:
            raise ClusterError("cannot read node state: {}".format(err.strerror), path)
    if len(raw) > MAX_BYTES:
        raise ClusterError("invalid node state: larger than {} bytes; move it aside to start over".format(
            MAX_BYTES), path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise ClusterError("invalid node state: not JSON ({}); move it aside to start over".format(
            " ".join(str(err).split()) if not isinstance(err, RecursionError) else "nested too deeply"), path)
    problem = invalid(data)
    if problem:
        raise ClusterError("invalid node state: {}; move it aside to start over".format(problem), path)
    return State(path, data)


def invalid(data):
    """What is wrong with state data, field by field, or None."""
    if not isinstance(data, dict):
        return "not an object"
    unknown = sorted(k for k in data if k not in KEYS)
    if unknown:
        return "unknown key {}".format(quote(unknown[0]))
    if data.get("format") != FORMAT:
        return "unknown format {} (this plugin writes {})".format(quote(data.get("format")), FORMAT)
    if data.get("role") is not None and not is_name(data.get("role")):
        return "role must be a role name"
    if data.get("profile") is not None and not (isinstance(data["profile"], str) and
                                                DIGEST_RE.match(data["profile"])):
        return "profile must be a sha256 digest"
    repo = data.get("profile_repo")
    if repo is not None and not (isinstance(repo, str) and REPO_RE.match(repo)):
        return "profile_repo must be a repository id"
    generation = data.get("generation")
    if generation is not None and (not isinstance(generation, int) or isinstance(generation, bool) or
                                   generation < 1):
        return "generation must be null or a whole number of 1 or more"
    if not _names(data.get("managed", [])):
        return "managed must be a list of package names"
    pending = data.get("pending")
    if pending is None or (isinstance(pending, list) and _names(pending)):
        return None                                   # nothing pending, or as written before tags
    if not isinstance(pending, dict) or sorted(pending) != ["names", "tag"]:
        return "pending must be null or an object with tag and names"
    if not (isinstance(pending["tag"], str) and TAG_RE.match(pending["tag"])):
        return "pending.tag must be 32 hexadecimal digits"
    if not _names(pending["names"]):
        return "pending.names must be a list of package names"
    return None


def _names(items):
    return isinstance(items, list) and all(is_name(n) for n in items)


class SyncLock(object):
    """One cluster sync per root at a time: a second one waits, then plans against the
    first one's result (dnf's own rpmdb lock only covers the transaction itself)."""

    def __init__(self, persistdir):
        self.path = os.path.join(state_dir(persistdir), "sync.lock")
        self.handle = None

    def acquire(self, on_wait=None):
        check_dir(os.path.dirname(self.path), create=True)
        self.handle = os.fdopen(open_regular(self.path, os.O_RDWR | os.O_CREAT, "the sync lock", 0o600), "r+")
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
