"""Reading one repository metadata file, whatever createrepo_c compressed it with (gzip,
zstd, xz, bzip2 or none), streaming and size-bounded.

Written here because the libraries fall short: libdnf's get_metadata_content() and
createrepo_c's decompress_file() expand the whole file (into memory or onto disk) before
anything can check its size, so a small compressed "bomb" in a remote repository would
cost every node gigabytes. The compression is told by the file's magic bytes, not its
name. zstd (createrepo_c 1.x's default) comes from the standard library (Python 3.14+),
else the `zstandard` module, else the `zstd` program, read as a pipe."""
import bz2
import errno
import lzma
import os
import subprocess
import zlib

from .errors import ClusterError

CHUNK = 64 * 1024
STEP = 1024 * 1024
ZSTD_STEP = 256

MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bz2"),
    (b"\x00ZCK1", "zck"),
)


def compression_of(head):
    """'gz', 'zst', 'xz', 'bz2', 'zck' or '' (plain) from a file's first bytes."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return ""


def _open_nofollow(path):
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.fdopen(os.open(path, flags), "rb")


def read_bounded(path, limit, what):
    """The decompressed content of `path`, refused with one line naming `what` when it
    would exceed `limit` bytes. Memory stays near `limit`, whatever the ratio."""
    try:
        handle = _open_nofollow(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ClusterError("{}: refusing to follow a symbolic link".format(what), path)
        raise ClusterError("{}: cannot read: {}".format(what, err.strerror), path)
    with handle:
        head = handle.read(8)
        kind = compression_of(head)
        handle.seek(0)
        if kind == "zck":
            raise ClusterError("{}: zchunk compression is not supported; publish it with gz or zstd".format(
                what), path)
        if kind == "zst":
            return _read_zstd(handle, path, limit, what)
        decompressor = {
            "gz": _Zlib,
            "xz": lzma.LZMADecompressor,
            "bz2": bz2.BZ2Decompressor,
        }.get(kind)
        try:
            return _stream(handle, decompressor() if decompressor else None, limit, what, path)
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as err:
            raise ClusterError("{}: corrupt {} data: {}".format(what, kind or "plain", err), path)


def _too_big(what, limit, path):
    return ClusterError("{}: larger than {} bytes when decompressed; refused".format(what, limit), path)


class _Zlib(object):
    """zlib's decompressobj with the interface of lzma/bz2/zstd decompressors
    (decompress(data, max_length), needs_input, eof)."""

    def __init__(self):
        self.obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.needs_input = True
        self.eof = False

    def decompress(self, data, max_length):
        out = self.obj.decompress(self.obj.unconsumed_tail + data, max_length)
        self.needs_input = not self.obj.unconsumed_tail
        self.eof = self.obj.eof
        return out


def _stream(handle, decompressor, limit, what, path):
    """Feed `handle` through `decompressor` (None: plain), never holding more than
    limit + CHUNK decompressed bytes."""
    out = bytearray()
    while len(out) <= limit:
        if decompressor is None:
            chunk = handle.read(CHUNK)
            if not chunk:
                return bytes(out)
            out += chunk
            continue
        if decompressor.eof:
            return bytes(out)
        chunk = b""
        if decompressor.needs_input:
            chunk = handle.read(CHUNK)
            if not chunk:
                raise ClusterError("{}: compressed data is truncated".format(what), path)
        # at most STEP per call: one call's output is a copy on top of `out`
        out += decompressor.decompress(chunk, min(STEP, limit - len(out) + 1))
    raise _too_big(what, limit, path)


def _read_zstd(handle, path, limit, what):
    module = _zstd_module()
    if module is not None:
        return module(handle, path, limit, what)
    os.lseek(handle.fileno(), 0, os.SEEK_SET)       # the pipe reads the descriptor, not the buffer
    try:
        proc = subprocess.Popen(["zstd", "-q", "-d", "-c"], stdin=handle.fileno(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError:
        raise ClusterError("{}: the metadata is zstd-compressed and neither the zstd program nor a zstd "
                           "Python module is installed".format(what), path)
    out = bytearray()
    while len(out) <= limit:
        chunk = proc.stdout.read(CHUNK)
        if not chunk:
            break
        out += chunk
    if len(out) > limit:
        proc.kill()
        proc.communicate()
        raise _too_big(what, limit, path)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise ClusterError("{}: corrupt zstd data: {}".format(
            what, " ".join(err.decode("utf-8", "replace").split()) or "zstd failed"), path)
    return bytes(out)


def _zstd_module():
    """A streaming zstd reader from a Python module, or None."""
    try:
        from compression import zstd as stdlib_zstd          # Python 3.14+
    except ImportError:
        stdlib_zstd = None
    if stdlib_zstd is not None:
        def read(handle, path, limit, what):
            try:
                return _stream(handle, stdlib_zstd.ZstdDecompressor(), limit, what, path)
            except stdlib_zstd.ZstdError as err:
                raise ClusterError("{}: corrupt zstd data: {}".format(what, err), path)
        return read
    try:
        import zstandard
    except ImportError:
        return None

    def read_zstandard(handle, path, limit, what):
        # decompressobj has no output limit: feed it small pieces, so one step yields at
        # most ZSTD_STEP / 4 blocks of 128 KiB (8 MiB), whatever the input
        obj = zstandard.ZstdDecompressor().decompressobj()
        out = bytearray()
        try:
            while not obj.eof:
                chunk = handle.read(ZSTD_STEP)
                if not chunk:
                    raise ClusterError("{}: compressed data is truncated".format(what), path)
                out += obj.decompress(chunk)
                if len(out) > limit:
                    raise _too_big(what, limit, path)
        except zstandard.ZstdError as err:
            raise ClusterError("{}: corrupt zstd data: {}".format(what, err), path)
        return bytes(out)
    return read_zstandard
