"""The project's data, ready to train on: split, preprocessed, batched with ``tf.data``.

``load_dataset(project.data, project.preprocessing)`` reads the source (see
:mod:`cnnstudio.ml.data.sources`), makes a seeded, stratified train / validation / test split
(a source's own splits are kept), and gives:

* ``class_counts()``: images per class in each split (class balance);
* ``samples(split, n)``: preprocessed images as the model will see them, for a sample grid;
* ``tf_dataset(split, batch_size, ...)``: a ``tf.data`` pipeline with cache and prefetch.
  In-memory sources are preprocessed once; image folders are streamed from their paths
  (decoded and preprocessed in parallel, cached in memory only when that is small enough),
  and files that fail to decode are skipped and added to ``skipped``;
* ``check_fits(model, dataset)``: the data's image shape and class count against the
  model's input and output, before any training.

Preprocessing is :func:`cnnstudio.ml.data.preprocess.preprocess`, the same function probe and
live use, so a model sees the same kind of input everywhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnstudio.core.settings import DataSource, Preprocessing

from cnnstudio.ml.data.preprocess import display_image, input_shape, preprocess, preprocess_batch
from cnnstudio.ml.data.sources import DataError, Part, RawData, load_raw, read_image

SPLITS = ("train", "val", "test")
CACHE_LIMIT_BYTES = 1 << 30  # streamed folders bigger than this once preprocessed are not cached


def stratified_split(labels: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Indices of ``labels`` cut into ``len(fractions) + 1`` shuffled groups, class by class.

    Group ``i`` gets ``fractions[i]`` of every class; the last group gets the rest (and at
    least one image of each class, when it has one).
    """
    rng = np.random.default_rng([int(seed), 0x5717])
    groups: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for g, frac in enumerate(fractions):
            n = min(int(round(frac * len(idx))), max(0, len(idx) - start - 1))
            groups[g].append(idx[start:start + n])
            start += n
        groups[-1].append(idx[start:])
    return [rng.permutation(np.concatenate(g)) if g else np.zeros(0, np.int64) for g in groups]


def _split_parts(raw: RawData, val: float, test: float, seed: int) -> dict[str, Part]:
    """train/val/test Parts: the source's own splits, the rest carved from its pool."""
    pool = raw.parts["all"] if "all" in raw.parts else raw.parts["train"]
    wanted = [(name, frac) for name, frac in (("val", val), ("test", test)) if name not in raw.parts]
    cut = stratified_split(pool.labels, tuple(f for _, f in wanted), seed)
    splits = {name: pool.take(idx) for (name, _), idx in zip(wanted, cut)}
    splits["train"] = pool.take(cut[-1])
    for name in ("val", "test"):
        if name in raw.parts:
            splits[name] = raw.parts[name]
    return splits


@dataclass
class Dataset:
    """A split, preprocessed view of one data source."""

    classes: list[str]
    splits: dict[str, Part]
    preprocessing: Preprocessing
    description: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of a preprocessed image."""
        return input_shape(self.preprocessing)

    @property
    def streamed(self) -> bool:
        """Images are read from files while training (an image folder)."""
        return self.splits["train"].paths is not None

    def size(self, split: str) -> int:
        """Number of images in ``split``."""
        return len(self.splits[split])

    def class_counts(self) -> dict[str, list[int]]:
        """Images per class in every split."""
        k = len(self.classes)
        return {s: np.bincount(p.labels, minlength=k)[:k].tolist() for s, p in self.splits.items()}

    def labels(self, split: str) -> np.ndarray:
        """Integer labels of ``split``."""
        return self.splits[split].labels

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Preprocessed float32 images (N, H, W, C) and labels of an in-memory split (kept)."""
        part = self.splits[split]
        if part.images is None:
            raise DataError("an image folder is streamed; it has no arrays in memory")
        if split not in self._arrays:
            self._arrays[split] = preprocess_batch(part.images, self.preprocessing)
        return self._arrays[split], part.labels

    def samples(self, split: str = "train", n: int = 36, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` random images of ``split`` as the model sees them (uint8 RGB) and their labels."""
        part = self.splits[split]
        pick = np.random.default_rng(seed).permutation(len(part))[:n]
        images, labels = [], []
        for i in pick:
            img = part.images[i] if part.images is not None else self._read(str(part.paths[i]))
            if img is not None:
                images.append(display_image(preprocess(img, self.preprocessing), self.preprocessing))
                labels.append(int(part.labels[i]))
        shape = self.input_shape[:2] + (3,)
        return (np.stack(images) if images else np.zeros((0,) + shape, np.uint8)), np.asarray(labels, np.int64)

    def _read(self, path: str) -> np.ndarray | None:
        img = read_image(path)
        if img is None:
            with self._lock:
                if all(p != path for p, _ in self.skipped):
                    self.skipped.append((path, "cannot be decoded"))
        return img

    # -- tf.data --------------------------------------------------------------------
    def tf_dataset(self, split: str, batch_size: int, shuffle: bool = False, seed: int = 0,
                   label_mode: str = "sparse"):
        """Batches of (images, labels). ``label_mode``: ``sparse`` (int), ``onehot`` or ``binary`` (float (N, 1))."""
        import tensorflow as tf

        part = self.splits[split]
        k = len(self.classes)
        if part.images is not None:
            x, y = self.arrays(split)
            ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
            if shuffle:
                ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        else:
            ds = self._streamed(part, shuffle, seed)
        ds = ds.batch(int(batch_size))
        if label_mode == "onehot":
            ds = ds.map(lambda a, b: (a, tf.one_hot(b, k)), num_parallel_calls=tf.data.AUTOTUNE)
        elif label_mode == "binary":
            ds = ds.map(lambda a, b: (a, tf.cast(b[:, None], tf.float32)), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def _streamed(self, part: Part, shuffle: bool, seed: int):
        """Decode and preprocess files in parallel; skip (and list) those that fail."""
        import tensorflow as tf

        shape = self.input_shape
        empty = np.zeros(shape, np.float32)

        def decode(path: bytes) -> tuple[np.ndarray, bool]:
            img = self._read(path.decode())
            return (empty, False) if img is None else (preprocess(img, self.preprocessing), True)

        def load(path, label):
            img, ok = tf.numpy_function(decode, [path], [tf.float32, tf.bool], stateful=False)
            img.set_shape(shape)
            return img, label, ok

        cache = len(part) * int(np.prod(shape)) * 4 <= CACHE_LIMIT_BYTES
        ds = tf.data.Dataset.from_tensor_slices((part.paths, part.labels))
        if shuffle and not cache:  # streamed every epoch: shuffle the cheap paths, not images
            ds = ds.shuffle(len(part), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.filter(lambda img, label, ok: ok).map(lambda img, label, ok: (img, label))
        if cache:
            ds = ds.cache()
            if shuffle:
                ds = ds.shuffle(min(len(part), 20000), seed=seed, reshuffle_each_iteration=True)
        return ds


def load_dataset(data: DataSource, preprocessing: Preprocessing) -> Dataset:
    """Read the source ``data`` (a project's data settings) and split it; raises :class:`DataError`."""
    val, test = data.validation_split, data.test_split
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 0.95):
        raise DataError(f"validation ({val:g}) and test ({test:g}) fractions must leave images to train on")
    raw = load_raw(data)
    splits = _split_parts(raw, val, test, data.seed)
    if len(splits["train"]) == 0:
        raise DataError(f"{raw.description}: no images left to train on")
    return Dataset(raw.classes, splits, preprocessing, raw.description, list(raw.skipped))


def _fmt(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def check_fits(model, dataset: Dataset, label_mode: str = "sparse") -> None:
    """Raise :class:`DataError` naming both shapes if the data cannot go through ``model``."""
    in_shape = model.input_shape
    if isinstance(in_shape, list):
        raise DataError(f"the model has {len(in_shape)} inputs; training needs a model with one image input")
    want, have = tuple(in_shape[1:]), dataset.input_shape
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
        raise DataError(f"the data gives images of shape {_fmt(have)} (preprocessing: "
                        f"{have[0]}x{have[1]} {dataset.preprocessing.color}) but the model's "
                        f"input is {_fmt(want)}: change the preprocessing or the InputLayer so they match")
    out_shape = model.output_shape
    if isinstance(out_shape, list):
        raise DataError(f"the model has {len(out_shape)} outputs; training needs one class output")
    units, k = out_shape[-1], len(dataset.classes)
    if label_mode == "binary" and units == 1:
        if k != 2:
            raise DataError(f"a 1-unit output with binary cross-entropy needs 2 classes; the data has {k}")
    elif units != k:
        raise DataError(f"the data has {k} classes but the model's output layer has {units} units "
                        f"(output shape {_fmt(out_shape[1:])}): set the last Dense layer to {k} units")


def preview(data: DataSource, preprocessing: Preprocessing, n: int = 48, seed: int = 0) -> dict[str, Any]:
    """What the Training page shows before training: sample images as the model sees them, their
    labels, class names, class balance per split, a description and skipped files."""
    ds = load_dataset(data, preprocessing)
    images, labels = ds.samples("train", n, seed)
    return {"images": images, "labels": labels, "classes": list(ds.classes), "counts": ds.class_counts(),
            "description": ds.description, "skipped": list(ds.skipped), "input_shape": ds.input_shape}
