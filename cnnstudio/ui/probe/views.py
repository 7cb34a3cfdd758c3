"""Reusable probe pictures: a mosaic with hover, tile outlines and a colour scale; a model's output
with a pixel to click; a receptive-field box with its padding part hatched; a histogram; PNG
export of any widget.

They build on the live page's views (:mod:`cnnstudio.ui.shared.pictures`: a titled
:class:`ImageView`, :class:`FeatureMapView`, :class:`TopKChart`, :func:`heat_rgba`), so the
two pages look alike. Every view makes its pyqtgraph items once and updates them in place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QWidget

from cnnstudio.ui.shared.pictures import BACKGROUND, FIELD, TITLE, FeatureMapView, ImageView

DEAD = QColor(255, 70, 70)        # outline of dead (all-zero) maps
GAP = (58, 63, 75)                # between tiles: no colour map value, so gaps never read as data
CHOSEN = QColor(90, 220, 255)     # outline of the map shown enlarged
PADDING = QColor(255, 196, 0, 150)  # hatching of the receptive field's part in the padding


def _cosmetic(colour: QColor, width: float = 1.5, style=Qt.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)  # the same width at any zoom
    return pen


def save_png(widget: QWidget, path: str | Path) -> bool:
    """Write what ``widget`` shows to a PNG file; True on success."""
    return widget.grab().save(str(path), "PNG")


class MosaicView(FeatureMapView):
    """A :class:`cnnstudio.ml.probing.mosaic.Mosaic` in one ImageItem, with a colour map and an optional scale.

    Signals: ``unit_clicked(tile, row, col)`` (inherited) and ``unit_hovered(tile, row, col)``,
    ``(-1, -1, -1)`` when the pointer leaves the tiles. :meth:`outline_tiles` frames tiles
    (dead maps), :meth:`choose_tile` frames one (the enlarged map).
    """

    unit_hovered = Signal(int, int, int)

    def __init__(self, title: str, colormap: str = "inferno", scale: bool = False, parent=None) -> None:
        super().__init__(parent, colormap)
        self.set_title(title)
        self.bar: pg.ColorBarItem | None = None
        if scale:
            self.bar = pg.ColorBarItem(values=(0, 1), width=14, colorMap=pg.colormap.get(colormap),
                                       interactive=False, colorMapMenu=False)
            self.addItem(self.bar, row=1, col=1)
        self.gaps = pg.ImageItem(axisOrder="row-major")
        self.gaps.setZValue(4)
        self.view.addItem(self.gaps)
        self._gap_key: tuple | None = None
        self.outlines = QGraphicsPathItem()
        self.outlines.setPen(_cosmetic(DEAD, 2.0))
        self.outlines.setZValue(8)
        self.view.addItem(self.outlines)
        self.chosen = QGraphicsPathItem()
        self.chosen.setPen(_cosmetic(CHOSEN, 2.0))
        self.chosen.setZValue(9)
        self.view.addItem(self.chosen)
        self._hovered: tuple[int, int, int] | None = None
        self.scene().sigMouseMoved.connect(self._on_scene_moved)

    def set_picture(self, mosaic, picture: np.ndarray, levels: tuple[float, float] | None = None) -> None:
        """Show a mosaic's uint8 picture (RGB tiles are drawn as they are); ``levels`` label the scale."""
        self.set_mosaic(mosaic, picture)
        self._paint_gaps(mosaic, picture.shape[:2])
        if self.bar is not None:
            self.bar.setVisible(picture.ndim == 2)
            lo, hi = levels if levels is not None else mosaic.levels
            self.bar.setLevels(low=float(lo), high=float(hi) if hi > lo else float(lo) + 1e-6)
        self.outline_tiles([])
        self.choose_tile(None)

    def _paint_gaps(self, mosaic, shape: tuple[int, int]) -> None:
        """Cover the gaps and empty cells with one opaque colour (redone only when the layout changes)."""
        key = (shape, mosaic.tile, mosaic.gap, mosaic.count, mosaic.cols)
        if key == self._gap_key:
            return
        self._gap_key = key
        rgba = np.zeros(shape + (4,), np.uint8)
        rgba[:, :, :3] = GAP
        rgba[:, :, 3] = mosaic.gap_mask() * 255
        self.gaps.setImage(rgba, autoLevels=False, levels=(0, 255))

    def _tile_path(self, tiles) -> QPainterPath:
        path = QPainterPath()
        if self.mosaic is None:
            return path
        h, w = self.mosaic.tile
        for k in tiles:
            y, x = self.mosaic.origin(int(k))
            path.addRect(QRectF(x - 0.25, y - 0.25, w + 0.5, h + 0.5))
        return path

    def outline_tiles(self, tiles) -> None:
        """Frame these tiles in red (e.g. the dead maps)."""
        self.outlines.setPath(self._tile_path(tiles))

    def choose_tile(self, tile: int | None) -> None:
        """Frame one tile (None: none)."""
        self.chosen.setPath(self._tile_path([] if tile is None else [tile]))

    def _on_scene_moved(self, scene_pos) -> None:
        hit = None
        if self.mosaic is not None and self.view.sceneBoundingRect().contains(scene_pos):
            pos = self.image.mapFromScene(scene_pos)
            hit = self.mosaic.locate(pos.y(), pos.x())
        if hit != self._hovered:
            self._hovered = hit
            self.unit_hovered.emit(*(hit if hit is not None else (-1, -1, -1)))


class OutputView(ImageView):
    """A model's output drawn as a picture (a segmentation's classes, an autoencoder's image);
    a click picks a pixel: ``pixel_clicked(row, col)``, outlined until the next picture."""

    pixel_clicked = Signal(int, int)

    def __init__(self, title: str = "Output", parent=None) -> None:
        super().__init__(title, parent)
        self.marker = QGraphicsPathItem()
        self.marker.setPen(_cosmetic(CHOSEN, 2.0))
        self.marker.setZValue(9)
        self.view.addItem(self.marker)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def mark(self, pixel: tuple[int, int] | None) -> None:
        """Outline pixel (row, col) (None: none)."""
        path = QPainterPath()
        if pixel is not None:
            path.addRect(QRectF(pixel[1], pixel[0], 1, 1))
        self.marker.setPath(path)

    def _on_scene_clicked(self, event) -> None:
        if self._shape is None or event.button() != Qt.LeftButton:
            return
        pos = self.image.mapFromScene(event.scenePos())
        row, col = int(np.floor(pos.y())), int(np.floor(pos.x()))
        if 0 <= row < self._shape[0] and 0 <= col < self._shape[1]:
            self.mark((row, col))
            self.pixel_clicked.emit(row, col)


class FieldBox:
    """A receptive-field box on an :class:`ImageView`: solid on the image, hatched in the padding.

    The view widens to show the part of the field that lies outside the image.
    """

    def __init__(self, view: ImageView, colour: QColor = FIELD) -> None:
        self.view = view
        self.inside = QGraphicsPathItem()
        self.inside.setPen(_cosmetic(colour, 2.0))
        self.padding = QGraphicsPathItem()
        self.padding.setPen(_cosmetic(colour, 1.0, Qt.DashLine))
        self.padding.setBrush(QBrush(PADDING, Qt.BDiagPattern))
        for z, item in enumerate((self.padding, self.inside)):
            item.setZValue(10 + z)
            item.hide()
            view.view.addItem(item)

    def show(self, box, image_size: tuple[int, int]) -> None:
        """Draw an inclusive box ((top, bottom), (left, right)) in pixels of an image of ``image_size``."""
        (t, b), (l, r) = box
        h, w = image_size
        full = QRectF(l, t, r - l + 1, b - t + 1)
        picture = QRectF(0, 0, w, h)
        on_image = full.intersected(picture)
        path = QPainterPath()
        if not on_image.isEmpty():
            path.addRect(on_image)
        self.inside.setPath(path)
        outer, inner = QPainterPath(), QPainterPath()
        outer.addRect(full)
        inner.addRect(picture)
        self.padding.setPath(outer.subtracted(inner))
        self.inside.show()
        self.padding.show()
        self.view.view.setRange(full.united(picture), padding=0.03)

    def hide(self) -> None:
        """Remove the box."""
        self.inside.hide()
        self.padding.hide()


class HistogramView(pg.PlotWidget):
    """A histogram drawn as one filled step curve, updated in place."""

    def __init__(self, title: str = "Histogram", parent=None) -> None:
        super().__init__(parent, background=BACKGROUND)
        self.setMenuEnabled(False)
        self.setTitle(title, color=TITLE, size="10pt")
        self.curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=(255, 150, 40, 120), pen=(255, 170, 60))
        self.addItem(self.curve)
        self.setLabel("bottom", "activation")
        self.setLabel("left", "units")

    def set_histogram(self, counts: np.ndarray, edges: np.ndarray) -> None:
        """Draw ``counts`` over bin ``edges`` (one more edge than counts)."""
        self.curve.setData(np.asarray(edges, float), np.asarray(counts, float))
        self.enableAutoRange()
