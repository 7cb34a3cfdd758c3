"""The live inference worker: one QThread that runs the newest frame through the model.

The capture thread (:class:`cnnstudio.ml.capture.FrameGrabber`) keeps only the latest
frame; this worker takes it, runs :class:`cnnstudio.ml.live.LivePipeline` (TensorFlow is
imported and every model is built here, never on the GUI thread) and leaves the result in
one slot. ``result_ready`` is emitted only when the GUI has taken the previous result, so
signals never pile up in the event loop: the GUI draws the newest result, whatever it missed.
Settings from the GUI arrive through :meth:`LiveWorker.request` and apply between frames;
when no new frame comes (paused, a still image), a change reruns the last frame.
"""

from __future__ import annotations

import gc
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cnnstudio.core.settings import Preprocessing
from cnnstudio.ml.capture import Frame, FrameGrabber, preprocess_on_capture

from ..tasks import track


@dataclass
class ModelSpec:
    """How to get the model to run, built in the worker: ``load() -> (keras.Model, LayerGraph | None)``.

    The graph gives the receptive fields; it is None when the model's graph is unknown.
    """

    title: str                      # shown to the user, e.g. "Trained: 20250101-120000/best.keras"
    load: Callable[[], tuple[Any, Any]]
    graph: Any = None               # the graph, when known before loading
    classes: tuple[str, ...] = ()
    preprocessing: Preprocessing = field(default_factory=Preprocessing.default)


class LiveWorker(QObject):
    """Runs frames through the model on its own thread; see the module doc."""

    model_ready = Signal(dict)   # title, layers, layer, cam_layer, classes, input_shape, note, classifier, output
    result_ready = Signal()      # take it with take_result()
    failed = Signal(str)         # the model could not be built or run (frames still show)
    finished = Signal()

    def __init__(self, grabber: FrameGrabber) -> None:
        super().__init__()
        self.grabber = grabber
        self._lock = threading.Lock()
        self._changes: dict[str, Any] = {}
        self._running = True
        self._latest: Any = None
        self._notified = False
        self.pipeline = None
        self.processed = 0  # frames run through the model
        self.model_ms = 0.0  # how long the model call takes (moving average)

    # -- from the GUI thread --------------------------------------------------------
    def request(self, **changes: Any) -> None:
        """Apply settings between frames: model (ModelSpec), layer, gradcam, smoothing, k, scaling, aspect, pixels, unit."""
        with self._lock:
            self._changes.update(changes)

    def take_result(self) -> Any:
        """The newest result (an unfinished LiveResult, or a bare Frame while no model runs), or None."""
        with self._lock:
            result, self._latest = self._latest, None
            self._notified = False
            return result

    def stop(self) -> None:
        """Leave the loop after the current frame."""
        self._running = False

    # -- on the worker thread -------------------------------------------------------
    def _publish(self, item: Any) -> None:
        with self._lock:
            self._latest = item
            notify, self._notified = not self._notified, True
        if notify:
            self.result_ready.emit()

    def _apply(self, changes: dict[str, Any]) -> None:
        if "model" in changes and not self._load(changes["model"]):
            return
        p = self.pipeline
        if p is None:
            return
        if "layer" in changes:
            p.set_layer(changes["layer"])
        if "unit" in changes:
            p.select_unit(changes["unit"])
        if "gradcam" in changes:
            p.gradcam = bool(changes["gradcam"])
        if "smoothing" in changes:
            p.smoother.alpha = float(changes["smoothing"])
        if "k" in changes:
            p.k = int(changes["k"])
        if "scaling" in changes:
            p.set_scaling(changes["scaling"])
        if "aspect" in changes:
            p.mosaic_aspect = float(changes["aspect"])
        if "pixels" in changes:
            p.mosaic_pixels = int(changes["pixels"])
        if changes.get("reset"):
            p.smoother.reset()

    def _load(self, spec: ModelSpec) -> bool:
        """Build the model and its pipeline here, keeping the old pipeline's settings; False on failure."""
        from cnnstudio.ml.live import LivePipeline

        old, self.pipeline = self.pipeline, None
        self.grabber.transform = None
        _freeze_imports()
        try:
            model, graph = spec.load()
            pipe = LivePipeline(model, spec.preprocessing, graph, spec.classes)
            if old is not None:
                pipe.gradcam, pipe.k, pipe.scaling = old.gradcam, old.k, old.scaling
                pipe.mosaic_aspect, pipe.mosaic_pixels = old.mosaic_aspect, old.mosaic_pixels
                pipe.smoother.alpha = old.smoother.alpha
                if old.layer in pipe.layers:
                    pipe.set_layer(old.layer)
            pipe.warm_up()
        except Exception as exc:  # a model that cannot run is a message; the frames go on
            self.failed.emit(f"{spec.title}: {_one_line(exc)}")
            return False
        self.pipeline = pipe
        self.model_ms = 0.0
        self.grabber.transform = pipe.prepare  # preprocessing starts on the capture thread (see _place_preprocessing)
        self.model_ready.emit({"title": spec.title, "layers": list(pipe.layers), "layer": pipe.layer,
                               "cam_layer": pipe.cam_layer or "", "classes": list(pipe.class_names),
                               "input_shape": tuple(pipe.prober.input_shape), "note": pipe.note,
                               "model": model.name, "classifier": pipe.classifier,
                               "output": pipe.prober.output.text()})
        return True

    @Slot()
    def run(self) -> None:
        """The loop: newest frame -> pipeline -> one result slot, until :meth:`stop`."""
        last: Frame | None = None
        while self._running:
            with self._lock:
                changes, self._changes = self._changes, {}
            if changes:
                self._apply(changes)
            frame = self.grabber.wait_frame(after=last.index if last else -1, timeout=0.05)
            if frame is None:
                if not changes or last is None:
                    continue
                frame = last  # paused or still: show the change on the frame in view
            last = frame
            if self.pipeline is None:
                self._publish(frame)
                continue
            try:
                result = self.pipeline.infer(frame)
                self._publish(result)  # the GUI finishes (tiles) only what it draws
                self.processed += 1
                self._place_preprocessing(result.timings["model"])
            except Exception as exc:  # e.g. out of memory: say so, keep showing frames
                self.pipeline = None
                self.grabber.transform = None
                self.failed.emit(f"the model failed on a frame: {_one_line(exc)}")
                traceback.print_exc()
        self.finished.emit()


    def _place_preprocessing(self, model_ms: float) -> None:
        """Preprocess on whichever thread has time to spare (:func:`preprocess_on_capture`),
        decided every 30 frames from moving averages of the read and the model call."""
        self.model_ms = model_ms if self.model_ms == 0 else 0.9 * self.model_ms + 0.1 * model_ms
        if self.processed % 30 or self.pipeline is None:
            return
        on_capture = self.grabber.transform is not None
        if preprocess_on_capture(self.grabber.read_ms, self.model_ms, on_capture) != on_capture:
            self.grabber.transform = None if on_capture else self.pipeline.prepare


_frozen = False


def _freeze_imports() -> None:
    """Once, with TensorFlow and Keras imported and no model yet: move every object alive now
    into the collector's permanent generation. Full collections then skip the hundreds of
    thousands of module objects (otherwise 100+ ms pauses of every thread, the GUI's too),
    while models loaded later stay collectable."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def start_worker(grabber: FrameGrabber, parent: QObject) -> tuple[QThread, LiveWorker]:
    """A LiveWorker on a new tracked QThread, running."""
    thread = track(QThread(parent))
    thread.setObjectName("cnnstudio-live-inference")
    worker = LiveWorker(grabber)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    thread.start()
    return thread, worker


def stop_worker(thread: QThread, worker: LiveWorker, timeout_ms: int = 30000) -> bool:
    """Stop the loop and wait for the thread (a model being built cannot be cut short); True if it ended."""
    worker.stop()
    thread.quit()
    return thread.wait(timeout_ms)
