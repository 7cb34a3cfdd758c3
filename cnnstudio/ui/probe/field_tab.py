"""Receptive field: click a unit of a feature map; see where it looks and what moves it.

The theoretical field (from core inference, exactly what the editor reports) is drawn on the
input image, its part in the zero padding hatched; beside it, the effective field: the
gradient of that unit with respect to every input pixel. Hovering a unit tells its
coordinates, field size and stride without asking the model.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout

from cnnstudio.ml.probing.unit_fields import UnitField
from cnnstudio.ml.probing.mosaic import tile_mosaic, to_uint8
from cnnstudio.ui.shared.pictures import ImageView

from cnnstudio.ui.probe.requests import FeatureMapsOf, UnitOf
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo
from cnnstudio.ui.probe.views import FieldBox, MosaicView

HINT = "Click a unit of the feature map to see its receptive field."


class ReceptiveFieldTab(ProbeTab):
    """One map of a layer, the input with a clicked unit's field, and that unit's effective field."""

    title = "Receptive field"

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.layer = QComboBox(self)
        self.channel = QSpinBox(self)
        self.channel.setToolTip("Which map of the layer (channel)")
        self.note = QLabel("", self)
        self.map_view = MosaicView("Feature map")
        self.input_view = ImageView("Input and theoretical receptive field")
        self.input_box = FieldBox(self.input_view)
        self.effective_view = ImageView("Effective receptive field |d unit / d pixel|", colormap="inferno")
        self.effective_box = FieldBox(self.effective_view)
        self.info = QLabel(HINT, self)
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.maps = None
        self._pick_strongest = True
        self.unit: tuple[int, int] | None = None
        self.result = None

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer, 1)
        top.addWidget(QLabel("Map"))
        top.addWidget(self.channel)
        top.addWidget(self.note, 2)
        views = QHBoxLayout()
        for v in (self.map_view, self.input_view, self.effective_view):
            views.addWidget(v, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(views, 1)
        lay.addWidget(self.info)
        self.layer.currentIndexChanged.connect(self._on_layer_changed)
        self.channel.valueChanged.connect(self._on_channel_changed)
        self.map_view.unit_clicked.connect(lambda _t, row, col: self.choose_unit(row, col))
        self.map_view.unit_hovered.connect(self._on_map_hovered)

    def set_model(self, info) -> None:
        """Offer the model's layers with 2-D feature maps."""
        names = [n for n in info.layers if len(info.layer_shapes[n]) == 3]
        fill_combo(self.layer, [(n, n) for n in names], info.cam_layer)
        self.unit = None
        super().set_model(info)

    def show_map(self, layer: str, channel: int) -> None:
        """Switch to map ``channel`` of ``layer`` (the feature-map view's choice)."""
        i = self.layer.findData(layer)
        if i < 0:
            return
        self.layer.setCurrentIndex(i)
        self._pick_strongest = False
        self.channel.setMaximum(max(self.channel.maximum(), channel))
        self.channel.setValue(channel)

    def show_unit(self, layer: str, channel: int, unit: tuple[int, int]) -> None:
        """Choose ``unit`` (row, col) of map ``channel`` of ``layer``; its fields are drawn with the next maps."""
        i = self.layer.findData(layer)
        if i < 0:
            return
        for w in (self.layer, self.channel):
            w.blockSignals(True)
        self.layer.setCurrentIndex(i)
        self.channel.setMaximum(max(self.channel.maximum(), channel))
        self.channel.setValue(channel)
        for w in (self.layer, self.channel):
            w.blockSignals(False)
        self.unit, self._pick_strongest = (int(unit[0]), int(unit[1])), False
        self.invalidate()

    def _on_layer_changed(self, _index: int) -> None:
        self.unit = None
        self._pick_strongest = True
        self.invalidate()

    def _on_channel_changed(self, _value: int) -> None:
        if self.maps is not None:
            self._draw_map()
            if self.unit is not None:
                self.choose_unit(*self.unit)

    def refresh(self) -> None:
        """Compute the chosen layer's maps (and the chosen unit's fields) for the current image."""
        layer = self.layer.currentData()
        if not self.ready() or not layer:
            return
        self.input_view.set_image(self.panel.image.picture)
        self.submit(f"Computing the maps of {layer}…", FeatureMapsOf(layer), on_done=self._on_maps_ready)

    def _on_maps_ready(self, maps) -> None:
        self.maps = maps
        c = maps.activations.shape[2]
        self.channel.blockSignals(True)
        self.channel.setRange(0, c - 1)
        if self._pick_strongest:  # a new layer opens on its most active map, not on a dead one
            self.channel.setValue(int(np.argmax(maps.stats.maximum)))
            self._pick_strongest = False
        self.channel.blockSignals(False)
        self.note.setText(f"{maps.layer}: field {maps.field.text()}" if maps.field else f"no field: {maps.field_note}")
        self._draw_map()
        if self.unit is not None and self.unit[0] < maps.activations.shape[0] and self.unit[1] < maps.activations.shape[1]:
            self.choose_unit(*self.unit)
        else:
            self.unit = None
            self.input_box.hide()
            self.effective_box.hide()
            self.effective_view.image.clear()
            self.info.setText(HINT)

    def _draw_map(self) -> None:
        k = self.channel.value()
        one = tile_mosaic(self.maps.activations[:, :, k:k + 1], "per_map", gap=0)
        self.map_view.set_picture(one, to_uint8(one.image))
        self.map_view.set_title(f"{self.maps.layer}, map {k} (click a unit)")

    def _field(self, row: int, col: int) -> UnitField | None:
        if self.maps is None or self.maps.field is None:
            return None
        return UnitField.of(self.maps.layer, self.maps.field, (row, col), self.panel.image.picture.shape[:2])

    def _on_map_hovered(self, _tile: int, row: int, col: int) -> None:
        if row < 0:
            self.info.setText(self.result_text())
            return
        field = self._field(row, col)
        value = self.maps.activations[row, col, self.channel.value()]
        self.info.setText(f"hover: {field.text() if field else f'unit ({row}, {col})'}; value {value:.4g}")

    def result_text(self) -> str:
        """The chosen unit's description (or the hint)."""
        if self.result is None or self.unit is None:
            return HINT
        f = self.result.field
        text = f"chosen: {f.text()}" if f is not None else f"chosen unit {self.unit}: {self.result.note}"
        if not self.result.effective.any():
            text += " — this unit is 0 here (its ReLU is off), so no gradient reaches the input"
        return text

    def choose_unit(self, row: int, col: int) -> None:
        """Show the field of unit (row, col) of the current map; the effective field comes from the worker."""
        if self.maps is None:
            return
        self.unit = (int(row), int(col))
        self.map_view.mark_unit(0, row, col)
        field = self._field(row, col)
        if field is not None:
            self.input_box.show(field.box, field.image_size)
        self.submit(f"Computing the effective field of unit ({row}, {col})…",
                    UnitOf(self.maps.layer, self.channel.value(), self.unit), on_done=self._on_unit_ready, key="unit")

    def _on_unit_ready(self, result) -> None:
        self.result = result
        self.effective_view.set_image((np.clip(result.effective, 0, 1) * 255).astype(np.uint8))
        if result.field is not None:
            self.input_box.show(result.field.box, result.field.image_size)
            self.effective_box.show(result.field.box, result.field.image_size)
        else:
            self.input_box.hide()
            self.effective_box.hide()
        self.info.setText(self.result_text())
