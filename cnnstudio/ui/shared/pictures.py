"""The Live page's pictures: frame and model-input views, the top-k bars, the feature-map mosaic.

Each view owns a fixed set of pyqtgraph items made once and updated in place every frame
(``setImage``, ``setOpts``, ``setRect``): nothing is created per frame, so drawing stays
cheap however fast frames come.
"""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from cnnstudio.ml.data.preprocess import display_rgba

BACKGROUND = "#14161b"
TITLE = "#c9ced8"
FIELD = QColor(255, 196, 0)        # the receptive field, on the frame, the input and the mosaic
INPUT_EDGE = QColor(80, 200, 255)  # where the model's input lies on the frame (crop or pad)
TOP_BAR = QColor(255, 176, 0)
OTHER_BAR = QColor(70, 130, 200)


def lookup_table(name: str) -> np.ndarray:
    """A 256-entry RGBA lookup table (uint8, 256 x 4) of the pyqtgraph colour map ``name``."""
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=True)


def _pen(colour: QColor, width: float = 2.0, style=Qt.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)  # the same width at any zoom
    return pen


def rect_item(colour: QColor, width: float = 2.0, style=Qt.SolidLine, z: float = 10) -> QGraphicsRectItem:
    """An outline rectangle for a view box, hidden until placed."""
    item = QGraphicsRectItem()
    item.setPen(_pen(colour, width, style))
    item.setBrush(QBrush(Qt.NoBrush))
    item.setZValue(z)
    item.hide()
    return item


class OpaqueImageItem(pg.ImageItem):
    """An ImageItem for opaque uint8 RGBA pictures, drawn from a QImage in Qt's own opaque
    format (RGB32: B, G, R, X in memory), which Qt paints by copying pixels, where pyqtgraph's
    RGBA8888 is converted and blended pixel by pixel at every paint."""

    def render(self) -> None:
        image = self.image
        if image is None or image.ndim != 3 or image.shape[2] != 4 or image.dtype != np.uint8:
            super().render()
            return
        self._bgrx = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)  # kept: the QImage shares its memory
        h, w = image.shape[:2]
        self.qimage = QImage(self._bgrx.data, w, h, self._bgrx.strides[0], QImage.Format.Format_RGB32)
        self._renderRequired = self._unrenderable = False


class ImageView(pg.GraphicsLayoutWidget):
    """One picture with a title, in a view box that keeps the aspect ratio, row 0 at the top;
    grey pictures are drawn through the colour map ``colormap`` when one is given."""

    def __init__(self, title: str, parent=None, colormap: str | None = None) -> None:
        super().__init__(parent)
        self.lut = lookup_table(colormap) if colormap else None
        self.setBackground(BACKGROUND)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.title = self.addLabel(title, row=0, col=0, color=TITLE, size="10pt")
        self.view = self.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.image = OpaqueImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.overlay = pg.ImageItem(axisOrder="row-major")  # Grad-CAM, RGBA
        self.overlay.setZValue(5)
        self.overlay.hide()
        self.view.addItem(self.overlay)
        self._shape: tuple[int, ...] | None = None

    def set_title(self, text: str) -> None:
        """Change the title line (a no-op when it is the same: a new text lays the view out again)."""
        if text != self.title.text:
            self.title.setText(text, color=TITLE, size="10pt")

    def set_image(self, image: np.ndarray) -> None:
        """Show a uint8 grey or RGB picture (fits the view when its size changes).

        It is drawn as RGBA (:func:`cnnstudio.ml.data.preprocess.display_rgba`) with no levels, so
        pyqtgraph wraps it in a QImage as it is and Qt paints it without converting: the
        GUI thread (and the GIL) stay free for the pipeline.
        """
        self.image.setImage(display_rgba(image, self.lut), autoLevels=False)
        if image.shape[:2] != self._shape:
            self._shape = image.shape[:2]
            self.view.setRange(QRectF(0, 0, image.shape[1], image.shape[0]), padding=0.02)

    def set_overlay(self, rgba: np.ndarray | None, rect: tuple[float, float, float, float] | None = None) -> None:
        """An RGBA picture over the image, stretched over ``rect`` (x0, y0, x1, y1); None hides it."""
        if rgba is None:
            self.overlay.hide()
            return
        self.overlay.setImage(rgba, autoLevels=False)
        if rect is None:
            rect = (0, 0, self._shape[1], self._shape[0]) if self._shape else (0, 0, rgba.shape[1], rgba.shape[0])
        x0, y0, x1, y1 = rect
        self.overlay.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.overlay.show()

    def place(self, item: QGraphicsRectItem, rect: tuple[float, float, float, float] | None) -> None:
        """Put an outline at ``rect`` (x0, y0, x1, y1) in image pixels; None hides it."""
        if rect is None:
            item.hide()
            return
        if item.scene() is None:
            self.view.addItem(item)
        x0, y0, x1, y1 = rect
        item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        item.show()


def heat_rgba(heat01: np.ndarray, opacity: float, size: int = 192) -> np.ndarray:
    """A 0..1 heatmap -> RGBA uint8 about ``size`` pixels across (smoothly enlarged, so a coarse
    map is not drawn as blocks): jet colours, transparent where the heat is low."""
    from cnnstudio.ml.probing.mosaic import colorize, resize_map  # NumPy and OpenCV only, no TensorFlow

    h, w = heat01.shape[:2]
    if max(h, w) < size:
        heat01 = np.clip(resize_map(heat01, (round(h * size / max(h, w)), round(w * size / max(h, w)))), 0, 1)
    rgb = colorize(heat01)
    alpha = np.clip(np.sqrt(np.asarray(heat01, np.float32)) * opacity * 255.0, 0, 255).astype(np.uint8)
    return np.dstack([rgb, alpha])


class TopKChart(pg.PlotWidget):
    """Horizontal bars of the k most probable classes, the top one first and lit."""

    def __init__(self, k: int = 5, parent=None) -> None:
        super().__init__(parent, background=BACKGROUND)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setTitle("Top classes", color=TITLE, size="10pt")
        self.setXRange(0, 1.2, padding=0)  # room for "100%" after a full bar
        self.getAxis("bottom").setTicks([[(v, f"{int(v * 100)}%") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        font = QFont()
        font.setPointSize(11)
        self.getAxis("left").setStyle(tickFont=font, tickTextWidth=90, autoExpandTextSpace=False)
        self.getAxis("left").setWidth(100)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], pen=pg.mkPen(None))
        self._ticks: list = []
        self.addItem(self.bars)
        self.texts: list[pg.TextItem] = []
        self.set_k(k)

    def set_k(self, k: int) -> None:
        """Show ``k`` bars."""
        for t in self.texts:
            self.removeItem(t)
        self.k = k
        self.texts = []
        for _ in range(k):
            text = pg.TextItem(color=TITLE, anchor=(0, 0.5))
            self.addItem(text)
            self.texts.append(text)
        self.setYRange(-0.6, k - 0.4, padding=0)
        self.set_top([])

    def set_top(self, top) -> None:
        """Draw a top-k list of :class:`cnnstudio.ml.probing.prober.Prediction` (most probable first)."""
        top = list(top)[:self.k]
        y = np.arange(self.k - 1, self.k - 1 - len(top), -1, dtype=float)  # the top bar uppermost
        widths = [p.probability for p in top]
        brushes = [TOP_BAR if i == 0 else OTHER_BAR for i in range(len(top))]
        self.bars.setOpts(x0=np.zeros(len(top)), y=y, width=widths, height=0.7, brushes=brushes)
        ticks = [(yy, p.label) for yy, p in zip(y, top)]
        if ticks != self._ticks:  # the axis lays itself out again on new ticks: only when the order changes
            self._ticks = ticks
            self.getAxis("left").setTicks([ticks])
        for i, text in enumerate(self.texts):
            label = f"{100 * top[i].probability:.0f}%" if i < len(top) else ""
            if label != text.textItem.toPlainText():
                text.setText(label)
            if i < len(top):
                text.setPos(min(top[i].probability, 1.0) + 0.01, y[i])


class FeatureMapView(ImageView):
    """The probed layer's maps as one mosaic in one ImageItem; a click picks a unit."""

    unit_clicked = Signal(int, int, int)  # map (channel), row, col
    aspect_changed = Signal(float)        # width:height of the view, for laying out the mosaic

    def __init__(self, parent=None, colormap: str = "inferno") -> None:
        super().__init__("Feature maps", parent, colormap)
        self.mosaic = None
        self.unit_size = (1.0, 1.0)  # mosaic pixels per map unit (y, x): below 1 when tiles were shrunk
        self.marker = rect_item(FIELD, 2.0)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def set_mosaic(self, mosaic, image: np.ndarray | None, map_shape: tuple[int, int] | None = None) -> None:
        """Show a :class:`cnnstudio.ml.probing.mosaic.Mosaic` (its uint8 picture); None clears it.

        ``map_shape`` is (h, w) of one map when the tiles were shrunk from it: clicks and
        marks then speak of the map's units, not the tile's pixels.
        """
        self.mosaic = mosaic
        if mosaic is not None and map_shape:
            self.unit_size = (mosaic.tile[0] / map_shape[0], mosaic.tile[1] / map_shape[1])
        else:
            self.unit_size = (1.0, 1.0)
        if image is None:
            self.image.clear()
            self._shape = None
            self.place(self.marker, None)
            return
        self.set_image(image)

    def mark_unit(self, channel: int | None, row: int = 0, col: int = 0) -> None:
        """Outline unit (row, col) of map ``channel`` in the mosaic (None: no outline)."""
        if channel is None or self.mosaic is None or channel >= self.mosaic.count:
            self.place(self.marker, None)
            return
        y, x = self.mosaic.origin(channel)
        sy, sx = self.unit_size
        self.place(self.marker, (x + col * sx - 0.5, y + row * sy - 0.5, x + (col + 1) * sx + 0.5, y + (row + 1) * sy + 0.5))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self.height() > 0:
            self.aspect_changed.emit(self.width() / self.height())

    def _on_scene_clicked(self, event) -> None:
        if self.mosaic is None or event.button() != Qt.LeftButton:
            return
        pos = self.image.mapFromScene(event.scenePos())
        hit = self.mosaic.locate(pos.y(), pos.x())
        if hit is not None:
            tile, ty, tx = hit
            self.unit_clicked.emit(tile, int(ty / self.unit_size[0]), int(tx / self.unit_size[1]))
