"""The live inference worker: one QThread that runs the newest frame through the model.

The capture thread (:class:`cnnstudio.ml.live.frame_sources.FrameGrabber`) keeps only the latest
frame; this worker takes it, runs :class:`cnnstudio.ml.live.pipeline.LivePipeline` (TensorFlow is
imported and every model is built here, never on the GUI thread) and leaves the result in
one slot. ``result_ready`` is emitted only when the GUI has taken the previous result, so
signals never pile up in the event loop: the GUI draws the newest result, whatever it missed.
The pipeline is this worker's alone: the GUI sends typed requests (:mod:`.requests`) through
:meth:`LiveWorker.send`, which apply between frames (when no new frame comes, paused or a still
image, a change reruns the last frame), and gets plain data back: a :class:`.requests.ModelReady`
with ``model_ready``, and results that need nothing from the pipeline to be drawn.
"""

from __future__ import annotations

import gc
import threading
import traceback
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cnnstudio.ml.live.frame_sources import Frame, FrameGrabber, preprocess_on_capture

from cnnstudio.ui.tasks import track
from cnnstudio.ui.live.requests import ForgetPast, LoadModel, ModelReady, ProbeOptions, Request
from cnnstudio.ui.shared.model_choice import ModelSpec


class LiveWorker(QObject):
    """Runs frames through the model on its own thread; see the module doc."""

    model_ready = Signal(object)  # a ModelReady
    result_ready = Signal()      # take it with take_result()
    failed = Signal(str)         # the model could not be built or run (frames still show)
    finished = Signal()

    def __init__(self, grabber: FrameGrabber) -> None:
        super().__init__()
        self.grabber = grabber
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._options = ProbeOptions()  # worker thread only: the settings every pipeline gets
        self._running = True
        self._latest: Any = None
        self._notified = False
        self._pipeline = None  # the LivePipeline: made, used and dropped on the worker thread only
        self.processed = 0  # frames run through the model
        self.model_ms = 0.0  # how long the model call takes (moving average)

    # -- from the GUI thread --------------------------------------------------------
    def send(self, *requests: Request) -> None:
        """Apply these requests, in order, before the next frame."""
        for r in requests:
            if not isinstance(r, Request):
                raise TypeError(f"the live worker takes requests, not {type(r).__name__}")
        with self._lock:
            self._requests.extend(requests)

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

    def _apply(self, requests: list[Request]) -> None:
        spec, forget = None, False
        for r in requests:
            self._options = r.apply(self._options)
            if isinstance(r, LoadModel):
                spec = r.spec  # the newest model wins: one asked for meanwhile is never built
            forget = forget or isinstance(r, ForgetPast)
        if spec is not None:
            self._load(spec)
        elif self._pipeline is not None:
            _configure(self._pipeline, self._options)
            if forget:
                self._pipeline.smoother.reset()

    def _load(self, spec: ModelSpec) -> None:
        """Build the model and its pipeline here, set as the options say; a failure is a ``failed`` message."""
        from cnnstudio.ml.live.pipeline import LivePipeline

        self._pipeline = None
        self.grabber.transform = None
        _freeze_imports()
        try:
            model, graph = spec.load()
            pipe = LivePipeline(model, spec.preprocessing, graph, spec.classes)
            _configure(pipe, self._options)
            pipe.warm_up()
        except Exception as exc:  # a model that cannot run is a message; the frames go on
            self.failed.emit(f"{spec.title}: {_one_line(exc)}")
            return
        self._pipeline = pipe
        self.model_ms = 0.0
        self.grabber.transform = pipe.prepare  # preprocessing starts on the capture thread (see _place_preprocessing)
        self.model_ready.emit(ModelReady(spec.title, model.name, tuple(pipe.layers), pipe.layer, pipe.cam_layer or "",
                                        tuple(pipe.class_names), tuple(pipe.prober.input_shape), pipe.note,
                                        pipe.classifier, pipe.prober.output.text()))

    @Slot()
    def run(self) -> None:
        """The loop: newest frame -> pipeline -> one result slot, until :meth:`stop`."""
        last: Frame | None = None
        while self._running:
            with self._lock:
                changes, self._requests = self._requests, []
            if changes:
                self._apply(changes)
            frame = self.grabber.wait_frame(after=last.index if last else -1, timeout=0.05)
            if frame is None:
                if not changes or last is None:
                    continue
                frame = last  # paused or still: show the change on the frame in view
            last = frame
            if self._pipeline is None:
                self._publish(frame)
                continue
            try:
                result = self._pipeline.infer(frame)
                self._publish(result)  # the GUI finishes (tiles) only what it draws
                self.processed += 1
                self._place_preprocessing(result.timings["model"])
            except Exception as exc:  # e.g. out of memory: say so, keep showing frames
                self._pipeline = None
                self.grabber.transform = None
                self.failed.emit(f"the model failed on a frame: {_one_line(exc)}")
                traceback.print_exc()
        self.finished.emit()


    def _place_preprocessing(self, model_ms: float) -> None:
        """Preprocess on whichever thread has time to spare (:func:`preprocess_on_capture`),
        decided every 30 frames from moving averages of the read and the model call."""
        self.model_ms = model_ms if self.model_ms == 0 else 0.9 * self.model_ms + 0.1 * model_ms
        if self.processed % 30 or self._pipeline is None:
            return
        on_capture = self.grabber.transform is not None
        if preprocess_on_capture(self.grabber.read_ms, self.model_ms, on_capture) != on_capture:
            self.grabber.transform = None if on_capture else self._pipeline.prepare


def _configure(pipe, options: ProbeOptions) -> None:
    """Set a pipeline as the options say (a layer it lacks: its default layer)."""
    pipe.set_layer(options.layer if options.layer in pipe.layers else None)
    pipe.select_unit(options.unit)
    pipe.gradcam, pipe.k, pipe.scaling = options.gradcam, options.k, options.scaling
    pipe.cam_method = options.cam_method
    pipe.smoother.alpha = options.smoothing
    pipe.mosaic_aspect, pipe.mosaic_pixels = options.aspect, options.pixels


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
