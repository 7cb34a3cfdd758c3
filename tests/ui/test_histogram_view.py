"""The Training page's Histograms tab: a ridge plot per layer over the epochs, replay, live refresh,
damaged files left out, and dead ReLUs flagged when they grow."""

import numpy as np
import pyqtgraph as pg
import pytest

from cnnstudio.ml.training.runs import EpochHistograms, Histogram, Run
from cnnstudio.ui.tasks import TaskRunner
from cnnstudio.ui.training.histogram_view import HistogramView, WARN_BACKGROUND

DEAD = [0, 0, 1, 6]  # dead units of 10 in "relu1" after epochs 0..3: +50 points at epoch 3


def epoch(e: int) -> EpochHistograms:
    rng = np.random.default_rng(e)

    def hist(scale):
        counts, edges = np.histogram(rng.normal(0, scale, 500), bins=16)
        return Histogram(edges, counts, 0.0, 500.0 * scale ** 2)

    return EpochHistograms(e, {"conv1/kernel": hist(0.1 + 0.05 * e), "conv1/bias": hist(0.01)},
                           {"conv1": hist(1 + e), "relu1": hist(1.0)},
                           {"relu1": np.arange(10) < DEAD[e], "relu2": np.zeros(4, bool)}, 64, 0.01)


@pytest.fixture
def view(qtbot, tmp_path):
    tasks = TaskRunner()
    widget = HistogramView(tasks)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget
    widget.stop_play()
    tasks.shutdown()


def run_folder(tmp_path, epochs):
    run = Run.create(tmp_path, {"epochs": 3})
    log = run.histograms()
    for e in epochs:
        log.write(epoch(e))
    return run, log


def curves(view):
    return [i for i in view.plot.getPlotItem().items if isinstance(i, pg.PlotCurveItem)]


def test_shows_one_ridge_per_epoch_replays_and_follows_new_epochs(qtbot, view, tmp_path):
    run, log = run_folder(tmp_path, [0, 1, 2])
    view.set_run(run.path)
    qtbot.waitUntil(lambda: len(view.history) == 3)
    assert [view.layer.itemText(i) for i in range(view.layer.count())] == ["conv1/kernel", "conv1/bias"]
    assert len(curves(view)) == 3 and view.slider.value() == 2 and view.epoch_label.text() == "epoch 2 of 2"
    offsets = sorted((c.opts["fillLevel"], c.zValue()) for c in curves(view))
    assert offsets == [(0.0, 2), (1.0, 1), (2.0, 0)]  # epoch 2 in front at the bottom, epoch 0 at the back
    assert "500 values" in view.stats.text()
    view.kind.setCurrentIndex(1)  # activations
    assert view.layer.currentText() == "conv1" and view.log_scale.isChecked()
    assert "activation value" in view.plot.getAxis("bottom").labelText
    view.slider.setValue(0)
    bright = [c for c in curves(view) if c.opts["pen"].color().name() == "#ffffff"]
    assert len(bright) == 1 and bright[0].opts["fillLevel"] == 2.0  # epoch 0 highlighted
    view.toggle_play()
    assert view.play_timer.isActive()
    qtbot.waitUntil(lambda: not view.play_timer.isActive(), timeout=5000)
    assert view.slider.value() == 2
    log.write(epoch(3))  # a new epoch lands while training
    view.refresh()
    qtbot.waitUntil(lambda: len(view.history) == 4)
    assert view.slider.value() == 3 and len(curves(view)) == 4  # at the end: it follows the new epoch


def test_dead_relus_growing_are_flagged(qtbot, view, tmp_path):
    run, _ = run_folder(tmp_path, [0, 1, 2, 3])
    view.set_run(run.path)
    qtbot.waitUntil(lambda: len(view.history) == 4)
    table = view.dead_table
    assert table.rowCount() == 2 and table.item(0, 0).text() == "relu1" and table.item(0, 1).text() == "60%"
    assert table.item(0, 2).text() == "+50 pts" and view.flagged_layers() == ["relu1"]
    assert table.item(0, 0).background().color().name() == WARN_BACKGROUND
    assert "relu1: dead ReLUs rose from 10% to 60% after epoch 3" in view.warning.text()
    assert table.item(1, 0).background().style() == pg.QtCore.Qt.NoBrush  # relu2 stays at 0%
    view.slider.setValue(2)  # epoch 2: 10%, +10 points: not flagged
    assert view.flagged_layers() == [] and "No ReLU layer is losing units" in view.warning.text()
    view.slider.setValue(0)
    assert table.item(0, 2).text() == "—"


def test_a_damaged_file_is_left_out_and_said(qtbot, view, tmp_path):
    run, log = run_folder(tmp_path, [0, 1])
    log.path(2).write_bytes(b"half a file")
    view.set_run(run.path)
    qtbot.waitUntil(lambda: len(view.history) == 2)
    assert "Left out" in view.note.text() and "epoch-0002" in view.note.text()
    view.set_run(None)
    assert not view.history and not curves(view) and "pick a run" in view.note.text()


def test_a_run_without_histograms_says_how_to_get_them(qtbot, view, tmp_path):
    run = Run.create(tmp_path, {})
    view.set_run(run.path)
    qtbot.wait(100)
    assert "Record histograms every epoch" in view.note.text() and not curves(view)


def test_closing_the_page_while_files_are_read_is_safe(qtbot, tmp_path):
    tasks = TaskRunner()
    widget = HistogramView(tasks)
    run, _ = run_folder(tmp_path, [0, 1])
    widget.set_run(run.path)
    widget.deleteLater()
    qtbot.wait(20)   # deleted before the read reports back
    tasks.shutdown()
    qtbot.wait(100)  # the queued result arrives: nothing to show it in, no error
