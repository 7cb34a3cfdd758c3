"""An image file's declared size, read from its header without decoding it.

A picture's pixels cost memory only once decoded; its header says how many there will be. A
20000x20000 PNG is a few kilobytes on disk and 1.2 GB decoded, so readers ask
:func:`declared_size` first (PNG, JPEG, GIF, BMP and WebP, the suffixes the studio reads) and
refuse, or for JPEG decode at a reduced scale, what is over :data:`MAX_PIXELS`. OpenCV keeps its
own cap (``OPENCV_IO_MAX_IMAGE_PIXELS``, set in :mod:`cnnstudio.ml` to :data:`OPENCV_MAX_PIXELS`)
for files this module cannot parse.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

#: The most pixels a picture may have when decoded whole: 64 megapixels, 192 MB as RGB.
MAX_PIXELS = 64 * 2 ** 20
#: The most a JPEG may declare to be decoded reduced; also OpenCV's own cap, which applies to the
#: declared size before any reduction (``OPENCV_IO_MAX_IMAGE_PIXELS``, set in :mod:`cnnstudio.ml`).
OPENCV_MAX_PIXELS = 4 * MAX_PIXELS

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(path: str) -> tuple[int, int, str] | None:
    """``(width, height, format)`` from the header of ``path``; None if unreadable or unknown."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return (*struct.unpack(">II", head[16:24]), "png")
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return (*struct.unpack("<HH", head[6:10]), "gif")
            if head.startswith(b"BM") and len(head) >= 26:
                return _bmp(head)
            if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
                return _webp(head)
            if head.startswith(b"\xff\xd8"):
                return _jpeg(f)
    except (OSError, struct.error):
        return None
    return None


def _bmp(head: bytes) -> tuple[int, int, str]:
    if struct.unpack("<I", head[14:18])[0] == 12:  # the old OS/2 header: 16-bit sizes
        w, h = struct.unpack("<HH", head[18:22])
    else:
        w, h = struct.unpack("<ii", head[18:26])
    return abs(w), abs(h), "bmp"  # a negative height means top-down rows


def _webp(head: bytes) -> tuple[int, int, str] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF, "webp"
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "webp"
    if chunk == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1, "webp"
    return None


def _jpeg(f: BinaryIO) -> tuple[int, int, str] | None:
    """Walk the JPEG segments to the first frame header (EXIF and ICC segments come before it)."""
    f.seek(2)
    for _ in range(1000):  # a real file reaches its frame header in a few segments
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] == 0xFF:  # padding
            f.seek(-1, 1)
            continue
        length = struct.unpack(">H", f.read(2))[0]
        if marker[1] in _JPEG_SOF:
            h, w = struct.unpack(">xHH", f.read(5))
            return w, h, "jpeg"
        f.seek(length - 2, 1)
    return None


def decode_scale(width: int, height: int, fmt: str) -> int | None:
    """How to decode a ``width x height`` picture: 1 whole, 2 a JPEG at half scale
    (libjpeg scales while it decodes, so the full size is never in memory), None: too large."""
    if width * height > OPENCV_MAX_PIXELS:
        return None
    for factor in (1, 2) if fmt == "jpeg" else (1,):
        if (width // factor) * (height // factor) <= MAX_PIXELS:
            return factor
    return None


def size_problem(path: str) -> str | None:
    """Why ``path`` is too large to read, in words, or None when it may be read (perhaps reduced)."""
    size = declared_size(path)
    if size is None or decode_scale(*size) is not None:
        return None
    return f"{size[0]}x{size[1]} pixels is over the {MAX_PIXELS // 2 ** 20}-megapixel limit"
