"""Writing one metadata record into a repository the way other tools may have: any
compression createrepo_c can write (gz, zstd, xz, bz2), whatever the local createrepo_c
version supports (Debian 12's modifyrepo_c 0.17 knows no zstd; 1.x defaults to it).
For tests: a node must read a profile in every compression a mirror's tools produce."""
import bz2
import gzip
import hashlib
import lzma
import os
import subprocess
import time
import xml.etree.ElementTree as ET

NS = "http://linux.duke.edu/metadata/repo"
RPM_NS = "http://linux.duke.edu/metadata/rpm"
SUFFIX = {"gz": ".gz", "zstd": ".zst", "xz": ".xz", "bz2": ".bz2"}


def compress(data, kind):
    if kind == "gz":
        return gzip.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout
    raise ValueError(kind)


def put_record(repodata, mdtype, filename, data, kind):
    """Replace metadata `mdtype` in `repodata` with `data` compressed as `kind`;
    returns the new file's path. The old file is left in place, as createrepo_c does."""
    ET.register_namespace("", NS)
    ET.register_namespace("rpm", RPM_NS)
    packed = compress(data, kind)
    sha = lambda b: hashlib.sha256(b).hexdigest()
    name = "{}-{}{}".format(sha(packed), filename, SUFFIX[kind])
    with open(os.path.join(repodata, name), "wb") as handle:
        handle.write(packed)
    repomd = os.path.join(repodata, "repomd.xml")
    tree = ET.parse(repomd)
    root = tree.getroot()
    for old in root.findall("{%s}data" % NS):
        if old.get("type") == mdtype:
            root.remove(old)
    record = ET.SubElement(root, "{%s}data" % NS, {"type": mdtype})
    for tag, text, attrs in (("checksum", sha(packed), {"type": "sha256"}),
                             ("open-checksum", sha(data), {"type": "sha256"}),
                             ("location", None, {"href": "repodata/" + name}),
                             ("timestamp", str(int(time.time())), {}),
                             ("size", str(len(packed)), {}),
                             ("open-size", str(len(data)), {})):
        element = ET.SubElement(record, "{%s}%s" % (NS, tag), attrs)
        if text is not None:
            element.text = text
    tree.write(repomd, xml_declaration=True, encoding="UTF-8")
    return os.path.join(repodata, name)
