"""Maximise: the picture a channel, a unit or a class of the model wants to see (activation maximisation).

Choose a layer and a channel (or the output's classes), optionally one unit (row, column) of its
map, or a grid of many channels of one layer at once, adjust the settings (their defaults suit most models), and Run (Ctrl+Return):
the ascent runs on the panel's worker (:class:`.requests.Maximize`), reports every step to
the progress bar and a preview every few steps, and stops between steps on Cancel (Esc).
Each picture is drawn large (at least :data:`MIN_TILE` pixels a side, nearest-neighbour or
smooth), labelled with its channel and its final activation.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from cnnstudio.ml.probing.maximize_spec import MAXIMIZE, Goal, MaximizeSettings  # no TensorFlow here
from cnnstudio.ui.forms import FieldSet

from cnnstudio.ui.probe.requests import Maximize, MaximizeTargets
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo

MIN_TILE = 144  # the smallest side a picture is drawn at
CAPTION = 20  # pixels under each picture for its label
GAP = 8
CLASSES = ""  # the layer chooser's entry for the output's classes
#: The settings the form offers, with their labels, in order.
SETTINGS = {"steps": "Steps", "learning_rate": "Learning rate", "parametrization": "Picture from",
            "jitter": "Jitter", "scale": "Zoom", "rotation": "Rotation", "blur": "Blur", "l2": "L2 penalty",
            "tv": "Total variation", "preview_every": "Preview every", "seed": "Seed"}
LOOK = {"jitter": {"suffix": " px"}, "preview_every": {"suffix": " steps"}}  # float fields take no suffix


class PictureGrid(QWidget):
    """Pictures in a grid, each scaled up to fill its cell (at least :data:`MIN_TILE`), with a caption."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pictures: list[np.ndarray] = []
        self.captions: list[str] = []
        self.smooth = False
        self.message = "Choose a layer and a channel, then Run (Ctrl+Return)."
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_pictures(self, pictures, captions: list[str]) -> None:
        """Show uint8 RGB pictures (N, H, W, 3) with one caption each."""
        self.pictures = [np.ascontiguousarray(p) for p in pictures]
        self.captions = list(captions)
        self.setMinimumHeight(self._rows() * (MIN_TILE + CAPTION + GAP) + GAP)
        self.update()

    def set_smooth(self, on: bool) -> None:
        """Scale pictures up smoothly (on) or with sharp pixels (off)."""
        self.smooth = on
        self.update()

    def _fit(self, cols: int) -> int:
        """The side of a picture when the grid has ``cols`` columns and fits the widget."""
        rows = math.ceil(len(self.pictures) / cols)
        return min((self.width() - GAP) // cols - GAP, (self.height() - GAP) // rows - GAP - CAPTION)

    def _cols(self) -> int:
        """The columns that draw the pictures largest; where none fits at :data:`MIN_TILE`, as many as
        fit across at that size (the grid then scrolls)."""
        n = len(self.pictures)
        best = max(range(1, n + 1), key=self._fit) if n else 1
        if self._fit(best) >= MIN_TILE:
            return best
        return max(1, min(n, (self.width() - GAP) // (MIN_TILE + GAP)))

    def _rows(self) -> int:
        return math.ceil(len(self.pictures) / self._cols()) if self.pictures else 0

    def tile(self) -> int:
        """The side each picture is drawn at now."""
        return max(MIN_TILE, self._fit(self._cols())) if self.pictures else 0

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self.pictures:
            self.setMinimumHeight(self._rows() * (MIN_TILE + CAPTION + GAP) + GAP)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 32, 38))
        painter.setPen(QColor(220, 222, 228))
        if not self.pictures:
            painter.drawText(self.rect(), Qt.AlignCenter, self.message)
            return
        painter.setRenderHint(QPainter.SmoothPixmapTransform, self.smooth)
        side, cols = self.tile(), self._cols()
        left = max(GAP, (self.width() - cols * (side + GAP) + GAP) // 2)  # the grid centred across
        for i, (picture, caption) in enumerate(zip(self.pictures, self.captions)):
            r, c = divmod(i, cols)
            x, y = left + c * (side + GAP), GAP + r * (side + CAPTION + GAP)
            h, w = picture.shape[:2]
            image = QImage(picture.data, w, h, 3 * w, QImage.Format_RGB888)
            scale = side / max(h, w)
            target = QRect(x + int((side - w * scale) / 2), y + int((side - h * scale) / 2), int(w * scale),
                           int(h * scale))
            painter.drawImage(target, image)
            painter.drawText(QRect(x, y + side, side, CAPTION), Qt.AlignCenter, caption)


class _Relay(QObject):
    """Carries the worker's progress reports to the GUI thread (a queued signal)."""

    progressed = Signal(object)


class MaximizeTab(ProbeTab):
    """Activation maximisation of one channel, a grid of channels, or a class, with its settings."""

    title = "Maximise"

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.layers: dict[str, int] = {}
        self.classes: list[str] = []
        self.result = None
        self.goal: Goal | None = None
        self._stop: threading.Event | None = None  # set: the running ascent stops at its next step
        self.relay = _Relay(self)
        self.relay.progressed.connect(self._on_progress)

        self.layer = QComboBox(self)
        self.layer.setToolTip("The layer whose channel to maximise, or the output's classes")
        self.layer.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.layer.setMinimumContentsLength(22)
        self.channel = QSpinBox(self)
        self.channel.setToolTip("The channel (a Dense layer's unit, a class) to maximise; a grid starts here")
        self.grid = QCheckBox("Grid of", self)
        self.grid.setToolTip("Maximise many channels at once, one picture each, in one batch")
        self.count = QSpinBox(self, minimum=1, maximum=256, value=16)
        self.count.setToolTip("How many channels the grid shows, from the chosen one on")
        self.at_unit = QCheckBox("at unit", self)
        self.at_unit.setToolTip("Maximise one position (row, column) of the map instead of the map's mean: "
                                "what that unit sees is its receptive field")
        self.unit_row = QSpinBox(self, minimum=0, maximum=4095)
        self.unit_row.setToolTip("The unit's row in the map")
        self.unit_col = QSpinBox(self, minimum=0, maximum=4095)
        self.unit_col.setToolTip("The unit's column in the map")
        self.run_button = QPushButton("Run", self)
        self.run_button.setToolTip("Start the gradient ascent (Ctrl+Return)")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop after the current step (Esc)")
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(160)
        self.status = QLabel("", self)
        self.smooth = QCheckBox("Smooth", self)
        self.smooth.setToolTip("Scale the pictures up smoothly instead of with sharp pixels")

        self.fields = FieldSet(self)
        box = QGroupBox("Settings", self)
        form = QFormLayout(box)
        self.settings_fields = {}
        for name, label in SETTINGS.items():
            field = self.fields.field("maximize", MAXIMIZE.get(name), **LOOK.get(name, {}))
            self.settings_fields[name] = field
            form.addRow(label, field)
        self.fields.load("maximize", vars(MaximizeSettings.default()))
        defaults = QPushButton("Defaults", box)
        defaults.setToolTip("Back to the default settings")
        form.addRow("", defaults)

        self.pictures = PictureGrid(self)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.pictures)
        top = QHBoxLayout()
        self.channel_label = QLabel("channel", self)
        for w in (QLabel("Maximise"), self.layer, self.channel_label, self.channel, self.grid, self.count,
                  self.at_unit, self.unit_row, self.unit_col, self.run_button, self.cancel_button, self.progress):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.smooth)
        self.status.setWordWrap(True)
        body = QHBoxLayout()
        body.addWidget(scroll, 1)
        side = QVBoxLayout()
        side.addWidget(box)
        side.addStretch(1)
        body.addLayout(side)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addLayout(body, 1)

        self.layer.currentIndexChanged.connect(lambda _i: self._limit_channels())
        self.channel.valueChanged.connect(lambda _v: self._limit_channels())
        self.grid.toggled.connect(self.count.setEnabled)
        self.at_unit.toggled.connect(lambda _on: self._set_running(self.running))
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.smooth.toggled.connect(self.pictures.set_smooth)
        defaults.clicked.connect(lambda: self.fields.load("maximize", vars(MaximizeSettings.default())))
        for keys, slot in (("Ctrl+Return", self.start), ("Esc", self.cancel)):
            QShortcut(QKeySequence(keys), self, slot, context=Qt.WidgetWithChildrenShortcut)
        panel.jobs.job_failed.connect(lambda _msg, _tb: self._finish_run())
        self.count.setEnabled(False)
        self._set_running(False)

    # -- model and choosers ---------------------------------------------------------
    def set_model(self, info) -> None:
        """A new model: stop a running ascent, ask for its layers when shown."""
        self.cancel()
        self.classes = list(info.classes) if info.output.kind in ("classes", "map") else []
        self.layers = {}
        fill_combo(self.layer, [])
        super().set_model(info)

    def refresh(self) -> None:
        """Ask the worker which layers can be maximised (once per model)."""
        if self.ready(needs_image=False) and not self.layers:
            self.submit("Listing the layers to maximise…", MaximizeTargets(), on_done=self._on_targets, key="targets")

    def _on_targets(self, layers: dict) -> None:
        self.layers = dict(layers)
        items = [(f"output classes ({len(self.classes)})", CLASSES)] if self.classes else []
        items += [(f"{name} ({n} channels)", name) for name, n in self.layers.items()]
        convs = [n for n in self.layers if n in (self.panel.info.conv_inputs if self.panel.info else {})]
        fill_combo(self.layer, items, convs[-1] if convs else None)
        self._limit_channels()

    def _channels(self) -> int:
        layer = self.layer.currentData()
        return len(self.classes) if layer == CLASSES else self.layers.get(layer, 0)

    def _limit_channels(self) -> None:
        n = self._channels()
        self.channel_label.setText("class" if self.layer.currentData() == CLASSES else "channel")
        self.channel.setMaximum(max(0, n - 1))
        self.count.setMaximum(max(1, min(256, n - self.channel.value())))
        self._set_running(self.running)

    # -- running --------------------------------------------------------------------
    def settings(self) -> MaximizeSettings:
        """The settings the form shows (its fields keep every value in range)."""
        return MaximizeSettings.default().replace(**{n: f.value() for n, f in self.settings_fields.items()})

    def current_goal(self) -> Goal | None:
        """What Run maximises now (None: nothing to choose from yet)."""
        layer = self.layer.currentData()
        if layer is None or not self._channels():
            return None
        first = self.channel.value()
        count = self.count.value() if self.grid.isChecked() else 1
        channels = tuple(range(first, min(self._channels(), first + count)))
        if layer == CLASSES:
            return Goal(None, channels)
        unit = (self.unit_row.value(), self.unit_col.value()) if self.at_unit.isChecked() else None
        return Goal(layer, channels, unit)

    def start(self) -> bool:
        """Run the ascent for the chosen goal on the worker; False if nothing can run."""
        if self._stop is not None:
            return False  # one at a time
        goal = self.current_goal()
        if goal is None:
            self.status.setText("Load a model with layers to maximise first")
            return False
        settings = self.settings()
        self.goal, self._stop = goal, threading.Event()
        self.progress.setRange(0, settings.steps)
        self.progress.setValue(0)
        what = goal.text(0, self.classes) + (f" and {len(goal.channels) - 1} more" if len(goal.channels) > 1 else "")
        self.status.setText(f"Maximising {what}…")
        self._set_running(True)
        self.submit(f"Maximising {what}…", Maximize(goal, settings, self.relay.progressed.emit, self._stop.is_set),
                    on_done=self._on_done, key="run")
        return True

    def cancel(self) -> None:
        """Stop the running ascent after its current step (its pictures so far are shown)."""
        if self._stop is not None:
            self._stop.set()
            self.status.setText("Cancelling…")

    @property
    def running(self) -> bool:
        """An ascent was started and has not reported back yet."""
        return self._stop is not None

    def _set_running(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        for w in (self.layer, self.channel, self.grid):
            w.setEnabled(not on)
        self.count.setEnabled(not on and self.grid.isChecked())
        maps = self.layer.currentData() not in (None, CLASSES)
        self.at_unit.setEnabled(not on and maps)
        for w in (self.unit_row, self.unit_col):
            w.setEnabled(not on and maps and self.at_unit.isChecked())

    def _finish_run(self) -> None:
        if self._stop is not None:
            self._stop = None
            self._set_running(False)

    def _captions(self, goal: Goal, values) -> list[str]:
        if goal.layer is None:
            return [f"{goal.text(i, self.classes)}: {v:.4g}" for i, v in enumerate(values)]
        where = f" at {goal.unit[0]},{goal.unit[1]}" if goal.unit is not None else ""
        return [f"channel {c}{where}: {v:.4g}" for c, v in zip(goal.channels, values)]

    def _on_progress(self, p) -> None:
        if self._stop is None:
            return
        self.progress.setValue(p.step)
        if p.pictures is not None:
            self.pictures.set_pictures(p.pictures, self._captions(self.goal, p.activations))

    def _on_done(self, result) -> None:
        self._finish_run()
        self.result = result
        self.progress.setValue(result.steps)
        self.pictures.set_pictures(result.pictures, self._captions(result.goal, result.activations))
        where = result.goal.layer or "output"
        gain = ", ".join(f"{a:.3g} → {b:.3g}" for a, b in zip(result.start[:2], result.activations[:2]))
        more = "…" if len(result.goal.channels) > 2 else ""
        stopped = f"cancelled after {result.steps} steps" if result.cancelled else f"{result.steps} steps"
        self.status.setText(f"{where}: {len(result.goal.channels)} picture(s), {stopped}; activation {gain}{more}")
