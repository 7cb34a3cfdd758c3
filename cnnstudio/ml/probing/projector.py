"""The embedding projector: one layer's activations for the validation images, drawn in 2-D.

:func:`project` runs a :class:`~cnnstudio.ml.probing.prober.Prober` over an even per-class
sample of the project's validation split (streamed in batches through the model's own
preprocessing, :func:`cnnstudio.ml.data.preprocess.preprocess`), keeps the chosen layer's
activations with each image's true and predicted class, and reduces them to two dimensions:

* **PCA**: centred, through NumPy's SVD (:func:`pca`), with the share of variance each axis
  explains. Each component's sign is fixed (its largest loading positive) and, given the
  previous projection of the same layer, turned to agree with it (:func:`align_signs`), so
  points do not flip from one epoch to the next.
* **t-SNE**: scikit-learn's ``TSNE`` (the ``projector`` extra) on the first
  :data:`TSNE_PCA_DIMS` principal components, started from the previous layout when the
  points are the same ones (stable between epochs), else from PCA. It runs in a child Python
  (:func:`tsne`): scikit-learn holds the GIL in parts of it, which would stall the GUI, and a
  child can be ended the moment the user cancels.

The default layer is the penultimate one: the input of the final classifier layer
(:func:`default_layer`). Spatial maps are **global-average pooled** to one value per channel
(:func:`features`): flattening a 14x14x32 map gives 6272 dimensions dominated by where
things are in the picture, while channel means keep what the layer detects, which is what
the classes differ by (and what a global-pooling head itself sees). Everything here runs on
the probe worker; TensorFlow is reached only through the Prober.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

METHODS = (("PCA", "pca"), ("t-SNE", "tsne"))
DEFAULT_POINTS = 2000  # a scatter stays readable and t-SNE takes seconds, not minutes
BATCH = 128
TSNE_PCA_DIMS = 50  # t-SNE on the leading principal components: faster, less noise (van der Maaten 2008)
#: Layers that pass values through unchanged at inference: the default layer looks past them.
PASS_THROUGH = ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Flatten")

Report = Callable[[int, int, str], None]  # (done, total (0: unknown), what): may raise Cancelled


class Cancelled(Exception):
    """The user cancelled the computation (raised by a progress report)."""


class ProjectorUnavailable(ValueError):
    """A method whose library is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Activations:
    """The chosen layer's features for the sampled validation images."""

    layer: str
    split: str            # the split sampled ("val", or "test"/"train" when there is no validation split)
    indices: np.ndarray   # (N,) positions in that split
    features: np.ndarray  # (N, D) float32: the layer's output, spatial maps averaged per channel
    shape: tuple[int, ...]  # the layer's output shape (batch axis dropped)
    labels: np.ndarray    # (N,) true classes
    predicted: np.ndarray  # (N,) predicted classes
    images: np.ndarray    # (N, H, W, 3) uint8: each input as the model sees it
    seconds: float


@dataclass(frozen=True)
class Projection:
    """Points in 2-D, one per sampled image, with what the scatter draws and the tooltip says."""

    layer: str
    method: str                 # "pca" or "tsne"
    xy: np.ndarray              # (N, 2) float32
    labels: np.ndarray
    predicted: np.ndarray
    images: np.ndarray          # (N, H, W, 3) uint8
    classes: list[str]
    indices: np.ndarray
    split: str
    dims: int                   # D, the features' dimension
    pooled: bool                # spatial maps were averaged per channel
    explained: np.ndarray       # (2,) share of variance of PCA's two axes (of the PCA stage under t-SNE)
    components: np.ndarray      # (2, D) PCA's axes (for the next epoch's sign alignment)
    seconds: dict[str, float] = field(default_factory=dict)  # "activations", "pca", "tsne"
    title: str = ""             # the model

    @property
    def misclassified(self) -> np.ndarray:
        """(N,) bool: the model's class is not the true one."""
        return self.labels != self.predicted

    def class_name(self, i: int) -> str:
        return self.classes[i] if 0 <= i < len(self.classes) else str(i)

    def describe(self, i: int) -> str:
        """``true circle · predicted square`` for point ``i``."""
        t, p = int(self.labels[i]), int(self.predicted[i])
        return f"true {self.class_name(t)} · predicted {self.class_name(p)}" + ("" if t == p else " ✗")


# -- layers ---------------------------------------------------------------------------
def _producer(tensor):
    """The layer that computed a symbolic tensor, and the tensors it was called on."""
    op, node_index, _ = tensor._keras_history
    return op, op._inbound_nodes[node_index].input_tensors


def default_layer(prober) -> str:
    """The penultimate layer: the one feeding the probed output's final layer (a softmax layer's
    own input counted as that final layer's), looking past dropout and flatten."""
    layer, inputs = _producer(prober.model.outputs[prober.output.index])
    if type(layer).__name__ in ("Softmax", "Activation") and inputs:
        layer, inputs = _producer(inputs[0])  # the logits' layer is the classifier
    if not inputs:
        raise ValueError(f"{prober.model.name} has no layer before its output")
    layer, before = _producer(inputs[0])
    while type(layer).__name__ in PASS_THROUGH and before and type(_producer(before[0])[0]).__name__ != "InputLayer":
        layer, before = _producer(before[0])
    return layer.name


def projectable_layers(prober) -> list[str]:
    """Layers whose output can be projected (vectors and maps), input to output, the output itself excluded."""
    names = []
    for layer in prober.model.layers:
        if type(layer).__name__ == "InputLayer" or layer.name == prober.output.name:
            continue
        try:
            rank = len(prober.layer_tensor(layer.name).shape)
        except ValueError:
            continue  # not on the path from input to output
        if rank in (2, 3, 4):
            names.append(layer.name)
    return names


def features(activations: np.ndarray) -> np.ndarray:
    """(N, ...) layer outputs -> (N, D): vectors as they are, 1-D and 2-D maps averaged per channel."""
    a = np.asarray(activations, np.float32)
    return a if a.ndim == 2 else a.reshape(len(a), -1, a.shape[-1]).mean(axis=1)


# -- sampling and activations ------------------------------------------------------------
def sample_evenly(labels: np.ndarray, cap: int, seed: int = 0) -> np.ndarray:
    """At most ``cap`` indices of ``labels``, as evenly over the classes as they allow (a small
    class gives all it has, the others share the rest), each class's drawn at random; sorted."""
    labels = np.asarray(labels)
    if cap <= 0 or len(labels) <= cap:
        return np.arange(len(labels))
    rng = np.random.default_rng([int(seed), 0x9E37])
    groups = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    take = np.zeros(len(groups), np.int64)
    left = cap
    while left > 0:
        open_ = [g for g in range(len(groups)) if take[g] < len(groups[g])]
        share = max(1, left // len(open_))
        for g in open_:
            n = min(share, len(groups[g]) - take[g], left)
            take[g] += n
            left -= n
            if left == 0:
                break
    return np.sort(np.concatenate([grp[:n] for grp, n in zip(groups, take)]))


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """(N, K) class outputs -> (N,) predicted class; one sigmoid unit is class 1 above 0.5."""
    out = np.asarray(outputs).reshape(len(outputs), -1)
    return (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1).astype(np.int64)


def validation_split(dataset) -> str:
    """The split to project: validation, else test, else train (a project without held-out images)."""
    for split in ("val", "test", "train"):
        if dataset.size(split):
            return split
    raise ValueError("the dataset has no images")


def collect(prober, dataset, layer: str, cap: int = DEFAULT_POINTS, report: Report | None = None,
            batch: int = BATCH) -> Activations:
    """``layer``'s features, true and predicted classes and display pictures for an even per-class
    sample of at most ``cap`` validation images, streamed ``batch`` at a time through the
    dataset's preprocessing. ``report(done, total, what)`` after each batch may raise :class:`Cancelled`."""
    from cnnstudio.ml.data.preprocess import display_image, preprocess
    from cnnstudio.ml.data.sources import read_image

    if prober.output.kind != "classes":
        raise ValueError(f"the projector colours points by class: output {prober.output.text()} is not a classifier")
    shape = tuple(prober.layer_tensor(layer).shape[1:])  # raises ValueError for a layer that is not there
    t0 = time.perf_counter()
    split = validation_split(dataset)
    part = dataset.splits[split]
    pick = sample_evenly(part.labels, cap)
    settings = dataset.preprocessing
    feats, preds, images, kept = [], [], [], []
    for start in range(0, len(pick), batch):
        idx = pick[start:start + batch]
        xs, ok = [], []
        for i in idx:
            img = part.images[i] if part.images is not None else read_image(str(part.paths[i]))
            if img is not None:  # a file that no longer decodes is left out
                xs.append(preprocess(img, settings))
                ok.append(i)
        if xs:
            x = np.stack(xs)
            out, acts = prober.run_batch(x, (layer,))
            feats.append(features(acts))
            preds.append(predicted_classes(out))
            images.extend(display_image(xi, settings) for xi in x)
            kept.extend(ok)
        if report is not None:
            report(min(start + batch, len(pick)), len(pick), f"{layer}: activations of {len(pick)} {split} images")
    if not kept:
        raise ValueError(f"none of the {split} images could be read")
    kept = np.asarray(kept, np.int64)
    return Activations(layer, split, kept, np.concatenate(feats), tuple(shape), part.labels[kept].astype(np.int64),
                       np.concatenate(preds), np.stack(images), time.perf_counter() - t0)


# -- reductions ---------------------------------------------------------------------------
def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred PCA of (N, D) ``x`` by SVD: the points on the first ``k`` axes (N, k), the share of
    the total variance each explains (k,), and the axes (k, D), each signed so that its largest
    loading is positive. Fewer than ``k`` dimensions (or points) are padded with zero axes."""
    x = np.asarray(x, np.float64)
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    signs[signs == 0] = 1
    u, vt = u * signs, vt * signs[:, None]
    total = float((s ** 2).sum())
    n = min(k, len(s))
    points = np.zeros((len(x), k))
    points[:, :n] = u[:, :n] * s[:n]
    explained = np.zeros(k)
    if total > 0:
        explained[:n] = s[:n] ** 2 / total
    axes = np.zeros((k, x.shape[1]))
    axes[:n] = vt[:n]
    return points.astype(np.float32), explained, axes


def align_signs(points: np.ndarray, axes: np.ndarray, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Flip each axis (and its coordinate) that points away from the same axis of ``previous``
    (k, D) axes, so a projection recomputed after an epoch keeps its orientation."""
    if previous is None or previous.shape != axes.shape:
        return points, axes
    flip = np.where((axes * previous).sum(axis=1) < 0, -1.0, 1.0)
    return (points * flip).astype(np.float32), axes * flip[:, None]


#: The t-SNE child process: scikit-learn holds Python's GIL in parts of t-SNE (stalls of 300 ms
#: on the GUI thread were measured with it on a worker thread), so it runs in a Python of its own,
#: which Cancel can also end at once. Arguments: the input .npz, the output .npy, threads.
_TSNE_CHILD = """
import sys
import numpy as np
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits
job = np.load(sys.argv[1])
init = job["init"] if job["init"].size else "pca"
model = TSNE(2, perplexity=float(job["perplexity"]), init=init, random_state=int(job["seed"]), learning_rate="auto")
with threadpool_limits(int(sys.argv[3])):
    np.save(sys.argv[2], model.fit_transform(job["x"]).astype(np.float32))
"""
POLL_S = 0.2  # how often a running t-SNE asks ``report`` whether to go on


def tsne(x: np.ndarray, seed: int = 0, init: np.ndarray | None = None, report: Report | None = None) -> np.ndarray:
    """scikit-learn's t-SNE of (N, D) ``x`` to (N, 2), from ``init`` (N, 2) if given, else from PCA,
    in a child process; ``report(0, 0, what)`` is called while it runs and may raise
    :class:`Cancelled`, which ends the child. Raises :class:`ProjectorUnavailable` when
    scikit-learn is not installed.
    """
    import importlib.util
    import subprocess
    import sys
    import tempfile

    try:
        found = importlib.util.find_spec("sklearn.manifold") is not None
    except ImportError:  # no sklearn package at all
        found = False
    if not found:
        raise ProjectorUnavailable("t-SNE needs scikit-learn: pip install 'cnnstudio[projector]' "
                                   "(PCA works without it)")
    x = np.asarray(x, np.float32)
    n = len(x)
    if n < 5:
        raise ValueError(f"t-SNE needs at least 5 points; the sample has {n}")
    start = np.zeros((0, 2), np.float32)
    if init is not None and init.shape == (n, 2):  # a previous layout, at the scale t-SNE's "pca" start has
        start = np.asarray(init, np.float32)
        start = (start - start.mean(axis=0)) / (start[:, 0].std() or 1.0) * 1e-4
    # OpenMP threads spin while they wait: on a busy machine (TensorFlow, the GUI) all cores made
    # t-SNE several times slower than half of them (45 points: 4.7 s against 0.8 s on 2 cores)
    threads = max(1, (os.cpu_count() or 2) // 2)
    with tempfile.TemporaryDirectory(prefix="cnnstudio-tsne-") as tmp:
        job, out, log = (os.path.join(tmp, name) for name in ("job.npz", "xy.npy", "log.txt"))
        np.savez(job, x=x, init=start, perplexity=min(30.0, (n - 1) / 3), seed=seed)
        with open(log, "wb") as err:
            child = subprocess.Popen([sys.executable, "-c", _TSNE_CHILD, job, out, str(threads)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            try:
                while True:
                    try:
                        child.wait(POLL_S)
                        break
                    except subprocess.TimeoutExpired:
                        if report is not None:
                            report(0, 0, f"t-SNE of {n} points")
            finally:
                if child.poll() is None:  # cancelled (or interrupted): end it now
                    child.kill()
                    child.wait()
        if child.returncode != 0:
            lines = [ln for ln in open(log, encoding="utf-8", errors="replace").read().splitlines() if ln.strip()]
            raise ValueError(f"t-SNE failed: {lines[-1] if lines else f'exit status {child.returncode}'}")
        return np.load(out)


def reduce(acts: Activations, method: str, classes: Sequence[str], previous: Projection | None = None,
           report: Report | None = None, seed: int = 0, title: str = "") -> Projection:
    """Project ``acts`` by ``method`` ("pca" or "tsne"), kept in line with ``previous`` (the same
    layer's last projection) where it can be; ``report`` is told before each stage."""
    if method not in dict((m, t) for t, m in METHODS):
        raise ValueError(f"unknown projection {method!r}: choose " + " or ".join(m for _, m in METHODS))
    same = previous is not None and previous.layer == acts.layer
    seconds = {"activations": acts.seconds}
    t0 = time.perf_counter()
    if report is not None:
        report(0, 0, "PCA")
    points, explained, axes = pca(acts.features)
    points, axes = align_signs(points, axes, previous.components if same else None)
    seconds["pca"] = time.perf_counter() - t0
    xy = points
    if method == "tsne":
        if report is not None:
            report(0, 0, f"t-SNE of {len(points)} points")
        t0 = time.perf_counter()
        k = min(TSNE_PCA_DIMS, acts.features.shape[1])
        reduced = pca(acts.features, k)[0] if acts.features.shape[1] > k else acts.features
        init = previous.xy if same and previous.method == "tsne" and np.array_equal(previous.indices, acts.indices) else None
        xy = tsne(reduced, seed, init, report)
        seconds["tsne"] = time.perf_counter() - t0
    return Projection(acts.layer, method, xy, acts.labels, acts.predicted, acts.images, list(classes), acts.indices,
                      acts.split, int(acts.features.shape[1]), len(acts.shape) > 1, explained, axes, seconds, title)


def class_names(prober, dataset) -> list[str]:
    """The probed classifier's class names (the dataset's where the model names none; indices past both)."""
    names = prober.class_names or dataset.classes
    return [names[i] if i < len(names) else str(i) for i in range(max(prober.output.channels, 2))]


def project(prober, dataset, layer: str | None = None, method: str = "pca", cap: int = DEFAULT_POINTS,
            previous: Projection | None = None, report: Report | None = None, title: str = "") -> Projection:
    """The projection of ``layer`` (None: :func:`default_layer`) for ``dataset``'s validation images."""
    layer = layer or default_layer(prober)
    return reduce(collect(prober, dataset, layer, cap, report), method, class_names(prober, dataset), previous,
                  report, title=title)
