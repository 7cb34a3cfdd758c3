"""What a deploy export reads from a project, and the model inputs it calibrates and checks on.

A :class:`DeployJob` is the project taken at one moment (graph, weights file, preprocessing,
classes, data), made without TensorFlow so the studio can take it on the GUI thread.

Three sources, in the order an export prefers them: the project's own dataset (calibration
from its training split, checks on its validation split); a file the user names
(``--calibration``: an ``.npz`` with ``x``, or a folder of images, read and preprocessed
like the dataset); for the float formats alone, random pictures pushed through the same
preprocessing (a bare model file says nothing about its data, and the numbers of two
runtimes can still be compared on them). Int8 calibration on random pictures would
quantize for the wrong value ranges, so it is refused instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.project import Project
from cnnstudio.core.settings import DataSource, Preprocessing

from cnnstudio.ml.data.datasets import load_dataset
from cnnstudio.ml.data.preprocess import input_shape, preprocess_batch
from cnnstudio.ml.data.sources import IMAGE_SUFFIXES, DataError, Part, read_image

#: Images a check runs through every runtime (enough for a top-1 agreement in percent).
CHECK_SAMPLES = 200
#: Images the int8 converter calibrates its value ranges on (TensorFlow suggests 100-500).
CALIBRATION_SAMPLES = 200


@dataclass(frozen=True)
class DeployJob:
    """What an export reads from a project, taken at one moment (the studio edits on meanwhile)."""

    graph: LayerGraph
    name: str
    weights: Path | None
    preprocessing: Preprocessing
    classes: tuple[str, ...]
    data: DataSource | None  # None for a bare model file: it says nothing of its data

    @classmethod
    def of(cls, project: Project, weights: Path | None, with_data: bool = True) -> "DeployJob":
        """A snapshot of ``project`` with its trained weights file ``weights`` (see
        :func:`cnnstudio.ml.model.weights.trained_weights_file`); ``with_data=False`` for a bare model
        file, whose data settings are only defaults."""
        return cls(LayerGraph.from_dict(project.graph.to_dict()), project.name, weights, project.preprocessing,
                   tuple(project.classes), project.data if with_data else None)


@dataclass
class Samples:
    """Model inputs (float32, N x H x W x C) for calibration and for the checks."""

    check: np.ndarray
    calibration: np.ndarray | None  # None: random pictures, not fit to calibrate int8
    source: str  # in a person's words: "200 validation images of 6000 generated shapes"
    missing: str = ""  # why there is no data (random pictures stand in), in a person's words


def _pick(n_items: int, n: int, seed: int = 0) -> np.ndarray:
    """Up to ``n`` indices of ``n_items``, spread at random (a split may be ordered by class)."""
    return np.sort(np.random.default_rng(seed).permutation(n_items)[:n])


def _part_inputs(part: Part, preprocessing: Preprocessing, n: int) -> np.ndarray:
    """Up to ``n`` images of a split as model inputs (an image folder's files are read here)."""
    idx = _pick(len(part), n)
    if part.images is not None:
        images = [part.images[i] for i in idx]
    else:
        images = [img for img in (read_image(str(part.paths[i])) for i in idx) if img is not None]
    return preprocess_batch(images, preprocessing)


def project_samples(data: DataSource, preprocessing: Preprocessing) -> Samples:
    """Calibration from a project's training split, checks on its validation split (or its
    training split if it keeps none); raises :class:`DataError` when the data cannot be read."""
    dataset = load_dataset(data, preprocessing)
    split = "val" if dataset.size("val") else "train"
    check = _part_inputs(dataset.splits[split], preprocessing, CHECK_SAMPLES)
    calibration = _part_inputs(dataset.splits["train"], preprocessing, CALIBRATION_SAMPLES)
    name = "validation" if split == "val" else "training"
    return Samples(check, calibration, f"{len(check)} {name} images of {dataset.description}")


def file_samples(path: str | Path, preprocessing: Preprocessing) -> Samples:
    """Inputs from an ``.npz`` file (array ``x``: uint8 pictures, or float model inputs already
    preprocessed) or a folder of images (sub-folders included); raises :class:`DataError`."""
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(os.path.join(d, f) for d, _, names in os.walk(p) for f in names
                       if f.lower().endswith(IMAGE_SUFFIXES))
        keep = _pick(len(files), max(CHECK_SAMPLES, CALIBRATION_SAMPLES))  # read only what is used
        images = [img for img in (read_image(files[i]) for i in keep) if img is not None]
        if not images:
            raise DataError(f"{p} has no readable png/jpg/bmp/webp images")
        x, what = preprocess_batch(images, preprocessing), f"images in {p}"
    elif p.is_file():
        try:
            with np.load(p, allow_pickle=False) as doc:
                x = np.asarray(doc["x"]) if "x" in doc.files else None
                names = ", ".join(doc.files) or "nothing"
        except (OSError, ValueError) as exc:
            raise DataError(f"{p} is not a readable .npz file: {exc}") from None
        if x is None or x.ndim == 0:
            raise DataError(f"{p} has no array 'x' of samples (it has: {names})")
        x = _npz_inputs(x[_pick(len(x), max(CHECK_SAMPLES, CALIBRATION_SAMPLES))], preprocessing, p)
        what = f"samples of {p}"
    else:
        raise DataError(f"{p}: no such file or folder")
    return Samples(x[:CHECK_SAMPLES], x[:CALIBRATION_SAMPLES], f"{min(len(x), CHECK_SAMPLES)} {what}")


def _npz_inputs(x: np.ndarray, preprocessing: Preprocessing, where: Path) -> np.ndarray:
    shape = input_shape(preprocessing)
    if x.dtype == np.uint8:  # pictures, as a dataset .npz holds them: preprocess like the dataset
        if x.ndim not in (3, 4):
            raise DataError(f"{where}: 'x' holds {x.ndim}-d uint8 data; pictures are N x H x W (x C)")
        return preprocess_batch(list(x), preprocessing)
    if x.ndim != 4 or tuple(x.shape[1:]) != shape:
        raise DataError(f"{where}: float 'x' must be model inputs N x {'x'.join(map(str, shape))}, "
                        f"not {'x'.join(map(str, x.shape))}")
    return x.astype(np.float32)


def random_samples(preprocessing: Preprocessing, why: str = "no data given", n: int = 16, seed: int = 0) -> Samples:
    """Random uint8 pictures through the preprocessing: inputs in the model's value range, for
    comparing runtimes where no data is known (not for calibration); ``why`` there is none."""
    h, w, _ = input_shape(preprocessing)
    pictures = np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    return Samples(preprocess_batch(list(pictures), preprocessing), None, f"{n} random pictures ({why})", why)


def choose_samples(data: DataSource | None, preprocessing: Preprocessing, calibration: str | Path | None = None
                   ) -> Samples:
    """The inputs an export uses: the ``calibration`` file or folder if given (a bad one raises
    :class:`DataError`), else the project's data (``data``; ``None`` for a bare model file), else
    random pictures that say why (an int8 export then refuses, naming the reason)."""
    if calibration is not None:
        return file_samples(calibration, preprocessing)
    if data is None:
        return random_samples(preprocessing)
    try:
        return project_samples(data, preprocessing)
    except DataError as exc:
        return random_samples(preprocessing, f"the project's data cannot be read: {exc}")


__all__ = ["CALIBRATION_SAMPLES", "CHECK_SAMPLES", "DeployJob", "Samples", "choose_samples", "file_samples",
           "project_samples", "random_samples"]
