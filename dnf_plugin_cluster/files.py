"""Small file helpers both the node's and the head node's parts use: a file replaced
whole through a rename (a version lock list, a generation record), and a JSON
bookkeeping file read with one clear error when it is damaged."""
import errno
import json
import os
import tempfile

from .errors import ClusterError


def write_atomic(path, data):
    """Write bytes or text to `path` through a temporary file and a rename."""
    tmp = "{}.tmp{}".format(path, os.getpid())
    with open(tmp, "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def replace_file(path, text):
    """Replace the package manager's file `path` (a version lock list) with `text`, whole
    or not at all: a temporary file in its directory, synced, renamed over it; the old
    file's permissions kept (0644 for a new one). Raises OSError."""
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
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
