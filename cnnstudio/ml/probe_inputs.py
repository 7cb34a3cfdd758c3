"""What a probe needs before it starts: a trained model, its preprocessing and an image.

Shared by the probe panel and ``cnnstudio probe``: the newest trained checkpoint of a
project, the preprocessing a bare ``.keras`` model implies, an image file read as RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.project import DEFAULT_PREPROCESSING, Project

from .runs import list_runs
from .sources import read_image


class ProbeInputError(ValueError):
    """A model, image or setting a probe cannot use; the message is for a person."""


def latest_checkpoint(project: Project) -> Path | None:
    """The newest run's best checkpoint (its last one if it has no best), or ``None`` if never trained."""
    for run in reversed(list_runs(project.runs_dir())):
        for path in (run.best_checkpoint, run.last_checkpoint):
            if path.is_file():
                return path
    return None


def latest_filter_snapshots(project: Project):
    """The newest run's :class:`~cnnstudio.ml.runs.FilterSnapshots` that has any, or ``None``."""
    for run in reversed(list_runs(project.runs_dir())):
        snapshots = run.filters()
        if snapshots.epochs:
            return snapshots
    return None


def preprocessing_for(input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Preprocessing settings for a model known only by its input shape (H, W, C).

    Size and grey/RGB follow the shape; pixel values are scaled to 0..1 (the studio's
    default), since a bare model file does not say how it was trained.
    """
    if len(input_shape) != 3 or input_shape[2] not in (1, 3) or None in input_shape:
        raise ProbeInputError(f"the model takes {input_shape}; probing needs an image input (height, width, 1 or 3)")
    return {**DEFAULT_PREPROCESSING, "size": [int(input_shape[0]), int(input_shape[1])],
            "color": "grey" if input_shape[2] == 1 else "rgb"}


def load_model(path: str | Path):
    """A Keras model from a ``.keras``, ``.h5`` or JSON file; raises :class:`ProbeInputError`."""
    from .keras_io import load_model_file  # imported late: TensorFlow

    p = Path(path)
    if not p.is_file():
        raise ProbeInputError(f"{p}: no such file")
    try:
        return load_model_file(p)
    except (ValueError, OSError) as exc:
        raise ProbeInputError(str(exc).splitlines()[0] if str(exc) else f"{p.name} cannot be loaded") from None


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3); raises :class:`ProbeInputError` if it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise ProbeInputError(f"{p}: no such file")
    img = read_image(str(p))
    if img is None:
        raise ProbeInputError(f"{p.name} cannot be read as an image")
    return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img
