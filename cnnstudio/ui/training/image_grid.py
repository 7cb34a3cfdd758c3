"""A grid of small images with a caption under each: dataset samples, misclassified test images."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget

from cnnstudio.ml.probing.mosaic import tile_images

CAPTION_PX = 16


class LabelledGrid(QScrollArea):
    """Images tiled into one NumPy mosaic, captions painted in the gaps under the tiles."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self.label = QLabel(placeholder)
        self.label.setAlignment(Qt.AlignCenter)
        self.label.setStyleSheet("QLabel { color: #9aa0a6; }")
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.setAlignment(Qt.AlignCenter)
        self.count = 0

    def set_images(self, images: np.ndarray, captions: list[str], cols: int = 0, tile_px: int = 64,
                   colours: list[str] | None = None, empty: str = "") -> None:
        """Show uint8 RGB ``images`` (N, h, w, 3) with ``captions``; ``colours`` tint captions;
        ``empty`` is the text shown when there are no images."""
        self.count = len(images)
        if not len(images):
            self.label.setPixmap(QPixmap())
            self.label.setText(empty or self.placeholder)
            return
        factor = max(1, tile_px // max(images.shape[1], images.shape[2]))
        big = np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)
        cols = cols or max(1, min(len(images), int(np.ceil(np.sqrt(len(images) * 1.6)))))
        # the uniform gap leaves room for a caption under each tile
        mosaic = tile_images(big.astype(np.float32), cols=cols, gap=CAPTION_PX, gap_value=30.0)
        picture = np.zeros((mosaic.image.shape[0] + CAPTION_PX, mosaic.image.shape[1], 3), np.uint8)
        picture[:] = 30
        picture[:mosaic.image.shape[0]] = np.clip(mosaic.image, 0, 255).astype(np.uint8)
        h, w = picture.shape[:2]
        qimage = QImage(picture.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        painter = QPainter(qimage)
        font = QFont()
        font.setPixelSize(11)
        painter.setFont(font)
        tile_h, tile_w = mosaic.tile
        for k, caption in enumerate(captions[:len(images)]):
            y, x = mosaic.origin(k)
            painter.setPen(QColor(colours[k] if colours else "#e8eaed"))
            rect = QRect(x - CAPTION_PX // 2 + 1, y + tile_h, tile_w + CAPTION_PX - 2, CAPTION_PX)
            painter.drawText(rect, Qt.AlignCenter, painter.fontMetrics().elidedText(caption, Qt.ElideRight, rect.width()))
        painter.end()
        self.label.setPixmap(QPixmap.fromImage(qimage))
