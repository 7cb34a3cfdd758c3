"""Convolution kernels as pictures: one tile per filter, in colour for RGB input layers.

Every 2-D convolution kind stores its kernel differently; :func:`kernel_of` brings them to
one layout, (kh, kw, inputs seen by one filter, filters), so the rest of the studio draws
them the same way (the probe panel, the training panel's filter replay, the live view).
"""

from __future__ import annotations

import numpy as np

from cnnstudio.ml.probing.mosaic import Mosaic, tile_images

#: Layer kinds whose kernels the filter view draws.
CONV_KINDS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")


def arrange_kernel(kind: str, kernel: np.ndarray) -> np.ndarray:
    """A raw kernel of layer kind ``kind`` -> (kh, kw, inputs, filters).

    Depthwise kernels (kh, kw, channels, multiplier) become ``channels*multiplier`` filters
    that each see one channel; transposed kernels (kh, kw, out, in) are swapped.
    """
    k = np.asarray(kernel, np.float32)
    if k.ndim != 4:
        raise ValueError(f"{kind} kernel has shape {k.shape}; a 2-D convolution kernel has 4 axes")
    if kind in ("DepthwiseConv2D", "SeparableConv2D"):
        kh, kw, c, m = k.shape
        return k.reshape(kh, kw, 1, c * m)
    if kind == "Conv2DTranspose":
        return k.transpose(0, 1, 3, 2)
    return k


def raw_kernel(layer) -> np.ndarray:
    """The spatial kernel variable of a convolution layer, as a NumPy array."""
    kind = type(layer).__name__
    if kind not in CONV_KINDS:
        raise ValueError(f"{layer.name} ({kind}) is not a 2-D convolution")
    var = layer.depthwise_kernel if kind == "SeparableConv2D" else layer.kernel
    return np.asarray(var)


def kernel_of(layer) -> np.ndarray:
    """A convolution layer's kernel as (kh, kw, inputs, filters)."""
    return arrange_kernel(type(layer).__name__, raw_kernel(layer))


def filter_mosaic(kernel: np.ndarray, channel: int | None = None, cols: int | None = None, gap: int = 1) -> Mosaic:
    """Filters (kh, kw, inputs, filters) as one :class:`Mosaic`, one tile per filter.

    With three inputs and ``channel=None`` (a first layer on RGB images) the tiles are colour
    (filters, kh, kw, 3) mapped so that a zero weight is mid-grey: ``0.5 + w / (2 max|w|)``.
    Otherwise the tiles are the raw weights of input ``channel`` (0 if ``None``) with
    ``levels`` symmetric around zero, for a diverging colour scale; gaps hold 0.
    """
    k = np.asarray(kernel, np.float32)
    if k.ndim != 4:
        raise ValueError(f"filters must be (kh, kw, inputs, filters), got shape {k.shape}")
    kh, kw, cin, cout = k.shape
    tiles_first = np.moveaxis(k, 3, 0)  # (filters, kh, kw, inputs)
    if channel is None and cin == 3:
        m = float(np.abs(k).max()) or 1.0
        return tile_images(0.5 + tiles_first / (2 * m), cols, gap, 0.5, (0.0, 1.0))
    ch = 0 if channel is None else int(channel)
    if not 0 <= ch < cin:
        raise ValueError(f"input channel {ch} does not exist; these filters have {cin}")
    tiles = tiles_first[..., ch]
    m = float(np.abs(tiles).max()) or 1.0
    return tile_images(tiles, cols, gap, 0.0, (-m, m))
