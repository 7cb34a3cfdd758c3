"""The Probe page's Projector tab: it computes on the worker, hovering shows a dot's image, a click
makes it the Probe image, Cancel stops it, and Follow training projects each new checkpoint."""

import sys
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from cnnstudio.core.project import save_project
from cnnstudio.core.templates import simple_cnn
from cnnstudio.ml.probing import projector
from cnnstudio.ui.studio import Studio


@pytest.fixture
def projections_off_gui(monkeypatch):
    """Record the thread of every activation collection."""
    threads = []
    original = projector.collect

    def wrapped(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)
    monkeypatch.setattr(projector, "collect", wrapped)
    yield threads
    assert threads and not any(threads), "the projection ran on the GUI thread"


def _idle(qtbot, panel, timeout=60000):
    qtbot.waitUntil(lambda: not panel.jobs.busy, timeout=timeout)


@pytest.fixture
def tab(qtbot, tmp_path, projections_off_gui):
    from cnnstudio.ui.probe.panel import ProbePanel

    project = simple_cnn()
    project.set_settings("data", {"options": {**project.data.options, "count": 120}})  # 18 validation images
    save_project(project, tmp_path / "p.cnnproj")
    panel = ProbePanel(Studio(project))
    qtbot.addWidget(panel)
    panel.resize(1300, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.image is not None, timeout=60000)
    panel.tabs.setCurrentWidget(panel.projector_tab)  # shown: PCA of the default layer by itself
    qtbot.waitUntil(lambda: panel.projector_tab.result is not None, timeout=60000)
    _idle(qtbot, panel)
    yield panel.projector_tab
    panel.shutdown()


def _viewport_pos(tab, i):
    """Where dot ``i`` is drawn, in the canvas viewport's coordinates."""
    x, y = tab.result.xy[i]
    scene = tab.plot.getViewBox().mapViewToScene(QPointF(float(x), float(y)))
    return tab.canvas.mapFromScene(scene)


def test_the_tab_projects_the_penultimate_layer_with_a_legend_and_misclassified_rings(tab):
    r = tab.result
    assert tab.layer.currentData() == "fc" and r.layer == "fc"  # the input of the softmax layer (past no dropout)
    assert r.method == "pca" and len(r.xy) == 18 and r.split == "val"
    assert sum(len(d.data) for d in tab.dots.values()) == 18
    assert len(tab.rings.data) == int(r.misclassified.sum())
    rx, ry = tab.rings.getData()
    np.testing.assert_allclose(np.c_[rx, ry], r.xy[r.misclassified])  # the rings sit on the misclassified dots
    legend = [label.text for _, label in tab.legend.items]
    assert {n for n in (t.split(" (")[0] for t in legend)} == {*r.classes, "misclassified"}
    assert "explain" in tab.info.text() and "PCA" in tab.info.text()
    assert [tab.layer.itemData(i) for i in range(tab.layer.count())][-1] == "fc"


def test_hover_shows_the_image_and_click_makes_it_the_probe_image(qtbot, tab):
    r, panel = tab.result, tab.panel
    i = int(np.argmax(r.xy[:, 0]))  # the rightmost dot: no other on top of it
    qtbot.mouseMove(tab.canvas.viewport(), _viewport_pos(tab, i))
    qtbot.waitUntil(lambda: tab.hovered == i, timeout=5000)
    np.testing.assert_array_equal(tab.preview.image.image[:, :, :3], r.images[i])
    assert r.describe(i) in tab.preview_text.text()
    assert tab.preview.image.width() == 32 and tab.preview.width() >= 260  # drawn large
    qtbot.mouseClick(tab.canvas.viewport(), Qt.LeftButton, pos=_viewport_pos(tab, i))
    qtbot.waitUntil(lambda: f"val image {int(r.indices[i])}," in panel.image_name, timeout=30000)
    _idle(qtbot, panel)
    np.testing.assert_array_equal(panel.image.picture, r.images[i])
    assert r.describe(i) in panel.image_name


def test_tsne_computes_cancel_stops_and_a_missing_library_says_how_to_install_it(qtbot, tab, monkeypatch,
                                                                                 projections_off_gui):
    panel, first = tab.panel, tab.result
    collected = len(projections_off_gui)
    tab.method.setCurrentIndex(tab.method.findData("tsne"))
    tab.compute()
    assert tab.cancel_button.isEnabled() and tab.progress.isVisible()
    qtbot.keyClick(tab.layer, Qt.Key_Escape)  # Esc cancels
    _idle(qtbot, panel)
    assert tab.result is first and "Cancelled" in tab.info.text() and not tab.cancel_button.isEnabled()
    qtbot.keyClick(tab.layer, Qt.Key_Return, Qt.ControlModifier)  # Ctrl+Return computes
    qtbot.waitUntil(lambda: tab.result.method == "tsne", timeout=60000)
    assert tab.result.xy.shape == (18, 2) and "t-SNE" in tab.info.text()
    assert len(projections_off_gui) == collected  # another method: the same activations, not collected again
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    tab.compute()
    _idle(qtbot, panel)
    assert "pip install 'cnnstudio[projector]'" in panel.status.text() and not tab.progress.isVisible()


def test_follow_training_projects_each_new_checkpoint(qtbot, tab):
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.training.runs import Run

    panel = tab.panel
    tab.follow.setChecked(True)  # nothing trained yet: the editor's graph stays
    _idle(qtbot, panel)
    before = tab.result
    project = panel.studio.project
    run = Run.create(project.runs_dir(), {})
    build_model(project.graph).save(run.last_checkpoint)
    panel.studio.trained.publish(str(run.last_checkpoint))  # what the Training page does after an epoch
    qtbot.waitUntil(lambda: tab.result is not before and tab.result.title.startswith("Trained:"), timeout=60000)
    assert panel.info.title.startswith("Trained:") and tab.result.layer == "fc"
    tab.follow.setChecked(False)
    _idle(qtbot, panel)
    shown = tab.result
    panel.studio.trained.publish(str(run.last_checkpoint))
    _idle(qtbot, panel)
    assert tab.result is shown  # not following: the projection stays
