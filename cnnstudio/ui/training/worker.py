"""The training worker: a QObject moved to a QThread that runs :func:`cnnstudio.ml.training.runner.run_project`.

Everything TensorFlow is imported and built inside :meth:`TrainingWorker.run`, on the
worker's thread. Progress comes back as queued signals carrying plain Python values.
Pause, resume and stop are thread-safe calls into the reporter, so they work while the
worker's thread is busy inside ``model.fit``.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cnnstudio.core.project import Project
from cnnstudio.ui.tasks import track


class TrainingWorker(QObject):
    """Trains one project (or continues one run) when its thread starts."""

    status_changed = Signal(str)         # the job's phase, for a status line
    device_found = Signal(str)           # "CPU (no GPU found)" or "GPU: <name>"
    training_started = Signal(dict)      # epochs, initial_epoch, steps_per_epoch, samples, batch_size, run
    batch_ended = Signal(int, int, object)   # global step, epoch, {name: float}
    epoch_ended = Signal(int, object)        # epoch, {name: float}
    weights_ready = Signal(str)          # a new last.keras checkpoint
    failed = Signal(str, str)            # message, traceback ("" for bad input)
    finished = Signal(object)            # dict: status, message, run, evaluation, model

    def __init__(self, project: Project, runs_dir: Path | None = None, resume: Path | None = None,
                 epochs: int | None = None, fine_tune: float | None = None) -> None:
        super().__init__()
        # a copy: the user may edit the project while this trains
        self.project = Project.from_dict(project.to_dict())
        self.project.path = project.path
        self.runs_dir, self.resume, self.epochs, self.fine_tune = runs_dir, resume, epochs, fine_tune
        self.reporter = None
        self._stop_requested = False

    @Slot()
    def run(self) -> None:
        """Train; ends with ``finished`` or ``failed``."""
        try:
            from cnnstudio.ml.model.device import describe_device
            from cnnstudio.ml.training.runner import bad_input_message, run_project
        except Exception as exc:  # a broken TensorFlow install: shown, the studio goes on
            self.failed.emit(_describe(exc), traceback.format_exc())
            return
        try:
            self.device_found.emit(describe_device())
            self.reporter = _make_reporter(self)
            if self._stop_requested:
                self.reporter.request_stop()
            result = run_project(self.project, self.reporter, epochs=self.epochs, runs_dir=self.runs_dir,
                                 resume=self.resume, fine_tune=self.fine_tune)
        except Exception as exc:
            message = bad_input_message(exc)
            if message is not None:  # bad input: the message says it all
                self.failed.emit(message, "")
            else:  # a bug: shown with its traceback
                self.failed.emit(_describe(exc), traceback.format_exc())
            return
        ckpt = result.run.last_checkpoint
        self.finished.emit({"status": result.outcome.status, "message": result.outcome.message,
                            "run": str(result.run.path), "evaluation": result.evaluation,
                            "model": str(ckpt) if ckpt.exists() else "",
                            "images_per_s": result.outcome.images_per_s})

    # -- controls, called from the GUI thread ------------------------------------------
    def pause(self) -> None:
        """Hold after the current batch."""
        if self.reporter is not None:
            self.reporter.pause()

    def resume_training(self) -> None:
        """Go on after a pause."""
        if self.reporter is not None:
            self.reporter.resume()

    def stop(self) -> None:
        """Stop after the current batch (or before training starts)."""
        self._stop_requested = True
        if self.reporter is not None:
            self.reporter.request_stop()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _make_reporter(worker: TrainingWorker):
    """A reporter that turns progress into the worker's signals (queued to the GUI thread)."""
    from cnnstudio.ml.training.fit import Reporter

    class SignalReporter(Reporter):
        def on_status(self, text: str) -> None:
            worker.status_changed.emit(text)

        def on_start(self, info: dict[str, Any]) -> None:
            worker.training_started.emit(dict(info))

        def on_batch(self, step: int, epoch: int, logs: dict[str, float]) -> None:
            worker.batch_ended.emit(step, epoch, logs)

        def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
            worker.epoch_ended.emit(epoch, logs)

        def on_checkpoint(self, path: str) -> None:
            worker.weights_ready.emit(path)

    return SignalReporter()


def start_worker(worker: TrainingWorker) -> QThread:
    """Move ``worker`` to a new tracked QThread and start it; the thread quits when the worker ends."""
    thread = track(QThread())
    thread.setObjectName("training")
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.failed.connect(thread.quit)
    thread.start()
    return thread
