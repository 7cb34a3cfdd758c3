"""The Training page: data and settings on the left; live curves, histograms, samples and evaluation on the right.

Threads as DESIGN.md says: :class:`~.worker.TrainingWorker` runs on its own tracked
QThread and builds every TensorFlow object there; its signals append to a
:class:`~.curves.TrainingHistory`, and timers (~15 Hz) redraw the curves and the
progress line. Settings edits become undoable :class:`~cnnstudio.core.commands.SetSettings`
commands (coalesced: one per pause in typing or dragging). After each epoch the newest
checkpoint is published to ``studio.trained`` (:class:`cnnstudio.ui.shared.state.TrainedModel`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QScrollArea,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from cnnstudio.core.commands import SetFrozen, SetSettings
from cnnstudio.ml.training.evaluation import Evaluation
from cnnstudio.ml.training.progress import TrainingProgress
from cnnstudio.ml.training.runs import Run, project_runs
from cnnstudio.ui.tasks import TaskRunner

from cnnstudio.ui.training.curves import CurvesView, TrainingHistory
from cnnstudio.ui.training.data_form import DataForm
from cnnstudio.ui.training.distributed_box import DistributedBox
from cnnstudio.ui.training.evaluation_view import EvaluationView
from cnnstudio.ui.training.histogram_view import HistogramView
from cnnstudio.ui.training.fine_tune import FineTuneDialog
from cnnstudio.ui.training.image_grid import LabelledGrid
from cnnstudio.ui.training.runs_view import RunsView
from cnnstudio.ui.training.settings_form import TrainingForm
from cnnstudio.ui.training.worker import TrainingWorker, start_worker

COMMIT_MS = 350      # settings edits are pushed after this pause (one undo step per slider drag)
PROGRESS_MS = 66     # the progress line is redrawn ~15 times a second
BANNER_STYLE = "QLabel { background: #5a2320; color: #ffe6e0; padding: 6px; border-radius: 4px; }"


class TrainingPanel(QWidget):
    """Train the open project and watch it learn."""

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.history = TrainingHistory()
        self.tasks = TaskRunner(self, max_threads=1)
        self.thread = self.worker = None
        self.state = "idle"  # idle | running | paused | stopping
        self.run_progress = TrainingProgress()
        self._progress = (0, 1, "")
        self._last_epoch_logs: dict = {}
        self._build()
        self._commit_timer = QTimer(self, singleShot=True, interval=COMMIT_MS)
        self._commit_timer.timeout.connect(self.commit_edits)
        self.data_form.fields.edited.connect(self._commit_timer.start)
        self.training_form.fields.edited.connect(self._commit_timer.start)
        self._progress_timer = QTimer(self, interval=PROGRESS_MS)
        self._progress_timer.timeout.connect(self._draw_progress)
        self._progress_timer.start()
        studio.settings_changed.connect(self._on_studio_settings_changed)
        studio.project_replaced.connect(self._on_studio_project_replaced)
        studio.graph_changed.connect(self._update_buttons)  # Fine-tune needs frozen layers
        studio.compute.found.connect(self._show_device)
        self._show_device(studio.compute.description)
        self._on_studio_project_replaced()

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        self.start_button = self._button("Start", "Train the project from scratch (a new run)", self.start)
        self.pause_button = self._button("Pause", "Hold training after the current batch", self.pause)
        self.resume_button = self._button("Resume", "Go on after a pause, or continue the selected (or latest) "
                                          "run from its last checkpoint", self.resume)
        self.stop_button = self._button("Stop", "Stop after the current batch", self.stop)
        self.fine_tune_button = self._button("Fine-tune…", "Unfreeze the top blocks of a frozen backbone and "
                                             "continue the selected (or latest) run at a lower learning rate",
                                             self.fine_tune)
        self.device_label = QLabel("Device: …")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.status = QLabel("")
        self.status.setMinimumWidth(260)
        bar = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button, self.fine_tune_button):
            bar.addWidget(b)
        bar.addSpacing(12)
        bar.addWidget(self.device_label)
        bar.addSpacing(12)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.status)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.banner.hide()

        self.data_form = DataForm()
        self.data_form.show_samples_requested.connect(self.show_samples)
        self.training_form = TrainingForm()
        self.runs = RunsView()
        self.runs.overlays_changed.connect(self._on_runs_overlays_changed)
        self.runs.evaluation_requested.connect(self.show_run_evaluation)
        self.runs.list.currentItemChanged.connect(self._on_runs_current_changed)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(self.data_form)
        left_layout.addWidget(self.training_form)
        left_layout.addWidget(self.runs)
        self.distributed = DistributedBox()
        left_layout.addWidget(self.distributed)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(360)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        self.curves = CurvesView(self.history)
        self.samples = LabelledGrid("Press “Show samples” to see what the model will be trained on.")
        self.balance = pg.PlotWidget()
        self.balance.setBackground("#1e1f22")
        self.balance.setMaximumHeight(220)
        self.samples_info = QLabel("")
        self.samples_info.setWordWrap(True)
        self.samples_page = samples_page = QWidget()
        samples_layout = QVBoxLayout(samples_page)
        samples_layout.addWidget(self.samples_info)
        samples_layout.addWidget(self.samples, 1)
        samples_layout.addWidget(self.balance)
        self.evaluation = EvaluationView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Curves")
        self.histograms = HistogramView(self.tasks)
        self.tabs.addTab(self.histograms, "Histograms")
        self.tabs.addTab(samples_page, "Samples")
        self.tabs.addTab(self.evaluation, "Evaluation")

        split = QSplitter(Qt.Horizontal)
        split.addWidget(scroll)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 1100])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        self._update_buttons()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def _update_buttons(self) -> None:
        busy = self.state != "idle"
        self.start_button.setEnabled(not busy)
        self.pause_button.setEnabled(self.state == "running")
        self.resume_button.setEnabled(self.state == "paused" or (not busy and self._resumable_run() is not None))
        self.stop_button.setEnabled(self.state in ("running", "paused"))
        self.fine_tune_button.setEnabled(not busy and self._resumable_run() is not None
                                         and any(n.frozen for n in self.studio.graph.nodes.values()))

    def _show_device(self, device: str) -> None:
        self.device_label.setText(f"Device: {device}" if device else "Device: found when TensorFlow loads")
        self.training_form.set_gpu(device.startswith("GPU"))

    # -- settings -------------------------------------------------------------------
    def commit_edits(self) -> None:
        """Push the forms' changed values into the project as undoable commands."""
        self._commit_timer.stop()
        project = self.studio.project
        changes = {**self.data_form.changes(project), **self.training_form.changes(project)}
        for section, values in changes.items():
            self.studio.push(SetSettings(project, section, values))

    def _load_forms(self) -> None:
        self.data_form.load(self.studio.project)
        self.training_form.load(self.studio.project)

    def _on_studio_settings_changed(self, _section: str, _changes: dict) -> None:
        self._load_forms()  # an edit, an undo, a redo, a capture: show what the project now says

    def _on_studio_project_replaced(self) -> None:
        self._load_forms()
        self.distributed.set_project(self.studio.project.path)
        self.runs.refresh(self.studio.project)
        if self.state == "idle":
            self.history.clear()
            self.evaluation.show_evaluation(None)
        self._update_buttons()

    # -- training -------------------------------------------------------------------
    def start(self, resume: Path | None = None, fine_tune: float | None = None, epochs: int | None = None) -> None:
        """Train the open project (a new run), or continue the run folder ``resume`` (up to ``epochs``;
        with ``fine_tune``, a learning-rate factor, recompiled for the graph's new frozen state)."""
        if self.state != "idle":
            return
        self.commit_edits()
        self.banner.hide()
        self.history.clear()
        if resume is not None:
            self.history.load_curves(Run(resume).curves)
        self.run_progress.start({})
        self.worker = TrainingWorker(self.studio.project, self.studio.project.runs_dir(), resume=resume, epochs=epochs,
                                     fine_tune=fine_tune)
        w = self.worker
        w.status_changed.connect(self._on_worker_status_changed)
        w.device_found.connect(self._on_worker_device_found)
        w.training_started.connect(self._on_worker_training_started)
        w.batch_ended.connect(self._on_worker_batch_ended)
        w.epoch_ended.connect(self._on_worker_epoch_ended)
        w.weights_ready.connect(self._on_worker_weights_ready)
        w.failed.connect(self._on_worker_failed)
        w.finished.connect(self._on_worker_finished)
        if self.thread is not None:  # the previous run's thread is still winding down
            self.thread.wait(10_000)
        thread = self.thread = start_worker(w)
        thread.finished.connect(lambda: self._on_thread_finished(thread, w))
        self.state = "running"
        self._progress = (0, 1, "starting…")
        self.tabs.setCurrentWidget(self.curves)
        self._update_buttons()

    def pause(self) -> None:
        """Hold training after the current batch."""
        if self.state == "running" and self.worker is not None:
            self.worker.pause()
            self.state = "paused"
            self.status.setText("paused")
            self._update_buttons()

    def resume(self) -> None:
        """Go on after a pause; when idle, continue the selected (or latest) run."""
        if self.state == "paused" and self.worker is not None:
            self.worker.resume_training()
            self.state = "running"
            self._update_buttons()
            return
        run = self._resumable_run()
        if self.state == "idle" and run is not None:
            self.start(resume=run.path)

    def fine_tune(self) -> FineTuneDialog | None:
        """Ask how to fine-tune (the dialog is returned, open); on OK, unfreeze the top blocks in the
        editor (one undoable step) and continue the run at the lower learning rate."""
        run = self._resumable_run()
        if self.state != "idle" or run is None:
            return None
        self.commit_edits()
        rate = float(run.settings.get("training", {}).get("learning_rate", self.studio.project.training.learning_rate))
        dialog = FineTuneDialog(self.studio.graph, run.name, rate, self)
        dialog.accepted.connect(lambda: self._on_fine_tune_accepted(dialog, run))
        dialog.open()
        return dialog

    def _on_fine_tune_accepted(self, dialog: FineTuneDialog, run: Run) -> None:
        values = dialog.values()
        error = self.studio.push(SetFrozen(self.studio.graph, dialog.layers(), False))
        if error is None:
            self.start(resume=run.path, fine_tune=values["lr_factor"], epochs=run.curves.epochs_done + values["epochs"])

    def stop(self) -> None:
        """Stop after the current batch."""
        if self.worker is not None and self.state in ("running", "paused"):
            self.worker.stop()
            self.state = "stopping"
            self.status.setText("stopping…")
            self._update_buttons()

    def _resumable_run(self) -> Run | None:
        run = self.runs.selected()
        if run is None:
            runs = project_runs(self.studio.project)
            run = runs[-1] if runs else None
        return run if run is not None and run.can_resume() else None

    def _on_worker_device_found(self, device: str) -> None:
        if not self.studio.compute.description:
            self.studio.compute.set(device)
        self._show_device(device)

    def _on_worker_status_changed(self, text: str) -> None:
        self.status.setText(text)

    def _on_worker_training_started(self, info: dict) -> None:
        self.run_progress.start(info)
        self.distributed.show_run(info)
        self.curves.set_epochs(info["epochs"])
        self.status.setText(f"{info['samples']} images, batch {info['batch_size']}")
        self.histograms.set_run(info["run"])
        self.studio.status_message.emit(f"Training into {info['run']}")

    def _on_worker_batch_ended(self, step: int, epoch: int, logs: dict) -> None:
        p = self.run_progress
        p.batch(step, epoch)
        self.history.add_batch(p.epoch_position, logs.get("loss", float("nan")))
        self._progress = (p.done, p.total, p.line())

    def _on_worker_epoch_ended(self, epoch: int, logs: dict) -> None:
        self.history.add_epoch(epoch, logs)
        self._last_epoch_logs = logs
        self.histograms.refresh()  # the epoch's histograms were written before it was reported

    def _on_worker_weights_ready(self, path: str) -> None:
        self.studio.trained.publish(path)

    def _draw_progress(self) -> None:
        done, total, text = self._progress
        if self.progress.maximum() != total:
            self.progress.setMaximum(total)
        if self.progress.value() != done:
            self.progress.setValue(done)
        fmt = text if self.state != "idle" else self.progress.format()
        if self.state == "paused":
            fmt = f"paused · {text}"
        if self.progress.format() != fmt:
            self.progress.setFormat(fmt)

    def _on_worker_failed(self, message: str, tb: str) -> None:
        self.banner.setText(f"Training failed: {message}")
        self.banner.setToolTip(tb or message)
        self.banner.show()
        self.status.setText("failed")
        self._finish_run("failed")

    def _on_worker_finished(self, result: dict) -> None:
        ev = result.get("evaluation")
        name = Path(result["run"]).name
        if ev is not None:
            self.evaluation.show_evaluation(ev, name)
        if result["status"] == "nan":
            self.banner.setText(result["message"])
            self.banner.setToolTip(result["message"])
            self.banner.show()
        acc = self._last_epoch_logs.get("val_accuracy")
        figures = f", validation accuracy {100 * acc:.1f}%" if acc is not None else ""
        self.status.setText(f"{result['message']}{figures}")
        self.studio.status_message.emit(f"Training: {result['message']}{figures} ({name})")
        self._finish_run(result["status"])

    def _finish_run(self, status: str) -> None:
        self.state = "idle"
        done, total, _ = self._progress
        self._progress = (done if status != "finished" else total, total, "")
        self.progress.setFormat(status)
        self.runs.refresh(self.studio.project)
        self._update_buttons()

    def _on_thread_finished(self, thread, worker) -> None:
        thread.deleteLater()
        worker.deleteLater()
        if self.thread is thread:
            self.thread = self.worker = None

    # -- samples, runs, evaluation ------------------------------------------------------
    def show_samples(self) -> None:
        """Load the data off the GUI thread and show samples, class balance and skipped files."""
        from cnnstudio.ml.data.datasets import preview  # cv2/NumPy only; Keras only for keras.datasets

        self.commit_edits()
        project = self.studio.project
        self.data_form.samples_button.setEnabled(False)
        self.samples_info.setText("Loading the data…")
        self.tabs.setCurrentWidget(self.samples_page)
        self.tasks.run(preview, project.data, project.preprocessing, on_done=self._on_preview_done,
                       on_error=self._on_preview_failed)

    def _on_preview_done(self, result: dict) -> None:
        self.data_form.samples_button.setEnabled(True)
        classes = result["classes"]
        self.samples.set_images(result["images"], [classes[i] for i in result["labels"]])
        h, w, c = result["input_shape"]
        skipped = result["skipped"]
        text = f"{result['description']}. The model sees {h}x{w}x{c}."
        if skipped:
            names = ", ".join(Path(p).name for p, _ in skipped[:8])
            text += f" <span style='color:#ffb4a8'>Skipped {len(skipped)} unreadable file(s): {names}" \
                    f"{' …' if len(skipped) > 8 else ''}</span>"
        self.samples_info.setText(text)
        self._draw_balance(classes, result["counts"])

    def _on_preview_failed(self, message: str, _tb: str) -> None:
        self.data_form.samples_button.setEnabled(True)
        self.samples_info.setText(f"<span style='color:#ffb4a8'>{message}</span>")

    def _draw_balance(self, classes: list[str], counts: dict[str, list[int]]) -> None:
        self.balance.clear()
        x = np.arange(len(classes))
        bottom = np.zeros(len(classes))
        splits = (("train", "#4fa3ff"), ("val", "#ffa64f"), ("test", "#9be28c"))
        key = "  ".join(f"<span style='color:{c}'>■ {s} {sum(counts.get(s, []))}</span>" for s, c in splits)
        self.balance.setTitle(f"Images per class: {key}")
        for split, colour in splits:
            heights = np.asarray(counts.get(split, [0] * len(classes)), float)
            bars = pg.BarGraphItem(x=x, y0=bottom, height=heights, width=0.7, brush=colour, pen=None)
            self.balance.addItem(bars)
            bottom += heights
        ticks = [(i, name) for i, name in enumerate(classes)] if len(classes) <= 30 else []
        self.balance.getAxis("bottom").setTicks([ticks])

    def _on_runs_current_changed(self, *_args) -> None:
        run = self.runs.selected()
        if run is not None:
            self.histograms.set_run(run.path)
        self._update_buttons()

    def _on_runs_overlays_changed(self, runs: list) -> None:
        self.curves.set_overlays(runs)
        self._update_buttons()

    def show_run_evaluation(self, run: Run) -> None:
        """Show the saved evaluation of ``run``."""
        self.evaluation.show_evaluation(Evaluation.load(run.path), run.name)
        self.tabs.setCurrentWidget(self.evaluation)

    # -- window close -------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop training and wait for the worker thread (the window is closing)."""
        self._progress_timer.stop()
        self.curves.timer.stop()
        if self.worker is not None:
            self.worker.stop()
        if self.thread is not None:
            self.thread.quit()
            if not self.thread.wait(60_000):
                QMessageBox.warning(self, "Training", "The training thread did not stop in time.")
        self.tasks.shutdown()
