"""The evaluation of a run: test metrics, confusion matrix with counts, per-class precision and
recall, and the misclassified test images with their true and predicted classes."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from cnnstudio.ml.training.evaluation import Evaluation

from cnnstudio.ui.training.image_grid import LabelledGrid


def _item(text: str, background: QColor | None = None, foreground: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignCenter)
    item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
    if background is not None:
        item.setBackground(QBrush(background))
    if foreground is not None:
        item.setForeground(QBrush(QColor(foreground)))
    return item


def _pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{100 * value:.1f}%"


class EvaluationView(QWidget):
    """Shows one :class:`~cnnstudio.ml.training.evaluation.Evaluation`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evaluation: Evaluation | None = None
        self.title = QLabel("No evaluation yet: train a model, or pick a run and press Evaluation.")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("QLabel { font-size: 13px; padding: 4px; }")
        self.confusion = QTableWidget(self)
        self.confusion.setToolTip("Rows: true class. Columns: predicted class. Counts of test images.")
        self.per_class = QTableWidget(self)
        self.per_class.setColumnCount(4)
        self.per_class.setHorizontalHeaderLabels(["class", "precision", "recall", "images"])
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.wrong = LabelledGrid("Misclassified test images appear here.", self)
        self.wrong_title = QLabel("Misclassified (true → predicted)")
        tables = QSplitter(Qt.Horizontal, self)
        tables.addWidget(self.confusion)
        tables.addWidget(self.per_class)
        tables.setSizes([600, 340])
        lower = QWidget(self)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.wrong_title)
        lower_layout.addWidget(self.wrong)
        split = QSplitter(Qt.Vertical, self)
        split.addWidget(tables)
        split.addWidget(lower)
        split.setSizes([330, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(split, 1)

    def show_evaluation(self, ev: Evaluation | None, source: str = "") -> None:
        """Fill the view from ``ev`` (None clears it)."""
        self.evaluation = ev
        if ev is None or ev.total == 0:
            self.title.setText(f"{source}: no test evaluation (stopped early, or no test split)." if source
                               else "No evaluation yet.")
            self.confusion.clear()
            self.per_class.setRowCount(0)
            self.wrong.set_images(np.zeros((0, 1, 1, 3), np.uint8), [])
            return
        figures = "   ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in ev.metrics.items() if k != "accuracy")
        self.title.setText(f"<b>{source}</b> test split: {ev.total} images, accuracy "
                           f"<b>{_pct(ev.accuracy)}</b>, {len(ev.misclassified)} wrong.   {figures}")
        self._fill_confusion(ev)
        self._fill_per_class(ev)
        names = ev.classes
        captions = [f"{names[t]} → {names[p]}" for t, p in zip(ev.true, ev.predicted)]
        self.wrong_title.setText(f"Misclassified (true → predicted): showing {len(ev.images)} of "
                                 f"{len(ev.misclassified)}")
        self.wrong.set_images(ev.images, captions, colours=["#ffb4a8"] * len(ev.images), tile_px=96,
                              empty="No misclassified test images: every one was classified right.")

    def _fill_confusion(self, ev: Evaluation) -> None:
        k = len(ev.classes)
        self.confusion.clear()
        self.confusion.setRowCount(k)
        self.confusion.setColumnCount(k)
        self.confusion.setHorizontalHeaderLabels([f"→ {c}" for c in ev.classes])
        self.confusion.setVerticalHeaderLabels(ev.classes)
        row_totals = np.maximum(1, ev.confusion.sum(axis=1))
        for r in range(k):
            for c in range(k):
                count = int(ev.confusion[r, c])
                share = count / row_totals[r]
                if r == c:
                    colour = QColor(40, int(60 + 140 * share), 70)
                else:
                    colour = QColor(int(40 + 180 * min(1.0, 3 * share)), 40, 45) if count else QColor(38, 39, 42)
                self.confusion.setItem(r, c, _item(str(count), colour, "#f1f3f4" if count else "#6b6f75"))
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)

    def _fill_per_class(self, ev: Evaluation) -> None:
        counts = ev.confusion.sum(axis=1)
        self.per_class.setRowCount(len(ev.classes))
        for r, name in enumerate(ev.classes):
            self.per_class.setItem(r, 0, _item(name))
            self.per_class.setItem(r, 1, _item(_pct(ev.precision[r])))
            self.per_class.setItem(r, 2, _item(_pct(ev.recall[r])))
            self.per_class.setItem(r, 3, _item(str(int(counts[r]))))
