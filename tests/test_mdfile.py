"""Metadata files are read whatever createrepo_c compressed them with, streaming and
size-bounded, without following a symbolic link."""
import os

import pytest

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
