"""The Probe page: look inside the network for one image.

A model (the latest trained one, the editor's graph with random weights, or a ``.keras``
file) and an image (a dataset sample, an image file, or a frame of the demo or a video) feed
four views: Filters, Feature maps, Receptive field and Attribution. Every model call runs on
one background worker (:class:`.jobs.ProbeJobs`), which owns the
:class:`cnnstudio.ml.probing.session.ProbeSession`: the page sends it typed requests
(:mod:`.requests`) and draws the plain data they are answered with. TensorFlow is imported
by the worker, never here.

Any model Keras can run is probed: a classifier shows its top classes; another model its
output as a picture (a segmentation's pixel classes, an autoencoder's image: click a pixel to
explain it) or as a line of numbers, and a model with several outputs offers a chooser.

Other panels can hand in a picture with :meth:`ProbePanel.set_image` (e.g. a live frame).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from cnnstudio.ml.probing.outputs import PALETTE  # NumPy only: no TensorFlow on the GUI thread
from cnnstudio.ui.shared.model_choice import (TRAINED_LABEL, file_spec, graph_spec, latest_checkpoint, trained_label,
                                      trained_spec)
from cnnstudio.ui.shared.pictures import TITLE, ImageView, TopKChart

from cnnstudio.ui.probe import background
from cnnstudio.ui.probe.attribution_tab import AttributionTab
from cnnstudio.ui.probe.features_tab import FeatureMapsTab
from cnnstudio.ui.probe.field_tab import ReceptiveFieldTab
from cnnstudio.ui.probe.filters_tab import FiltersTab
from cnnstudio.ui.probe.jobs import ProbeJobs
from cnnstudio.ui.probe.projector_tab import ProjectorTab
from cnnstudio.ui.probe.maximize_tab import MaximizeTab
from cnnstudio.ui.probe.patches_tab import TopPatchesTab
from cnnstudio.ui.probe.requests import ChooseOutput, OpenModel, ProbeImage
from cnnstudio.ui.probe.tab import fill_combo
from cnnstudio.ui.probe.views import OutputView

MODELS = [(TRAINED_LABEL, "trained"), ("Editor graph (random weights)", "graph"), ("Model file…", "file")]
SOURCES = [("Dataset sample", "dataset"), ("Image file…", "file"), ("Demo frame", "demo"), ("Video frame…", "video")]


class ProbePanel(QWidget):
    """Model and image choosers, the model's input and prediction, and the four probe views."""

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.jobs = ProbeJobs(self)
        self.info = None      # the ModelInfo of the model the worker probes (None: none yet)
        self.image = None     # ImageProbe of the current image
        self.image_name = ""
        self.frames = background.FrameReader()
        self.samples = background.SampleCache()
        self._source_path: str | None = None
        self._model_stale = False
        # a run still training adds filter snapshots: the replay picks them up when they land
        self.run_watcher = QFileSystemWatcher(self)
        self.run_watcher.directoryChanged.connect(lambda _d: self.filters_tab.invalidate())
        self._build()
        self.jobs.busy_changed.connect(self._on_jobs_busy_changed)
        self.jobs.job_started.connect(self.status.setText)
        self.jobs.job_failed.connect(self._on_jobs_failed)
        self.studio.project_replaced.connect(self._on_studio_project_replaced)
        self.studio.graph_changed.connect(self._on_studio_graph_changed)
        self.studio.settings_changed.connect(self._on_studio_settings_changed)
        QTimer.singleShot(0, self, lambda: self.choose_model("trained"))

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        self.model = QComboBox(self)
        fill_combo(self.model, MODELS)
        reload = QPushButton("Reload", self)
        reload.setToolTip("Load the model again (after training or editing the graph)")
        self.output = QComboBox(self)
        self.output.setToolTip("The model's output to probe")
        self.output.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.output_label = QLabel("   Output", self)
        self.source = QComboBox(self)
        fill_combo(self.source, SOURCES)
        self.prev_button, self.next_button = QPushButton("◀", self), QPushButton("▶", self)
        for b, tip in ((self.prev_button, "Previous sample"), (self.next_button, "Next sample or frame")):
            b.setFixedWidth(32)
            b.setToolTip(tip)
        self.index = QSpinBox(self, minimum=0, maximum=10**6)
        self.index.setToolTip("Dataset sample number")
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate: a probe has no steps to count
        self.busy.setFixedWidth(90)
        self.busy.hide()
        self.status = QLabel("", self)
        export = QPushButton("Export PNG…", self)
        export.setToolTip("Save the current view as a PNG picture")

        bar = QHBoxLayout()
        for w in (QLabel("Model"), self.model, reload, self.output_label, self.output, QLabel("   Image"),
                  self.source, self.prev_button, self.index, self.next_button):
            bar.addWidget(w)
        bar.addWidget(self.busy)
        bar.addWidget(self.status, 1)
        bar.addWidget(export)

        self.input_view = ImageView("Input")
        self.prediction = TopKChart(3)
        self.prediction.setXRange(0, 1.35, padding=0)
        self.prediction.setTitle("Prediction", color=TITLE, size="10pt")
        self.output_view = OutputView("Output")
        self.output_view.setToolTip("Click a pixel to explain the output there (Attribution)")
        self.output_summary = QLabel("", self)
        self.output_summary.setWordWrap(True)
        self.model_info = QLabel("", self)
        self.model_info.setWordWrap(True)
        left = QWidget(self)
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.input_view, 3)
        left_lay.addWidget(self.prediction, 2)
        left_lay.addWidget(self.output_view, 3)
        left_lay.addWidget(self.output_summary)
        left_lay.addWidget(self.model_info)

        self.filters_tab = FiltersTab(self)
        self.features_tab = FeatureMapsTab(self)
        self.field_tab = ReceptiveFieldTab(self)
        self.attribution_tab = AttributionTab(self)
        self.projector_tab = ProjectorTab(self)
        self.maximize_tab = MaximizeTab(self)
        self.patches_tab = TopPatchesTab(self)
        self.patches_tab.patch_chosen.connect(self.open_unit)
        self.tabs = QTabWidget(self)
        for tab in self.views():
            self.tabs.addTab(tab, tab.title)
        split = QSplitter(Qt.Horizontal, self)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 4)
        split.setSizes([260, 1100])
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

        self.model.activated.connect(lambda i: self.choose_model(self.model.itemData(i)))
        self.output.activated.connect(lambda i: self.choose_output(self.output.itemData(i)))
        self.output_view.pixel_clicked.connect(self._on_output_view_pixel_clicked)
        reload.clicked.connect(lambda: self.choose_model(self.model.currentData()))
        self.source.activated.connect(lambda i: self.choose_source(self.source.itemData(i)))
        self.index.valueChanged.connect(lambda _v: self._load_image())
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        export.clicked.connect(self._on_export_clicked)
        self.features_tab.map_chosen.connect(self.field_tab.show_map)

    def views(self) -> list:
        """The probe views, in tab order."""
        return [self.filters_tab, self.features_tab, self.field_tab, self.attribution_tab, self.patches_tab,
                self.maximize_tab, self.projector_tab]

    # -- model ----------------------------------------------------------------------
    def choose_model(self, choice: str, path: str | None = None) -> bool:
        """Probe ``trained`` (the newest checkpoint), ``graph`` (random weights) or ``file`` (``path``)."""
        models = [(trained_label(self.studio), "trained"), *MODELS[1:]]
        snapshots = None
        if choice == "trained":
            spec = trained_spec(self.studio)
            if spec is None:
                self.status.setText("No trained model yet (train on the Training page): probing the editor's graph")
                choice, spec = "graph", graph_spec(self.studio)
            else:
                from cnnstudio.ml.training.runs import FILTERS  # JSON and NumPy only
                snapshots = latest_checkpoint(self.studio)[0].parent / FILTERS
        elif choice == "file":
            if not path:
                path, _ = QFileDialog.getOpenFileName(self, "Load a Keras model", str(Path.home()),
                                                      "Keras models (*.keras *.h5 *.json);;All files (*)")
            if not path:
                fill_combo(self.model, models, "graph" if self.info is None else None)
                return False
            spec = file_spec(self.studio, path)
        else:
            spec = graph_spec(self.studio)
        fill_combo(self.model, models, choice)
        self._model_stale = False
        self._watch_run(snapshots.parent if snapshots is not None else None)
        self.jobs.submit("model", f"Loading {spec.title}…", OpenModel(spec, snapshots), on_done=self._on_model_ready)
        return True

    def _watch_run(self, folder: Path | None) -> None:
        if self.run_watcher.directories():
            self.run_watcher.removePaths(self.run_watcher.directories())
        if folder is not None and folder.is_dir():
            self.run_watcher.addPath(str(folder))

    def choose_output(self, index: int) -> None:
        """Probe output ``index`` of a model with several."""
        if self.info is not None:
            self.jobs.submit("model", "Choosing the output…", ChooseOutput(int(index)), on_done=self._on_model_ready)

    def _on_model_ready(self, info) -> None:
        """A model (or another of its outputs) is ready: fill the choosers, then probe the image."""
        self.info = info
        self.image = None  # of the old model or output: the tabs wait for the new one (_load_image)
        h, w, c = info.input_shape
        out = info.output
        what = f"{len(info.classes)} classes" if out.kind == "classes" else f"output {out.text()}"
        self.model_info.setText(f"<b>{info.title}</b><br>{info.model}: input {h}x{w}x{c}, {what}"
                                + (f"<br><i>{info.note}</i>" if info.note else ""))
        fill_combo(self.output, [(o.text(), o.index) for o in info.outputs], out.index)
        for widget in (self.output, self.output_label):
            widget.setVisible(len(info.outputs) > 1)
        classifier = out.kind == "classes"
        self.prediction.setVisible(classifier)
        self.output_view.setVisible(not classifier and out.kind != "values")
        self.output_summary.setVisible(not classifier)
        for tab in self.views():
            tab.set_model(info)
        self._load_image()

    def _on_output_view_pixel_clicked(self, row: int, col: int) -> None:
        self.attribution_tab.choose_pixel(row, col)
        self.tabs.setCurrentWidget(self.attribution_tab)

    def _on_studio_project_replaced(self) -> None:
        self.samples.clear()
        self.choose_model("trained")

    def _on_studio_graph_changed(self) -> None:
        if self.model.currentData() == "graph":
            self._model_stale = True  # rebuilt when the page is next shown, not on every edit

    def _on_studio_settings_changed(self, section: str, _changes: dict) -> None:
        if section == "data":
            self.samples.clear()  # another dataset: its samples are read anew
        elif section == "preprocessing" and self.model.currentData() == "graph":
            self._model_stale = True  # the editor's model sees pictures the new way

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._model_stale:
            self.choose_model("graph")

    # -- image ----------------------------------------------------------------------
    def choose_source(self, kind: str, path: str | None = None) -> bool:
        """Take images from ``dataset``, an image ``file``, the ``demo`` or a ``video`` (``path``)."""
        if kind in ("file", "video") and not path:
            filt = ("Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*)" if kind == "file"
                    else "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)")
            path, _ = QFileDialog.getOpenFileName(self, "Open", str(Path.home()), filt)
            if not path:
                fill_combo(self.source, SOURCES, self.source.currentData())
                return False
        fill_combo(self.source, SOURCES, kind)
        self._source_path = path
        self.index.setEnabled(kind == "dataset")
        self.prev_button.setEnabled(kind == "dataset")
        self.next_button.setEnabled(kind != "file")
        self._load_image()
        return True

    def step(self, delta: int) -> None:
        """The next (or previous) dataset sample, or the next frame."""
        if self.source.currentData() == "dataset":
            self.index.setValue(max(0, self.index.value() + delta))
        else:
            self._load_image(advance=True)

    def _load_image(self, advance: bool = False) -> None:
        if self.info is None:
            return  # the model's arrival loads it
        kind = self.source.currentData()
        if kind == "dataset":
            key, _ = self.dataset_request()
            request = ProbeImage(self.samples.sample, (key, self.studio.project.data, self.index.value()))
        elif kind == "file":
            request = ProbeImage(background.read_file, (self._source_path,))
        else:
            request = ProbeImage(self.frames.read, (kind, self._source_path, advance))
        self.jobs.submit("image", "Preprocessing and predicting…", request, on_done=self._on_image_ready)

    def dataset_request(self) -> tuple[str, object]:
        """(the key of the project's data setting, the worker-side call that opens its samples)."""
        key = json.dumps(self.studio.project.data.to_dict(), sort_keys=True, default=str)
        return key, self.samples.dataset

    def open_unit(self, index: int, layer: str, channel: int, unit: tuple) -> None:
        """Open dataset sample ``index`` on the Receptive field tab at ``unit`` of map ``channel`` of ``layer``
        (a top patch clicked)."""
        self.index.blockSignals(True)
        self.index.setValue(int(index))
        self.index.blockSignals(False)
        if self.source.currentData() != "dataset":
            self.choose_source("dataset")
        else:
            self._load_image()
        self.field_tab.show_unit(layer, channel, unit)
        self.tabs.setCurrentWidget(self.field_tab)

    def set_image(self, rgb: np.ndarray, name: str = "frame") -> None:
        """Probe this uint8 RGB (or grey) picture, e.g. a frame handed over by the Live page."""
        if self.info is not None:
            self.jobs.submit("image", "Preprocessing and predicting…", ProbeImage(lambda: (np.asarray(rgb), name)),
                             on_done=self._on_image_ready)

    def _on_image_ready(self, result) -> None:
        self.image, self.image_name = result
        h, w = self.image.picture.shape[:2]
        self.input_view.set_image(self.image.picture)
        self.input_view.set_title(f"Input {h}x{w}: {self.image_name}")
        self.prediction.set_top(self.image.predictions[:3])
        if self.image.output_picture is not None:
            self.output_view.set_image(self.image.output_picture)
            self.output_view.mark(self.attribution_tab.pixel)
            oh, ow = self.image.output_picture.shape[:2]
            self.output_view.set_title(f"Output {self.image.output.name} {oh}x{ow}")
        summary = f"<b>{self.image.output.name}</b>: {self.image.summary}" if self.image.summary else ""
        self.output_summary.setText(summary + self._legend())
        self.attribution_tab.image_changed(self.image)
        for tab in (self.features_tab, self.field_tab):
            tab.invalidate()

    def _legend(self) -> str:
        """The colours of a segmentation's classes in the output picture (HTML; empty for other outputs)."""
        if self.image.output.kind != "map":
            return ""
        return "<br>" + " &nbsp;".join(
            "<span style='color:rgb(%d,%d,%d)'>&#9632;</span> %s" % (*(int(v) for v in PALETTE[i % len(PALETTE)]), name)
            for i, name in enumerate(self.info.classes[:len(PALETTE)]))

    # -- busy, errors, export, shutdown ------------------------------------------------
    def _on_jobs_busy_changed(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        if not busy and not self.status.property("error"):
            self.status.setText("")

    def _on_jobs_failed(self, message: str, _tb: str) -> None:
        self.status.setProperty("error", True)
        self.status.setText(f"<span style='color:#ff6b5b'>{message}</span>")
        QTimer.singleShot(8000, self.status, lambda: self.status.setProperty("error", False))
        self.studio.status_message.emit(f"Probe: {message}")

    def current_view(self):
        """The view shown now."""
        return self.tabs.currentWidget()

    def export_png(self, path: str | Path, view=None) -> bool:
        """Save ``view`` (default: the one shown) as a PNG picture; another view is brought to the front first."""
        view = view or self.current_view()
        if view is not self.current_view():
            self.tabs.setCurrentWidget(view)  # a never-shown tab has no layout to paint
        return view.export_png(path)

    def _on_export_clicked(self) -> None:
        view = self.current_view()
        name = f"probe-{view.title.lower().replace(' ', '-')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", str(Path.home() / name), "PNG images (*.png)")
        if path:
            ok = self.export_png(path if path.lower().endswith(".png") else path + ".png", view)
            self.studio.status_message.emit(f"Saved {path}" if ok else f"Could not write {path}")

    def shutdown(self) -> None:
        """Stop the worker (waits for a running probe) and release any open video."""
        self.jobs.shutdown()
        self.frames.release()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)
