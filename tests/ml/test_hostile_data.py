"""Hostile data files: huge or truncated images, npz arrays of the wrong kind. Each is refused in one
line naming the file and the array, or read within bounded memory; nothing is decoded whole past the limit."""

import resource
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from cnnstudio.core.settings import DataSource
from cnnstudio.ml.data import image_header
from cnnstudio.ml.data.image_header import declared_size, size_problem
from cnnstudio.ml.data.sources import DataError, load_folder, load_npz, read_image


def huge_png(path, width=20000, height=20000):
    """A PNG that declares ``width x height`` grey pixels: one real row, then the header's height patched."""
    assert cv2.imwrite(str(path), np.zeros((1, width), np.uint8))
    data = bytearray(path.read_bytes())
    data[20:24] = struct.pack(">I", height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # the IHDR chunk's CRC covers type + data
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp"])
def test_the_declared_size_comes_from_the_header(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    assert cv2.imwrite(str(path), np.zeros((37, 53, 3), np.uint8))
    assert declared_size(str(path))[:2] == (53, 37)


def test_a_gif_header_and_garbage(tmp_path):
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a" + struct.pack("<HH", 300, 200) + b"\0" * 20)
    assert declared_size(str(gif)) == (300, 200, "gif")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\xff\xd8\xff")  # a JPEG start, then nothing
    assert declared_size(str(junk)) is None and read_image(str(junk)) is None


def test_a_20000x20000_png_is_refused_from_its_header_without_decoding(tmp_path):
    path = huge_png(tmp_path / "huge.png")
    assert path.stat().st_size < 10_000 and declared_size(str(path)) == (20000, 20000, "png")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    assert read_image(str(path)) is None
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"reading grew the process by {grown_mb:.0f} MB"
    assert size_problem(str(path)) == "20000x20000 pixels is over the 64-megapixel limit"


def test_a_jpeg_over_the_limit_is_decoded_at_half_scale(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    assert cv2.imwrite(str(path), np.full((64, 80, 3), 200, np.uint8))
    monkeypatch.setattr(image_header, "MAX_PIXELS", 64 * 80 // 4)
    assert read_image(str(path)).shape == (32, 40, 3)
    monkeypatch.setattr(image_header, "OPENCV_MAX_PIXELS", 64 * 80 - 1)  # past what may be reduced
    assert read_image(str(path)) is None


def test_an_image_folder_lists_a_huge_picture_as_skipped_with_why(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        cv2.imwrite(str(tmp_path / cls / "ok.png"), np.zeros((8, 8), np.uint8))
    huge_png(tmp_path / "a" / "huge.png")
    raw = load_folder(DataSource.default().replace(kind="folder", path=str(tmp_path)))
    assert len(raw.parts["all"]) == 2
    assert raw.skipped == [(str(tmp_path / "a" / "huge.png"), "20000x20000 pixels is over the 64-megapixel limit")]


def test_a_truncated_image_reads_as_none(tmp_path):
    path = tmp_path / "t.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    assert read_image(str(path)) is None


X, Y = np.zeros((4, 8, 8), np.uint8), np.array([0, 1, 0, 1])


@pytest.mark.parametrize("arrays, message", [
    (dict(x=np.zeros((4, 8)), y=Y), r"x has shape \(4, 8\); expected images"),
    (dict(x=np.zeros((4, 0, 8)), y=Y), r"x has shape \(4, 0, 8\)"),
    (dict(x=np.array([["a"] * 8] * 4), y=Y), "x holds <U1 values; expected numbers"),
    (dict(x=np.zeros((4, 8, 8), np.complex64), y=Y), "x holds complex64 values"),
    (dict(x=X, y=np.array(["a", "b", "a", "b"])), "y holds <U1 values"),
    (dict(x=X, y=np.array([0.5, 1, 0, 1])), "y: labels must be class numbers"),
    (dict(x=X, y=np.array([np.nan, 1, 0, 1])), "y: labels must be class numbers"),
    (dict(x=X, y=np.zeros((4, 2, 2))), r"y has shape \(4, 2, 2\)"),
    (dict(x=X, y=np.array([0, 1])), "y: 2 labels for 4 images"),
    (dict(x=X, y=np.array([0, 1, 0, -1])), "y: negative label -1"),
    (dict(x=X, y=np.array([0, 1, 0, 10 ** 12])), "labels go up to 1000000000000; name the classes"),
    (dict(x=X, y=Y, classes=np.array([["a", "b"], ["c", "d"]])), r"classes has shape \(2, 2\)"),
    (dict(x=X, y=Y, classes=np.array(["a"])), "1 class names but labels go up to 1"),
    (dict(x=np.zeros((0, 8, 8), np.uint8), y=np.zeros(0, int)), "holds no images"),
])
def test_npz_arrays_of_the_wrong_kind_are_one_line_naming_the_array(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_npz(DataSource.default().replace(kind="npz", path=str(path)))
    assert str(info.value).startswith("d.npz") and "\n" not in str(info.value)


def test_npz_objects_are_never_unpickled_and_a_declared_giant_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([np.zeros(3), np.zeros(4)], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataError, match="x holds Python objects, which are never read"):
        load_npz(DataSource.default().replace(kind="npz", path=str(path)))
    np.savez_compressed(path, x=np.zeros((64, 32, 32), np.uint8), y=np.zeros(64, int))
    monkeypatch.setattr("cnnstudio.ml.data.npz_source.MAX_BYTES", 1000)
    with pytest.raises(DataError, match=r"declares 0.1 MB of arrays; the limit is 0 MB"):
        load_npz(DataSource.default().replace(kind="npz", path=str(path)))
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError, match="cannot read obj.npz"):
        load_npz(DataSource.default().replace(kind="npz", path=str(path)))



def test_opencv_keeps_its_own_tighter_cap_for_headers_we_do_not_parse(tmp_path):
    path = huge_png(tmp_path / "huge.png")
    script = ("import cnnstudio.ml.data.sources as sources\n"
              "sources.declared_size = lambda _path: None\n"  # as for a format whose header we cannot parse
              f"assert sources.read_image({str(path)!r}) is None\n")
    # a fresh process: OpenCV reads its cap when it starts, before this test module imported it
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert "libpng" not in done.stderr  # refused by its size, not by running out of data while decoding
