"""Feature maps: one layer's activations for the current image as a mosaic, with statistics.

Click a map to enlarge it; dead maps (all zero for this image: a ReLU that never fired) are
framed in red; the histogram shows every activation of the layer.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from cnnstudio.ui.shared.pictures import ImageView

from cnnstudio.ui.probe.requests import FeatureMapsOf
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo
from cnnstudio.ui.probe.views import HistogramView, MosaicView

SCALINGS = [("each map on its own range", "per_map"), ("one range for all maps", "shared")]


class FeatureMapsTab(ProbeTab):
    """The chosen layer's maps for the current image."""

    title = "Feature maps"
    map_chosen = Signal(str, int)  # layer, map: the user enlarged a map

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.layer = QComboBox(self)
        self.scaling = QComboBox(self)
        fill_combo(self.scaling, SCALINGS)
        self.scaling.setToolTip("Own range: every map's pattern shows. One range: weak maps look dark, "
                                "so their strengths compare.")
        self.summary = QLabel("", self)
        self.view = MosaicView("Feature maps")
        self.enlarged = ImageView("Click a map to enlarge it", colormap="inferno")
        self.map_stats = QLabel("", self)
        self.map_stats.setWordWrap(True)
        self.map_stats.setTextFormat(Qt.RichText)
        self.histogram = HistogramView("All activations of the layer")
        self.maps = None
        self.chosen: int | None = None

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer, 1)
        top.addWidget(QLabel("Scaling"))
        top.addWidget(self.scaling, 1)
        top.addWidget(self.summary, 2)
        side = QWidget(self)
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.addWidget(self.enlarged, 3)
        side_lay.addWidget(self.map_stats)
        side_lay.addWidget(self.histogram, 2)
        split = QSplitter(Qt.Horizontal, self)
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        self.layer.currentIndexChanged.connect(self._on_layer_changed)
        self.scaling.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.view.unit_clicked.connect(self._on_view_clicked)
        self.view.unit_hovered.connect(self._on_view_hovered)

    def set_model(self, info) -> None:
        """Offer the model's layers with feature maps (the last convolution first chosen)."""
        fill_combo(self.layer, [(name, name) for name in info.layers], info.cam_layer)
        self.chosen = None
        super().set_model(info)

    def choose_layer(self, layer: str) -> None:
        """Show ``layer``'s maps."""
        self.layer.setCurrentIndex(max(0, self.layer.findData(layer)))

    def _on_layer_changed(self, _index: int) -> None:
        self.chosen = None
        self.invalidate()

    def refresh(self) -> None:
        """Compute the chosen layer's maps for the current image."""
        layer = self.layer.currentData()
        if not self.ready() or not layer:
            return
        self.submit(f"Computing the feature maps of {layer}…", FeatureMapsOf(layer, self.scaling.currentData()),
                    on_done=self._on_maps_ready)

    def _on_maps_ready(self, maps) -> None:
        self.maps = maps
        h, w, c = maps.activations.shape
        st = maps.stats
        self.view.set_title(f"{maps.layer}: {c} maps of {h}x{w}")
        self.view.set_picture(maps.mosaic, maps.picture)
        self.view.outline_tiles(np.flatnonzero(st.dead))
        dead = f"<span style='color:#ff4646'>{st.dead_count} dead (framed red)</span>" if st.dead_count else "no dead map"
        self.summary.setText(f"mean {st.mean.mean():.3g} · {100 * st.zero_share.mean():.0f}% zeros · {dead}")
        self.histogram.set_histogram(maps.counts, maps.edges)
        self._enlarge(self.chosen if self.chosen is not None and self.chosen < c else int(np.argmax(st.maximum)))

    def _enlarge(self, k: int) -> None:
        self.chosen = k
        a = self.maps.activations[:, :, k]
        lo, hi = float(a.min()), float(a.max())
        picture = np.zeros(a.shape, np.uint8) if hi <= lo else ((a - lo) / (hi - lo) * 255 + 0.5).astype(np.uint8)
        self.enlarged.set_image(picture)
        self.enlarged.set_title(f"{self.maps.layer}, map {k}")
        self.view.choose_tile(k)
        st = self.maps.stats
        flag = " — <b style='color:#ff4646'>dead: never active on this image</b>" if st.dead[k] else ""
        self.map_stats.setText(f"map {k}: mean {st.mean[k]:.4g}, std {st.std[k]:.4g}, range {st.minimum[k]:.4g} .. "
                               f"{st.maximum[k]:.4g}, {100 * st.zero_share[k]:.0f}% zeros{flag}")

    def _on_view_clicked(self, tile: int, _row: int, _col: int) -> None:
        if self.maps is not None:
            self._enlarge(tile)
            self.map_chosen.emit(self.maps.layer, tile)

    def _on_view_hovered(self, tile: int, row: int, col: int) -> None:
        if tile < 0 or self.maps is None:
            self.view.setToolTip("")
            return
        value = self.maps.activations[row, col, tile]
        self.view.setToolTip(f"map {tile}, unit ({row}, {col}) = {value:.4g}")
