"""The dataset images that excite one map of a layer most, each cut to the exact receptive field of its unit.

:func:`scan` streams batches of preprocessed images through the sub-model up to the layer
(:meth:`~cnnstudio.ml.probing.prober.Prober.channel_peaks`: the maximum over the map's units is
taken in the graph) and keeps the ``k`` strongest activations seen so far. Each winner is cut
out of its model input by the theoretical receptive field of the unit that fired (the field
core inference computes, :meth:`~cnnstudio.ml.probing.prober.Prober.unit_field`), so a crop
is exactly what that unit sees: the field's full size, with the part that lies in the
convolutions' zero padding marked as padding (:attr:`Patch.inside`), not cut off.

One patch per image by default, as the Deep Visualization Toolbox shows its top-9: a unit's
neighbours see nearly the same pixels, so the k strongest units overall are often k shifted
copies of one image. ``per_image`` > 1 keeps up to that many units of an image (its strongest).
Ties are broken by sample number, then by unit, so a scan is deterministic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from cnnstudio.ml.probing.prober import Prober
from cnnstudio.ml.probing.unit_fields import UnitField

#: Preprocessed input values a batch of the scan holds at most (small images: up to MAX_BATCH of them).
BATCH_VALUES = 1 << 19
MAX_BATCH = 256
HATCH = (96, 96, 104)  # the padding's stripes in a crop's picture


@dataclass(frozen=True)
class Patch:
    """One of the strongest activations: which sample, which unit, and what that unit sees."""

    index: int  # the sample's number in the dataset (as the Probe page counts them)
    label: int  # its class index
    value: float  # the activation
    unit: tuple[int, int]  # (row, col) in the layer's map
    field: UnitField
    crop: np.ndarray  # float32 (fh, fw, C): the model input cut by the field, 0 in the padding
    inside: np.ndarray  # bool (fh, fw): True on the image, False in the padding


@dataclass
class TopPatches:
    """The outcome of a scan, best patch first."""

    layer: str
    channel: int
    patches: list[Patch]
    scanned: int  # images looked at
    total: int  # images in the dataset
    cancelled: bool = False
    skipped: int = 0  # images that could not be read
    seconds: float = 0.0
    classes: list[str] = field(default_factory=list)
    pictures: list[np.ndarray] = field(default_factory=list)  # uint8 RGB crops as displayed, padding hatched


def cut_field(x: np.ndarray, unit_field: UnitField) -> tuple[np.ndarray, np.ndarray]:
    """The (H, W, C) input ``x`` cut by ``unit_field``'s box: (crop of the field's full size with 0 where
    it lies in the padding, mask of the pixels on the image)."""
    (t, b), (l, r) = unit_field.box
    h, w = x.shape[:2]
    crop = np.zeros((b - t + 1, r - l + 1) + x.shape[2:], x.dtype)
    inside = np.zeros(crop.shape[:2], bool)
    ti, bi, li, ri = max(t, 0), min(b, h - 1), max(l, 0), min(r, w - 1)
    if ti <= bi and li <= ri:
        crop[ti - t:bi - t + 1, li - l:ri - l + 1] = x[ti:bi + 1, li:ri + 1]
        inside[ti - t:bi - t + 1, li - l:ri - l + 1] = True
    return crop, inside


def hatch_padding(picture: np.ndarray, inside: np.ndarray, period: int = 4) -> np.ndarray:
    """A uint8 RGB crop with its padding part drawn as grey diagonal stripes (every ``period`` pixels)."""
    out = picture.copy()
    yy, xx = np.mgrid[0:inside.shape[0], 0:inside.shape[1]]
    stripe = ((yy + xx) % period) < period // 2
    out[~inside] = 40
    out[~inside & stripe] = HATCH
    return out


def batch_size_for(input_shape: tuple[int, ...]) -> int:
    """Images per batch of a scan: about :data:`BATCH_VALUES` input values (so a batch of large images
    still comes back well within a second, for cancelling), at most :data:`MAX_BATCH`."""
    return int(np.clip(BATCH_VALUES // max(1, int(np.prod(input_shape))), 4, MAX_BATCH))


class TopK:
    """The ``k`` strongest (value, sample, unit) seen so far, with their crops."""

    def __init__(self, prober: Prober, layer: str, k: int) -> None:
        self.prober, self.layer, self.k = prober, layer, int(k)
        self.width = prober.layer_shape(layer)[1]
        self.values = np.zeros(0, np.float32)
        self.samples = np.zeros(0, np.int64)
        self.where = np.zeros(0, np.int64)
        self.labels = np.zeros(0, np.int64)
        self._crops: dict[tuple[int, int], tuple[UnitField, np.ndarray, np.ndarray]] = {}

    def add(self, values: np.ndarray, where: np.ndarray, samples: np.ndarray, labels: np.ndarray,
            x: np.ndarray) -> None:
        """Merge one batch's peaks (N, p) at flat units ``where`` of ``samples`` (N,) with inputs ``x``."""
        p = values.shape[1]
        vals = np.concatenate([self.values, values.ravel()])
        smp = np.concatenate([self.samples, np.repeat(samples, p)])
        pos = np.concatenate([self.where, where.ravel().astype(np.int64)])
        lab = np.concatenate([self.labels, np.repeat(labels, p)])
        row = np.concatenate([np.full(len(self.values), -1), np.repeat(np.arange(len(samples)), p)])
        keep = np.lexsort((pos, smp, -vals))[:self.k]  # strongest first; ties: lower sample, then unit
        self.values, self.samples, self.where, self.labels = vals[keep], smp[keep], pos[keep], lab[keep]
        for i in keep:
            if row[i] >= 0:  # a newcomer from this batch: cut its crop while its input is at hand
                unit = divmod(int(pos[i]), self.width)
                uf = self.prober.unit_field(self.layer, unit)
                self._crops[(int(smp[i]), int(pos[i]))] = (uf, *cut_field(x[row[i]], uf))
        kept = set(zip(self.samples.tolist(), self.where.tolist()))
        self._crops = {key: v for key, v in self._crops.items() if key in kept}

    def patches(self) -> list[Patch]:
        """The patches kept, strongest first."""
        out = []
        for v, s, w, lab in zip(self.values, self.samples, self.where, self.labels):
            uf, crop, inside = self._crops[(int(s), int(w))]
            out.append(Patch(int(s), int(lab), float(v), uf.unit, uf, crop, inside))
        return out


def scan(prober: Prober, batches: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], layer: str, channel: int,
         k: int = 9, per_image: int = 1, total: int = 0, progress: Callable[[int, int], None] | None = None,
         cancelled: Callable[[], bool] | None = None) -> TopPatches:
    """The ``k`` strongest activations of map ``channel`` of ``layer`` over ``batches`` of
    (sample numbers (N,), preprocessed inputs (N, H, W, C), class indices (N,)), at most ``per_image``
    per image; ``progress(done, total)`` after each batch; stops early (``cancelled=True``) as soon as
    ``cancelled()`` is true. Raises ``ValueError`` for a layer without 2-D maps or a receptive field."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if prober.unit_field(layer, (0, 0)) is None:
        raise ValueError(f"{layer} has no receptive field to cut patches with: {prober.field_note(layer)}")
    top = TopK(prober, layer, k)
    start, done, stopped = time.perf_counter(), 0, False
    for samples, x, labels in batches:
        if cancelled is not None and cancelled():
            stopped = True
            break
        values, where = prober.channel_peaks(x, layer, channel, per_image)
        top.add(values, where, np.asarray(samples, np.int64), np.asarray(labels, np.int64), x)
        done += len(samples)
        if progress is not None:
            progress(done, total)
    if not stopped and cancelled is not None and cancelled():
        stopped = done < total
    return TopPatches(layer, channel, top.patches(), done, total, stopped, seconds=time.perf_counter() - start)


def dataset_batches(samples, preprocess_one: Callable[[np.ndarray], np.ndarray], batch_size: int,
                    skipped: list[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(sample numbers, preprocessed inputs, class indices) of a
    :class:`~cnnstudio.ml.probing.inputs.DatasetSamples`, ``batch_size`` images at a time, read as they
    are needed; samples that cannot be read are left out and their numbers added to ``skipped``."""
    from cnnstudio.ml.probing.inputs import ProbeInputError

    n = len(samples)
    for start in range(0, n, batch_size):
        numbers, inputs, labels = [], [], []
        for i in range(start, min(n, start + batch_size)):
            try:
                image, label = samples.item(i)
            except ProbeInputError:
                if skipped is not None:
                    skipped.append(i)
                continue
            numbers.append(i)
            inputs.append(preprocess_one(image))
            labels.append(label)
        if numbers:
            yield np.asarray(numbers, np.int64), np.stack(inputs), np.asarray(labels, np.int64)
