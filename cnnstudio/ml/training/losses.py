"""Losses and metrics from the project's training settings (the lecture's list, where it applies).

Data always yields integer class labels; each loss says which label form it needs
(``label_mode``): ``sparse`` integers, ``onehot`` rows, or ``binary`` floats (N, 1) for a
one-unit sigmoid output. :meth:`cnnstudio.ml.data.datasets.Dataset.tf_dataset` converts.
"""

from __future__ import annotations

import numpy as np

from cnnstudio.core.settings import Training

#: Loss setting -> the label form it needs for a multi-unit output (the choices are the schema's).
LABEL_FORMS: dict[str, str] = {
    "sparse_categorical_crossentropy": "sparse", "categorical_crossentropy": "onehot",
    "weighted_crossentropy": "sparse", "binary_crossentropy": "onehot", "focal": "onehot",
    "mse": "onehot", "mae": "onehot", "huber": "onehot",
}


class SettingsError(ValueError):
    """A training setting that cannot work; the message is for a person."""


def label_mode(settings: Training, output_units: int) -> str:
    """How labels must look for this loss and output: ``sparse``, ``onehot`` or ``binary``."""
    if settings.loss == "binary_crossentropy" and output_units == 1:
        return "binary"
    return LABEL_FORMS[settings.loss]


def make_loss(settings: Training):
    """The Keras loss object for ``settings.loss``."""
    import keras

    loss = settings.loss
    if loss in ("sparse_categorical_crossentropy", "weighted_crossentropy"):
        return keras.losses.SparseCategoricalCrossentropy(name="loss")
    makers = {
        "categorical_crossentropy": lambda: keras.losses.CategoricalCrossentropy(),
        "binary_crossentropy": lambda: keras.losses.BinaryCrossentropy(),
        "focal": lambda: keras.losses.CategoricalFocalCrossentropy(gamma=settings.focal_gamma),
        "mse": lambda: keras.losses.MeanSquaredError(),
        "mae": lambda: keras.losses.MeanAbsoluteError(),
        "huber": lambda: keras.losses.Huber(),
    }
    return makers[loss]()


def make_metrics(settings: Training, mode: str) -> list:
    """Keras metric objects named as the settings name them (so history keys are ``accuracy``...)."""
    import keras

    out = []
    for name in settings.metrics:
        if name == "accuracy":
            cls = {"sparse": keras.metrics.SparseCategoricalAccuracy, "onehot": keras.metrics.CategoricalAccuracy,
                   "binary": keras.metrics.BinaryAccuracy}[mode]
            out.append(cls(name="accuracy"))
        elif name == "top5_accuracy":
            if mode == "binary":
                continue  # meaningless for one output unit
            cls = (keras.metrics.SparseTopKCategoricalAccuracy if mode == "sparse"
                   else keras.metrics.TopKCategoricalAccuracy)
            out.append(cls(k=5, name="top5_accuracy"))
    return out


def class_weights(settings: Training, counts: list[int]) -> dict[int, float] | None:
    """``{class: weight}`` inversely proportional to class frequency, when the settings ask for it."""
    if not (settings.class_weighted or settings.loss == "weighted_crossentropy"):
        return None
    counts_arr = np.asarray(counts, np.float64)
    total, k = counts_arr.sum(), max(1, int((counts_arr > 0).sum()))
    return {i: (float(total / (k * c)) if c > 0 else 0.0) for i, c in enumerate(counts_arr)}
