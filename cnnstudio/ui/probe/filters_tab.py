"""Filters: a convolution layer's kernels as one grid, with a colour scale and a replay of training."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout

from cnnstudio.ui.probe.requests import FiltersOf
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo
from cnnstudio.ui.probe.views import MosaicView

COLOUR = -1  # channel chooser entry: RGB filters in colour


class FiltersTab(ProbeTab):
    """The filters of a chosen conv layer: in colour for an RGB first layer, else one input channel."""

    title = "Filters"

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.layer = QComboBox(self)
        self.layer.setToolTip("Convolution layer whose filters to show")
        self.channel = QComboBox(self)
        self.channel.setToolTip("Deeper filters see many input channels: choose which one to draw")
        self.replay = QSlider(Qt.Horizontal, self)
        self.replay.setToolTip("Replay how the filters changed, epoch by epoch, over the latest training run")
        self.replay_label = QLabel("", self)
        self.view = MosaicView("Filters", colormap="CET-D1", scale=True)
        self.hover = QLabel("Hover a filter to read its weights.", self)
        self.picture = None
        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer, 1)
        top.addWidget(QLabel("Input"))
        top.addWidget(self.channel, 1)
        top.addSpacing(12)
        top.addWidget(QLabel("Replay"))
        top.addWidget(self.replay, 2)
        top.addWidget(self.replay_label)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.hover)
        self.layer.currentIndexChanged.connect(self._on_layer_changed)
        self.channel.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.replay.valueChanged.connect(self._on_replay_moved)
        self.view.unit_hovered.connect(self._on_view_hovered)
        self._set_epochs([])

    def set_model(self, info) -> None:
        """Offer the model's convolution layers."""
        self.conv_inputs = info.conv_inputs
        fill_combo(self.layer, [(name, name) for name in info.conv_inputs])
        self._fill_channels()
        if not info.conv_inputs:
            self.view.set_title("This model has no 2-D convolution layer")
        super().set_model(info)

    def _fill_channels(self) -> None:
        n = self.conv_inputs.get(self.layer.currentData(), 0)
        items = [("colour (RGB)", COLOUR)] if n == 3 else []
        items += [(f"channel {i}", i) for i in range(min(n, 1024))]
        fill_combo(self.channel, items, COLOUR if n == 3 else 0)

    def _on_layer_changed(self, _index: int) -> None:
        self._fill_channels()
        self._set_epochs([])
        self.invalidate()

    def _set_epochs(self, epochs: list[int]) -> None:
        """Offer the run's snapshots on the slider; its last stop is the model's own weights."""
        self.epochs = list(epochs)
        self.replay.blockSignals(True)
        self.replay.setRange(0, len(self.epochs))
        self.replay.setValue(len(self.epochs))
        self.replay.blockSignals(False)
        self.replay.setEnabled(bool(self.epochs))
        self._label_replay()

    def _label_replay(self) -> None:
        if not self.epochs:
            self.replay_label.setText("no snapshots of this layer")
        elif self.replay.value() >= len(self.epochs):
            self.replay_label.setText("model's weights")
        else:
            e = self.epochs[self.replay.value()]
            self.replay_label.setText("before training" if e == 0 else f"after epoch {e}")

    def _on_replay_moved(self, _value: int) -> None:
        self._label_replay()
        self.invalidate()

    def refresh(self) -> None:
        """Draw the chosen layer's filters (at the chosen snapshot)."""
        layer = self.layer.currentData()
        if not self.ready(needs_image=False) or not layer:
            return
        channel = self.channel.currentData()
        pos = self.replay.value()
        epoch = self.epochs[pos] if pos < len(self.epochs) else None
        self.submit(f"Drawing the filters of {layer}…", FiltersOf(layer, None if channel in (None, COLOUR) else channel,
                                                                  epoch), on_done=self._on_filters_ready)

    def _on_filters_ready(self, picture) -> None:
        self.picture = picture
        if picture.epochs != self.epochs:
            keep_latest = self.replay.value() >= len(self.epochs)
            self._set_epochs(picture.epochs)
            if not keep_latest and picture.epoch in picture.epochs:
                self.replay.blockSignals(True)
                self.replay.setValue(picture.epochs.index(picture.epoch))
                self.replay.blockSignals(False)
                self._label_replay()
        m = picture.mosaic
        kh, kw = m.tile
        what = "colour" if picture.colour else f"input channel {self.channel.currentData()}"
        self.view.set_title(f"{picture.layer}: {m.count} filters of {kh}x{kw}x{picture.inputs}, {what}")
        self.view.set_picture(m, picture.picture)

    def _on_view_hovered(self, tile: int, row: int, col: int) -> None:
        if tile < 0 or self.picture is None:
            self.hover.setText("Hover a filter to read its weights.")
            return
        y, x = self.picture.mosaic.origin(tile)
        value = self.picture.mosaic.image[y + row, x + col]
        if self.picture.colour:  # tiles hold 0.5 + w / (2 max|w|): give the weights back
            m = self.picture.max_abs
            text = "R, G, B weights " + ", ".join(f"{(v - 0.5) * 2 * m:+.4f}" for v in value) + " (zero is grey)"
        else:
            text = f"weight {float(value):+.4f}"
        self.hover.setText(f"filter {tile}, row {row}, col {col}: {text}")
