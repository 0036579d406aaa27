"""A tool's `sources` file and the lookaside cache, as Fedora's dist-git has them.

`specs/NAME/sources` names each upstream tarball the tree does not hold, one line each,
in the format `fedpkg new-sources` writes:

    SHA512 (netpipe_3.7.2.orig.tar.gz) = 1d3f...e9

The cache keeps verified files under Fedora's lookaside layout,
`CACHE/NAME/FILE/sha512/HEX/FILE`, so a cache directory served over HTTP is itself a
lookaside mirror for `cluster-repo sources --lookaside URL`."""
import hashlib
import os
import re

from dnf_plugin_cluster.errors import ClusterError

SOURCES_FILE = "sources"
#: a file name as dist-git's lookaside accepts it: no path, no leading dot
FILE_RE = re.compile(r"[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*\Z")
LINE_RE = re.compile(r"SHA512 \((?P<file>[^()]*)\) = (?P<hash>[0-9a-f]{128})\Z")
CHUNK = 1 << 20


def default_cache():
    """Where `sources` keeps tarballs and `build` reads them: $CLUSTER_REPO_CACHE/lookaside,
    else under $XDG_CACHE_HOME (~/.cache)/cluster-repo."""
    top = os.environ.get("CLUSTER_REPO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "cluster-repo")
    return os.path.join(top, "lookaside")


class Entry(object):
    def __init__(self, filename, sha512, path=None, line=None):
        self.filename, self.sha512, self.path, self.line = filename, sha512, path, line

    def text(self):
        return "SHA512 ({}) = {}".format(self.filename, self.sha512)

    def __repr__(self):
        return "Entry({}, {}...)".format(self.filename, self.sha512[:12])


def check_filename(name, path=None, line=None):
    if not isinstance(name, str) or not FILE_RE.match(name) or name in (".", ".."):
        raise ClusterError("'{}' is not a plain file name: a sources line names a file, never a path".format(name),
                           path, line)
    return name


def parse(path):
    """[Entry] of a sources file ([] when there is none); ClusterError naming file:line
    for a malformed line, a path instead of a file name, or a file listed twice."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(1 << 20)
    except FileNotFoundError:
        return []
    except OSError as err:
        raise ClusterError("cannot read: {}".format(err.strerror), path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ClusterError("not UTF-8 text", path)
    entries, seen = [], set()
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        match = LINE_RE.match(line)
        if not match:
            if re.match(r"[0-9a-fA-F]{32}  \S", line):
                raise ClusterError("old md5 sources line: write 'SHA512 (FILE) = HEX' "
                                   "(`cluster-repo new-sources`)", path, number)
            raise ClusterError("malformed sources line: expected 'SHA512 (FILE) = HEX' with 128 lowercase hex "
                               "digits", path, number)
        name = check_filename(match.group("file"), path, number)
        if name in seen:
            raise ClusterError("'{}' is listed twice".format(name), path, number)
        seen.add(name)
        entries.append(Entry(name, match.group("hash"), path, number))
    return entries


def write(path, entries):
    """Replace the sources file with these entries (in the order given)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("".join(e.text() + "\n" for e in entries))
    os.rename(tmp, path)


def sha512_file(path):
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def cache_path(cache, package, entry):
    """Where a verified file lives in the cache (Fedora's lookaside layout)."""
    return os.path.join(cache, package, entry.filename, "sha512", entry.sha512, entry.filename)


def mismatch(entry, actual):
    return ClusterError("{}: SHA512 mismatch: expected {}, got {}".format(entry.filename, entry.sha512, actual),
                        entry.path, entry.line)


def verified(cache, package, entry):
    """The cached file of `entry` after checking its SHA512, None when it is not cached;
    ClusterError when the cached file does not match (it is never used)."""
    path = cache_path(cache, package, entry)
    if not os.path.isfile(path):
        return None
    actual = sha512_file(path)
    if actual != entry.sha512:
        raise mismatch(entry, actual)
    return path


def store(cache, package, src):
    """Copy a local file into the cache; returns its Entry (as `new-sources` does)."""
    import shutil
    name = check_filename(os.path.basename(src))
    entry = Entry(name, sha512_file(src))
    dest = cache_path(cache, package, entry)
    if not os.path.isfile(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + ".tmp"
        shutil.copyfile(src, tmp)
        os.rename(tmp, dest)
    return entry
