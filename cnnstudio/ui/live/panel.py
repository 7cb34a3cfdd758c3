"""The Live page: point a camera (or a video, images, the demo) at things and watch the network think.

Threads: the capture thread (:class:`cnnstudio.ml.live.frame_sources.FrameGrabber`) keeps only the
newest frame; one inference worker (:mod:`.worker`, a tracked QThread) runs it through the
model; the GUI draws only the newest result into items made once. Capture stops (and the
camera is released) while the page is hidden; :meth:`LivePanel.shutdown` ends both threads.
``cnnstudio.ml.live.frame_sources`` loads no TensorFlow, so it is imported here; everything that does
is imported by the worker.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from cnnstudio.core.commands import Macro, SetParams, SetSettings
from cnnstudio.ml.live.frame_sources import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, CaptureEvent, DemoSource, Frame, FrameGrabber,
                                  RateMeter, SourceError, guess_kind, list_cameras, open_source)

from cnnstudio.core.project import Project
from cnnstudio.ui.live.capture_box import APPLICATION_INPUT, DatasetCaptureBox, default_root
from cnnstudio.ui.live.controls import ModelControls, SourceControls
from cnnstudio.ui.shared.model_choice import file_spec, graph_spec, latest_checkpoint, trained_label, trained_spec
from cnnstudio.ui.live.requests import (CAM_METHODS, ForgetPast, LoadModel, ModelReady, Request, SelectUnit, SetMosaic,
                                      SetProbe, ShowLayer)
from cnnstudio.ui.shared.pictures import FIELD, INPUT_EDGE, FeatureMapView, ImageView, TopKChart, heat_rgba, rect_item
from cnnstudio.ui.live.worker import start_worker, stop_worker
from cnnstudio.ui.tasks import TaskRunner

_STATUS_EVERY_S = 0.25  # the figures line changes at most 4 times a second, so it can be read
MAX_DRAW_HZ = 60  # no screen shows more; faster results are skipped (the newest is drawn)
MIN_DRAW_HZ = 15  # ... and never fewer, so a slow-rate source still feels live


class DrawPacer:
    """When to draw: a credit of draws that fills at the source's frame rate, up to one draw in
    hand, and that a draw may spend while it is not negative. Draws keep to the source's rate on
    average (a fast model's surplus results are skipped), yet a result that comes at the source's
    pace is drawn at once: a fixed slot one period after the last draw made each frame wait for
    it, up to a whole period (at 30 fps a median 21 ms) for nothing."""

    def __init__(self, clock=time.perf_counter) -> None:
        self.clock = clock
        self.credit, self._at = 1.0, clock()

    def wait(self, period: float) -> float:
        """Seconds until a draw may go out (0: now), for draws ``period`` seconds apart on average."""
        now = self.clock()
        self.credit, self._at = min(1.0, self.credit + (now - self._at) / period), now
        return 0.0 if self.credit >= 0.0 else -self.credit * period

    def drew(self) -> None:
        """Spend one draw."""
        self.credit -= 1.0


class LivePanel(QWidget):
    """Sources, the live views, probing controls and capture into a dataset."""

    capture_event_received = Signal(object)  # a CaptureEvent, emitted from the capture thread
    download_progressed = Signal(int, int)   # bytes done, total (0: unknown), from the transfer task
    #: the project a transfer from the captured frames made, once it is the studio's project
    transfer_ready = Signal(object)

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.grabber = FrameGrabber(on_event=self.capture_event_received.emit, pacing="realtime")
        self.thread = self.worker = None
        self.source_spec: tuple[str, object] = ("demo", None)
        self.model_choice = ""   # trained | graph | file: what runs (or is loading)
        self._auto_choice = True  # the choice was the default, not the user's: a new trained model may replace it
        self.last_result = None
        self.selected_unit: tuple[int, int, int] | None = None  # map, row, col
        self.draw_rate = RateMeter()
        self.draw_ms = self.max_draw_ms = 0.0  # time the GUI thread spent on the last / longest draw
        self.latency_ms = 0.0  # the last drawn frame: from its read to the end of its draw
        self.drawn = 0
        self._status_at = 0.0
        self.pacer = DrawPacer()
        self._draw_timer = QTimer(self, singleShot=True)
        self._draw_timer.timeout.connect(self._on_worker_result_ready)
        self._build()
        # emitted from the capture thread, drawn on the GUI thread: always queued
        self.capture_event_received.connect(self._on_grabber_event, Qt.QueuedConnection)
        self.capture.set_root(default_root(studio.project))
        self._offer_trained_backbone()
        self.tasks = TaskRunner(self, max_threads=1)  # transfer learning's backbone loading
        self.download_progressed.connect(self._on_download_progressed)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAcceptDrops(True)  # a video, an image or a folder dropped on the page plays
        self._trained_pending = False  # a newer trained model waits to be loaded when the page shows
        studio.trained.published.connect(self._on_studio_trained_published)
        studio.settings_changed.connect(self._on_studio_settings_changed)
        studio.project_replaced.connect(self._on_studio_project_replaced)

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        self.sources = SourceControls(self)
        self.models = ModelControls(self)
        self.capture = DatasetCaptureBox(self._frame_in_view, self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("QLabel { background: #5a2320; color: #ffe6e0; padding: 6px; border-radius: 4px; }")
        self.message.hide()
        side = QWidget(self)
        side.setMaximumWidth(330)
        col = QVBoxLayout(side)
        col.setContentsMargins(4, 4, 4, 4)
        for w in (self.sources, self.message, self.models, self.capture):
            col.addWidget(w)
        col.addStretch(1)

        self.frame_view = ImageView("Camera frame", self)
        self.input_view = ImageView("Model input", self)
        self.topk = TopKChart(5, self)
        self.fmaps = FeatureMapView(self)
        self.field_item, self.input_field_item = rect_item(FIELD, 2.5), rect_item(FIELD, 2.0)
        self.input_edge_item = rect_item(INPUT_EDGE, 1.5, Qt.DashLine, z=9)
        self.status = QLabel("", self)
        self.status.setStyleSheet("QLabel { font-family: monospace; padding: 2px 6px; }")
        self.field_text = QLabel("Click a unit in the feature maps to see its receptive field on the frame.", self)
        self.field_text.setWordWrap(True)

        right = QSplitter(Qt.Vertical, self)
        right.addWidget(self.input_view)
        right.addWidget(self.topk)
        right.setSizes([300, 260])
        top = QSplitter(Qt.Horizontal, self)
        top.addWidget(self.frame_view)
        top.addWidget(right)
        top.setSizes([640, 380])
        views = QSplitter(Qt.Vertical, self)
        views.addWidget(top)
        views.addWidget(self.fmaps)
        views.setSizes([560, 320])
        main = QWidget(self)
        mcol = QVBoxLayout(main)
        mcol.setContentsMargins(0, 0, 0, 0)
        mcol.addWidget(views, 1)
        mcol.addWidget(self.field_text)
        mcol.addWidget(self.status)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(side)
        lay.addWidget(main, 1)

        self.sources.source_chosen.connect(self._on_sources_source_chosen)
        self.sources.format_chosen.connect(lambda w, h, fps: self.grabber.request_format(w, h, fps))
        self.sources.mirror.toggled.connect(lambda on: setattr(self.grabber, "mirror", on))
        self.sources.pause.toggled.connect(lambda on: setattr(self.grabber, "paused", on))
        self.sources.freeze.toggled.connect(lambda on: setattr(self.grabber, "frozen", on))
        self.sources.demo_button.clicked.connect(lambda: self.open_source("demo"))
        self.models.model_chosen.connect(self._on_models_model_chosen)
        self.models.request_made.connect(self._on_models_request_made)
        self.fmaps.unit_clicked.connect(self._on_fmaps_unit_clicked)
        self.fmaps.aspect_changed.connect(self._on_fmaps_aspect_changed)
        self.capture.message.connect(self.show_message)
        self.capture.train_requested.connect(self._on_capture_train_requested)

    # -- running --------------------------------------------------------------------
    def start(self) -> None:
        """Start the inference worker (once) and capture from the chosen source."""
        if self.thread is None:
            self.thread, self.worker = start_worker(self.grabber, self)
            self.worker.result_ready.connect(self._on_worker_result_ready, Qt.QueuedConnection)
            self.worker.model_ready.connect(self._on_worker_model_ready, Qt.QueuedConnection)
            self.worker.failed.connect(self._on_worker_failed, Qt.QueuedConnection)
            self.sources.set_cameras(list_cameras())
            self.choose_model(self.models.default_choice(trained_spec(self.studio) is not None))
        elif self._trained_pending:
            self.choose_model("trained")
        self._trained_pending = False
        if not self.grabber.running:
            if self.grabber.source is None and not self.open_source(*self.source_spec):
                self.open_source("demo")
            self.grabber.start()

    def stop_capture(self) -> None:
        """Stop reading and release the camera (the worker stays, idle)."""
        self.grabber.stop()

    def shutdown(self) -> None:
        """Release the camera and end the capture and inference threads."""
        self.tasks.shutdown()
        self.capture.end_capture()
        self.grabber.stop()
        if self.thread is not None:
            stop_worker(self.thread, self.worker)
            self.thread = self.worker = None

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.start()

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.stop_capture()
        super().hideEvent(event)

    # -- sources --------------------------------------------------------------------
    def open_source(self, kind: str, target=None, **options) -> bool:
        """Switch to a source (``demo``, ``camera`` index, ``video``/``image``/``folder`` path); False with a message if it fails."""
        if kind == "demo":
            options.setdefault("classes", list(self.studio.project.classes))
        try:
            source = open_source(kind, target, **options)
        except SourceError as exc:
            self.show_message(str(exc), offer_demo=kind != "demo")
            return False
        self.source_spec = (kind, target)
        self.grabber.switch_source(source)
        self.sources.show_source(source)
        self.show_message("")
        if self.worker is not None:
            self.worker.send(ForgetPast())
        return True

    def _on_sources_source_chosen(self, kind: str, target) -> None:
        if target is None and kind in ("video", "image", "folder"):
            target = self._ask_path(kind)
            if not target:
                self.sources.show_source(self.grabber.source)
                return
        self.open_source(kind, target)

    def _ask_path(self, kind: str) -> str:
        if kind == "folder":
            return QFileDialog.getExistingDirectory(self, "Folder of images", str(Path.home()))
        def patterns(suffixes):
            return " ".join(f"*{s}" for s in suffixes)

        filters = {"video": f"Videos ({patterns(VIDEO_SUFFIXES)});;All files (*)",
                   "image": f"Images ({patterns(IMAGE_SUFFIXES)});;All files (*)"}
        path, _ = QFileDialog.getOpenFileName(self, f"Open {kind}", str(Path.home()), filters[kind])
        return path

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.mimeData().hasUrls() and event.mimeData().urls()[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        path = event.mimeData().urls()[0].toLocalFile()
        self.open_source(guess_kind(path), path)
        event.acceptProposedAction()

    def _on_grabber_event(self, event: CaptureEvent) -> None:
        if event.kind == "format":
            self.sources.show_source(self.grabber.source, event.message)
        elif event.kind == "ended":
            self.show_message(f"{event.message} Choose it again to replay, or another source.")
        else:
            self.show_message(event.message, offer_demo=True)
            self.status.setText(f"no frames: {event.source} disconnected")

    def show_message(self, text: str, offer_demo: bool = False) -> None:
        """A message above the model settings (empty hides it), with the demo offered if asked."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.sources.demo_button.setVisible(offer_demo and bool(text))
        if text:
            self.studio.status_message.emit(text)

    # -- model and probe settings -------------------------------------------------------
    def choose_model(self, choice: str, path: str | None = None) -> bool:
        """Run ``trained``, ``graph`` (the editor's, untrained) or ``file`` (``path``)."""
        self.models.set_trained_label(trained_label(self.studio))
        if choice == "trained":
            spec = trained_spec(self.studio)
            if spec is None:
                self.show_message("No trained model yet: train on the Training page. Running the editor's graph untrained.")
                choice, spec = "graph", graph_spec(self.studio)
        elif choice == "file":
            if not path:
                path, _ = QFileDialog.getOpenFileName(self, "Open model", str(Path.home()),
                                                      "Keras models (*.keras *.h5 *.json);;All files (*)")
            if not path:
                return False
            spec = file_spec(self.studio, path)
        else:
            spec = graph_spec(self.studio)
        self.model_choice = choice
        self.models.show_loading(choice, spec.title)
        self.selected_unit = None
        self.worker.send(LoadModel(spec), self._mosaic_layout(), self.models.settings())
        return True

    def _offer_trained_backbone(self) -> None:
        found = latest_checkpoint(self.studio)
        self.capture.set_trained_model(found[0] if found is not None else None)

    def _on_studio_trained_published(self, _path: str) -> None:
        self._offer_trained_backbone()
        # the loop capture -> train -> classify: the next visit to this page runs the new model
        if self.model_choice == "trained" or self._auto_choice:
            self._trained_pending = True
            if self.isVisible() and self.worker is not None:
                self.start()

    def _on_studio_settings_changed(self, section: str, _changes: dict) -> None:
        root = default_root(self.studio.project)
        if section == "data" and root != self.capture.root:  # e.g. an undone "Train on these"
            self.capture.set_root(root)

    def _on_studio_project_replaced(self) -> None:
        self.capture.set_root(default_root(self.studio.project))
        self._offer_trained_backbone()
        self._auto_choice = True
        if self.worker is not None:
            self.choose_model(self.models.default_choice(trained_spec(self.studio) is not None))

    def _on_models_model_chosen(self, choice: str) -> None:
        if self.worker is None:
            return
        self._auto_choice = False
        if not self.choose_model(choice):  # a file dialog cancelled: the running model stays
            self.models.combo.setCurrentIndex(self.models.combo.findData(self.model_choice))

    def _on_models_request_made(self, request: Request) -> None:
        if isinstance(request, ShowLayer):
            self.selected_unit = None
        if isinstance(request, SetProbe) and request.k is not None:
            self.topk.set_k(request.k)
        if self.worker is not None:
            self.worker.send(request)

    def _on_worker_model_ready(self, info: ModelReady) -> None:
        self.models.show_model(info)
        notes = [f"Note: {info.note}."] if info.note else []
        if not info.classifier:  # a segmentation, an autoencoder...: nothing to rank
            notes.append(f"{info.model}'s output ({info.output}) is not classes: Live shows its feature "
                         "maps and Grad-CAM; the Probe page draws the output itself.")
        if notes:
            self.show_message(" ".join(notes))
        h, w, c = info.input_shape
        self.input_view.set_title(f"Model input {h}x{w} {'grey' if c == 1 else 'RGB'}")

    def _on_worker_failed(self, message: str) -> None:
        self.models.show_failed(message)
        self.show_message(f"The model cannot run live: {message}")

    def _mosaic_layout(self) -> SetMosaic:
        """The feature-map view's shape and size, so the mosaic fills it and holds no more pixels than it shows."""
        w, h = self.fmaps.width(), max(1, self.fmaps.height() - 24)  # less the title line
        return SetMosaic(max(0.3, w / h), w * h)

    def _on_fmaps_aspect_changed(self, _aspect: float) -> None:
        if self.worker is not None:
            self.worker.send(self._mosaic_layout())

    def _on_fmaps_unit_clicked(self, channel: int, row: int, col: int) -> None:
        self.selected_unit = (channel, row, col)
        self.fmaps.mark_unit(channel, row, col)
        self.worker.send(SelectUnit((int(row), int(col))))

    # -- drawing --------------------------------------------------------------------
    def _frame_in_view(self):
        """(frame index, RGB image) of the frame on screen, for the dataset capture."""
        r = self.last_result
        frame = r if isinstance(r, Frame) else (r.frame if r is not None else None)
        return None if frame is None else (frame.index, frame.image)

    def _draw_period(self) -> float:
        """Seconds between draws on average: the source's own frame rate (there is nothing newer
        to show in real time), within MIN_DRAW_HZ..MAX_DRAW_HZ."""
        src = self.grabber.source
        fps = src.fps if src is not None else MAX_DRAW_HZ
        return 1.0 / min(MAX_DRAW_HZ, max(MIN_DRAW_HZ, fps))

    def _on_worker_result_ready(self) -> None:
        wait = self.pacer.wait(self._draw_period())
        if wait > 0:
            if not self._draw_timer.isActive():
                self._draw_timer.start(max(1, math.ceil(wait * 1000)))
            return
        item = self.worker.take_result() if self.worker is not None else None
        if item is None:
            return
        self.pacer.drew()
        started = time.perf_counter()
        if not isinstance(item, Frame):
            item.finish()  # mosaic and top-k only for what is drawn
        self.last_result = item
        frame = item if isinstance(item, Frame) else item.frame
        self.frame_view.set_image(frame.image)
        self._title_frame(frame)
        if not isinstance(item, Frame):
            self._draw_result(item)
        done = time.perf_counter()
        self.draw_ms = 1e3 * (done - started)
        self.max_draw_ms = max(self.max_draw_ms, self.draw_ms)
        self.latency_ms = 1e3 * (done - frame.time)
        self.drawn += 1
        self.draw_rate.tick(done)
        self._show_status(item, frame)

    def _draw_result(self, r) -> None:
        self.input_view.set_image(r.model_input)
        self.topk.set_top(r.top)
        self.fmaps.set_mosaic(r.mosaic, r.mosaic_image, r.map_shape)
        if self.selected_unit is not None:
            self.fmaps.mark_unit(*self.selected_unit)
        if r.cam is not None and self.models.gradcam.isChecked():
            rgba = heat_rgba(r.cam, self.models.cam_opacity())
            self.frame_view.set_overlay(rgba, r.input_rect)
            self.input_view.set_overlay(rgba)
        else:
            self.frame_view.set_overlay(None)
            self.input_view.set_overlay(None)
        fh, fw = r.frame.image.shape[:2]
        whole = r.input_rect == (0, 0, fw, fh)
        self.frame_view.place(self.input_edge_item, None if whole else r.input_rect)
        self.frame_view.place(self.field_item, r.field_rect)
        box = r.unit_field.box if r.unit_field is not None else None
        self.input_view.place(self.input_field_item,
                              None if box is None else (box[1][0], box[0][0], box[1][1] + 1, box[0][1] + 1))
        if r.unit_field is not None:
            self.field_text.setText(f"Receptive field of {r.unit_field.text()}")
        elif r.field_note:
            self.field_text.setText(f"No receptive field to draw: {r.field_note}.")

    def _title_frame(self, frame: Frame) -> None:
        src = self.grabber.source
        h, w = frame.image.shape[:2]
        extra = f" · shows: {src.current_class}" if isinstance(src, DemoSource) else ""
        flags = "".join(f" · {n}" for n, on in (("mirrored", self.grabber.mirror), ("frozen", self.grabber.frozen),
                                                ("paused", self.grabber.paused)) if on)
        self.frame_view.set_title(f"{frame.source} · {w}x{h}{extra}{flags}")

    def _show_status(self, item, frame: Frame) -> None:
        now = time.perf_counter()
        if now - self._status_at < _STATUS_EVERY_S:
            return
        self._status_at = now
        shown = f"drawn {self.draw_rate.rate:5.1f}/s in {self.draw_ms:.1f} ms · capture {self.grabber.read_rate.rate:5.1f}/s · dropped {self.grabber.dropped}"
        if isinstance(item, Frame):
            self.status.setText(f"no model running · {shown}")
            return
        t = item.timings
        title = CAM_METHODS.get(self.models.cam_method.currentData(), "overlay")
        cam = f" + {title} {t['gradcam']:.1f}" if t.get("gradcam", 0) > 0.05 else ""
        if item.cam_note and self.models.gradcam.isChecked():
            cam = f" · {title}: not defined, {item.cam_note}"
        self.status.setText(f"model {item.fps:5.1f} fps · latency {self.latency_ms:5.1f} ms · model {t['model']:.1f}{cam} "
                            f"+ maps {t['maps']:.1f} ms · {shown}")

    # -- dataset capture ------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.capture.begin_capture()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.capture.end_capture()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def train_on(self, root: str, fit_output: bool = True, backbone: str = "") -> None:
        """Train on the captured folder ``root``: with the user's own network (``backbone`` empty:
        the folder becomes the project's data and the output layer is fitted to its classes, one
        undoable step), or by transfer learning from ``backbone`` (a model file or a
        ``keras.applications`` name: see :meth:`transfer_on`). Then open the Training page."""
        if backbone:
            self.transfer_on(root, backbone)
            return
        project = self.studio.project
        classes = self.capture.writer.classes if self.capture.writer is not None else []
        commands = [SetSettings(project, "data", {"kind": "folder", "path": str(root)})]
        outputs = project.graph.outputs()
        if fit_output and len(outputs) == 1 and outputs[0].kind == "Dense" and outputs[0].params.get("units") != len(classes):
            # the user's own network: its last layer must give one score per captured class
            commands.append(SetParams(project.graph, outputs[0].id, {"units": len(classes)}))
        self.studio.push(Macro(project.graph, "train on captured images", commands))
        self.studio.status_message.emit(f"Training data: {root} ({len(classes)} classes: {', '.join(classes)})")
        self._open_training()

    def transfer_on(self, root: str, backbone: str) -> None:
        """Start a new project that trains a head for the captured classes on ``backbone``, frozen.

        The backbone is loaded (an application's ImageNet weights downloaded, with progress)
        and cut before its classifier off the GUI thread; the new project (the current one's
        training settings, the captured folder as data, the backbone's input scaling) then
        replaces the current one, after the usual question about unsaved edits. Nothing changes
        when that fails (offline, a file that is not a model): the message says why."""
        window = self.window()
        if hasattr(window, "confirm_discard") and not window.confirm_discard():
            return
        doc = self.studio.project.to_dict()
        doc["data"] = {**doc["data"], "kind": "folder", "path": str(root)}
        name = Path(backbone).name if Path(backbone).suffix else backbone
        self.capture.train_button.setEnabled(False)
        self.show_message(f"Preparing transfer learning from {name}…")
        self.tasks.run(_transfer_project, doc, backbone, self.download_progressed.emit,
                       on_done=self._on_transfer_done, on_error=self._on_transfer_failed)

    def _on_download_progressed(self, done: int, total: int) -> None:
        size = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"
        self.show_message(f"Downloading the backbone's weights: {size}")

    def _on_transfer_done(self, project: Project) -> None:
        self.capture.train_button.setEnabled(True)
        self.message.hide()
        self.studio.set_project(project)
        self.studio.status_message.emit(f"New project {project.name}: {len(project.classes)} classes "
                                        f"({', '.join(project.classes)}); {project.import_note}")
        self.transfer_ready.emit(project)
        self._open_training()

    def _on_transfer_failed(self, message: str, _traceback: str) -> None:
        self.capture.train_button.setEnabled(True)
        self.show_message(f"Transfer learning not started: {message}")

    def _open_training(self) -> None:
        window = self.window()
        if hasattr(window, "show_page"):
            window.show_page("Training")

    def _on_capture_train_requested(self, root: str, backbone: str) -> None:
        self.train_on(root, backbone=backbone)


def _transfer_project(doc: dict, backbone: str, progress) -> Project:
    """The transfer project for :meth:`LivePanel.transfer_on`, made on a task thread (TensorFlow)."""
    from cnnstudio.ml.model.transfer import load_backbone, transfer_project

    base = Project.from_dict(doc)
    return transfer_project(base, load_backbone(backbone, weights="imagenet", input_shape=APPLICATION_INPUT,
                                                progress=progress))
