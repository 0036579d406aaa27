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
    return put_packed(repodata, mdtype, filename + SUFFIX[kind], compress(data, kind),
                      hashlib.sha256(data).hexdigest(), len(data))


def put_packed(repodata, mdtype, filename, packed, open_sha256=None, open_size=None):
    """Replace metadata `mdtype` with the compressed bytes `packed` (named
    <sha256>-`filename`); the open-checksum and open-size are listed when given."""
    ET.register_namespace("", NS)
    ET.register_namespace("rpm", RPM_NS)
    sha = hashlib.sha256(packed).hexdigest()
    name = "{}-{}".format(sha, filename)
    with open(os.path.join(repodata, name), "wb") as handle:
        handle.write(packed)
    repomd = os.path.join(repodata, "repomd.xml")
    tree = ET.parse(repomd)
    root = tree.getroot()
    for old in root.findall("{%s}data" % NS):
        if old.get("type") == mdtype:
            root.remove(old)
    record = ET.SubElement(root, "{%s}data" % NS, {"type": mdtype})
    fields = [("checksum", sha, {"type": "sha256"})]
    if open_sha256 is not None:
        fields.append(("open-checksum", open_sha256, {"type": "sha256"}))
    fields += [("location", None, {"href": "repodata/" + name}),
               ("timestamp", str(int(time.time())), {}),
               ("size", str(len(packed)), {})]
    if open_size is not None:
        fields.append(("open-size", str(open_size), {}))
    for tag, text, attrs in fields:
        element = ET.SubElement(record, "{%s}%s" % (NS, tag), attrs)
        if text is not None:
            element.text = text
    tree.write(repomd, xml_declaration=True, encoding="UTF-8")
    return os.path.join(repodata, name)
