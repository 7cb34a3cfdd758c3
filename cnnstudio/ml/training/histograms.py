"""Histograms over training: weight and activation distributions and dead ReLUs after every epoch.

:class:`HistogramRecorder` is made once per training job on the training thread. After each
epoch (and once before the first) :meth:`HistogramRecorder.record` takes

* every trainable variable of every layer (``conv1/kernel``, ``conv1/bias``, ``bn/gamma``...), and
* the outputs of the convolution, dense and activation layers on a fixed probe batch of
  validation images (:func:`probe_batch`: the first :data:`PROBE_IMAGES`, preprocessed as for
  training), from one call of a :class:`~cnnstudio.ml.probing.prober.Prober` sub-model,

and counts them into :data:`BINS` equal bins over that epoch's range (``np.histogram``), so
the counts of a histogram always add up to its values. A unit (channel) of a layer whose
output is a ReLU is *dead* when it is zero for every probe image at every position.

The run folder keeps them (:class:`cnnstudio.ml.training.runs.HistogramLog`), TensorBoard gets
them as histogram summaries (:meth:`cnnstudio.ml.training.tblog.SummaryLog.histograms`).
Switched by the Training setting ``histograms``; only the process that writes the run folder
records (the chief of a multi-worker run).
"""

from __future__ import annotations

import time

import keras
import numpy as np

from cnnstudio.core.settings import Training

from cnnstudio.ml.data.datasets import Dataset
from cnnstudio.ml.probing.filters import CONV_KINDS
from cnnstudio.ml.probing.prober import Prober
from cnnstudio.ml.training.runs import EpochHistograms, Histogram, Run

PROBE_IMAGES = 64
BINS = 64
#: Layers whose outputs are recorded (besides any layer with a ReLU activation).
ACTIVATION_KINDS = CONV_KINDS + ("Conv1D", "Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax")


def probe_batch(dataset: Dataset, n: int = PROBE_IMAGES) -> np.ndarray:
    """The first ``n`` validation images (training images when there is no validation split),
    preprocessed as the model sees them: float32 (n, H, W, C). The split is shuffled once when
    the data is split, so these are a fixed mix of classes."""
    split = "val" if dataset.size("val") else "train"
    if not dataset.streamed:
        return dataset.arrays(split)[0][:n]
    for images, _ in dataset.tf_dataset(split, n).take(1):  # an image folder: read just these files
        return np.asarray(images, np.float32)
    return np.zeros((0, *dataset.input_shape), np.float32)


def histogram_probe(dataset: Dataset, settings: Training, run: Run | None) -> np.ndarray | None:
    """The probe batch when this job records histograms (switched on, and it writes a run folder), else None."""
    return probe_batch(dataset) if settings.histograms and run is not None else None


def is_relu(layer) -> bool:
    """The layer's output is a ReLU (a ReLU layer without a slope, or a ReLU / ReLU6 activation)."""
    if isinstance(layer, keras.layers.ReLU):
        return not float(layer.negative_slope)
    return getattr(layer, "activation", None) in (keras.activations.relu, keras.activations.relu6)


def histogram(values: np.ndarray, bins: int = BINS) -> Histogram:
    """``np.histogram`` of the finite ``values`` over their range, with their sum and sum of squares."""
    v = np.asarray(values, np.float32).ravel()
    if not v.size:
        counts, edges = np.histogram(v, bins=bins)
        return Histogram(edges.astype(np.float64), counts.astype(np.int64))
    lo, hi = v.min(), v.max()  # NaN or inf anywhere shows here: only then filter (a copy)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        v = v[np.isfinite(v)]
        lo, hi = (v.min(), v.max()) if v.size else (0.0, 0.0)
    try:  # the range np.histogram would take itself, without scanning the values again
        counts, edges = np.histogram(v, bins=bins, range=(lo, hi) if v.size else None)
    except ValueError:  # one huge value everywhere (1e38): float32 has no room for the bins around it
        pad = max(0.5, abs(float(lo)) * 1e-6)
        counts, edges = np.histogram(v.astype(np.float64), bins=bins, range=(float(lo) - pad, float(hi) + pad))
    return Histogram(edges.astype(np.float64), counts.astype(np.int64), float(v.sum(dtype=np.float64)),
                     float(np.dot(v, v)))


def dead_units(activations: np.ndarray) -> np.ndarray:
    """Per unit (last axis), zero (or below) on every image at every position: bool (units,)."""
    a = np.asarray(activations)
    return a.reshape(-1, a.shape[-1]).max(axis=0) <= 0


class HistogramRecorder:
    """Records :class:`~cnnstudio.ml.training.runs.EpochHistograms` of one model on one probe batch."""

    def __init__(self, model, probe: np.ndarray, bins: int = BINS) -> None:
        self.model, self.probe, self.bins = model, np.asarray(probe, np.float32), bins
        self.prober = Prober(model)
        on_path = set(self.prober._tensors)
        self.layers = [layer.name for layer in model.layers if layer.name in on_path and (
            type(layer).__name__ in ACTIVATION_KINDS or is_relu(layer))]
        self.relus = {layer.name for layer in model.layers if layer.name in self.layers and is_relu(layer)}

    def weights(self) -> dict[str, Histogram]:
        """``layer/variable`` -> histogram of every trainable variable."""
        out = {}
        for layer in self.model.layers:
            for var in layer.trainable_weights:
                values = np.asarray(keras.ops.convert_to_numpy(var.value))
                if values.size:
                    out[f"{layer.name}/{var.name}"] = histogram(values, self.bins)
        return out

    def record(self, epoch: int) -> EpochHistograms:
        """The histograms and dead units of the model as it is now, recorded as after ``epoch``."""
        t0 = time.perf_counter()
        result = EpochHistograms(int(epoch), self.weights(), probe_images=len(self.probe))
        if len(self.probe) and self.layers:
            outputs = self.prober.run_batch(self.probe, self.layers)[1:]
            for name, values in zip(self.layers, outputs):
                values = np.asarray(values, np.float32)
                result.activations[name] = histogram(values, self.bins)
                if name in self.relus:
                    result.dead[name] = dead_units(values)
        result.seconds = time.perf_counter() - t0
        return result
