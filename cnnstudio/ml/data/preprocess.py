"""Image -> model input, the same at training, probe and live time.

The project's preprocessing settings (:class:`cnnstudio.core.settings.Preprocessing`) say
the size, grey or RGB, the scaling and how the aspect ratio is fitted (stretch, centre crop or
pad). Images come in as uint8 RGB (H, W, 3) or grey (H, W) / (H, W, 1) arrays.

The scalings ``tf``, ``caffe`` and ``torch`` are Keras's
``keras.applications.imagenet_utils.preprocess_input`` modes, step for step, so a pretrained
network sees what it was trained on. A grey input has one channel where ImageNet's statistics
have three: ``caffe`` and ``torch`` use the mean of the three means (and of the three stds).
"""

from __future__ import annotations

import cv2
import numpy as np

from cnnstudio.core.settings import Preprocessing


def input_shape(settings: Preprocessing) -> tuple[int, int, int]:
    """The model input shape the settings produce: (height, width, channels)."""
    h, w = settings.size
    return int(h), int(w), settings.channels


def fit_geometry(image_hw: tuple[int, int], size: tuple[int, int], fit: str) -> tuple[int, int, int, int]:
    """``(resized height, resized width, top, left)``: how ``fit`` places an image of ``image_hw``
    in ``size``. The image is resized to the first two, and its top-left corner lands at
    (top, left) of the target: negative where a crop cuts it, positive where a pad surrounds it.

    The one rule for the fit: :func:`fit_image` applies it and the live view maps model-input
    pixels back onto the frame with it.
    """
    h, w = int(size[0]), int(size[1])
    ih, iw = int(image_hw[0]), int(image_hw[1])
    if fit == "crop":
        scale = max(h / ih, w / iw)
        nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
        return nh, nw, -((nh - h) // 2), -((nw - w) // 2)
    if fit == "pad":
        scale = min(h / ih, w / iw)
        nh, nw = max(1, round(ih * scale)), max(1, round(iw * scale))
        return nh, nw, (h - nh) // 2, (w - nw) // 2
    return h, w, 0, 0


def fit_image(img: np.ndarray, size: tuple[int, int], fit: str = "stretch") -> np.ndarray:
    """Resize ``img`` to ``size`` (height, width): stretch, centre-crop or pad to keep the aspect."""
    h, w = int(size[0]), int(size[1])
    ih, iw = img.shape[:2]
    nh, nw, top, left = fit_geometry((ih, iw), (h, w), fit)
    if (nh, nw) != (ih, iw):
        shrink = nh * nw < ih * iw
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if fit == "crop":
        return img[-top:-top + h, -left:-left + w]
    if fit == "pad":
        out = np.zeros((h, w) + img.shape[2:], img.dtype)
        out[top:top + nh, left:left + nw] = img
        return out
    return img


def to_color(img: np.ndarray, n_channels: int) -> np.ndarray:
    """Make ``img`` (H, W) / (H, W, 1) / (H, W, 3) / (H, W, 4) have ``n_channels`` channels, as (H, W, C)."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.shape[2] == n_channels:
        return img
    if n_channels == 1:
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)[:, :, None]
    return np.repeat(img, 3, axis=2)


#: ImageNet's channel means, in BGR order, that Keras's ``caffe`` mode subtracts from 0..255 values.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: ImageNet's RGB channel means and standard deviations of Keras's ``torch`` mode, on 0..1 values.
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _per_channel(values: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """``values`` for an RGB image, their mean for a grey one (see the module's doc)."""
    v = np.asarray(values, np.float32)
    return v if x.shape[-1] == 3 else np.float32(v.mean())


def scale_values(x: np.ndarray, scale: str) -> np.ndarray:
    """uint8 pixel values (H, W, C) -> float32 by the scaling ``scale`` (a Preprocessing ``scale`` choice)."""
    x = x.astype(np.float32)
    if scale == "0-1":
        return x / 255.0
    if scale == "tf":
        return x / 127.5 - 1.0
    if scale == "caffe":
        return x[..., ::-1] - _per_channel(CAFFE_MEAN_BGR, x)  # RGB -> BGR: a no-op on one channel
    if scale == "torch":
        return (x / 255.0 - _per_channel(TORCH_MEAN, x)) / _per_channel(TORCH_STD, x)
    return x  # raw


def unscale_values(x: np.ndarray, scale: str) -> np.ndarray:
    """The inverse of :func:`scale_values`: model input values -> float 0..255 pixel values."""
    x = np.asarray(x, np.float32)
    if scale == "0-1":
        return x * 255.0
    if scale == "tf":
        return (x + 1.0) * 127.5
    if scale == "caffe":
        return (x + _per_channel(CAFFE_MEAN_BGR, x))[..., ::-1]
    if scale == "torch":
        return (x * _per_channel(TORCH_STD, x) + _per_channel(TORCH_MEAN, x)) * 255.0
    return x


def preprocess(img: np.ndarray, settings: Preprocessing) -> np.ndarray:
    """One uint8 image -> float32 (H, W, C) model input.

    Colour to grey comes before resizing and grey to colour after, so the resize works on
    one channel instead of three (both steps are linear: the order changes no more than rounding).
    """
    n = settings.channels
    if img.ndim == 3 and img.shape[2] > n:
        img = to_color(img, n)[:, :, 0] if n == 1 else to_color(img, n)
    img = to_color(fit_image(img, settings.size, settings.fit), n)
    return scale_values(img, settings.scale)


def preprocess_batch(images, settings: Preprocessing) -> np.ndarray:
    """Many uint8 images (any sizes) -> float32 (N, H, W, C)."""
    return np.stack([preprocess(im, settings) for im in images]) if len(images) else np.zeros((0,) + input_shape(settings), np.float32)


def display_rgba(image: np.ndarray, lut: np.ndarray | None = None) -> np.ndarray:
    """A uint8 grey (H, W) / (H, W, 1), RGB or RGBA picture -> RGBA (H, W, 4) for the screen; grey
    through ``lut`` (256 x 4 RGBA) when one is given.

    Four bytes a pixel is the layout Qt paints without converting every pixel at every
    paint: a 640x480 RGB frame scaled into a view draws about 4x faster, and the painting
    holds Python's GIL (PySide6 does not release it), so the capture and model threads wait
    less. OpenCV and ``np.take`` convert with the GIL released.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    image = np.ascontiguousarray(image)
    if image.ndim == 2:
        return np.take(lut, image, axis=0) if lut is not None else cv2.cvtColor(image, cv2.COLOR_GRAY2RGBA)
    return image if image.shape[2] == 4 else cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)


def display_image(x: np.ndarray, settings: Preprocessing) -> np.ndarray:
    """Model input (H, W, C) float -> uint8 RGB for display (undoes the scaling)."""
    x = np.clip(unscale_values(x, settings.scale), 0, 255).astype(np.uint8)
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else np.ascontiguousarray(x[:, :, :3])
