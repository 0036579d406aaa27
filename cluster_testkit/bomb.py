"""A gzip bomb for tests, written in well under a second: one valid gzip member whose
single dynamic-Huffman deflate block emits a zero byte and then matches of 258 bytes
at distance 1, each coded in 2 bits, so N bytes on disk expand to about 1032 * N.

The codes are chosen so every match is two zero bits: the body is plain zero bytes.
Lit/len code lengths: 285 (length 258) -> 1, literal 0 and end-of-block -> 2;
distance codes 0 and 1 -> 1. They are sent with a code-length code where 18 (a run
of zeros) -> 1 bit, and lengths 1 and 2 -> 2 bits (RFC 1951, 3.2.7)."""
import struct
import zlib

MATCH = 258


class _Bits(object):
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def value(self, value, nbits):
        """A header field or extra bits: least significant bit first."""
        for i in range(nbits):
            self._bit((value >> i) & 1)

    def code(self, code, nbits):
        """A Huffman code: most significant bit first."""
        for i in range(nbits - 1, -1, -1):
            self._bit((code >> i) & 1)

    def zeros(self, nbits):
        while nbits and self.count:
            self._bit(0)
            nbits -= 1
        self.out += bytes(nbits // 8)
        for _ in range(nbits % 8):
            self._bit(0)

    def _bit(self, bit):
        self.acc |= bit << self.count
        self.count += 1
        if self.count == 8:
            self.out.append(self.acc)
            self.acc = self.count = 0

    def flush(self):
        if self.count:
            self.out.append(self.acc)
            self.acc = self.count = 0
        return bytes(self.out)


def _deflate(matches):
    bits = _Bits()
    bits.value(1, 1)                         # BFINAL
    bits.value(2, 2)                         # dynamic Huffman
    bits.value(286 - 257, 5)                 # HLIT: lit/len codes 0..285
    bits.value(2 - 1, 5)                     # HDIST: distance codes 0..1
    order = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
    lengths = {18: 1, 1: 2, 2: 2}
    bits.value(18 - 4, 4)                    # HCLEN: the first 18 entries of `order`
    for symbol in order[:18]:
        bits.value(lengths.get(symbol, 0), 3)
    one, two, run = (0b10, 2), (0b11, 2), (0b0, 1)       # canonical codes of 1, 2 and 18

    def zero_run(count):
        bits.code(*run)
        bits.value(count - 11, 7)
    bits.code(*two)                          # literal 0: length 2
    zero_run(138)
    zero_run(117)                            # literals 1..255 unused
    bits.code(*two)                          # 256 (end of block): length 2
    zero_run(28)                             # 257..284 unused
    bits.code(*one)                          # 285 (length 258): length 1
    bits.code(*one)                          # distance 0 (1): length 1
    bits.code(*one)                          # distance 1 (2): length 1
    bits.code(0b10, 2)                       # the data: literal 0 ...
    bits.zeros(2 * matches)                  # ... then `matches` x (length 258, distance 1)
    bits.code(0b11, 2)                       # end of block
    return bits.flush()


def gzip_bomb(expanded):
    """(gzip bytes, exact expanded size) for at least `expanded` zero bytes."""
    matches = -(-(expanded - 1) // MATCH)
    size = 1 + MATCH * matches
    crc, zeros, left = 0, bytes(1 << 24), size
    while left:
        step = min(left, len(zeros))
        crc = zlib.crc32(zeros[:step] if step < len(zeros) else zeros, crc)
        left -= step
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
    return header + _deflate(matches) + struct.pack("<II", crc & 0xffffffff, size & 0xffffffff), size


ZSTD_BLOCK = 128 * 1024


def zstd_bomb(expanded, window_log=27):
    """(zstd bytes, expanded size) for at least `expanded` zero bytes: one frame that
    declares a 2**window_log window (27: what `zstd --long=27` writes) made of RLE blocks
    of 128 KiB, 4 bytes each, so 2 GB are 64 KB on disk, as `zstd -19 --long=27`
    writes them for zeros."""
    blocks = -(-expanded // ZSTD_BLOCK)
    header = b"\x28\xb5\x2f\xfd" + bytes([0x00, (window_log - 10) << 3])    # no content size, no checksum
    body = bytearray()
    for index in range(blocks):
        last = 1 if index == blocks - 1 else 0
        body += struct.pack("<I", (ZSTD_BLOCK << 3) | (1 << 1) | last)[:3] + b"\x00"     # RLE of byte 0
    return header + bytes(body), blocks * ZSTD_BLOCK
