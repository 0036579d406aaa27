"""Metadata files are read whatever createrepo_c compressed them with, streaming and
size-bounded, without following a symbolic link."""
import os

import pytest

from cluster_testkit.bomb import zstd_bomb
from cluster_testkit.repomd import compress
from dnf_plugin_cluster import mdfile
from dnf_plugin_cluster.errors import ClusterError

DATA = b'{"format": 1}\n' * 4000


@pytest.mark.parametrize("kind", ["gz", "zstd", "xz", "bz2", "plain"])
def test_every_compression_reads_back_and_is_bounded(tmp_path, kind):
    path = str(tmp_path / "md")
    with open(path, "wb") as handle:
        handle.write(DATA if kind == "plain" else compress(DATA, kind))
    assert mdfile.read_bounded(path, len(DATA), "profile") == DATA
    with pytest.raises(ClusterError, match=r"profile: larger than 1000 bytes when decompressed; refused"):
        mdfile.read_bounded(path, 1000, "profile")


@pytest.mark.parametrize("kind", ["gz", "zstd", "xz", "bz2"])
def test_truncated_or_corrupt_data_is_one_line(tmp_path, kind):
    path = str(tmp_path / "md")
    packed = compress(DATA, kind)
    with open(path, "wb") as handle:
        handle.write(packed[:len(packed) // 2])
    with pytest.raises(ClusterError) as err:
        mdfile.read_bounded(path, len(DATA), "profile")
    assert "\n" not in str(err.value) and ("truncated" in str(err.value) or "corrupt" in str(err.value))


def test_symbolic_links_are_not_followed(tmp_path):
    target = tmp_path / "real"
    target.write_bytes(compress(DATA, "gz"))
    link = tmp_path / "link"
    os.symlink(str(target), str(link))
    with pytest.raises(ClusterError, match="refusing to follow a symbolic link"):
        mdfile.read_bounded(str(link), len(DATA), "profile")


def test_zchunk_is_refused_clearly(tmp_path):
    path = tmp_path / "md"
    path.write_bytes(b"\x00ZCK1" + b"\x00" * 64)
    with pytest.raises(ClusterError, match="zchunk"):
        mdfile.read_bounded(str(path), 100, "profile")


def test_zstd_through_the_zstd_program_too(tmp_path, monkeypatch):
    """Where Python has no zstd module (EL8's Python 3.6), the zstd program reads it."""
    monkeypatch.setattr(mdfile, "_zstd_module", lambda: None)
    path = str(tmp_path / "md")
    packed = compress(DATA, "zstd")
    with open(path, "wb") as handle:
        handle.write(packed)
    assert mdfile.read_bounded(path, len(DATA), "profile") == DATA
    with pytest.raises(ClusterError, match="larger than 1000 bytes"):
        mdfile.read_bounded(path, 1000, "profile")
    with open(path, "wb") as handle:
        handle.write(packed[:len(packed) // 2])
    with pytest.raises(ClusterError, match="corrupt zstd data"):
        mdfile.read_bounded(path, len(DATA), "profile")


def _big_window(tmp_path):
    """A zstd frame declaring a 128 MiB window, as `zstd --long=27` writes, after a
    valid one: the window decides what a decoder holds, whatever the content."""
    path = str(tmp_path / "md")
    with open(path, "wb") as handle:
        handle.write(zstd_bomb(64 << 20, window_log=27)[0])
    return path


@pytest.mark.parametrize("reader", ["module", "program"])
def test_zstd_window_over_8_mib_is_refused_from_the_header(tmp_path, monkeypatch, reader):
    if reader == "program":
        monkeypatch.setattr(mdfile, "_zstd_module", lambda: None)
    with pytest.raises(ClusterError, match=r": profile: zstd window of 128 MiB is larger than 8 MiB; refused$"):
        mdfile.read_bounded(_big_window(tmp_path), 1 << 30, "profile")


@pytest.mark.parametrize("reader", ["module", "program"])
def test_every_zstd_decoder_is_bounded_to_an_8_mib_window(tmp_path, monkeypatch, reader):
    """Should a frame's header get past the check (a later frame, a header read
    wrongly), the decoder itself refuses the window, with the same kind of line."""
    if reader == "program":
        monkeypatch.setattr(mdfile, "_zstd_module", lambda: None)
    monkeypatch.setattr(mdfile, "zstd_window", lambda head: None)
    with pytest.raises(ClusterError, match=r": profile: a zstd frame needs a window larger than 8 MiB; refused$"):
        mdfile.read_bounded(_big_window(tmp_path), 1 << 30, "profile")


def test_zstd_window_of_a_frame_header():
    assert mdfile.zstd_window(zstd_bomb(1, window_log=27)[0]) == 128 << 20
    assert mdfile.zstd_window(zstd_bomb(1, window_log=23)[0]) == 8 << 20
    assert mdfile.zstd_window(b"\x28\xb5\x2f\xfd\x00\x5a") == (1 << 21) + 2 * (1 << 18)     # mantissa 2
    # single segment, 4-byte content size: the window is the content size
    assert mdfile.zstd_window(b"\x28\xb5\x2f\xfd\xa0" + (3 << 30).to_bytes(4, "little")) == 3 << 30
    assert mdfile.zstd_window(b"\x28\xb5\x2f\xfd\x60\x00\x01") == 256 + 256     # 2 bytes: +256
    assert mdfile.zstd_window(b"\x28\xb5\x2f\xfd\xa0\x00") is None
    assert mdfile.zstd_window(b"\x1f\x8b\x08") is None
    # what createrepo_c and `zstd -19` write stays under the bound
    assert mdfile.zstd_window(compress(DATA, "zstd")) <= mdfile.ZSTD_WINDOW_MAX
