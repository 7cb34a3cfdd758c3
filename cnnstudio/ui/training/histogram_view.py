"""The Histograms tab: how each layer's weights and activations spread out, epoch after epoch.

A ridge plot per layer (pyqtgraph): one histogram per epoch, stacked with the first epoch at
the back (top) and later epochs in front, coloured by epoch (viridis), the epoch chosen on
the slider drawn bright. Weights or activations (on the run's probe batch of validation
images), one layer (or variable) at a time; Play replays the epochs. Beside it a table of the
dead-ReLU share per ReLU layer at the chosen epoch, with the change since the epoch before,
flagged in amber (and told in a line) when it grows by more than 10 points or is above half
(:func:`cnnstudio.ml.training.runs.dead_relu_report`).

The files (``histograms/epoch-NNNN.npz`` of a run folder) are read on the page's task
runner, never on the GUI thread; :meth:`HistogramView.refresh` re-reads after each epoch
while training.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSlider,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from cnnstudio.ml.training.runs import HISTOGRAMS, EpochHistograms, HistogramLog, dead_relu_report

BACKGROUND, AXIS_TEXT, GRID_PEN = "#1e1f22", "#a0a4ab", "#34363b"
WARN_BACKGROUND, WARN_TEXT = "#5c4010", "#ffd28a"
PLAY_MS = 500           # one epoch per half second when replaying
RIDGE_HEIGHT = 2.2      # the tallest histogram reaches this many epoch rows up
KINDS = (("weights", "Weights"), ("activations", "Activations"))


def _read(folder: Path) -> tuple[list[EpochHistograms], list[str]]:
    """Every readable epoch of a run's histograms folder, and one line per damaged file (on a worker thread)."""
    log = HistogramLog(folder)
    return log.read_all(), log.problems


def _mix(colour: QColor, share: float) -> QColor:
    """``colour`` over the plot's background at ``share`` opacity, as an opaque colour (it hides what is behind)."""
    bg = QColor(BACKGROUND)
    return QColor(*(round(share * c + (1 - share) * b) for c, b in
                    zip((colour.red(), colour.green(), colour.blue()), (bg.red(), bg.green(), bg.blue()))))


class HistogramView(QWidget):
    """Ridge plots of a run's histograms over its epochs, a replay slider and the dead-ReLU table."""

    def __init__(self, tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.folder: Path | None = None
        self.history: list[EpochHistograms] = []
        self.problems: list[str] = []
        self._pending = False   # a read was asked for while one is running
        self._reading = False
        self._colours = pg.colormap.get("viridis")

        self.note = QLabel("Train, or pick a run in the Runs list, to see its histograms.")
        self.note.setWordWrap(True)
        self.kind = QComboBox()
        for key, title in KINDS:
            self.kind.addItem(title, key)
        self.kind.setToolTip("Weights: each trainable variable of the layer. Activations: the layer's outputs "
                             "on the run's probe batch of validation images")
        self.layer = QComboBox()
        self.layer.setMinimumWidth(200)
        self.layer.setToolTip("The layer (for weights: the layer's variable) to show")
        self.log_scale = QCheckBox("Log counts")
        self.log_scale.setToolTip("Heights on a log scale: shows the tails beside a tall peak (ReLU outputs at 0)")
        self._log = {"weights": False, "activations": True}  # per kind: ReLU outputs pile up at 0
        top = QHBoxLayout()
        for label, widget in (("Show", self.kind), ("Layer", self.layer)):
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addWidget(self.log_scale)
        top.addStretch(1)

        self.plot = pg.PlotWidget()
        self.plot.setBackground(BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumSize(480, 320)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(GRID_PEN)
            axis.setTextPen(AXIS_TEXT)
            axis.enableAutoSIPrefix(False)  # the values as they are, not "(x0.001)"
        self.plot.setLabel("left", "epoch", color=AXIS_TEXT)
        self.stats = QLabel("")
        self.stats.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Replay the epochs (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("The epoch to highlight (← → step through them)")
        self.slider.setEnabled(False)
        self.epoch_label = QLabel("")
        self.epoch_label.setMinimumWidth(110)
        bottom = QHBoxLayout()
        bottom.addWidget(self.play_button)
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.epoch_label)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.plot, 1)
        left_layout.addWidget(self.stats)
        left_layout.addLayout(bottom)

        self.dead_table = QTableWidget(0, 3)
        self.dead_table.setHorizontalHeaderLabels(["ReLU layer", "Dead", "Change"])
        self.dead_table.verticalHeader().hide()
        self.dead_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.dead_table.setSelectionMode(QTableWidget.NoSelection)
        header = self.dead_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.dead_table.setToolTip("Units (channels) of each ReLU layer that are zero for every probe image at "
                                   "every position, at the chosen epoch, and the change since the epoch before")
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(QLabel("Dead ReLUs"))
        right_layout.addWidget(self.dead_table, 1)
        right_layout.addWidget(self.warning)
        right_layout.addStretch(0)  # takes the room when there is no table
        right.setMinimumWidth(280)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setSizes([900, 320])
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)

        self.play_timer = QTimer(self, interval=PLAY_MS)
        self.play_timer.timeout.connect(self._step_play)
        QShortcut(QKeySequence(Qt.Key_Space), self, self.toggle_play, context=Qt.WidgetWithChildrenShortcut)
        self.kind.currentIndexChanged.connect(self._fill_layers)
        self.layer.currentIndexChanged.connect(self.redraw)
        self.log_scale.toggled.connect(self._on_log_scale_toggled)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self._fill_layers()

    # -- which run ------------------------------------------------------------------
    def set_run(self, path: str | Path | None) -> None:
        """Show the run folder ``path`` (None: none)."""
        folder = Path(path) / HISTOGRAMS if path else None
        if folder == self.folder:
            return
        self.folder = folder
        self.history, self.problems = [], []
        self.stop_play()
        self._show_history(follow=True)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the run's histograms off the GUI thread (a new epoch landed)."""
        if self.folder is None:
            return
        if self._reading:
            self._pending = True
            return
        self._reading = True
        folder = self.folder
        self.tasks.run(_read, folder, on_done=lambda result: self._on_read(folder, result),
                       on_error=lambda message, _tb: self._on_read_failed(folder, message))

    def _on_read(self, folder: Path, result) -> None:
        if not shiboken6.isValid(self):  # the page closed while the files were read
            return
        self._reading = False
        if folder == self.folder:
            at_end = not self.history or self.slider.value() >= len(self.history) - 1
            self.history, self.problems = result
            self._show_history(follow=at_end)
        if self._pending:
            self._pending = False
            self.refresh()

    def _on_read_failed(self, folder: Path, message: str) -> None:
        if not shiboken6.isValid(self):
            return
        self._reading = False
        if folder == self.folder:
            self.note.setText(f"The histograms could not be read: {message}")
            self.note.show()

    # -- what is shown --------------------------------------------------------------
    def _show_history(self, follow: bool) -> None:
        n = len(self.history)
        if self.folder is None:
            self.note.setText("Train, or pick a run in the Runs list, to see its histograms.")
        elif not n:
            self.note.setText("No histograms in this run yet: they are recorded after every epoch while "
                              "“Record histograms every epoch” is ticked in the Training settings.")
        else:
            probe = self.history[-1].probe_images
            self.note.setText(f"{n} epoch(s) of {self.folder.parent.name}; activations on {probe} validation images."
                              + (f" Left out: {'; '.join(self.problems)}" if self.problems else ""))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        if follow:
            self.slider.setValue(max(0, n - 1))
        self.slider.setEnabled(n > 1)
        self.slider.blockSignals(False)
        self._fill_layers()

    def _on_log_scale_toggled(self, on: bool) -> None:
        self._log[self.kind.currentData()] = on
        self.redraw()

    def _fill_layers(self) -> None:
        kind = self.kind.currentData()
        self.log_scale.blockSignals(True)
        self.log_scale.setChecked(self._log[kind])
        self.log_scale.blockSignals(False)
        names: list[str] = []
        for h in self.history:
            for name in getattr(h, kind):
                if name not in names:
                    names.append(name)
        current = self.layer.currentText()
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(names)
        if current in names:
            self.layer.setCurrentText(current)
        self.layer.blockSignals(False)
        self.redraw()

    @property
    def epoch_index(self) -> int:
        """Index in :attr:`history` of the chosen epoch."""
        return min(self.slider.value(), len(self.history) - 1)

    def _on_slider_value_changed(self, _value: int) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Draw the ridge plot, the epoch line and the dead-ReLU table for the current choices."""
        self.plot.clear()
        kind, name = self.kind.currentData(), self.layer.currentText()
        series = [(i, h.epoch, getattr(h, kind)[name]) for i, h in enumerate(self.history)
                  if name in getattr(h, kind)]
        chosen = self.epoch_index
        self.epoch_label.setText(f"epoch {self.history[chosen].epoch} of {self.history[-1].epoch}"
                                 if self.history else "")
        self._draw_dead()
        if not series:
            self.stats.setText("")
            self.plot.setTitle("")
            return
        log = self.log_scale.isChecked()
        heights = [np.log1p(h.counts.astype(float)) if log else h.density() for _, _, h in series]
        top = max((float(y.max()) for y in heights if y.size), default=1.0) or 1.0
        n = len(series)
        ticks = []
        step = max(1, math.ceil(n / 12))
        for row, ((index, epoch, h), y) in enumerate(zip(series, heights)):
            offset = float(n - 1 - row)  # the first epoch at the back (top), the latest in front
            colour = self._colours.map(row / max(1, n - 1), mode="qcolor")
            bright = index == chosen
            pen = pg.mkPen("#ffffff" if bright else colour, width=2.5 if bright else 1.2)
            fill = _mix(colour, 0.55 if bright else 0.25)
            curve = pg.PlotCurveItem(h.edges, offset + RIDGE_HEIGHT * y / top, stepMode="center",
                                     fillLevel=offset, brush=QBrush(fill), pen=pen, antialias=True)
            curve.setZValue(row)  # later epochs in front
            self.plot.addItem(curve)
            if row % step == 0 or row == n - 1 or bright:
                ticks.append((offset, str(epoch)))
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setYRange(-0.2, n - 1 + RIDGE_HEIGHT, padding=0.02)
        lo = min(float(h.edges[0]) for _, _, h in series)
        hi = max(float(h.edges[-1]) for _, _, h in series)
        self.plot.setXRange(lo, hi, padding=0.03)
        what = "weight value" if kind == "weights" else "activation value"
        self.plot.setLabel("bottom", what, color=AXIS_TEXT)
        self.plot.setTitle(f"<span style='color:{AXIS_TEXT}'>{name}: {kind} per epoch "
                           f"({'log ' if log else ''}counts; epoch {self.history[chosen].epoch} highlighted)</span>")
        h = next((h for i, _, h in series if i == chosen), None)
        if h is None:
            self.stats.setText(f"{name} has no {kind} at epoch {self.history[chosen].epoch}")
        else:
            mean = h.total / max(1, h.num)
            std = math.sqrt(max(0.0, h.squares / max(1, h.num) - mean * mean))
            self.stats.setText(f"epoch {self.history[chosen].epoch}: {h.num:,} values, mean {mean:.4g}, "
                               f"std {std:.4g}, range {h.edges[0]:.4g} … {h.edges[-1]:.4g}")

    def _draw_dead(self) -> None:
        rows = dead_relu_report(self.history, self.epoch_index) if self.history else []
        self.dead_table.setRowCount(len(rows))
        warnings = []
        for r, (layer, share, change, warning) in enumerate(rows):
            cells = (layer, f"{100 * share:.0f}%", "—" if math.isnan(change) else f"{100 * change:+.0f} pts")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if warning:
                    item.setBackground(QColor(WARN_BACKGROUND))
                    item.setForeground(QColor(WARN_TEXT))
                    item.setToolTip(warning)
                self.dead_table.setItem(r, c, item)
            if warning:
                warnings.append(f"⚠ {warning}")
        self.dead_table.setVisible(bool(rows))
        if warnings:
            self.warning.setStyleSheet(f"QLabel {{ color: {WARN_TEXT}; background: {WARN_BACKGROUND}; padding: 4px; }}")
            self.warning.setText("\n".join(warnings))
        else:
            self.warning.setStyleSheet("")
            self.warning.setText("No ReLU layer is losing units." if rows else
                                 "This network has no ReLU layers: none can die." if self.history else "")

    def flagged_layers(self) -> list[str]:
        """ReLU layers flagged at the chosen epoch."""
        return [r[0] for r in dead_relu_report(self.history, self.epoch_index) if r[3]] if self.history else []

    # -- replay ---------------------------------------------------------------------
    def toggle_play(self) -> None:
        """Start or stop replaying the epochs (from the first when at the last)."""
        if self.play_timer.isActive():
            self.stop_play()
            return
        if len(self.history) < 2:
            return
        if self.slider.value() >= len(self.history) - 1:
            self.slider.setValue(0)
        self.play_timer.start()
        self.play_button.setText("⏸ Pause")

    def stop_play(self) -> None:
        """Stop replaying."""
        self.play_timer.stop()
        self.play_button.setText("▶ Play")

    def _step_play(self) -> None:
        if self.slider.value() >= len(self.history) - 1:
            self.stop_play()
        else:
            self.slider.setValue(self.slider.value() + 1)
