"""Building aside and swapping in last: what `cluster-repo build` writes into OUTDIR.

A build never writes into the published tree. It copies the tree it extends
(OUTDIR[/testing]/<releasever>: the published RPMs as hard links, since published files
are never changed, the rest as copies) into a temporary directory beside OUTDIR on the
same filesystem, builds, indexes, signs and checks closure there, and only then moves
the result in by renames: the signing key, the release tree (swapped with the old one
in one step where the kernel can: renameat2(RENAME_EXCHANGE)), the stable
cluster-release address and the stamp. Any failure before that leaves OUTDIR exactly as
it was; the temporary directory goes. Builds into one OUTDIR run one at a time (a lock
on OUTDIR's parent directory).

OUTDIR carries a stamp, OUTDIR/.cluster-repo, so a build can tell its own tree from an
unrelated directory: it refuses to write into a non-empty directory without the stamp
(or the build manifest of a tree made before stamps existed) unless forced."""
import ctypes
import errno
import fcntl
import os
import shutil
import tempfile

from dnf_plugin_cluster.errors import ClusterError

STAMP = ".cluster-repo"
STAMP_TEXT = ("This directory is a repository tree written by `cluster-repo build`.\n"
              "Builds replace its release trees only as a whole; do not edit it by hand.\n")
MANIFEST = ".cluster-build.json"
STAGE_INFIX = ".cluster-build-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def made_by_build(outdir):
    """Whether OUTDIR holds a tree `cluster-repo build` wrote: its stamp, or (trees from
    before the stamp) a build manifest in a release tree."""
    if os.path.isfile(os.path.join(outdir, STAMP)):
        return True
    for top in (outdir, os.path.join(outdir, "testing")):
        try:
            names = os.listdir(top)
        except OSError:
            continue
        if any(os.path.isfile(os.path.join(top, name, MANIFEST)) for name in names):
            return True
    return False


def check_outdir(outdir, force=False):
    """Refuse an OUTDIR that is a file, or a non-empty directory `build` did not make."""
    if not os.path.lexists(outdir):
        return
    if not os.path.isdir(outdir):
        raise ClusterError("not a directory: build into a new or empty directory", outdir)
    if force or not os.listdir(outdir) or made_by_build(outdir):
        return
    raise ClusterError("not empty and not a tree `cluster-repo build` made (no {} stamp): build into a new "
                       "or empty directory, or pass --force to build here anyway".format(STAMP), outdir)


def _has_text(path, text):
    try:
        with open(path) as handle:
            return handle.read() == text
    except (OSError, UnicodeDecodeError):
        return False


def _link_or_copy(src, dst):
    """Published RPMs are hard-linked (they never change in place); the rest is copied."""
    if src.endswith(".rpm"):
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    return shutil.copy2(src, dst)


def _exchange(a, b):
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE); False where the kernel,
    libc or filesystem cannot."""
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


class Stage(object):
    """The temporary copy a build writes. `top` stands for OUTDIR, `tree` for the release
    tree (OUTDIR[/testing]/<releasever>); commit() moves them in; close() removes the rest.

    Use as a context manager: entering takes the lock and copies the published tree."""

    def __init__(self, outdir, tree, force=False, log=None):
        self.outdir = os.path.abspath(outdir)
        self.rel = os.path.relpath(os.path.abspath(tree), self.outdir)
        if self.rel.startswith(os.pardir) or os.path.isabs(self.rel):
            raise ValueError("{} is not under {}".format(tree, outdir))
        self.force = force
        self.log = log or (lambda text: None)
        self.top = self.tree = None
        self._lock = None

    def __enter__(self):
        parent = os.path.dirname(self.outdir)
        try:
            os.makedirs(parent, exist_ok=True)
            self._lock = os.open(parent, os.O_RDONLY)
        except OSError as err:
            raise ClusterError("cannot use the directory above OUTDIR: {}".format(err.strerror), parent)
        try:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.log("waiting for another build beside {}".format(self.outdir))
                fcntl.flock(self._lock, fcntl.LOCK_EX)
            check_outdir(self.outdir, self.force)
            where = self._stage_parent(parent)
            prefix = "." + os.path.basename(self.outdir) + STAGE_INFIX
            self._clean_leftovers(where, prefix)
            self.top = tempfile.mkdtemp(prefix=prefix, dir=where)
            self.tree = os.path.join(self.top, self.rel)
            published = os.path.join(self.outdir, self.rel)
            if os.path.isdir(published):
                shutil.copytree(published, self.tree, symlinks=True, copy_function=_link_or_copy)
            else:
                os.makedirs(self.tree)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _stage_parent(self, parent):
        """Beside OUTDIR; inside it (hidden) when OUTDIR is a mount point or its parent is
        not writable, so the final renames never cross filesystems."""
        if not os.path.isdir(self.outdir):
            return parent
        if os.stat(parent).st_dev == os.stat(self.outdir).st_dev and os.access(parent, os.W_OK | os.X_OK):
            return parent
        return self.outdir

    @staticmethod
    def _clean_leftovers(where, prefix):
        """Stage directories of builds that were killed (under the lock, none is in use)."""
        for name in os.listdir(where):
            if name.startswith(prefix):
                shutil.rmtree(os.path.join(where, name), ignore_errors=True)

    def path(self, *parts):
        """A path in the stage's OUTDIR."""
        return os.path.join(self.top, *parts)

    def commit(self, top_files=()):
        """Move the new release tree and `top_files` (names directly under OUTDIR, written
        in the stage) in, then the stamp. Up to here OUTDIR was untouched."""
        names = list(top_files)
        if not _has_text(os.path.join(self.outdir, STAMP), STAMP_TEXT):
            with open(self.path(STAMP), "w") as handle:
                handle.write(STAMP_TEXT)
            names.append(STAMP)
        if not os.path.isdir(self.outdir):
            os.mkdir(self.outdir)
        # the key before the tree (a new tree may be signed with it), the stable address
        # of cluster-release after it (it points nodes at the tree), the stamp last
        before = [n for n in names if not n.endswith(".rpm") and n != STAMP]
        after = [n for n in names if n.endswith(".rpm")] + [n for n in names if n == STAMP]
        for name in before:
            os.rename(self.path(name), os.path.join(self.outdir, name))
        published = os.path.join(self.outdir, self.rel)
        if os.path.isdir(published):
            if not _exchange(self.tree, published):
                old = self.tree + ".old"
                os.rename(published, old)
                os.rename(self.tree, published)
        else:
            os.makedirs(os.path.dirname(published), exist_ok=True)
            os.rename(self.tree, published)
        for name in after:
            os.rename(self.path(name), os.path.join(self.outdir, name))

    def close(self):
        if self.top is not None:
            shutil.rmtree(self.top, ignore_errors=True)
            self.top = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None
