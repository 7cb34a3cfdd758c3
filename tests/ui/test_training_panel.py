"""The Training page: GUI training end to end in a worker thread, pause / resume / stop, errors shown,
settings as undoable edits, samples, and a clean stop when the window closes."""

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cnnstudio.core.templates import default_project
from cnnstudio.ui.studio import Studio
from cnnstudio.ui.training.panel import TrainingPanel

TRAIN_TIMEOUT_MS = 90_000


def tiny_project(tmp_path, **training):
    p = default_project()
    p.path = Path(tmp_path) / "tiny.cnnproj"
    p.set_settings("data", {"options": {**p.data.options, "count": 96}})
    p.set_settings("training", {"epochs": 2, "batch_size": 16, **training})
    return p


@pytest.fixture
def panel(qtbot, tmp_path):
    studio = Studio(tiny_project(tmp_path))
    widget = TrainingPanel(studio)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def test_trains_in_a_worker_with_live_curves_then_shows_the_evaluation(qtbot, panel):
    published = []
    panel.studio.trained.published.connect(published.append)
    panel.start()
    assert panel.state == "running" and not panel.start_button.isEnabled()
    with qtbot.waitSignal(panel.worker.finished, timeout=TRAIN_TIMEOUT_MS) as done:
        pass
    assert done.args[0]["status"] == "finished"
    qtbot.waitUntil(lambda: panel.state == "idle")
    assert panel.history.epoch_x == [1, 2] and panel.history.n == 10  # 67 images / 16 = 5 batches an epoch
    panel.curves.redraw()
    assert len(panel.curves.curves["val_loss"].getData()[0]) == 2
    assert panel.evaluation.evaluation is not None and panel.evaluation.evaluation.total > 0
    assert panel.runs.list.count() == 1 and panel.resume_button.isEnabled()
    assert published and Path(published[-1]).name == "last.keras"
    assert panel.studio.trained.path == published[-1] and Path(published[-1]).exists()
    assert panel.device_label.text().startswith("Device: CPU")
    assert not panel.training_form.mixed.isEnabled()  # mixed precision is a GPU option
    # the Histograms tab followed the run live: before training and after each of the 2 epochs
    qtbot.waitUntil(lambda: [h.epoch for h in panel.histograms.history] == [0, 1, 2])
    assert panel.histograms.layer.count() > 0 and panel.histograms.slider.value() == 2


def test_pause_resume_and_stop_between_batches(qtbot, panel):
    panel.studio.project.set_settings("training", {"epochs": 50})
    panel.start()
    qtbot.waitUntil(lambda: panel.history.n >= 2, timeout=TRAIN_TIMEOUT_MS)
    panel.pause()
    assert panel.state == "paused" and panel.resume_button.isEnabled()
    qtbot.wait(300)  # the batch running when Pause was pressed may still end
    held = panel.history.n
    qtbot.wait(700)
    assert panel.history.n == held
    panel.resume()
    qtbot.waitUntil(lambda: panel.history.n > held, timeout=10_000)
    with qtbot.waitSignal(panel.worker.finished, timeout=TRAIN_TIMEOUT_MS) as done:
        panel.stop()
    assert done.args[0]["status"] == "stopped"
    qtbot.waitUntil(lambda: panel.state == "idle")
    assert panel.progress.format() == "stopped"


def test_resume_continues_the_curves_of_the_last_run(qtbot, panel):
    panel.studio.project.set_settings("training", {"epochs": 1})
    panel.start()
    with qtbot.waitSignal(panel.worker.finished, timeout=TRAIN_TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: panel.state == "idle")
    panel.resume()  # idle: continue the latest run for the project's epoch count
    with qtbot.waitSignal(panel.worker.finished, timeout=TRAIN_TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: panel.state == "idle")
    assert panel.history.epoch_x == [1, 2] and panel.runs.list.count() == 1


def test_data_that_does_not_fit_is_shown_and_the_page_goes_on(qtbot, panel):
    panel.studio.project.set_settings("preprocessing", {"size": (28, 28)})
    panel.start()
    with qtbot.waitSignal(panel.worker.failed, timeout=TRAIN_TIMEOUT_MS) as failed:
        pass
    message = failed.args[0]
    assert "28x28x1" in message and "32x32x1" in message
    qtbot.waitUntil(lambda: panel.state == "idle")
    assert panel.banner.isVisibleTo(panel) and "28x28x1" in panel.banner.text()
    assert panel.start_button.isEnabled()


def test_settings_edits_are_undoable_and_mark_the_project_dirty(qtbot, panel):
    studio = panel.studio
    spin = panel.training_form.fields.fields["training", "learning_rate"].box
    spin.setValue(0.01)
    panel.commit_edits()
    assert studio.project.training.learning_rate == pytest.approx(0.01) and studio.dirty
    assert "learning_rate" in studio.undo_stack.undoText()
    studio.undo_stack.undo()
    assert studio.project.training.learning_rate == pytest.approx(2e-3)
    assert spin.value() == pytest.approx(2e-3) and not studio.dirty
    panel.data_form.fields.fields["shapes", "clutter"].slider.setValue(70)
    qtbot.waitUntil(lambda: studio.project.data.options.get("clutter") == 0.7)


def test_show_samples_loads_off_the_gui_thread(qtbot, panel):
    panel.show_samples()
    qtbot.waitUntil(lambda: panel.samples.count > 0, timeout=20_000)
    assert "96 generated" in panel.samples_info.text()


def test_closing_during_training_stops_the_worker(qtbot, panel):
    panel.studio.project.set_settings("training", {"epochs": 200})
    panel.start()
    qtbot.waitUntil(lambda: panel.history.n >= 1, timeout=TRAIN_TIMEOUT_MS)
    thread = panel.thread
    t0 = time.perf_counter()
    panel.shutdown()
    assert not thread.isRunning() and time.perf_counter() - t0 < 20


def test_the_shipped_run_is_listed_read_only(qtbot):
    from cnnstudio.core.templates import open_default_project

    widget = TrainingPanel(Studio(open_default_project()))
    qtbot.addWidget(widget)
    item = widget.runs.list.item(0)
    assert widget.runs.list.count() == 1 and item.data(Qt.UserRole).shipped
    assert item.text().startswith("shipped (read-only) · 8/8 ep")
    widget.runs.list.setCurrentRow(0)
    assert not widget.resume_button.isEnabled()  # a shipped run is never written to
    widget.shutdown()


def test_the_data_form_shows_why_an_import_got_its_scaling(qtbot, panel):
    from cnnstudio.core.settings import GUESSED_SCALE

    form = panel.data_form
    assert form.scale_note.isHidden()  # the studio's own project: nothing was guessed
    guessed = tiny_project(panel.studio.project.path.parent)
    guessed.import_note = f"'mine' is not a keras.applications network the studio knows, so how it scales its input is unknown: {GUESSED_SCALE}"
    panel.studio.set_project(guessed)
    assert not form.scale_note.isHidden() and form.scale_note.text().startswith("⚠ At import: 'mine'")
    known = tiny_project(panel.studio.project.path.parent)
    known.import_note = "resnet50 is Keras's ResNet: it expects keras.applications' 'caffe' preprocessing"
    panel.studio.set_project(known)
    assert form.scale_note.text() == f"At import: {known.import_note}" and "⚠" not in form.scale_note.text()
