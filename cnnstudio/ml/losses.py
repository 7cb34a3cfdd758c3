"""Losses and metrics from the project's training settings (the lecture's list, where it applies).

Data always yields integer class labels; each loss says which label form it needs
(``label_mode``): ``sparse`` integers, ``onehot`` rows, or ``binary`` floats (N, 1) for a
one-unit sigmoid output. :meth:`cnnstudio.ml.datasets.Dataset.tf_dataset` converts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Loss setting -> (title, label form for a multi-unit output).
LOSSES: dict[str, tuple[str, str]] = {
    "sparse_categorical_crossentropy": ("Cross-entropy (integer labels)", "sparse"),
    "categorical_crossentropy": ("Cross-entropy (one-hot labels)", "onehot"),
    "weighted_crossentropy": ("Class-weighted cross-entropy", "sparse"),
    "binary_crossentropy": ("Binary cross-entropy", "onehot"),
    "focal": ("Focal loss", "onehot"),
    "mse": ("Mean squared error (L2)", "onehot"),
    "mae": ("Mean absolute error (L1)", "onehot"),
    "huber": ("Huber loss", "onehot"),
}

#: Metric setting -> title.
METRICS: dict[str, str] = {"accuracy": "Accuracy", "top5_accuracy": "Top-5 accuracy"}


class SettingsError(ValueError):
    """A training setting that cannot work; the message is for a person."""


def label_mode(settings: dict[str, Any], output_units: int) -> str:
    """How labels must look for this loss and output: ``sparse``, ``onehot`` or ``binary``."""
    loss = settings.get("loss", "sparse_categorical_crossentropy")
    if loss not in LOSSES:
        raise SettingsError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if loss == "binary_crossentropy" and output_units == 1:
        return "binary"
    return LOSSES[loss][1]


def make_loss(settings: dict[str, Any]):
    """The Keras loss object for ``settings["loss"]``."""
    import keras

    loss = settings.get("loss", "sparse_categorical_crossentropy")
    if loss in ("sparse_categorical_crossentropy", "weighted_crossentropy"):
        return keras.losses.SparseCategoricalCrossentropy(name="loss")
    makers = {
        "categorical_crossentropy": lambda: keras.losses.CategoricalCrossentropy(),
        "binary_crossentropy": lambda: keras.losses.BinaryCrossentropy(),
        "focal": lambda: keras.losses.CategoricalFocalCrossentropy(gamma=float(settings.get("focal_gamma", 2.0))),
        "mse": lambda: keras.losses.MeanSquaredError(),
        "mae": lambda: keras.losses.MeanAbsoluteError(),
        "huber": lambda: keras.losses.Huber(),
    }
    if loss not in makers:
        raise SettingsError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return makers[loss]()


def make_metrics(settings: dict[str, Any], mode: str) -> list:
    """Keras metric objects named as the settings name them (so history keys are ``accuracy``...)."""
    import keras

    out = []
    for name in settings.get("metrics", ["accuracy"]):
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
        else:
            raise SettingsError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")
    return out


def class_weights(settings: dict[str, Any], counts: list[int]) -> dict[int, float] | None:
    """``{class: weight}`` inversely proportional to class frequency, when the settings ask for it."""
    if not (settings.get("class_weighted") or settings.get("loss") == "weighted_crossentropy"):
        return None
    counts_arr = np.asarray(counts, np.float64)
    total, k = counts_arr.sum(), max(1, int((counts_arr > 0).sum()))
    return {i: (float(total / (k * c)) if c > 0 else 0.0) for i, c in enumerate(counts_arr)}
