"""Live training curves: a history model the GUI appends to, and pyqtgraph plots redrawn by a timer.

Worker signals only append to :class:`TrainingHistory` (cheap, any rate). A ~15 Hz
``QTimer`` in :class:`CurvesView` copies what changed into curve items made once at
construction; no item is created per batch. Batch values are drawn faint with an
exponential moving average over them; epoch values as lines with dots. Other runs can be
overlaid (dashed), from their ``curves.json``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

REDRAW_MS = 66  # ~15 Hz
SMOOTHING = 0.9  # EMA weight of the past for the per-batch loss
SMOOTH_POINTS = 500  # at most this many points of the smoothed curve are drawn
TRAIN_PEN, VAL_PEN = "#4fa3ff", "#ffa64f"
GRID_PEN, AXIS_TEXT = "#34363b", "#a0a4ab"
OVERLAY_COLOURS = ["#9be28c", "#e28cd8", "#e2d68c", "#8ce2e0", "#c0a0ff", "#ff8c8c"]


class TrainingHistory:
    """Per-batch and per-epoch values of the run on screen, grown in place."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (a new run)."""
        self.x = np.zeros(1024)  # batch position in epochs (1.0 = end of epoch 1)
        self.loss = np.zeros(1024)
        self.smooth = np.zeros(1024)
        self.n = 0
        self.epochs: dict[str, list[float]] = {}
        self.epoch_x: list[int] = []
        # bumped on every change, so views redraw only what changed
        self.batch_version = 0
        self.epoch_version = 0

    def add_batch(self, position: float, loss: float) -> None:
        """One batch at ``position`` (in epochs)."""
        if self.n == len(self.x):
            for name in ("x", "loss", "smooth"):
                setattr(self, name, np.concatenate([getattr(self, name), np.zeros(len(self.x))]))
        finite = math.isfinite(loss)
        prev = self.smooth[self.n - 1] if self.n else (loss if finite else 0.0)
        self.x[self.n], self.loss[self.n] = position, loss if finite else np.nan
        self.smooth[self.n] = SMOOTHING * prev + (1 - SMOOTHING) * loss if finite and self.n else prev
        self.n += 1
        self.batch_version += 1

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """One epoch's values."""
        self.epoch_x.append(epoch)
        for key, value in logs.items():
            column = self.epochs.setdefault(key, [])
            column.extend([np.nan] * (len(self.epoch_x) - 1 - len(column)))
            column.append(value)
        self.epoch_version += 1

    def load_curves(self, curves, steps_per_epoch: int | None = None) -> None:
        """Start from a saved run's curves (resuming it continues the same lines)."""
        self.clear()
        batch, epoch_col = curves.batch, curves.batch.get("epoch", [])
        steps = curves.batch.get("step", [])
        per_epoch = steps_per_epoch or max(1, max((epoch_col.count(e) for e in set(epoch_col)), default=1))
        for step, loss in zip(steps, batch.get("loss", [])):
            self.add_batch(step / per_epoch, loss)
        for i in range(curves.epochs_done):
            self.add_epoch(i + 1, {k: v[i] for k, v in curves.epoch.items() if i < len(v)})

    def metric_names(self) -> list[str]:
        """Epoch metrics other than the losses (accuracy, top5_accuracy...)."""
        return [k for k in self.epochs if not k.startswith("val_") and k not in ("loss", "seconds")]


class CurvesView(QWidget):
    """Three plots: batch loss (raw and smoothed), epoch loss, epoch metric; train and validation."""

    def __init__(self, history: TrainingHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._drawn = (-1, -1)  # (batch, epoch) versions on screen
        self.plots = pg.GraphicsLayoutWidget(self)
        self.plots.setBackground("#1e1f22")
        self.batch_plot = self._plot(0, 0, "Loss per batch", colspan=2)
        self.loss_plot = self._plot(1, 0, "Loss per epoch")
        self.metric_plot = self._plot(1, 1, "Accuracy per epoch", legend=(-10, -10))  # bottom right: curves rise
        self.loss_plot.setXLink(self.metric_plot)
        self.raw = self.batch_plot.plot(pen=pg.mkPen("#4fa3ff55", width=1), name="batch", antialias=False)
        # antialiasing only where it shows (the smooth lines), not on grids, axes or the raw batch trace:
        # it is set per item, never globally, so other panels' plots are not slowed down
        self.smooth = self.batch_plot.plot(pen=pg.mkPen(TRAIN_PEN, width=2), name="smoothed", antialias=True)
        for item in (self.raw, self.smooth):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        self.curves = {
            "loss": self._epoch_curve(self.loss_plot, TRAIN_PEN, "training"),
            "val_loss": self._epoch_curve(self.loss_plot, VAL_PEN, "validation"),
            "metric": self._epoch_curve(self.metric_plot, TRAIN_PEN, "training"),
            "val_metric": self._epoch_curve(self.metric_plot, VAL_PEN, "validation"),
        }
        self.overlays: dict[str, list] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots)
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _plot(self, row: int, col: int, title: str, colspan: int = 1, legend=(-10, 10)):
        plot = self.plots.addPlot(row=row, col=col, colspan=colspan, title=title)
        # an opaque dark grid: translucent grid lines cost ~5 ms per axis repaint (alpha blending
        # replayed from the axis picture), which the GUI thread pays at every redraw
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(GRID_PEN)
            axis.setTextPen(AXIS_TEXT)
            axis.setGrid(255)
            axis.setStyle(maxTickLevel=0)  # major lines only
        plot.setLabel("bottom", "epoch")
        plot.addLegend(offset=legend)
        return plot

    @staticmethod
    def _epoch_curve(plot, colour: str, name: str):
        return plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6, symbolBrush=colour,
                         symbolPen=None, name=name, antialias=True)

    def redraw(self) -> None:
        """Copy new values into the existing curve items (the timer calls this ~15 times a second).

        Only the plots whose data changed are touched, so a tick during an epoch repaints the
        batch plot alone.
        """
        h = self.history
        drawn_batch, drawn_epoch = self._drawn
        if h.batch_version != drawn_batch:
            self.raw.setData(h.x[:h.n], h.loss[:h.n], connect="finite")
            # the moving average is smooth: a few hundred points draw it exactly, and a thick
            # anti-aliased line over thousands of points would cost the GUI ~10 ms a frame
            step = max(1, h.n // SMOOTH_POINTS)
            self.smooth.setData(h.x[:h.n:step], h.smooth[:h.n:step], connect="finite")
        if h.epoch_version != drawn_epoch:
            metric = (h.metric_names() or ["accuracy"])[0]
            self.metric_plot.setTitle(f"{metric.replace('_', ' ').capitalize()} per epoch")
            for key, column in (("loss", "loss"), ("val_loss", "val_loss"), ("metric", metric),
                                ("val_metric", f"val_{metric}")):
                values = h.epochs.get(column, [])
                self.curves[key].setData(h.epoch_x[:len(values)], values, connect="finite")
        self._drawn = (h.batch_version, h.epoch_version)

    def set_epochs(self, epochs: int) -> None:
        """Fix the epoch axes to the run's length (no relayout of the axes on every frame)."""
        self.batch_plot.setXRange(0, max(1, epochs), padding=0.02)
        self.loss_plot.setXRange(1, max(2, epochs), padding=0.05)
        for plot in (self.batch_plot, self.loss_plot):
            plot.enableAutoRange(x=False)

    def set_overlays(self, runs: list) -> None:
        """Dashed validation curves of ``runs`` (``cnnstudio.ml.training.runs.Run``) on the epoch plots."""
        for items in self.overlays.values():
            for plot, item in items:
                plot.removeItem(item)
        self.overlays.clear()
        for i, run in enumerate(runs):
            colour = OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)]
            pen = pg.mkPen(colour, width=1.5, style=pg.QtCore.Qt.DashLine)
            items = []
            for plot, keys in ((self.loss_plot, ("val_loss", "loss")), (self.metric_plot, ("val_accuracy", "accuracy"))):
                key = next((k for k in keys if run.curves.epoch.get(k)), None)
                if key is None:
                    continue
                values = run.curves.epoch[key]
                item = plot.plot(list(range(1, len(values) + 1)), values, pen=pen, name=f"run {run.name}")
                items.append((plot, item))
            self.overlays[run.name] = items
