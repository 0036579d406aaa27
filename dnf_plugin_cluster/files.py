"""Small file helpers both the node's and the head node's parts use: a file replaced
whole through a rename (a version lock list, a generation record), a JSON bookkeeping
file read with one clear error when it is damaged, and a file of a node's root opened
as root's own: a path taken inside the root, a regular file only (no symbolic link
followed, never blocking on a FIFO), read up to a bound."""
import errno
import fcntl
import json
import os
import stat

from .errors import ClusterError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
#: what read_text() reads at most: a configuration file or a version lock list
MAX_TEXT = 4 * 1024 * 1024


def open_regular(path, flags, what, mode=0o644):
    """os.open(path) without following a symbolic link and without blocking on a FIFO;
    the result must be a regular file (the descriptor is then blocking again). A
    missing file raises the OSError (ENOENT); anything else is one ClusterError line
    naming `what` and the path."""
    try:
        fd = os.open(path, flags | NOFOLLOW | os.O_NONBLOCK, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ClusterError("refusing to follow a symbolic link", path)
        if err.errno == errno.ENOENT:
            raise
        raise ClusterError("cannot open {}: {}".format(what, err.strerror), path)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ClusterError("{} is not a regular file".format(what), path)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return fd


def read_text(path, what, limit=MAX_TEXT):
    """The UTF-8 text of the regular file `path` (opened as open_regular() does), or None
    when there is no such file; a larger file than `limit` bytes, or one that is not
    text, is one ClusterError line."""
    try:
        fd = open_regular(path, os.O_RDONLY, what)
    except OSError:                                  # ENOENT
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as err:
            raise ClusterError("cannot read {}: {}".format(what, err.strerror), path)
    if len(data) > limit:
        raise ClusterError("{} is larger than {} bytes; refusing".format(what, limit), path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ClusterError("{} is not UTF-8 text (byte {} is invalid)".format(what, err.start), path)


def check_text_file(path, what, limit=MAX_TEXT):
    """For a file another program reads (libdnf5 reads versionlock.toml itself): True
    when `path` is a regular file of at most `limit` bytes, False when there is none;
    a link, a FIFO, a device or a larger file is one ClusterError line, as read_text()
    says it."""
    try:
        fd = open_regular(path, os.O_RDONLY, what)
    except OSError:                                  # ENOENT
        return False
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > limit:
        raise ClusterError("{} is larger than {} bytes; refusing".format(what, limit), path)
    return True

def in_root(root, path):
    """The host path of `path` (absolute, as the image's own files name it) inside the
    root: `..` never climbs out of it (`/../../tmp/x` is <root>/tmp/x)."""
    return os.path.join(root, os.path.normpath("/" + path).lstrip("/"))


def escapes_root(root, path):
    """True when `path` (inside `root`) is reached through a symbolic link out of the
    root: its directory's real path is not the root's real path plus the same names."""
    if os.path.normpath(root) == "/":
        return False
    directory = os.path.dirname(os.path.normpath(path))
    inside = os.path.relpath(directory, root)
    if inside == ".." or inside.startswith(".." + os.sep):
        return True
    real_root = os.path.realpath(root)
    return os.path.realpath(directory) != os.path.normpath(os.path.join(real_root, inside))


def write_atomic(path, data):
    """Write bytes or text to `path` through a temporary file and a rename. Nothing is
    written through a link: a leftover at the temporary name (a file, or a link someone
    planted) is removed first and the temporary is created new (O_EXCL, no link
    followed); the rename replaces a link at `path` itself, never its target."""
    tmp = "{}.tmp{}".format(path, os.getpid())
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def replace_file(path, text):
    """Replace the package manager's file `path` (a version lock list) with `text`, whole
    or not at all: a temporary file in its directory, synced, renamed over it; the old
    file's permissions kept (0644 for a new one); a link at `path` is replaced, never
    written through. Raises OSError."""
    try:
        info = os.lstat(path)
        mode = stat.S_IMODE(info.st_mode) & 0o777 if stat.S_ISREG(info.st_mode) else 0o644
    except OSError:
        mode = 0o644
    import tempfile                      # only when writing (a no-op answer never does)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path, what):
    """The JSON document in `path`, or None when there is no such file; a file that
    cannot be read or parsed is a ClusterError naming `what` and the path."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except IOError as err:
        if err.errno == errno.ENOENT:
            return None
        raise ClusterError("cannot read {}: {}".format(what, err.strerror), path)
    except ValueError as err:
        raise ClusterError("corrupt {}: {}".format(what, err), path)
    except RecursionError:
        raise ClusterError("corrupt {}: nested too deeply".format(what), path)
