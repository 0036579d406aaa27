"""Reading and replacing one metadata type in a local repository's repodata/
(used on the build host and the head node, on the repository they publish)."""
import gzip
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from . import mdfile
from .errors import ClusterError

REPO_NS = "{http://linux.duke.edu/metadata/repo}"


def location(repodata, mdtype):
    """Path of metadata `mdtype` in `repodata`, or None."""
    repomd = os.path.join(repodata, "repomd.xml")
    try:
        root = ET.parse(repomd).getroot()
    except (OSError, ET.ParseError) as err:
        raise ClusterError("cannot read repository metadata: {}".format(err), repomd)
    for data in root.findall(REPO_NS + "data"):
        if data.get("type") == mdtype:
            href = data.find(REPO_NS + "location").get("href")
            return os.path.join(os.path.dirname(repodata), href)
    return None


def read(repodata, mdtype, limit):
    """Content of metadata `mdtype` (decompressed, whatever the compression; at most
    `limit` bytes), or None when the type is absent."""
    path = location(repodata, mdtype)
    if path is None:
        return None
    return mdfile.read_bounded(path, limit, "metadata '{}'".format(mdtype))


def replace(repodata, mdtype, filename, data):
    """Add or replace metadata `mdtype` with `data` (bytes), stored gzipped as
    <checksum>-<filename>.gz. modifyrepo_c cannot detect the compression of plain JSON,
    so it is handed an already gzipped file (deterministic: no name, mtime 0), and told
    to keep gzip: createrepo_c 1.x would otherwise recompress it with zstd, which older
    nodes' Python cannot read without an extra module or program."""
    work = tempfile.mkdtemp(prefix="cluster-md-")
    try:
        path = os.path.join(work, filename + ".gz")
        with open(path, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(data)
        proc = subprocess.run(["modifyrepo_c", "--mdtype", mdtype, "--compress-type", "gz", path, repodata],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        if proc.returncode != 0:
            raise ClusterError("modifyrepo_c failed: {}".format(" ".join(proc.stdout.split())), repodata)
    finally:
        shutil.rmtree(work, ignore_errors=True)
