"""Projector: a layer's activations for the validation images as a 2-D scatter (PCA or t-SNE).

Each dot is one validation image, coloured by its true class, ringed when the model gets it
wrong; hovering shows the image large with its true and predicted class, a click makes it the
Probe page's image. The work (the images through the model, PCA, t-SNE) runs on the page's
worker (:class:`ProjectionOf`), with progress and cancel; see
:mod:`cnnstudio.ml.probing.projector`. With "Follow training" on, each checkpoint the Training
page writes (after an epoch, at most every 10 s) is loaded and projected again, PCA's axes
turned to agree with the last epoch's and t-SNE started from its layout, so clusters are seen
forming rather than jumping about.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)

from cnnstudio.core.settings import DataSource
from cnnstudio.ml.probing.outputs import PALETTE  # NumPy only: no TensorFlow on the GUI thread
from cnnstudio.ml.probing.projector import DEFAULT_POINTS, METHODS, Cancelled
from cnnstudio.ui.shared.pictures import BACKGROUND, TITLE, ImageView

from cnnstudio.ui.probe.requests import ProbeRequest
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo

DOT, RING, HOVER_PX = 9, 15, 12  # dot and ring sizes, how near (screen pixels) the pointer picks a dot
MISCLASSIFIED = "#ffffff"  # a white ring: unlike any class colour on the dark background


class ValidationSets:
    """On the worker: the project's dataset, split, for the model's preprocessing (loaded once per
    setting), and the last activations collected from it (another method reuses them)."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._dataset = None
        self._acts: tuple | None = None  # (session weakref, layer, points, Activations)

    def get(self, data: DataSource, settings):
        """The dataset of ``data`` preprocessed by ``settings``."""
        from cnnstudio.ml.data.datasets import load_dataset

        key = json.dumps([data.to_dict(), settings.to_dict()], sort_keys=True, default=str)
        if key != self._key:
            self._dataset, self._key, self._acts = load_dataset(data, settings), key, None
        return self._dataset

    def activations(self, session, data: DataSource, layer: str, points: int, report):
        """``layer``'s activations for ``points`` validation images of ``data``, by ``session``'s model;
        the last ones again when only the method changed."""
        from cnnstudio.ml.probing.projector import collect

        dataset = self.get(data, session.settings)
        cached = self._acts
        if cached is not None and cached[0]() is session and cached[1:3] == (layer, points):
            return dataset, cached[3]
        acts = collect(session.prober, dataset, layer, points, report)
        self._acts = (weakref.ref(session), layer, points, acts)
        return dataset, acts


class Progress(QObject):
    """A computation's progress report (called on the worker), shown on the GUI thread; cancellable."""

    advanced = Signal(int, int, str)  # done, total (0: unknown), what

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def __call__(self, done: int, total: int, what: str) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self.advanced.emit(int(done), int(total), what)


@dataclass(frozen=True)
class ProjectorLayers(ProbeRequest):
    """The layers the projector can show and its default (the penultimate); answered with (names, default)."""

    def run(self, session):
        from cnnstudio.ml.probing.projector import default_layer, projectable_layers

        return projectable_layers(session.prober), default_layer(session.prober)


@dataclass(frozen=True)
class ProjectionOf(ProbeRequest):
    """``layer``'s activations for at most ``points`` validation images of ``data``, projected by
    ``method``, in line with ``previous``; answered with the Projection, or None when cancelled."""

    data: DataSource
    layer: str
    method: str
    points: int
    report: Callable
    sets: ValidationSets
    previous: Any = None

    def run(self, session):
        from cnnstudio.ml.probing.projector import class_names, reduce

        try:
            dataset, acts = self.sets.activations(session, self.data, self.layer, self.points, self.report)
            return reduce(acts, self.method, class_names(session.prober, dataset), self.previous, self.report,
                          title=session.name)
        except Cancelled:
            return None


class ProjectorTab(ProbeTab):
    """Layer, method and size choosers, Compute / Cancel, the scatter, and a preview of the image under the pointer."""

    title = "Projector"

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.sets = ValidationSets()
        self.result = None     # the Projection drawn
        self.hovered: int | None = None
        self.layers: list[str] | None = None  # None: not asked of the model yet
        self._progress: Progress | None = None

        self.layer = QComboBox(self)
        self.layer.setToolTip("The layer whose activations are projected (default: the classifier's input)")
        self.layer.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.method = QComboBox(self)
        fill_combo(self.method, METHODS)
        self.method.setToolTip("PCA: the two directions of largest variance (fast, linear). "
                               "t-SNE: keeps neighbours together (slower; distances between clusters mean little)")
        self.points = QSpinBox(self, minimum=50, maximum=20000, value=DEFAULT_POINTS, singleStep=500)
        self.points.setToolTip("At most this many validation images, sampled evenly per class")
        self.compute_button = QPushButton("Compute", self)
        self.compute_button.setToolTip("Project the validation images (Ctrl+Return)")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the computation (Esc)")
        self.cancel_button.setEnabled(False)
        self.follow = QCheckBox("Follow training", self)
        self.follow.setToolTip("Load each checkpoint the Training page writes and project again")
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(160)
        self.progress.hide()

        # the legend in a column of its own beside the plot, so it never hides dots
        self.canvas = pg.GraphicsLayoutWidget(self)
        self.canvas.setBackground(BACKGROUND)
        self.plot = self.canvas.addPlot(row=0, col=0, rowspan=2)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)  # PCA of an untrained layer: small numbers, no "(x0.001)"
        self.legend = pg.LegendItem(labelTextSize="10pt", labelTextColor=TITLE)
        self.canvas.addItem(self.legend, row=0, col=1)
        self.canvas.addLabel("", row=1, col=1)  # takes the height the legend does not need
        self.canvas.ci.layout.setColumnStretchFactor(0, 1)
        self.canvas.ci.layout.setRowStretchFactor(1, 1)
        self.dots: dict[int, pg.ScatterPlotItem] = {}  # class -> its dots
        self.rings = pg.ScatterPlotItem(size=RING, symbol="o", pen=pg.mkPen(MISCLASSIFIED, width=2),
                                        brush=None)
        self.mark = pg.ScatterPlotItem(size=RING + 6, symbol="o", pen=pg.mkPen("#ffd60a", width=3), brush=None)
        self.rings.setZValue(10)
        self.plot.addItem(self.rings)
        self.mark.setZValue(20)
        self.plot.addItem(self.mark)
        self.preview = ImageView("Point under the pointer")
        self.preview.setMinimumSize(260, 260)
        self.preview_text = QLabel("Hover over a dot to see its image; click to probe it.", self)
        self.preview_text.setWordWrap(True)
        self.info = QLabel("", self)
        self.info.setWordWrap(True)

        bar = QHBoxLayout()
        for w in (QLabel("Layer"), self.layer, QLabel("Method"), self.method, QLabel("Points"), self.points,
                  self.compute_button, self.cancel_button, self.follow, self.progress):
            bar.addWidget(w)
        bar.addStretch(1)
        side = QWidget(self)
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.addWidget(self.preview, 3)
        side_lay.addWidget(self.preview_text)
        side_lay.addWidget(self.info, 1)
        split = QSplitter(Qt.Horizontal, self)
        split.addWidget(self.canvas)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([800, 300])
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

        self.compute_button.clicked.connect(self.compute)
        self.layer.activated.connect(lambda _i: self.invalidate())
        self.method.activated.connect(lambda _i: self.invalidate())
        self.cancel_button.clicked.connect(self.cancel)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.compute, context=Qt.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence(Qt.Key_Escape), self, self.cancel, context=Qt.WidgetWithChildrenShortcut)
        self.follow.toggled.connect(self._on_follow_toggled)
        self.canvas.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.canvas.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        panel.studio.trained.published.connect(self._on_trained_published)
        panel.jobs.busy_changed.connect(self._on_jobs_busy_changed)

    # -- model and layers ------------------------------------------------------------
    def set_model(self, info) -> None:
        self.layers = None  # asked of the new model when next shown
        super().set_model(info)

    def refresh(self) -> None:
        """Ask a new model for its layers, then project: PCA by itself (a new model, layer or method),
        t-SNE when following training or asked to (Compute)."""
        if not self.ready(needs_image=False):
            return
        if self.panel.info.output.kind != "classes":
            self.stale = False
            self._say("The projector colours the images by class: this output is not a classifier's.")
            return
        if self.layers is None:
            self.submit("Finding the layers to project…", ProjectorLayers(), self._on_layers, key="layers")
        elif self.method.currentData() == "pca" or self.follow.isChecked():
            self.compute()
        else:
            self.stale = False
            self._say("Press Compute (Ctrl+Return) to project the validation images by t-SNE.")

    def _on_layers(self, answer) -> None:
        names, default = answer
        keep = self.layer.currentData() if self.layer.currentData() in names else default
        fill_combo(self.layer, [(n + ("  (default)" if n == default else ""), n) for n in names], keep)
        self.layers = list(names)
        self.refresh()

    # -- computing ----------------------------------------------------------------------
    def compute(self) -> None:
        """Project the chosen layer for the validation images on the worker (progress shown, cancellable)."""
        if not self.ready(needs_image=False) or not self.layer.currentData():
            return
        if self._progress is not None:
            self._progress.cancel()  # a newer request wins
        progress = self._progress = Progress(self)
        progress.advanced.connect(self._on_progress)
        previous = self.result if self.result is not None and self.result.layer == self.layer.currentData() else None
        request = ProjectionOf(self.panel.studio.project.data, self.layer.currentData(), self.method.currentData(),
                               self.points.value(), progress, self.sets, previous)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.progress.show()
        self.submit(f"Projecting {self.layer.currentData()}…", request,
                    lambda result, p=progress: self._on_projection(p, result), key="compute")

    def cancel(self) -> None:
        """Stop the running projection (at its next batch) or drop the waiting one."""
        if self._progress is None:
            return
        self._progress.cancel()
        self.panel.jobs.cancel(f"{type(self).__name__}:compute")
        self._progress = None
        self._done("Cancelled.")

    def _on_progress(self, done: int, total: int, what: str) -> None:
        if self.sender() is not self._progress:
            return  # a cancelled computation's last reports
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}" if total else what)
        self.progress.setToolTip(what)

    def _on_projection(self, progress: Progress, result) -> None:
        if progress is not self._progress:
            return  # cancelled or overtaken
        self._progress = None
        if result is None:
            self._done("Cancelled.")
            return
        self.result = result
        self._draw()
        self._done(self._summary())

    def _on_jobs_busy_changed(self, busy: bool) -> None:
        if not busy and self._progress is not None:  # the worker is idle, the projection never came: it failed
            self._progress = None  # (the panel's status line says why)
            self._done("")

    def _done(self, text: str) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self._say(text)

    def _say(self, text: str) -> None:
        self.info.setText(text)

    def _summary(self) -> str:
        r = self.result
        shape = "x".join(map(str, r.images.shape[1:3]))
        what = f"{r.dims} channels averaged over each map" if r.pooled else f"{r.dims} values"
        wrong = int(r.misclassified.sum())
        line = (f"<b>{r.layer}</b>: {what}, {len(r.xy)} {r.split} images ({shape}), "
                f"{wrong} misclassified ({100 * wrong / len(r.xy):.1f}%).<br>")
        line += f"PCA axes explain {100 * r.explained[0]:.1f}% and {100 * r.explained[1]:.1f}% of the variance"
        line += " (t-SNE ran on the leading components)." if r.method == "tsne" else "."
        secs = r.seconds
        line += "<br>Time: activations {:.2f} s, PCA {:.3f} s".format(secs["activations"], secs["pca"])
        if "tsne" in secs:
            line += f", t-SNE {secs['tsne']:.1f} s"
        return line + (f"<br>Model: {r.title}" if r.title else "")

    # -- drawing ------------------------------------------------------------------------
    def _draw(self) -> None:
        """Draw :attr:`result`: each class's dots and the rings moved in place, the legend rebuilt
        only when its lines change (a projection after the next epoch redraws in a few ms)."""
        r = self.result
        classes = [int(c) for c in np.unique(r.labels)]
        for c in classes:
            if c not in self.dots:
                colour = tuple(int(v) for v in PALETTE[c % len(PALETTE)])
                self.dots[c] = pg.ScatterPlotItem(size=DOT, pen=None, brush=pg.mkBrush(*colour, 220))
                self.plot.addItem(self.dots[c])
        for c, dots in self.dots.items():
            pts = r.xy[r.labels == c]
            dots.setData(pts[:, 0], pts[:, 1])
        wrong = r.xy[r.misclassified]
        self.rings.setData(wrong[:, 0], wrong[:, 1])
        lines = [(self.dots[c], f"{r.class_name(c)} ({int((r.labels == c).sum())})") for c in classes]
        lines.append((self.rings, f"misclassified ({len(wrong)})"))
        if [text for _, text in lines] != [label.text for _, label in self.legend.items]:
            self.legend.clear()
            for item, text in lines:
                self.legend.addItem(item, text)
        method = dict((m, t) for t, m in METHODS)[r.method]
        if r.method == "pca":
            self.plot.setLabel("bottom", f"PC 1 ({100 * r.explained[0]:.1f}% of variance)", color=TITLE)
            self.plot.setLabel("left", f"PC 2 ({100 * r.explained[1]:.1f}%)", color=TITLE)
        else:
            self.plot.setLabel("bottom", "t-SNE 1", color=TITLE)
            self.plot.setLabel("left", "t-SNE 2", color=TITLE)
        self.plot.setTitle(f"{method} of {r.layer}, {len(r.xy)} {r.split} images, coloured by true class",
                           color=TITLE, size="10pt")
        lo, hi = r.xy.min(axis=0).astype(float), r.xy.max(axis=0).astype(float)
        span = np.maximum(hi - lo, 1e-6)
        self.plot.getViewBox().setRange(xRange=(float(lo[0]), float(lo[0] + span[0])),
                                          yRange=(float(lo[1]), float(lo[1] + span[1])), padding=0.05)
        self._hover(self.hovered if self.hovered is not None and self.hovered < len(r.xy) else None)

    def point_at(self, scene_pos) -> int | None:
        """The dot nearest to a scene position, within :data:`HOVER_PX` screen pixels (None: none)."""
        if self.result is None or not len(self.result.xy):
            return None
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        pw, ph = vb.viewPixelSize()
        d = ((self.result.xy[:, 0] - p.x()) / pw) ** 2 + ((self.result.xy[:, 1] - p.y()) / ph) ** 2
        i = int(np.argmin(d))
        return i if d[i] <= HOVER_PX ** 2 else None

    def _on_mouse_moved(self, scene_pos) -> None:
        i = self.point_at(scene_pos)
        if i is not None and i != self.hovered:
            self._hover(i)

    def _hover(self, i: int | None) -> None:
        self.hovered = i
        if i is None:
            self.mark.setData([], [])
            return
        r = self.result
        self.mark.setData([r.xy[i, 0]], [r.xy[i, 1]])
        self.preview.set_image(r.images[i])
        self.preview.set_title(f"{r.split} image {int(r.indices[i])}")
        style = "font-size:12pt" + ("; color:#e0392b" if r.misclassified[i] else "")
        self.preview_text.setText(f"<span style='{style}'>{r.describe(i)}</span><br>Click to probe this image.")

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.LeftButton:
            return
        i = self.point_at(event.scenePos())
        if i is None:
            return
        r = self.result
        self._hover(i)
        self.panel.set_image(r.images[i], f"{r.split} image {int(r.indices[i])}, {r.describe(i)}")

    # -- following training -----------------------------------------------------------------
    def _on_follow_toggled(self, on: bool) -> None:
        if on and self.panel.model.currentData() != "trained":
            self.panel.choose_model("trained")  # the run in progress is the one to follow

    def _on_trained_published(self, _path: str) -> None:
        if self.follow.isChecked():
            self.panel.choose_model("trained")  # its arrival projects again (refresh)
