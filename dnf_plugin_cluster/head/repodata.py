"""Reading and writing metadata records of a local repository's repodata/ (on the build
host and the head node, for the repositories they publish).

Writing goes through the createrepo_c Python API (python3-createrepo_c; the same calls
exist in 0.17 on Debian 12/EL8-9 and in 1.x): a record's file is compressed with gzip,
explicitly (createrepo_c 1.x would otherwise pick zstd, which older nodes' Python cannot
read without an extra module or program), named after its checksum, and written beside
the files the current repomd.xml names; the new repomd.xml is written aside and renamed
over the old one last, so a reader sees the old repository or the new one, never a
half-written file."""
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET

from .. import mdfile
from ..errors import ClusterError
from ..files import NOFOLLOW

REPO_NS = "{http://linux.duke.edu/metadata/repo}"
REPOMD = "repomd.xml"
#: Where a new repomd.xml (and its signature) is written before it is renamed in place.
PENDING = ".repomd.xml.new"


def _cr():
    try:
        import createrepo_c
    except ImportError:
        raise ClusterError("publishing needs the createrepo_c Python bindings: "
                           "dnf install python3-createrepo_c (apt-get install python3-createrepo-c)")
    return createrepo_c


def location(repodata, mdtype):
    """Path of metadata `mdtype` in `repodata`, or None."""
    for rtype, href in records(repodata):
        if rtype == mdtype:
            return os.path.join(os.path.dirname(repodata), href)
    return None


def records(repodata):
    """[(type, href)] of the records repomd.xml lists."""
    repomd = os.path.join(repodata, REPOMD)
    try:
        root = ET.parse(repomd).getroot()
    except (OSError, ET.ParseError) as err:
        raise ClusterError("cannot read repository metadata: {}".format(err), repomd)
    out = []
    for data in root.findall(REPO_NS + "data"):
        loc = data.find(REPO_NS + "location")
        out.append((data.get("type"), loc.get("href") if loc is not None else None))
    return out


def read(repodata, mdtype, limit):
    """Content of metadata `mdtype` (decompressed, whatever the compression; at most
    `limit` bytes), or None when the type is absent."""
    path = location(repodata, mdtype)
    if path is None:
        return None
    return mdfile.read_bounded(path, limit, "metadata '{}'".format(mdtype))


def load(repodata):
    """The repomd.xml of `repodata` as a createrepo_c Repomd."""
    cr = _cr()
    path = os.path.join(repodata, REPOMD)
    try:
        return cr.Repomd(path)
    except (cr.CreaterepoCError, OSError) as err:
        raise ClusterError("cannot read repository metadata: {}".format(err), path)


def put_record(repomd, stagedir, mdtype, filename, data):
    """Write `data` (bytes) as record `mdtype` of `repomd` (a createrepo_c Repomd): into
    `stagedir` as repodata/<sha256>-<filename>.gz; returns the file's path there. The
    file is moved into the repository by `move_files`."""
    cr = _cr()
    plain = os.path.join(stagedir, filename)
    with open(plain, "wb") as handle:
        handle.write(data)
    try:
        record = cr.RepomdRecord(mdtype, plain)
        packed = record.compress_and_fill(cr.SHA256, cr.GZ_COMPRESSION)
        packed.type = mdtype
        packed.rename_file()
    except cr.CreaterepoCError as err:
        raise ClusterError("cannot write metadata '{}': {}".format(mdtype, err), stagedir)
    finally:
        os.unlink(plain)
    repomd.set_record(packed)
    return os.path.join(stagedir, os.path.basename(packed.location_href))


def move_files(stagedir, repodata):
    """Move the metadata files written in `stagedir` into `repodata` (same file system).
    Names are content-addressed: one that exists already has the same content."""
    os.makedirs(repodata, exist_ok=True)
    for name in sorted(os.listdir(stagedir)):
        if name != REPOMD and not name.startswith("."):
            os.rename(os.path.join(stagedir, name), os.path.join(repodata, name))


def write_pending(repomd, repodata, sign=None):
    """Write `repomd` as repodata/.repomd.xml.new, and its detached signature beside it
    with sign(path) (which writes path + '.asc'). Nothing a reader uses changes yet."""
    repomd.sort_records()
    path = os.path.join(repodata, PENDING)
    for stale in (path, path + ".asc"):
        if os.path.lexists(stale):      # a dangling link too: never written through
            os.unlink(stale)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(repomd.xml_dump())
        handle.flush()
        os.fsync(handle.fileno())
    if sign is not None:
        sign(path)
    return path


def commit_pending(repodata):
    """Put the pending repomd.xml in place, atomically, then its signature.

    repomd.xml is renamed first and repomd.xml.asc right after: dnf (librepo) fetches
    repomd.xml before repomd.xml.asc, so a node sees a mismatching pair only when both
    of its fetches fall between the two renames, or both renames between its fetches.
    Renaming the signature first would also break every node that fetched the old
    repomd.xml at any time before the second rename. A mismatch is refused by the node
    (repo_gpgcheck) and the next run succeeds; nothing unsigned is ever accepted."""
    path = os.path.join(repodata, PENDING)
    os.rename(path, os.path.join(repodata, REPOMD))
    if os.path.exists(path + ".asc"):
        os.rename(path + ".asc", os.path.join(repodata, REPOMD + ".asc"))
    _fsync_dir(repodata)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(repodata, mdtype, filename, data, sign=None):
    """Add or replace metadata `mdtype` of one repository with `data` (bytes), swapping
    repomd.xml in atomically; the files the old repomd.xml named stay, as with
    createrepo_c --update. sign(path) signs the new repomd.xml."""
    repomd = load(repodata)
    stage = tempfile.mkdtemp(prefix=".stage-", dir=os.path.dirname(os.path.abspath(repodata)))
    try:
        put_record(repomd, stage, mdtype, filename, data)
        move_files(stage, repodata)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    write_pending(repomd, repodata, sign)
    commit_pending(repodata)
