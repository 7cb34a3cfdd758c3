"""Evaluation of a trained model on a split: metrics, confusion matrix, per-class precision and
recall, and the misclassified samples.

Stored in a run folder as ``evaluation.npz``::

    classes          str (K,)
    confusion        int64 (K, K): rows are true classes, columns predicted classes
    metrics_keys     str (M,), metrics_values float64 (M,): the model's test metrics (loss...)
    misclassified    int64 (W,): indices into the split of every wrong prediction
    true, predicted  int64 (W,): their true and predicted classes
    images           uint8 (min(W, max_images), H, W, 3): the first misclassified images, as seen
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnstudio.ml.data.datasets import Dataset
from cnnstudio.ml.data.preprocess import display_image

FILE = "evaluation.npz"


@dataclass
class Evaluation:
    """What a model gets right and wrong on one split."""

    classes: list[str]
    confusion: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)
    misclassified: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    true: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    images: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 3), np.uint8))

    @property
    def total(self) -> int:
        """Number of samples evaluated."""
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        """Fraction predicted right (NaN with no samples)."""
        return float(np.trace(self.confusion) / self.total) if self.total else float("nan")

    @property
    def precision(self) -> np.ndarray:
        """Per class: of the samples predicted as it, the fraction that are it (NaN if none)."""
        predicted = self.confusion.sum(axis=0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(predicted > 0, np.diag(self.confusion) / predicted, np.nan)

    @property
    def recall(self) -> np.ndarray:
        """Per class: of its samples, the fraction predicted as it (NaN if none)."""
        actual = self.confusion.sum(axis=1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(actual > 0, np.diag(self.confusion) / actual, np.nan)

    def save(self, folder: Path) -> Path:
        """Write ``evaluation.npz`` into ``folder``."""
        path = Path(folder) / FILE
        tmp = path.with_name(f".{FILE}.tmp.npz")
        np.savez_compressed(tmp, classes=np.asarray(self.classes, dtype=str), confusion=self.confusion,
                            metrics_keys=np.asarray(list(self.metrics), dtype=str),
                            metrics_values=np.asarray(list(self.metrics.values()), np.float64),
                            misclassified=self.misclassified, true=self.true, predicted=self.predicted,
                            images=self.images)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, folder: Path) -> "Evaluation | None":
        """Read ``evaluation.npz`` from ``folder``; None if there is none."""
        path = Path(folder) / FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as f:
            return cls([str(c) for c in f["classes"]], f["confusion"],
                       dict(zip((str(k) for k in f["metrics_keys"]), (float(v) for v in f["metrics_values"]))),
                       f["misclassified"], f["true"], f["predicted"], f["images"])


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Counts (K, K): rows true class, columns predicted class."""
    return np.bincount(np.asarray(true) * k + np.asarray(predicted), minlength=k * k)[:k * k].reshape(k, k)


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """Model outputs -> class indices (a single sigmoid unit means class 1 above 0.5)."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(-1) > 0.5).astype(np.int64)
    return outputs.argmax(axis=-1).astype(np.int64)


def evaluate(model, dataset: Dataset, split: str = "test", batch_size: int = 256,
             label_mode: str = "sparse", max_images: int = 64) -> Evaluation:
    """Run ``model`` over ``split``: its compiled metrics and where it goes wrong."""
    k = len(dataset.classes)
    if dataset.size(split) == 0:
        return Evaluation(list(dataset.classes), np.zeros((k, k), np.int64))
    metrics = {}
    if model.compiled:
        result = model.evaluate(dataset.tf_dataset(split, batch_size, label_mode=label_mode), verbose=0,
                                return_dict=True)
        metrics = {name: float(v) for name, v in result.items()}
    ds = dataset.tf_dataset(split, batch_size)
    # model.predict, not predict_on_batch: it also handles distribution strategies
    pred = predicted_classes(model.predict(ds.map(lambda x, y: x), verbose=0))
    trues, images = [], []
    seen = 0
    for x, y in ds.as_numpy_iterator():
        trues.append(y)
        for i in np.flatnonzero(pred[seen:seen + len(y)] != y)[:max(0, max_images - len(images))]:
            images.append(display_image(x[i], dataset.preprocessing))
        seen += len(y)
    true = np.concatenate(trues)
    wrong = np.flatnonzero(pred != true).astype(np.int64)
    shape = dataset.input_shape[:2] + (3,)
    return Evaluation(list(dataset.classes), confusion_matrix(true, pred, k), metrics, wrong,
                      true[wrong], pred[wrong], np.stack(images) if images else np.zeros((0,) + shape, np.uint8))
