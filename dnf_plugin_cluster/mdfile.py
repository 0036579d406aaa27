"""Reading one repository metadata file, whatever createrepo_c compressed it with (gzip,
zstd, xz, bzip2 or none), streaming and size-bounded.

Written here because the libraries fall short: libdnf's get_metadata_content() and
createrepo_c's decompress_file() expand the whole file (into memory or onto disk) before
anything can check its size, so a small compressed "bomb" in a remote repository would
cost every node gigabytes. The compression is told by the file's magic bytes, not its
name. zstd (createrepo_c 1.x's default) comes from the standard library (Python 3.14+),
else the `zstandard` module, else the `zstd` program, read as a pipe. A zstd frame's
decoder holds its whole window: a frame declaring one larger than ZSTD_WINDOW_MAX (what
every level up to `zstd -19` uses; `--long=27` or `--ultra` write larger ones) is refused
from its header, and every decoder is told the same bound for any later frame."""
import bz2
import errno
import lzma
import os
import subprocess
import zlib

from .errors import ClusterError

CHUNK = 64 * 1024
STEP = 1024 * 1024
ZSTD_STEP = 32
#: the largest zstd window a node decodes: 8 MiB (window log 23, `zstd -19`'s)
ZSTD_WINDOW_LOG = 23
ZSTD_WINDOW_MAX = 1 << ZSTD_WINDOW_LOG
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

MAGIC = (
    (b"\x1f\x8b", "gz"),
    (ZSTD_MAGIC, "zst"),
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
        head = handle.read(18)
        kind = compression_of(head)
        handle.seek(0)
        if kind == "zck":
            raise ClusterError("{}: zchunk compression is not supported; publish it with gz or zstd".format(
                what), path)
        if kind == "zst":
            window = zstd_window(head)
            if window is not None and window > ZSTD_WINDOW_MAX:
                raise _window_too_big(what, window, path)
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


def _mib(size):
    return "{:g} MiB".format(size / float(1 << 20))


def _window_too_big(what, window, path):
    if window is None:
        return ClusterError("{}: a zstd frame needs a window larger than {}; refused".format(
            what, _mib(ZSTD_WINDOW_MAX)), path)
    return ClusterError("{}: zstd window of {} is larger than {}; refused".format(
        what, _mib(window), _mib(ZSTD_WINDOW_MAX)), path)


def zstd_window(head):
    """The window size in bytes a zstd frame starting `head` declares (RFC 8878,
    3.1.1.1): its window descriptor, or for a single-segment frame its content size.
    None when `head` is no complete zstd frame header."""
    if not head.startswith(ZSTD_MAGIC) or len(head) < 6:
        return None
    descriptor = head[4]
    size_flag, single, has_dict = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    if not single:
        exponent, mantissa = head[5] >> 3, head[5] & 7
        base = 1 << (10 + exponent)
        return base + (base >> 3) * mantissa
    start = 5 + (0, 1, 2, 4)[has_dict]
    width = (1, 2, 4, 8)[size_flag]
    if len(head) < start + width:
        return None
    size = int.from_bytes(head[start:start + width], "little")
    return size + 256 if width == 2 else size


def _window_error(text):
    """Whether a decoder's error text says a frame's window is over the bound."""
    text = text.lower()
    return "window" in text or "too much memory" in text or "memory limit" in text


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
        proc = subprocess.Popen(["zstd", "-q", "-d", "-c", "--memory={}KB".format(ZSTD_WINDOW_MAX >> 10)], stdin=handle.fileno(), stdout=subprocess.PIPE,
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
        text = " ".join(err.decode("utf-8", "replace").split()) or "zstd failed"
        if _window_error(text):
            raise _window_too_big(what, None, path)
        raise ClusterError("{}: corrupt zstd data: {}".format(what, text), path)
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
                decompressor = stdlib_zstd.ZstdDecompressor(
                    options={stdlib_zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG})
                return _stream(handle, decompressor, limit, what, path)
            except stdlib_zstd.ZstdError as err:
                if _window_error(str(err)):
                    raise _window_too_big(what, None, path)
                raise ClusterError("{}: corrupt zstd data: {}".format(what, err), path)
        return read
    try:
        import zstandard
    except ImportError:
        return None

    def read_zstandard(handle, path, limit, what):
        # decompressobj has no output limit: feed it small pieces, so one step yields at
        # most ZSTD_STEP / 4 blocks of 128 KiB (1 MiB), whatever the input; the pieces are
        # kept as a list (a growing bytearray is copied when it moves) and joined once
        obj = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW_MAX).decompressobj()
        pieces, size = [], 0
        try:
            while not obj.eof:
                chunk = handle.read(ZSTD_STEP)
                if not chunk:
                    raise ClusterError("{}: compressed data is truncated".format(what), path)
                piece = obj.decompress(chunk)
                if piece:
                    pieces.append(piece)
                    size += len(piece)
                if size > limit:
                    del pieces[:]
                    raise _too_big(what, limit, path)
        except zstandard.ZstdError as err:
            if _window_error(str(err)):
                raise _window_too_big(what, None, path)
            raise ClusterError("{}: corrupt zstd data: {}".format(what, err), path)
        return b"".join(pieces)
    return read_zstandard
