"""What a model's probed output is, and which number of it an attribution explains.

A probe looks at one output of a model (:class:`ProbedOutput`; a model with several has
one chosen by index). Its kind says how to read it:

- ``classes``: one score per class (rank 2 with K > 1 softmax, sigmoid or logits, or one
  sigmoid unit): a top-k list, as for any classifier;
- ``map``: per-pixel class scores (rank 4 with a softmax, or with channels that are not a
  picture's): segmentation, drawn as a picture of each pixel's class;
- ``image``: per-pixel values with 1 or 3 channels and no softmax: an autoencoder's or a
  generator's picture, or a mask, drawn as it is;
- ``values``: anything else (a regression head, a vector of features).

An attribution explains one number computed from the output, a :class:`Target`. It is
turned into weights over the output (:func:`target_weights`), so that ONE traced gradient
serves every target: a class is a one-hot vector, a class of a map is that channel at every
pixel, a clicked pixel is that pixel alone, the output's mean is a uniform weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cnnstudio.ml.probing.mosaic import normalize, to_uint8

KINDS = ("classes", "map", "image", "values")

#: Colours of a segmentation's classes (class i is PALETTE[i % 10]), Tableau's ten.
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], np.uint8)


class AttributionUndefined(ValueError):
    """An attribution that means nothing here (e.g. the layer does not lead to the output); the message is one line."""


@dataclass(frozen=True)
class ProbedOutput:
    """One output of a model as a probe reads it."""

    index: int               # in ``model.outputs``
    name: str                # the layer that computes it
    shape: tuple[int, ...]   # without the batch axis
    kind: str                # one of KINDS
    activation: str          # of that layer: "softmax", "sigmoid", "linear", ...

    @property
    def channels(self) -> int:
        """Classes of a classifier or a map, channels of an image, units of values (last axis)."""
        return int(self.shape[-1]) if self.shape else 1

    def text(self) -> str:
        """E.g. ``seg: 16x16x3 per-pixel classes``."""
        what = {"classes": "classes", "map": "per-pixel classes", "image": "picture",
                "values": "value" if self.shape == (1,) else "values"}[self.kind]
        return f"{self.name}: {'x'.join(map(str, self.shape)) or 'scalar'} {what}"


def activation_name(layer) -> str:
    """The activation a layer ends in, by name ("linear" where it has none)."""
    if type(layer).__name__ == "Softmax":
        return "softmax"
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", "linear") if act is not None else "linear"


def read_output(model, index: int = 0) -> ProbedOutput:
    """Output ``index`` of a Keras model and its kind (see the module doc)."""
    tensor = model.outputs[index]
    layer = tensor._keras_history[0]
    shape = tuple(int(d) for d in tensor.shape[1:])
    act = activation_name(layer)
    if len(shape) == 1 and ((shape[0] > 1 and act in ("softmax", "sigmoid", "linear")) or act == "sigmoid"):
        kind = "classes"
    elif len(shape) == 3 and (act == "softmax" or shape[-1] not in (1, 3)):
        kind = "map"
    elif len(shape) == 3:
        kind = "image"
    else:
        kind = "values"
    return ProbedOutput(index, layer.name, shape, kind, act)


@dataclass(frozen=True)
class Target:
    """What an attribution explains: class (map channel, value unit) ``index`` and/or output ``pixel``.

    ``index=None`` is the output's mean (at ``pixel``, if given); a map's class is summed
    over all its pixels unless a pixel is given.
    """

    index: int | None = None
    pixel: tuple[int, int] | None = None


def as_target(target: Target | int | None) -> Target:
    """A Target from a Target, a class index or None (the default)."""
    return target if isinstance(target, Target) else Target(None if target is None else int(target))


def resolve(output: ProbedOutput, values: np.ndarray | None, target: Target | int | None) -> Target:
    """``target`` checked against the output, with the class filled in where the kind needs one.

    A classifier explains its predicted class; a map the class predicted at the pixel, or
    the one covering most pixels (``values``, the output for the image, is read only then).
    Raises ``ValueError`` for a class or pixel the output lacks.
    """
    t = as_target(target)
    if t.pixel is not None:
        if len(output.shape) != 3:
            raise ValueError(f"{output.name} is not a per-pixel output: no pixel to choose")
        r, c = (int(v) for v in t.pixel)
        if not (0 <= r < output.shape[0] and 0 <= c < output.shape[1]):
            raise ValueError(f"pixel ({r}, {c}) is outside {output.name}'s {output.shape[0]}x{output.shape[1]}")
        t = Target(t.index, (r, c))
    size = output.channels if output.kind != "values" else int(np.prod(output.shape))
    if t.index is not None and not 0 <= t.index < size:
        raise ValueError(f"{output.name} has {size} {'classes' if output.kind in ('classes', 'map') else 'units'}: "
                         f"no number {t.index}")
    if t.index is None and output.kind == "classes":
        return Target(int(np.argmax(values)))
    if t.index is None and output.kind == "map":
        labels = np.asarray(values).argmax(axis=-1)
        index = labels[t.pixel] if t.pixel is not None else np.bincount(labels.ravel()).argmax()
        return Target(int(index), t.pixel)
    return t


def target_weights(output: ProbedOutput, target: Target | int | None) -> np.ndarray:
    """Weights over the output (its shape) whose sum with the output is the target's score."""
    t = as_target(target)
    w = np.zeros(output.shape, np.float32)
    region = w if t.pixel is None else w[t.pixel[0]:t.pixel[0] + 1, t.pixel[1]:t.pixel[1] + 1]
    if t.index is None:
        region[...] = 1.0 / region.size
    elif len(output.shape) == 3:
        region[..., t.index] = 1.0
    else:
        region.flat[t.index] = 1.0
    return w


def target_scores(outputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each image's score of a target: (N, ...) outputs -> (N,)."""
    return (np.asarray(outputs, np.float32) * weights).reshape(len(outputs), -1).sum(axis=1)


def _label(i: int, labels: Sequence[str]) -> str:
    return labels[i] if i < len(labels) else str(i)


def target_text(output: ProbedOutput, target: Target | int | None, labels: Sequence[str] = ()) -> str:
    """A target in words: ``class 'cat'``, ``class '2' summed over the pixels``, ``the output's mean``."""
    t = as_target(target)
    at = f" at pixel ({t.pixel[0]}, {t.pixel[1]})" if t.pixel is not None else ""
    if t.index is None:
        return f"the output's mean{at}"
    if output.kind == "classes":
        return f"class '{_label(t.index, labels)}'"
    if output.kind == "map":
        return f"class '{_label(t.index, labels)}'" + (at or " summed over the pixels")
    if output.kind == "image":
        return f"channel {t.index}" + (at or " summed over the pixels")
    return f"unit {t.index}"


def class_shares(values: np.ndarray) -> np.ndarray:
    """A map output (H, W, K) -> the share of pixels predicted as each class (K,)."""
    labels = np.asarray(values).argmax(axis=-1).ravel()
    return np.bincount(labels, minlength=np.asarray(values).shape[-1]) / max(1, labels.size)


def output_picture(output: ProbedOutput, values: np.ndarray) -> np.ndarray | None:
    """The output as a uint8 RGB picture: a map's pixel classes in :data:`PALETTE`, an image as
    it is (0..1 values kept, others stretched to 0..1); None for outputs that are no picture."""
    values = np.asarray(values, np.float32)
    if output.kind == "map":
        return PALETTE[values.argmax(axis=-1) % len(PALETTE)]
    if output.kind != "image":
        return None
    picture = values if 0.0 <= values.min() and values.max() <= 1.0 else normalize(values)
    return to_uint8(np.repeat(picture, 3, axis=-1) if picture.shape[-1] == 1 else picture)


def summary(output: ProbedOutput, values: np.ndarray, labels: Sequence[str] = ()) -> str:
    """One line on what the output says for an image that is not a top-k (for classes, see ``top_k``)."""
    values = np.asarray(values, np.float32)
    if output.kind == "map":
        shares = class_shares(values)
        order = np.argsort(-shares, kind="stable")[:3]
        return "pixels: " + ", ".join(f"'{_label(int(i), labels)}' {shares[i]:.0%}" for i in order if shares[i] > 0)
    if values.size <= 4:
        return ", ".join(f"{v:.4g}" for v in values.ravel())
    return f"mean {values.mean():.4g}, range {values.min():.4g} .. {values.max():.4g}"
