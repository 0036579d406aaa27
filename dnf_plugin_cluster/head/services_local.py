"""The head node's own files and services, for `dnf cluster-master services` (issue 26):
files read without following a symlink and replaced whole (mode and owner set before
the rename), the services' states as systemctl tells them, and the systemctl actions
that leave a unit enabled and running.
"""
import os
import pwd
import stat
import subprocess

from ..errors import ClusterError


def read_nofollow(path, what):
    """The bytes of the regular file `path` (not followed if a symlink), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == 2:
            return None
        raise ClusterError("cannot read {}: {}".format(what, err.strerror or err), path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ClusterError("{} is not a regular file".format(what), path)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(path, data, mode, owner=None, exclusive=False):
    """`path` replaced whole (a temporary file in its directory, renamed over it),
    mode and owner ("user") set before the rename; exclusive: only if there is none."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    ids = user_ids(owner) if owner else None
    tmp = os.path.join(directory, ".{}.{}".format(os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if ids:
                os.fchown(handle.fileno(), ids[0], ids[1])
            os.fchmod(handle.fileno(), mode)
            handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)          # fails if the file appeared meanwhile: never written over
            os.unlink(tmp)
        else:
            os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def user_ids(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ClusterError("no user '{}' on this host: is its package installed (munge, slurm)?".format(user))
    return entry.pw_uid, entry.pw_gid


def local_unit_state(unit):
    """(enabled, active) of a unit on this host, as systemctl tells."""
    def ask(verb):
        try:
            proc = subprocess.run(["systemctl", verb, unit], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  universal_newlines=True)
        except OSError:
            raise ClusterError("cannot run systemctl: the services need systemd on the head node")
        return (proc.stdout.splitlines() or [""])[0].strip()
    return ask("is-enabled"), ask("is-active")


def unit_actions(unit, enabled, active, restart):
    """The systemctl actions that leave `unit` enabled and running, restarted when its
    key or configuration changed."""
    out = []
    if enabled not in ("enabled", "static", "alias", "indirect", "generated"):
        out.append(unit + ".enable")
    if active == "active":
        if restart:
            out.append(unit + ".restart")
    else:
        out.append(unit + ".start")
    return out
