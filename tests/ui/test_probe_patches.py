"""The Probe page's Top patches tab (scan with progress, cancel, click to open at the unit) and the new
attribution methods with their options."""

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnnstudio.core.project import save_project
from cnnstudio.core.templates import simple_cnn
from cnnstudio.ui.studio import Studio


def _idle(qtbot, panel, timeout=60000):
    if panel.jobs.busy:
        with qtbot.waitSignal(panel.jobs.busy_changed, timeout=timeout, check_params_cb=lambda busy: not busy):
            pass


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    from cnnstudio.ml.probing.session import ProbeSession
    from cnnstudio.ui.probe.panel import ProbePanel

    on_gui = []
    for name in ("top_patches", "attribution"):
        original = getattr(ProbeSession, name)

        def wrapped(self, *args, _original=original, **kwargs):
            on_gui.append(threading.current_thread() is threading.main_thread())
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(ProbeSession, name, wrapped)
    project = simple_cnn()
    project.set_settings("data", {"options": {**project.data.options, "count": 120}})
    save_project(project, tmp_path / "p.cnnproj")
    panel = ProbePanel(Studio(project))
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.image is not None, timeout=60000)
    _idle(qtbot, panel)
    yield panel
    panel.shutdown()
    assert not any(on_gui), "a model call ran on the GUI thread"


def test_scan_shows_the_top_crops_and_a_click_opens_the_sample_at_that_unit(qtbot, panel):
    tab = panel.patches_tab
    panel.tabs.setCurrentWidget(tab)
    tab.layer.setCurrentIndex(tab.layer.findData("conv2"))
    tab.channel.setValue(3)
    tab.k.setValue(6)
    progress = []
    tab.progress.valueChanged.connect(progress.append)
    qtbot.mouseClick(tab.scan_button, Qt.LeftButton)
    assert tab.scanning and not tab.scan_button.isEnabled() and tab.cancel_button.isEnabled()
    _idle(qtbot, panel)
    assert not tab.scanning and tab.result.scanned == 120 and not tab.result.cancelled
    assert progress and progress[-1] == 120 and tab.progress.maximum() == 120
    assert len(tab.tiles) == 6
    values = [t.patch.value for t in tab.tiles]
    assert values == sorted(values, reverse=True) and len({t.patch.index for t in tab.tiles}) == 6
    first = tab.tiles[0]
    assert min(first.iconSize().width(), first.iconSize().height()) >= 96  # an 8x8 field, enlarged
    assert f"{first.patch.value:.3g}" in first.text() and "sample" in first.text()
    qtbot.mouseClick(first, Qt.LeftButton)
    _idle(qtbot, panel)
    field = panel.field_tab
    assert panel.current_view() is field and panel.index.value() == first.patch.index
    assert f"sample {first.patch.index} of 120" in panel.image_name
    assert field.layer.currentData() == "conv2" and field.channel.value() == 3
    assert field.unit == first.patch.unit and field.result.field.box == first.patch.field.box
    assert field.maps.activations[first.patch.unit][3] == pytest.approx(first.patch.value, rel=1e-4)


def test_cancel_stops_a_scan_within_a_second_and_keeps_the_best_so_far(qtbot, panel, monkeypatch):
    from cnnstudio.ml.probing import top_patches

    real = top_patches.dataset_batches

    def slow(*args, **kwargs):  # a big dataset: each batch takes a while
        for batch in real(*args, **kwargs):
            time.sleep(0.2)
            yield batch
    monkeypatch.setattr(top_patches, "dataset_batches", slow)
    monkeypatch.setattr(top_patches, "MAX_BATCH", 8)
    tab = panel.patches_tab
    panel.tabs.setCurrentWidget(tab)
    tab.scan()
    qtbot.waitUntil(lambda: tab.progress.value() >= 16, timeout=30000)
    start = time.perf_counter()
    qtbot.keyClick(tab, Qt.Key_Escape)
    _idle(qtbot, panel)
    assert time.perf_counter() - start < 1.0
    assert tab.result.cancelled and 16 <= tab.result.scanned < 120 and tab.tiles
    assert "cancelled after" in tab.info.text() and tab.scan_button.isEnabled()


def test_a_layer_without_a_field_says_why_in_one_line(qtbot, panel):
    from cnnstudio.ui.probe.requests import ScanPatches

    tab = panel.patches_tab
    key, dataset = panel.dataset_request()
    answers = []
    panel.jobs.submit("x", "", ScanPatches(dataset, (key, panel.studio.project.data), "conv2", 999, 4, 1,
                                           lambda d, t: None, threading.Event()), on_done=answers.append)
    _idle(qtbot, panel)
    assert answers == ["conv2 has 32 maps: no map 999"]
    assert tab.k.value() == 9 and tab.per_image.value() == 1  # the defaults


@pytest.mark.parametrize("method", ["guided", "guided_gradcam", "integrated"])
def test_the_new_attributions_draw_with_their_options(qtbot, panel, method):
    att = panel.attribution_tab
    panel.tabs.setCurrentWidget(att)
    att.method.setCurrentIndex(att.method.findData(method))
    _idle(qtbot, panel)
    assert att.result.method == method and att.heat_view.image.image is not None
    assert att.baseline.isVisible() == (method == "integrated") == att.steps.isVisible()
    assert att.cam_layer.isVisible() == (method == "guided_gradcam")
    if method == "integrated":
        assert "Attributions sum to" in att.info.text()
        att.baseline.setCurrentIndex(att.baseline.findData("blur"))
        att.steps.setValue(16)
        att.steps.editingFinished.emit()
        _idle(qtbot, panel)
        assert "blur baseline" in att.result.note
    else:
        assert att.heat_view.image.image.ndim == 3  # the signed gradient, in colour
