"""Top patches: the dataset crops that excite one map of a layer most, each cut to its unit's receptive field.

Scan streams the project's dataset (every sample the Probe page numbers) through the model's
preprocessing on the panel's worker, with a progress bar; Cancel (or Esc) stops it within a
batch and keeps the best crops found so far. Each crop is exactly the receptive field of the
unit that fired (its part in the zero padding hatched grey), enlarged to at least
:data:`TILE` pixels, and labelled with the activation and the image's class. Clicking a crop
opens that sample on the Receptive field tab with that unit chosen.
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from cnnstudio.ml.probing.mosaic import enlarge  # NumPy only: no TensorFlow on the GUI thread

from cnnstudio.ui.probe.requests import ScanPatches
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo

TILE = 128  # smallest side of a crop on screen, in pixels
COLUMNS = 6
HINT = "Choose a layer and a map, then Scan: the dataset's strongest crops for that map appear here."


class _ScanSignals(QObject):
    progress = Signal(int, int)  # images done, images in all (emitted on the worker: queued to the GUI)


class PatchTile(QToolButton):
    """One crop, enlarged, with its activation and class under it; clicking it opens the sample."""

    def __init__(self, patch, picture: np.ndarray, label: str, parent=None) -> None:
        super().__init__(parent)
        self.patch = patch
        big = np.ascontiguousarray(enlarge(picture, TILE))
        h, w = big.shape[:2]
        self._image = QImage(big.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        self.setIcon(QPixmap.fromImage(self._image))
        self.setIconSize(QSize(w, h))
        self.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
        self.setAutoRaise(True)
        self.setText(f"{patch.value:.3g}  ·  {label}\nsample {patch.index}, unit {patch.unit}")
        self.setToolTip(f"{patch.field.text()}\nClick to open sample {patch.index} at this unit")


class TopPatchesTab(ProbeTab):
    """Layer and map choosers, k, Scan / Cancel with progress, and a grid of the strongest crops."""

    title = "Top patches"
    patch_chosen = Signal(int, str, int, tuple)  # sample, layer, map, unit (row, col)

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.layer = QComboBox(self)
        self.layer.setToolTip("The layer whose map to scan for (layers with 2-D maps)")
        self.channel = QSpinBox(self)
        self.channel.setToolTip("Which map (channel) of the layer")
        self.k = QSpinBox(self, minimum=1, maximum=64, value=9)
        self.k.setToolTip("How many crops to keep")
        self.per_image = QSpinBox(self, minimum=1, maximum=16, value=1)
        self.per_image.setToolTip("Crops one image may give (1: the k best images, as the Deep Visualization "
                                  "Toolbox shows; more: also a strong image's next-strongest units, which overlap)")
        self.scan_button = QPushButton("Scan", self)
        self.scan_button.setToolTip("Scan the project's dataset for this map's strongest crops (Ctrl+Return)")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the scan and keep the best crops so far (Esc)")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v of %m images")
        self.progress.setMinimumWidth(200)
        self.info = QLabel(HINT, self)
        self.info.setWordWrap(True)
        self.grid_host = QWidget(self)
        self.grid = QGridLayout(self.grid_host)
        self.grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        self.tiles: list[PatchTile] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.result = None
        self._cancel: threading.Event | None = None
        self._signals = _ScanSignals(self)
        self._signals.progress.connect(self._on_progress)

        top = QHBoxLayout()
        for w in (QLabel("Layer"), self.layer, QLabel("Map"), self.channel, QLabel("k"), self.k,
                  QLabel("per image"), self.per_image, self.scan_button, self.cancel_button, self.progress):
            top.addWidget(w)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addWidget(scroll, 1)
        self.layer.currentIndexChanged.connect(self._on_layer_changed)
        self.scan_button.clicked.connect(self.scan)
        self.cancel_button.clicked.connect(self.cancel)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.scan)
        QShortcut(QKeySequence(Qt.Key_Escape), self, self.cancel)

    def set_model(self, info) -> None:
        """Offer the model's layers with 2-D maps; crops of another model are cleared."""
        self.cancel()
        self.shapes = info.layer_shapes
        names = [n for n in info.layers if len(info.layer_shapes[n]) == 3]
        fill_combo(self.layer, [(n, n) for n in names], info.cam_layer)
        self._on_layer_changed(0)
        self._show([], HINT)
        super().set_model(info)

    def refresh(self) -> None:
        """Nothing to draw until a scan is asked for (a scan reads the whole dataset)."""
        self.stale = False

    def _on_layer_changed(self, _index: int) -> None:
        layer = self.layer.currentData()
        if layer:
            self.channel.setRange(0, int(self.shapes[layer][-1]) - 1)

    def scan(self) -> None:
        """Start scanning the dataset for the chosen map's top crops (on the worker)."""
        layer = self.layer.currentData()
        if self.panel.info is None or not layer or self._cancel is not None:
            return
        data = self.panel.studio.project.data
        self._cancel = threading.Event()
        self.scan_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.info.setText(f"Scanning the dataset for map {self.channel.value()} of {layer}… (other probes of this "
                          "page wait for it: Esc cancels)")
        key, dataset = self.panel.dataset_request()
        self.submit(f"Scanning for the top crops of {layer}, map {self.channel.value()}…",
                    ScanPatches(dataset, (key, data), layer, self.channel.value(), self.k.value(),
                                self.per_image.value(), self._signals.progress.emit, self._cancel),
                    on_done=self._on_scanned, key="scan")
        self.panel.jobs.job_failed.connect(self._on_failed)

    def cancel(self) -> None:
        """Stop a running scan; the crops found so far are shown."""
        if self._cancel is not None:
            self._cancel.set()
            self.panel.jobs.cancel(f"{type(self).__name__}:scan")  # one still waiting never starts
            self.cancel_button.setEnabled(False)

    @property
    def scanning(self) -> bool:
        """A scan was started and has not answered yet."""
        return self._cancel is not None

    def _on_progress(self, done: int, total: int) -> None:
        if self._cancel is not None:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)

    def _finished(self) -> None:
        self._cancel = None
        self.scan_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        try:
            self.panel.jobs.job_failed.disconnect(self._on_failed)
        except (RuntimeError, TypeError):
            pass

    def _on_failed(self, message: str, _tb: str) -> None:
        if self._cancel is not None:
            self._finished()
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.info.setText(f"Scan failed: {message}")

    def _on_scanned(self, result) -> None:
        self._finished()
        if isinstance(result, str):  # a layer without a field, an empty or unreadable dataset
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.info.setText(f"Cannot scan: {result}")
            return
        self.result = result
        self.progress.setRange(0, max(result.total, 1))
        self.progress.setValue(result.scanned)
        field = result.patches[0].field if result.patches else None
        how = (f"cancelled after {result.scanned} of {result.total} images: the best so far"
               if result.cancelled else f"{result.scanned} images in {result.seconds:.1f} s")
        size = f"; field {'x'.join(map(str, field.field.size))} px, padding hatched" if field else ""
        skipped = f"; {result.skipped} unreadable images skipped" if result.skipped else ""
        self._show(result, f"Top {len(result.patches)} of {result.layer}, map {result.channel} ({how}{size}{skipped}). "
                           "Click a crop to open it at that unit.")

    def _show(self, result, text: str) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        self.info.setText(text)
        if not result:
            return
        for i, (patch, picture) in enumerate(zip(result.patches, result.pictures)):
            label = result.classes[patch.label] if patch.label < len(result.classes) else str(patch.label)
            tile = PatchTile(patch, picture, label, self.grid_host)
            tile.clicked.connect(lambda _c=False, p=patch: self.patch_chosen.emit(
                p.index, self.result.layer, self.result.channel, p.unit))
            self.grid.addWidget(tile, i // COLUMNS, i % COLUMNS)
            self.tiles.append(tile)
