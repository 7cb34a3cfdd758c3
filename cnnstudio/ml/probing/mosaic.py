"""Activations and filters as pictures: mosaic tiling, per-map statistics, heatmap overlays.

NumPy (and OpenCV for resizing and colour maps) only, no TensorFlow: the probe panel, the
live view and the ``probe`` command share these. A feature map tensor (H, W, C) becomes one
image of C tiles laid out in a grid (:func:`tile_mosaic`); a :class:`Mosaic` remembers the
layout so a click on the picture maps back to ``(channel, y, x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: ``tile_mosaic`` scaling modes: each map to 0..1 on its own range, all maps on one shared
#: range, or the raw values (for weights drawn against a colour scale).
SCALINGS = ("per_map", "shared", "none")


@dataclass(frozen=True)
class Mosaic:
    """Tiles laid out in a grid: the picture and where each tile sits in it.

    ``image`` is (rows*(h+gap)-gap, cols*(w+gap)-gap[, 3]) float32; tile ``k`` sits at row
    ``k // cols``, column ``k % cols``. Pixels between tiles hold ``gap_value``.
    """

    image: np.ndarray
    count: int
    rows: int
    cols: int
    tile: tuple[int, int]
    gap: int
    levels: tuple[float, float]  # value range of the image, for a colour scale

    def origin(self, k: int) -> tuple[int, int]:
        """Top-left pixel (y, x) of tile ``k`` in the picture."""
        h, w = self.tile
        return (k // self.cols) * (h + self.gap), (k % self.cols) * (w + self.gap)

    def gap_mask(self) -> np.ndarray:
        """Bool (H, W) of the picture: True between tiles and on empty cells, False on tiles."""
        mask = np.ones(self.image.shape[:2], bool)
        h, w = self.tile
        for k in range(self.count):
            y, x = self.origin(k)
            mask[y:y + h, x:x + w] = False
        return mask

    def locate(self, y: float, x: float) -> tuple[int, int, int] | None:
        """Picture pixel -> ``(tile, y, x)`` inside that tile, or ``None`` on a gap or outside."""
        h, w = self.tile
        yi, xi = int(math.floor(y)), int(math.floor(x))
        if yi < 0 or xi < 0:
            return None
        r, ty = divmod(yi, h + self.gap)
        c, tx = divmod(xi, w + self.gap)
        k = r * self.cols + c
        if c >= self.cols or ty >= h or tx >= w or k >= self.count:
            return None
        return k, ty, tx


def grid_shape(n: int, tile: tuple[int, int] = (1, 1), aspect: float = 1.0) -> tuple[int, int]:
    """Rows and columns for ``n`` tiles of ``tile`` (h, w) so the picture is about ``aspect`` wide:high."""
    if n <= 0:
        return 0, 0
    h, w = tile
    cols = max(1, min(n, round(math.sqrt(n * aspect * h / w))))
    return math.ceil(n / cols), cols


def _blank(n: int, tile: tuple[int, int], extra: tuple, cols: int | None, gap: int,
           gap_value: float) -> tuple[np.ndarray, int, int]:
    """An empty picture for ``n`` tiles: (picture filled with ``gap_value``, rows, cols)."""
    h, w = tile
    rows, cols = grid_shape(n, tile) if cols is None else (math.ceil(n / max(cols, 1)), max(cols, 1))
    shape = (max(rows * (h + gap) - gap, 0), max(cols * (w + gap) - gap, 0)) + extra
    return np.full(shape, gap_value, np.float32), rows, cols


def tile_images(images: np.ndarray, cols: int | None = None, gap: int = 1, gap_value: float = 0.0,
                levels: tuple[float, float] = (0.0, 1.0)) -> Mosaic:
    """Lay out ``images`` (N, h, w) or (N, h, w, 3) in a grid, row by row, ``gap`` pixels apart."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    picture, rows, cols = _blank(n, (h, w), images.shape[3:], cols, gap, gap_value)
    mosaic = Mosaic(picture, n, rows, cols, (h, w), gap, levels)
    for k in range(n):
        y, x = mosaic.origin(k)
        picture[y:y + h, x:x + w] = images[k]
    return mosaic


def map_ranges(maps: np.ndarray, scaling: str = "per_map") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel offset and gain that bring (..., C) maps to 0..1: ``(maps - offset) * gain``.

    ``per_map``: each channel on its own range; ``shared``: one range for all; ``none``:
    offset 0, gain 1. A constant map gets gain 0 (it shows as 0).
    """
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, not {scaling!r}")
    c = maps.shape[-1]
    if scaling == "none" or maps.size == 0:
        return np.zeros(c, np.float32), np.ones(c, np.float32)
    flat = maps.reshape(-1, c)  # channel-last and contiguous: fast reductions
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    if scaling == "shared":
        lo, hi = np.full(c, lo.min(), np.float32), np.full(c, hi.max(), np.float32)
    span = hi - lo
    gain = np.divide(1.0, span, out=np.zeros(c, np.float32), where=span > 0)
    return lo.astype(np.float32), gain.astype(np.float32)


def tile_mosaic(maps: np.ndarray, scaling: str = "per_map", cols: int | None = None, gap: int = 1,
                gap_value: float = 0.0) -> Mosaic:
    """Feature maps (H, W, C) -> one :class:`Mosaic` of C tiles, scaled per map, shared, or not.

    ``per_map`` shows each map's own pattern; ``shared`` keeps their relative strength
    (a weak map looks dark); ``none`` keeps the values (``levels`` then gives their range).
    A batch axis of 1 in front is dropped; 1-D maps (L, C) become tiles one pixel high.
    Each map is scaled straight into its place in the picture: one pass over the data.
    """
    maps = np.asarray(maps, np.float32)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"feature maps must be (H, W, C), got shape {maps.shape}")
    h, w, n = maps.shape
    offset, gain = map_ranges(maps, scaling)
    levels = (0.0, 1.0) if scaling != "none" else ((float(maps.min()), float(maps.max())) if maps.size else (0.0, 1.0))
    picture, rows, cols = _blank(n, (h, w), (), cols, gap, gap_value)
    mosaic = Mosaic(picture, n, rows, cols, (h, w), gap, levels)
    for k in range(n):
        y, x = mosaic.origin(k)
        tile = picture[y:y + h, x:x + w]
        np.subtract(maps[:, :, k], offset[k], out=tile)
        tile *= gain[k]
    return mosaic


@dataclass(frozen=True)
class MapStats:
    """Per-map statistics of one layer's activations for one input (arrays of length C)."""

    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    zero_share: np.ndarray  # share of exactly-zero units, 0..1
    dead: np.ndarray  # bool: the whole map is zero (a ReLU that never fires on this input)

    @property
    def dead_count(self) -> int:
        """How many maps are dead."""
        return int(self.dead.sum())


def map_stats(maps: np.ndarray) -> MapStats:
    """Mean, spread, range, share of zeros and the dead flag of every map of (H, W, C) maps."""
    flat = np.asarray(maps, np.float32).reshape(-1, np.shape(maps)[-1])
    zero = (flat == 0).mean(axis=0)
    return MapStats(flat.mean(axis=0), flat.std(axis=0), flat.min(axis=0), flat.max(axis=0),
                    zero, zero >= 1.0)


def histogram(values: np.ndarray, bins: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of all ``values`` (NaN and inf ignored)."""
    v = np.asarray(values, np.float32).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.zeros(bins, np.int64), np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.histogram(v, bins=bins, range=(lo, hi))


def normalize(heat: np.ndarray) -> np.ndarray:
    """Scale a map to 0..1 (a constant map becomes all zeros)."""
    heat = np.asarray(heat, np.float32)
    lo, hi = float(heat.min()), float(heat.max())
    return (heat - lo) / (hi - lo) if hi > lo else np.zeros_like(heat)


def resize_map(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a (h, w) map to ``size`` (height, width) with bilinear interpolation."""
    heat = np.asarray(heat, np.float32)
    if heat.shape[:2] == tuple(size):
        return heat
    return cv2.resize(heat, (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)


#: Colour maps by name (OpenCV's), for pictures written to files.
COLORMAPS = {"jet": cv2.COLORMAP_JET, "viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO,
             "magma": cv2.COLORMAP_MAGMA, "turbo": cv2.COLORMAP_TURBO}


def colorize(heat01: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """A 0..1 map -> uint8 RGB through a colour map named in :data:`COLORMAPS`."""
    grey = np.clip(np.asarray(heat01, np.float32) * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay(image_rgb: np.ndarray, heat01: np.ndarray, alpha: float = 0.6, colormap: str = "jet") -> np.ndarray:
    """Blend a 0..1 heatmap (any size; resized to the image) over a uint8 RGB image.

    Each pixel's opacity is ``alpha * sqrt(heat)``: where the heat is low the image shows
    through unchanged, so the picture is not washed in the colour map's coldest colour.
    """
    image_rgb = np.asarray(image_rgb)
    if image_rgb.ndim == 2 or image_rgb.shape[2] == 1:
        image_rgb = np.repeat(image_rgb.reshape(image_rgb.shape[:2] + (1,)), 3, axis=2)
    heat = np.clip(resize_map(heat01, image_rgb.shape[:2]), 0.0, 1.0)
    colour = colorize(heat, colormap).astype(np.float32)
    weight = (alpha * np.sqrt(heat))[:, :, None]
    out = (1.0 - weight) * image_rgb.astype(np.float32) + weight * colour
    return np.clip(out, 0, 255).astype(np.uint8)


def signed_picture(grads: np.ndarray) -> np.ndarray:
    """A signed (H, W, C) gradient as uint8 RGB, grey 128 at 0: ``0.5 + g / (2 max|g|)`` (a grey input's
    one channel is repeated). The way guided backprop is shown: the pattern, with its sign."""
    g = np.asarray(grads, np.float32)
    if g.ndim == 2:
        g = g[:, :, None]
    top = float(np.abs(g).max()) or 1.0
    picture = to_uint8(0.5 + g / (2 * top))
    return np.repeat(picture, 3, axis=2) if picture.shape[2] == 1 else np.ascontiguousarray(picture[:, :, :3])


def to_uint8(image01: np.ndarray) -> np.ndarray:
    """A 0..1 float picture -> uint8 (for PNG files)."""
    return np.clip(np.asarray(image01, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def enlarge(image: np.ndarray, min_side: int = 256) -> np.ndarray:
    """Repeat pixels by a whole factor so the shorter side is at least ``min_side`` (sharp, no blur)."""
    image = np.asarray(image)
    factor = max(1, -(-min_side // max(1, min(image.shape[:2]))))
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def save_png(path, image: np.ndarray) -> None:
    """Write a uint8 grey or RGB image as PNG; raises ``OSError`` if it cannot be written."""
    image = np.asarray(image)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 and image.shape[2] == 3 else image
    if not cv2.imwrite(str(path), bgr):
        raise OSError(f"cannot write {path}")
