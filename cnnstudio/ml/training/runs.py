"""Training runs on disk: one folder per run under the project's ``runs_dir()``.

A run folder holds::

    settings.json     what was trained: training / data / preprocessing settings, classes,
                      the graph, the target epoch count and when it was created
    curves.json       {"batch": {"step": [...], "epoch": [...], "loss": [...], ...},
                       "epoch": {"loss": [...], "accuracy": [...], "val_loss": [...], ...,
                                 "seconds": [...]}}
                      per-batch values are each batch's own (not running means); the
                      "epoch" part has Keras's ``history.history`` keys (plus "seconds")
    last.keras        the model after the latest epoch (with optimizer state: resumable)
    best.keras        the model at its best validation loss so far
    metrics.json      {"status": "finished" | "stopped" | "nan" | "failed" | "running",
                       "message", "epochs_done", "best_epoch", "final": {...}, "test": {...},
                       "elapsed_s", "images_per_s"}
    evaluation.npz    see :mod:`cnnstudio.ml.training.evaluation`
    filters.npz       the first convolution's kernels after every epoch (format below)
    histograms/       ``epoch-NNNN.npz``: weight and activation histograms and dead ReLUs after
                      each epoch (0 = before training; format below)
    tensorboard/      Keras's TensorBoard logs (``tensorboard --logdir <run>/tensorboard``), with
                      the histograms as TensorBoard histogram summaries

``filters.npz`` (for the probing panel's filter replay)::

    layer    str scalar: the Keras layer name of the first convolution
    epochs   int32 (E,): the epoch after which each snapshot was taken; 0 = before training
    kernels  float32 (E, kh, kw, in_channels, filters): Keras Conv2D kernel layout
    bias     float32 (E, filters), present when the layer has a bias

``histograms/epoch-NNNN.npz`` (for the Training page's Histograms tab; one file an epoch, so a
run killed mid-write loses at most that epoch's temporary file)::

    epoch                    int32 scalar: the epoch after which it was recorded (0 = before training)
    probe_images             int32 scalar: the validation images the activations were computed on
    seconds                  float64 scalar: how long recording took
    weight_names             str (W,): ``layer/variable`` (``conv1/kernel``, ``conv1/bias``, ``bn/gamma``...)
    weight_edges             float64 (W, B + 1): each histogram's own bin edges (this epoch's range)
    weight_counts            int64 (W, B): values per bin; a row sums to the variable's finite values
    weight_moments           float64 (W, 2): sum and sum of squares of those values
    activation_names / _edges / _counts / _moments: the same for layer outputs on the probe images
    relu_names               str (R,): layers whose output is a ReLU
    relu_units               int32 (R,): their units (channels)
    dead_units               bool (sum of relu_units,): per unit, zero on every probe image at every position

Every file is written to a temporary name and renamed, so a reader (the probe panel,
a crash) never sees half a file.

A project file may come with a trained run (``name.shipped/`` beside ``name.cnnproj``, made
by ``examples/train_shipped_run.py``): a run folder without ``last.keras`` or TensorBoard logs,
whose ``best.keras`` has no optimizer state. It counts as the project's oldest run, so its own
runs take over once there are any, and it is never written to: it cannot be resumed, and new
runs go to the project's ``runs_dir()``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.params import ParamError
from cnnstudio.core.project import Project
from cnnstudio.core.settings import Preprocessing
from cnnstudio.ml.training.run_docs import read_curves, read_metrics, read_settings

SETTINGS, CURVES, METRICS, FILTERS = "settings.json", "curves.json", "metrics.json", "filters.npz"
LAST, BEST, TENSORBOARD, HISTOGRAMS = "last.keras", "best.keras", "tensorboard", "histograms"


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` atomically as JSON (NaN -> null).

    Temporary file and rename, like project files, but without their fsync: these are
    rewritten every epoch while training, and after a power cut the previous epoch's
    version is as good.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_clean(doc), indent=1), encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Curves:
    """Per-batch and per-epoch values of one run."""

    batch: dict[str, list] = field(default_factory=dict)
    epoch: dict[str, list] = field(default_factory=dict)

    def add_batch(self, step: int, epoch: int, logs: dict[str, float]) -> None:
        """One batch's values (its global step counts from 1)."""
        for key, value in (("step", step), ("epoch", epoch), *logs.items()):
            self.batch.setdefault(key, []).append(value)

    def add_epoch(self, logs: dict[str, float]) -> None:
        """One epoch's values (Keras log names)."""
        n = self.epochs_done
        for key, value in logs.items():
            column = self.epoch.setdefault(key, [])
            column.extend([float("nan")] * (n - len(column)))  # a key that appears late
            column.append(value)

    @property
    def epochs_done(self) -> int:
        """Number of epochs recorded."""
        return max((len(v) for v in self.epoch.values()), default=0)

    @property
    def steps_done(self) -> int:
        """Number of batches recorded."""
        return len(self.batch.get("step", []))

    def history(self) -> dict[str, list[float]]:
        """Keras's ``history.history``: per-epoch lists by log name."""
        return {k: list(v) for k, v in self.epoch.items() if k != "seconds"}

    def to_dict(self) -> dict[str, Any]:
        """The ``curves.json`` document."""
        return {"batch": self.batch, "epoch": self.epoch}

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> "Curves":
        """Read a ``curves.json`` document (null -> NaN)."""
        doc = doc or {}

        def nan(values):
            return [float("nan") if v is None else v for v in values]

        return cls({k: nan(v) for k, v in doc.get("batch", {}).items()},
                   {k: nan(v) for k, v in doc.get("epoch", {}).items()})


class FilterSnapshots:
    """The first convolution's kernels after every epoch, kept in ``filters.npz``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.layer = ""
        self.epochs: list[int] = []
        self.kernels: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        #: Why a damaged file was not read (it is then as if none was written yet), else "".
        self.problem = ""
        if self.path.exists():
            try:
                self._read()
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                self.layer, self.epochs, self.kernels, self.biases = "", [], [], []
                self.problem = f"{self.path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); ignored"

    def _read(self) -> None:
        with np.load(self.path, allow_pickle=False) as f:
            layer, epochs, kernels = f["layer"], f["epochs"], f["kernels"]
            bias = f["bias"] if "bias" in f.files else None
            if layer.ndim != 0 or epochs.ndim != 1 or kernels.ndim != 5 or len(kernels) != len(epochs) or (
                    bias is not None and (bias.ndim != 2 or len(bias) != len(epochs))):
                raise ValueError("its arrays do not fit together (layer, epochs, kernels (E, kh, kw, in, out), bias)")
            self.layer = str(layer)
            self.epochs = [int(e) for e in epochs]
            self.kernels = list(kernels.astype(np.float32))
            self.biases = list(bias.astype(np.float32)) if bias is not None else []

    def add(self, epoch: int, layer: str, kernel: np.ndarray, bias: np.ndarray | None) -> None:
        """Record the kernels after ``epoch`` (0 = before training) and rewrite the file."""
        if self.epochs and self.epochs[-1] >= epoch:  # resumed: replace what comes after
            keep = sum(1 for e in self.epochs if e < epoch)
            self.epochs, self.kernels, self.biases = self.epochs[:keep], self.kernels[:keep], self.biases[:keep]
        self.layer = layer
        self.epochs.append(int(epoch))
        self.kernels.append(np.asarray(kernel, np.float32))
        if bias is not None:
            self.biases.append(np.asarray(bias, np.float32))
        arrays = {"layer": np.array(layer), "epochs": np.asarray(self.epochs, np.int32),
                  "kernels": np.stack(self.kernels)}
        if self.biases and len(self.biases) == len(self.kernels):
            arrays["bias"] = np.stack(self.biases)
        tmp = self.path.with_name(f".{self.path.name}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Histogram:
    """The distribution of one set of values: bin edges (B + 1,), counts (B,), their sum and sum of squares."""

    edges: np.ndarray
    counts: np.ndarray
    total: float = 0.0
    squares: float = 0.0

    @property
    def num(self) -> int:
        """How many values it counts."""
        return int(self.counts.sum())

    def density(self) -> np.ndarray:
        """Counts per unit of value, as a share of all values (integrates to 1)."""
        widths = np.diff(self.edges)
        return self.counts / max(1, self.num) / np.where(widths > 0, widths, 1.0)


@dataclass
class EpochHistograms:
    """What one epoch's ``histograms/epoch-NNNN.npz`` holds (see the module docstring)."""

    epoch: int
    weights: dict[str, Histogram] = field(default_factory=dict)       # "layer/variable" ->
    activations: dict[str, Histogram] = field(default_factory=dict)   # layer name ->
    dead: dict[str, np.ndarray] = field(default_factory=dict)         # ReLU layer -> bool (units,)
    probe_images: int = 0
    seconds: float = 0.0

    def dead_fraction(self, layer: str) -> float:
        """The share of ``layer``'s units that are dead (0 for a layer without units)."""
        units = self.dead.get(layer)
        return float(units.mean()) if units is not None and units.size else 0.0

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the file."""
        out = {"epoch": np.int32(self.epoch), "probe_images": np.int32(self.probe_images),
               "seconds": np.float64(self.seconds)}
        for kind, table in (("weight", self.weights), ("activation", self.activations)):
            hs = list(table.values())
            out[f"{kind}_names"] = np.array(list(table), dtype=str)
            out[f"{kind}_edges"] = np.array([h.edges for h in hs], np.float64) if hs else np.zeros((0, 1))
            out[f"{kind}_counts"] = np.array([h.counts for h in hs], np.int64) if hs else np.zeros((0, 0), np.int64)
            out[f"{kind}_moments"] = np.array([(h.total, h.squares) for h in hs], np.float64).reshape(len(hs), 2)
        names = list(self.dead)
        out["relu_names"] = np.array(names, dtype=str)
        out["relu_units"] = np.array([self.dead[n].size for n in names], np.int32)
        out["dead_units"] = (np.concatenate([self.dead[n].ravel() for n in names]) if names
                             else np.zeros(0)).astype(bool)
        return out

    @classmethod
    def from_arrays(cls, f) -> "EpochHistograms":
        """Read the arrays of a file (an ``np.load`` result); raises ``ValueError`` / ``KeyError`` when they do not fit."""
        h = cls(int(f["epoch"]), probe_images=int(f["probe_images"]), seconds=float(f["seconds"]))
        for kind, table in (("weight", h.weights), ("activation", h.activations)):
            names, edges, counts, moments = (f[f"{kind}_{k}"] for k in ("names", "edges", "counts", "moments"))
            n = len(names)
            if edges.shape[0] != n or counts.shape[0] != n or moments.shape != (n, 2) or (
                    n and edges.shape[1] != counts.shape[1] + 1):
                raise ValueError(f"its {kind} arrays do not fit together (names, edges (N, B+1), counts (N, B))")
            for i, name in enumerate(names):
                table[str(name)] = Histogram(edges[i], counts[i], float(moments[i, 0]), float(moments[i, 1]))
        names, units, dead = f["relu_names"], f["relu_units"], f["dead_units"]
        if len(units) != len(names) or int(units.sum()) != len(dead):
            raise ValueError("its dead-unit arrays do not fit together (relu_names, relu_units, dead_units)")
        for name, start, stop in zip(names, np.cumsum(units) - units, np.cumsum(units)):
            h.dead[str(name)] = dead[start:stop].astype(bool)
        return h


class HistogramLog:
    """A run's ``histograms/`` folder: one :class:`EpochHistograms` file per epoch."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        #: One line per damaged file left out by :meth:`read_all`.
        self.problems: list[str] = []

    def path(self, epoch: int) -> Path:
        """The file of ``epoch``."""
        return self.folder / f"epoch-{int(epoch):04d}.npz"

    def epochs(self) -> list[int]:
        """The epochs with a file, in order."""
        if not self.folder.is_dir():
            return []
        found = []
        for p in self.folder.glob("epoch-*.npz"):
            number = p.stem[len("epoch-"):]
            if number.isdigit():
                found.append(int(number))
        return sorted(found)

    def read(self, epoch: int) -> EpochHistograms:
        """The histograms of ``epoch``; raises ``OSError`` / ``ValueError`` for a missing or damaged file."""
        try:
            with np.load(self.path(epoch), allow_pickle=False) as f:
                return EpochHistograms.from_arrays(f)
        except (KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{type(exc).__name__}: {str(exc)[:120]}") from None

    def read_all(self) -> list[EpochHistograms]:
        """Every epoch's histograms that can be read, in order; damaged files are left out and named in :attr:`problems`."""
        out, self.problems = [], []
        for epoch in self.epochs():
            try:
                out.append(self.read(epoch))
            except (OSError, ValueError) as exc:
                self.problems.append(f"{self.path(epoch)} is damaged ({exc}); left out")
        return out

    def write(self, histograms: EpochHistograms) -> None:
        """Write one epoch's file atomically (a temporary file renamed over it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(histograms.epoch)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez(tmp, **histograms.to_arrays())
        os.replace(tmp, path)

    def drop_after(self, epoch: int) -> None:
        """Delete the files of epochs after ``epoch`` (a resumed run trains them again)."""
        for e in self.epochs():
            if e > epoch:
                self.path(e).unlink(missing_ok=True)


#: A ReLU layer is flagged when its dead share grows by more than this from one epoch to the next...
DEAD_RISE = 0.10
#: ... or is above this.
DEAD_HIGH = 0.50


def dead_relu_report(history: list[EpochHistograms], index: int) -> list[tuple[str, float, float, str]]:
    """Per ReLU layer at ``history[index]``: ``(layer, dead share, change since the epoch before
    (NaN for the first), warning)``; the warning is "" unless the share rose by more than
    :data:`DEAD_RISE` or is above :data:`DEAD_HIGH`."""
    current = history[index]
    before = history[index - 1] if index > 0 else None
    rows = []
    for layer in current.dead:
        share = current.dead_fraction(layer)
        change = share - before.dead_fraction(layer) if before is not None and layer in before.dead else math.nan
        warning = ""
        if change > DEAD_RISE:
            warning = (f"{layer}: dead ReLUs rose from {100 * (share - change):.0f}% to {100 * share:.0f}% "
                       f"after epoch {current.epoch}; a lower learning rate or a leaky ReLU may help")
        elif share > DEAD_HIGH:
            warning = f"{layer}: {100 * share:.0f}% of its ReLUs are dead after epoch {current.epoch}"
        rows.append((layer, share, change, warning))
    return rows


class Run:
    """One run folder; see the module docstring for what it holds."""

    def __init__(self, path: Path, shipped: bool = False) -> None:
        self.path = Path(path)
        #: the trained run a project file came with: read-only
        self.shipped = shipped
        #: one line per damaged file or field, each left out (see :mod:`run_docs`)
        self.problems: list[str] = []
        self.settings: dict[str, Any] = read_settings(self.path / SETTINGS, self.problems)
        self.curves = Curves.from_dict(read_curves(self.path / CURVES, self.problems))
        self.metrics: dict[str, Any] = read_metrics(self.path / METRICS, self.problems)

    @classmethod
    def create(cls, runs_dir: Path, settings: dict[str, Any]) -> "Run":
        """A new, empty run folder named after the time (``20250101-120000``, ``-2``...)."""
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        for n in range(1, 1000):
            path = runs_dir / (stamp if n == 1 else f"{stamp}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        run = cls(path)
        run.settings = {**settings, "created": _dt.datetime.now().isoformat(timespec="seconds")}
        write_json(path / SETTINGS, run.settings)
        return run

    @property
    def name(self) -> str:
        """The folder name."""
        return self.path.name

    @property
    def last_checkpoint(self) -> Path:
        """Path of ``last.keras``."""
        return self.path / LAST

    @property
    def best_checkpoint(self) -> Path:
        """Path of ``best.keras``."""
        return self.path / BEST

    @property
    def tensorboard_dir(self) -> Path:
        """The TensorBoard log folder."""
        return self.path / TENSORBOARD

    @property
    def target_epochs(self) -> int:
        """How many epochs the run was asked for."""
        return int(self.settings.get("epochs", 0) or 0)

    def can_resume(self) -> bool:
        """It has a last checkpoint to continue from (a shipped run never has: it stays as shipped)."""
        return not self.shipped and self.last_checkpoint.exists()

    def filters(self) -> FilterSnapshots:
        """The run's filter snapshots."""
        return FilterSnapshots(self.path / FILTERS)

    def histograms(self) -> HistogramLog:
        """The run's per-epoch histograms."""
        return HistogramLog(self.path / HISTOGRAMS)

    def save_curves(self) -> None:
        """Write ``curves.json``."""
        write_json(self.path / CURVES, self.curves.to_dict())

    def save_settings(self) -> None:
        """Write ``settings.json``."""
        write_json(self.path / SETTINGS, self.settings)

    def save_metrics(self, **values: Any) -> None:
        """Update and write ``metrics.json``."""
        self.metrics.update(values)
        write_json(self.path / METRICS, self.metrics)


def run_preprocessing(settings: dict[str, Any], fallback: Preprocessing) -> Preprocessing:
    """The preprocessing a run was trained with (from its ``settings.json`` document), else ``fallback``."""
    try:
        return Preprocessing.from_dict(settings["preprocessing"])[0]
    except (KeyError, ParamError):  # a run older than its settings record, or a damaged one
        return fallback


def list_runs(runs_dir: Path) -> list[Run]:
    """The runs in ``runs_dir``, oldest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return [Run(p) for p in sorted(runs_dir.iterdir()) if (p / SETTINGS).exists()]


def project_runs(project: Project) -> list[Run]:
    """The project's runs, oldest first: the run it shipped with, then those in its ``runs_dir()``."""
    shipped = [Run(project.shipped_run, shipped=True)] if project.shipped_run is not None else []
    return shipped + list_runs(project.runs_dir())


def newest_checkpoint(project: Project) -> tuple[Path, Run] | None:
    """The newest run's best checkpoint (its last one if it has no best) and that run, or ``None``."""
    for run in reversed(project_runs(project)):
        for path in (run.best_checkpoint, run.last_checkpoint):
            if path.is_file():
                return path, run
    return None
