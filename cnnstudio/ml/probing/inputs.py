"""What a probe needs before it starts: a trained model, its preprocessing and an image.

Shared by the probe panel and ``cnnstudio probe``: the newest trained checkpoint of a
project, the preprocessing a bare ``.keras`` model implies (its family's scaling, see
:mod:`cnnstudio.ml.model.pretrained`), an image file read as RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.project import Project
from cnnstudio.core.settings import DataSource, Preprocessing

from cnnstudio.ml.training.runs import newest_checkpoint
from cnnstudio.ml.data.generated_shapes import ShapesGenerator
from cnnstudio.ml.data.sources import DataError, RawData, load_raw, read_image


class ProbeInputError(ValueError):
    """A model, image or setting a probe cannot use; the message is for a person."""


def latest_checkpoint(project: Project) -> Path | None:
    """The newest run's best checkpoint (its last one if it has no best), or ``None`` if never trained."""
    found = newest_checkpoint(project)
    return found[0] if found else None


def preprocessing_for(input_shape: tuple[int, ...]) -> Preprocessing:
    """Preprocessing settings for a model known only by its input shape (H, W, C).

    Size and grey/RGB follow the shape; pixel values are scaled to 0..1 (the studio's
    default), since a bare model file does not say how it was trained.
    """
    from cnnstudio.ml.live.pipeline import LiveError, fit_to_model

    try:
        return fit_to_model(Preprocessing.default(), input_shape)[0]
    except LiveError as exc:
        raise ProbeInputError(str(exc)) from None


def model_preprocessing(model) -> tuple[Preprocessing, str]:
    """Preprocessing for a bare model file and why: size and grey/RGB from its input shape, the
    scaling its family expects (:func:`cnnstudio.ml.model.pretrained.preprocessing_mode`)."""
    from cnnstudio.ml.model.pretrained import preprocessing_mode

    mode, why = preprocessing_mode(model)
    return preprocessing_for(tuple(model.inputs[0].shape[1:])).replace(scale=mode), why


def load_model(path: str | Path, trust_code: bool = False):
    """A Keras model from a ``.keras``, ``.h5`` or JSON file; raises :class:`ProbeInputError`, or
    :class:`~cnnstudio.ml.model.keras_io.UntrustedCodeError` for code the user did not trust."""
    from cnnstudio.ml.model.keras_io import UntrustedCodeError, load_model_file  # imported late: TensorFlow

    p = Path(path)
    if not p.is_file():
        raise ProbeInputError(f"{p}: no such file")
    try:
        return load_model_file(p, trust_code)
    except UntrustedCodeError:
        raise  # the caller says how to trust it
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


class DatasetSamples:
    """Single images of the project's dataset by index, with their class names.

    The shapes generator draws image ``i`` on its own; other sources are loaded once
    (file lists only, for image folders) and their images read one at a time.
    """

    def __init__(self, data: DataSource) -> None:
        self.data = data
        self._generator: ShapesGenerator | None = None
        self._raw: RawData | None = None
        try:
            if data.kind == "shapes":
                self._generator = ShapesGenerator(data.options, seed=data.seed)
            else:
                self._raw = load_raw(data)
        except (DataError, ValueError) as exc:
            raise ProbeInputError(str(exc)) from None

    def __len__(self) -> int:
        if self._generator is not None:
            return len(self._generator)
        return sum(len(p) for p in self._raw.parts.values())

    @property
    def classes(self) -> list[str]:
        """The class names, by label index."""
        return list(self._generator.classes if self._generator is not None else self._raw.classes)

    def sample(self, index: int) -> tuple[np.ndarray, str]:
        """Image ``index`` (wrapped around) as uint8 and its class name."""
        image, label = self.item(int(index) % max(1, len(self)))
        return image, self.classes[label]

    def item(self, index: int) -> tuple[np.ndarray, int]:
        """Image ``index`` (0 <= index < len) as uint8 and its class index; raises
        :class:`ProbeInputError` for a file that cannot be read."""
        if self._generator is not None:
            gen = self._generator
            return gen.render(index), int(gen.labels[index])
        for part in self._raw.parts.values():
            if index < len(part):
                label = int(part.labels[index])
                if part.images is not None:
                    return part.images[index], label
                return read_rgb(part.paths[index]), label
            index -= len(part)
        raise ProbeInputError("the dataset is empty" if not len(self) else f"no sample {index}")
