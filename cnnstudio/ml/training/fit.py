"""The trainer: one plain function, :func:`train`, used by the studio's worker and by ``cnnstudio train``.

``train(model, dataset, reporter, settings, ...)`` runs ``model.fit`` with a callback that
hands every batch's and epoch's values to the :class:`Reporter` as plain floats, stops
when the reporter asks (``model.stop_training``) or the loss turns NaN, waits between
batches while paused, and keeps the run folder up to date (curves, filter snapshots,
last/best checkpoints, histograms, TensorBoard; see :mod:`cnnstudio.ml.training.runs`).

:func:`run_project` is the whole job for a project: data, model, compile, shape check,
train, evaluate on the test split, write the run. Nothing here imports Qt; a reporter
is called on the training thread, so a GUI reporter must only post signals.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnstudio.core.settings import Training

from cnnstudio.ml.data.datasets import Dataset, check_fits
from cnnstudio.ml.training.histograms import HistogramRecorder, histogram_probe
from cnnstudio.ml.training.losses import class_weights, label_mode, make_loss, make_metrics
from cnnstudio.ml.training.optimizers import make_optimizer
from cnnstudio.ml.training.runs import Run
from cnnstudio.ml.training.tblog import SummaryLog


class Reporter:
    """Receives progress (the base class ignores it) and carries thread-safe pause / stop controls."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    # -- progress (called on the training thread) --------------------------------------
    def on_status(self, text: str) -> None:
        """A phase of the job: loading data, building the model, evaluating..."""

    def on_start(self, info: dict[str, Any]) -> None:
        """Training begins: ``epochs``, ``initial_epoch``, ``steps_per_epoch``, ``samples``, ``batch_size``, ``run``,
        ``strategy`` (the tf.distribute class name) and ``replicas`` (in sync)."""

    def on_batch(self, step: int, epoch: int, logs: dict[str, float]) -> None:
        """Batch ``step`` (global, from 1) of ``epoch`` (from 1) ended; ``logs`` are this batch's values."""

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Epoch ``epoch`` (from 1) ended; ``logs`` hold loss, metrics, ``val_*`` and ``seconds``."""

    def on_checkpoint(self, path: str) -> None:
        """A new ``last.keras`` was written (probing can load it)."""

    # -- controls (called from any thread) ---------------------------------------------
    def request_stop(self) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._running.set()

    def should_stop(self) -> bool:
        """A stop was requested."""
        return self._stop.is_set()

    def pause(self) -> None:
        """Hold training after the current batch until :meth:`resume` (or a stop)."""
        self._running.clear()

    def resume(self) -> None:
        """Go on after :meth:`pause`."""
        self._running.set()

    @property
    def paused(self) -> bool:
        """Training is held."""
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        """Block the training thread while paused."""
        while not self._running.wait(0.1):
            if self._stop.is_set():
                return


@dataclass
class TrainOutcome:
    """How a :func:`train` call ended."""

    status: str  # finished | stopped | early_stopped | nan
    message: str
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    images_per_s: float = 0.0


def first_conv(model) -> Any | None:
    """The model's first Conv2D layer (for filter snapshots), or None."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and len(getattr(layer, "kernel", np.zeros(0)).shape) == 4:
            return layer
    return None


def save_model_atomic(model, path: Path) -> None:
    """``model.save`` to a temporary ``.keras`` beside ``path``, then rename over it."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


#: Checkpoints are written at most this often while training (and always on pause, stop and
#: at the end): a ``.keras`` save holds the GIL for ~30 ms, too much to pay every short epoch.
CHECKPOINT_EVERY_S = 10.0


class ReportingCallback(keras.callbacks.Callback):
    """Forwards logs as plain floats, honours pause / stop / NaN, and keeps the run folder.

    The best weights are kept in memory when validation improves and written with the
    last ones by :meth:`_write_checkpoints`, at most every :data:`CHECKPOINT_EVERY_S`.
    """

    def __init__(self, reporter: Reporter, run: Run | None, samples: int, batch_size: int,
                 probe: np.ndarray | None = None) -> None:
        """``probe``: the images to record activation histograms on after every epoch (None: no
        histograms; see :func:`cnnstudio.ml.training.histograms.histogram_probe`)."""
        super().__init__()
        self.reporter, self.run = reporter, run
        self.samples, self.batch_size = max(1, samples), max(1, batch_size)
        self.nan_message = ""
        self.images = 0
        self.train_seconds = 0.0
        past = (run.curves.epoch.get("val_loss") or run.curves.epoch.get("loss") or []) if run else []
        self._monitor_best = min((v for v in past if math.isfinite(v)), default=math.inf)  # resumed runs
        self._epoch = 0
        self.summary_log = SummaryLog(run.tensorboard_dir) if run is not None else None
        self._step = run.curves.steps_done if run else 0
        self._best_weights: list | None = None  # improved since the last write
        self._unsaved_epochs = False
        self._written_at = time.perf_counter()
        self._probe = probe if run is not None else None
        self._histograms: HistogramRecorder | None = None  # made with the model, in on_train_begin

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._seen, self._sums, self._t0 = epoch, 0, {}, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # Keras logs are running means over the epoch (weighted by batch size): undo that
        # to get this batch's own values.
        size = max(1, min(self.batch_size, self.samples - self._seen))
        self._seen += size
        values = {}
        for key, mean in (logs or {}).items():
            total = float(mean) * self._seen
            values[key] = (total - self._sums.get(key, 0.0)) / size
            self._sums[key] = total
        self._step += 1
        self.images += size
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self.nan_message = (f"the loss became {loss} at epoch {self.epoch_number}, batch {batch + 1}: "
                                f"training stopped. Try a lower learning rate or check the data's scaling.")
            self.model.stop_training = True
        if self.run is not None:
            self.run.curves.add_batch(self._step, self.epoch_number, values)
        self.reporter.on_batch(self._step, self.epoch_number, values)
        if self.reporter.paused:  # the user may close the studio while paused: keep the work
            self._write_checkpoints()
        self.reporter.wait_while_paused()
        if self.reporter.should_stop():
            self.model.stop_training = True

    @property
    def epoch_number(self) -> int:
        """The epoch being trained, from 1 (Keras counts from 0)."""
        return self._epoch + 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._t0
        self.train_seconds += seconds
        values = {k: float(v) for k, v in (logs or {}).items()}
        values["seconds"] = seconds
        if self.run is not None and not self.nan_message:
            self.run.curves.add_epoch(values)
            self.summary_log.scalars(epoch + 1, {k: v for k, v in values.items() if k != "seconds"})
            self._snapshot_filters(epoch + 1)
            self._record_histograms(epoch + 1)
            self._unsaved_epochs = True
            monitor = values.get("val_loss", values.get("loss", math.inf))
            if math.isfinite(monitor) and monitor < self._monitor_best:
                self._monitor_best = monitor
                self._best_weights = self.model.get_weights()
                self.run.metrics["best_epoch"] = epoch + 1
            self.run.save_curves()
            self.run.save_metrics(epochs_done=self.run.curves.epochs_done, status="running")
        self.reporter.on_epoch(epoch + 1, values)
        if time.perf_counter() - self._written_at >= CHECKPOINT_EVERY_S:
            self._write_checkpoints()

    def on_train_end(self, logs=None):
        self._write_checkpoints()  # finished, stopped, early-stopped or NaN: keep what is good
        if self.summary_log is not None:
            self.summary_log.close()

    def _write_checkpoints(self) -> None:
        """Write ``last.keras`` (not after a NaN) and a pending ``best.keras``; tell the reporter."""
        if self.run is None:
            return
        if self._best_weights is not None:
            current = self.model.get_weights()
            self.model.set_weights(self._best_weights)
            try:
                save_model_atomic(self.model, self.run.best_checkpoint)
            finally:  # a Ctrl+C mid-save must not leave the best weights in the model
                self.model.set_weights(current)
            self._best_weights = None
        if self._unsaved_epochs and not self.nan_message:
            save_model_atomic(self.model, self.run.last_checkpoint)
            self._unsaved_epochs = False
            self.reporter.on_checkpoint(str(self.run.last_checkpoint))
        self._written_at = time.perf_counter()

    def on_interrupt(self) -> None:
        """Ctrl+C (a KeyboardInterrupt out of ``fit``, which then skips ``on_train_end``): write
        the checkpoints the finished epochs earned, as a stop would."""
        self.on_train_end()

    def on_train_begin(self, logs=None):
        if self.run is not None and not self.run.filters().epochs:
            self._snapshot_filters(0)  # the random initial filters, for the replay's first frame
        if self._probe is not None:
            try:
                self._histograms = HistogramRecorder(self.model, self._probe)
            except ValueError as exc:  # a model the prober cannot take apart: train without histograms
                self.reporter.on_status(f"Histograms are not recorded: {exc}")
                return
            done = self.run.curves.epochs_done
            self.run.histograms().drop_after(done)  # a resumed run records those epochs again
            if done == 0:
                self._record_histograms(0)  # the initial distributions

    def _record_histograms(self, epoch: int) -> None:
        if self._histograms is None:
            return
        histograms = self._histograms.record(epoch)
        self.run.histograms().write(histograms)
        self.summary_log.histograms(histograms)

    def _snapshot_filters(self, epoch: int) -> None:
        layer = first_conv(self.model)
        if layer is None:
            return
        weights = [np.asarray(v.numpy()) for v in layer.weights]
        self.run.filters().add(epoch, layer.name, weights[0], weights[1] if len(weights) > 1 else None)


def compile_model(model, settings: Training, dataset: Dataset, epochs: int) -> str:
    """Compile ``model`` for ``settings``; returns the label mode the data must use."""
    mode = label_mode(settings, int(model.output_shape[-1]))
    steps = math.ceil(dataset.size("train") / settings.batch_size)
    model.compile(optimizer=make_optimizer(settings, steps, epochs), loss=make_loss(settings),
                  metrics=make_metrics(settings, mode))
    return mode


def train(model, dataset: Dataset, reporter: Reporter, settings: Training, epochs: int,
          initial_epoch: int = 0, run: Run | None = None, mode: str = "sparse") -> TrainOutcome:
    """Fit the compiled ``model`` on ``dataset`` from ``initial_epoch`` up to ``epochs``."""
    check_fits(model, dataset, mode)
    batch_size = settings.batch_size
    train_ds = dataset.tf_dataset("train", batch_size, shuffle=True, seed=settings.seed, label_mode=mode)
    val_ds = (dataset.tf_dataset("val", batch_size, label_mode=mode) if dataset.size("val") else None)
    reporting = ReportingCallback(reporter, run, dataset.size("train"), batch_size,
                                  histogram_probe(dataset, settings, run))
    callbacks: list = [reporting]
    patience = settings.early_stopping
    early = None
    if patience > 0:
        early = keras.callbacks.EarlyStopping(monitor="val_loss" if val_ds is not None else "loss",
                                              patience=patience)
        callbacks.append(early)
    strategy = model.distribute_strategy  # the one the model was built under
    reporter.on_start({"epochs": epochs, "initial_epoch": initial_epoch, "batch_size": batch_size,
                       "samples": dataset.size("train"), "run": str(run.path) if run else "",
                       "steps_per_epoch": math.ceil(dataset.size("train") / batch_size),
                       "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync})
    t0 = time.perf_counter()
    try:
        fit = model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                        callbacks=callbacks, verbose=0, shuffle=False,  # tf.data shuffles
                        class_weight=class_weights(settings, dataset.class_counts()["train"]))
    except KeyboardInterrupt:
        reporting.on_interrupt()
        raise  # the caller marks the run stopped; the CLI exits 130
    seconds = time.perf_counter() - t0
    history = run.curves.history() if run is not None else {k: list(v) for k, v in fit.history.items()}
    rate = reporting.images / reporting.train_seconds if reporting.train_seconds else 0.0
    if reporting.nan_message:
        return TrainOutcome("nan", reporting.nan_message, history, seconds, rate)
    if reporter.should_stop():
        return TrainOutcome("stopped", "training stopped", history, seconds, rate)
    if early is not None and early.stopped_epoch > 0:
        return TrainOutcome("early_stopped", f"early stopping after epoch {early.stopped_epoch + 1}: "
                            f"no better validation loss for {patience} epochs", history, seconds, rate)
    return TrainOutcome("finished", "training finished", history, seconds, rate)
