"""The Probe page's Maximise tab: a grid of channels runs on the worker with progress and previews,
pictures are drawn large and labelled, the GUI never stalls, Cancel (Esc) stops within a second."""

import threading
import time

import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from cnnstudio.core.templates import simple_cnn
from cnnstudio.ui.studio import Studio


@pytest.fixture
def tab(qtbot, monkeypatch):
    from cnnstudio.ml.probing.session import ProbeSession
    from cnnstudio.ui.probe.panel import ProbePanel

    on_gui = []
    original = ProbeSession.maximize

    def recorded(self, *args, **kwargs):
        on_gui.append(threading.current_thread() is threading.main_thread())
        return original(self, *args, **kwargs)
    monkeypatch.setattr(ProbeSession, "maximize", recorded)

    panel = ProbePanel(Studio(simple_cnn()))
    qtbot.addWidget(panel)
    panel.resize(1300, 820)
    panel.show()
    qtbot.waitUntil(lambda: panel.info is not None, timeout=60000)
    tab = panel.maximize_tab
    panel.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: bool(tab.layers), timeout=60000)
    yield tab
    panel.shutdown()
    assert not any(on_gui), "a maximisation ran on the GUI thread"


class StallMeter:
    """The largest gap between ticks of a 10 ms timer on the GUI thread."""

    def __init__(self):
        self.clock, self.worst = QElapsedTimer(), 0
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)

    def start(self):
        self.clock.start()
        self.timer.start()

    def _tick(self):
        self.worst = max(self.worst, self.clock.restart())


def _set(tab, **values):
    for name, value in values.items():
        tab.settings_fields[name].set_value(value)


def test_a_grid_runs_on_the_worker_with_previews_large_labelled_pictures_and_no_gui_stall(qtbot, tab):
    assert tab.layer.currentData() == "conv3"  # the last convolution first
    tab.layer.setCurrentIndex(tab.layer.findData("conv2"))
    assert tab.layer.findData("") == 0 and tab.layers["conv2"] == 32 and "fc" in tab.layers  # a Dense layer too
    tab.grid.setChecked(True)
    tab.count.setValue(6)
    tab.channel.setValue(2)
    _set(tab, steps=60, preview_every=10)
    previews = []
    tab.relay.progressed.connect(lambda p: p.pictures is not None and previews.append(p.step))
    meter = StallMeter()
    # the first run traces the step: measured from the second, as a user meets it after one run
    qtbot.keyClick(tab.layer, Qt.Key_Return, Qt.ControlModifier)
    assert tab.running and not tab.run_button.isEnabled()
    qtbot.waitUntil(lambda: not tab.running, timeout=60000)
    previews.clear()
    meter.start()
    assert tab.start()
    qtbot.waitUntil(lambda: not tab.running, timeout=60000)
    meter.timer.stop()
    assert previews == [10, 20, 30, 40, 50]
    r = tab.result
    assert r.goal.layer == "conv2" and r.goal.channels == (2, 3, 4, 5, 6, 7) and r.steps == 60
    assert (r.activations >= r.start).all() and (r.activations > r.start).sum() >= 4  # a dead ReLU stays dead
    assert tab.progress.value() == 60 and "6 picture(s), 60 steps" in tab.status.text()
    assert tab.pictures.captions == [f"channel {c}: {v:.4g}" for c, v in zip(range(2, 8), r.activations)]
    assert tab.pictures.tile() >= 144
    assert meter.worst < 50, f"the GUI thread stalled {meter.worst} ms"


def test_cancel_stops_within_a_second_and_keeps_the_pictures_so_far(qtbot, tab):
    tab.layer.setCurrentIndex(tab.layer.findData(""))  # the output's classes
    _set(tab, steps=100000)
    assert tab.start()
    qtbot.waitUntil(lambda: tab.progress.value() >= 3, timeout=60000)
    t0 = time.perf_counter()
    qtbot.keyClick(tab.channel, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not tab.running, timeout=5000)
    assert time.perf_counter() - t0 < 1.0
    r = tab.result
    assert r.cancelled and 3 <= r.steps < 100000 and r.goal.layer is None
    assert "cancelled after" in tab.status.text() and tab.run_button.isEnabled()
    assert tab.pictures.captions[0].startswith(f"class '{tab.classes[0]}': ")


def test_defaults_brings_the_settings_back(qtbot, tab):
    _set(tab, steps=12, parametrization="pixel", tv=3.0)
    assert tab.settings().steps == 12 and tab.settings().parametrization == "pixel"
    defaults = next(b for b in tab.findChildren(type(tab.run_button)) if b.text() == "Defaults")
    qtbot.mouseClick(defaults, Qt.LeftButton)
    from cnnstudio.ml.probing.maximize_spec import MaximizeSettings
    assert tab.settings() == MaximizeSettings.default()


def test_one_unit_of_a_map_is_maximised_at_its_row_and_column(qtbot, tab):
    tab.layer.setCurrentIndex(tab.layer.findData(""))  # classes have no map: no unit to choose
    assert not tab.at_unit.isEnabled()
    tab.layer.setCurrentIndex(tab.layer.findData("conv2"))
    assert tab.at_unit.isEnabled() and not tab.unit_row.isEnabled()
    tab.at_unit.setChecked(True)
    tab.unit_row.setValue(3)
    tab.unit_col.setValue(5)
    tab.channel.setValue(1)
    _set(tab, steps=8)
    assert tab.current_goal().unit == (3, 5) and tab.start()
    qtbot.waitUntil(lambda: not tab.running, timeout=60000)
    assert tab.result.goal.unit == (3, 5) and tab.result.activations[0] > tab.result.start[0]
    assert tab.pictures.captions == [f"channel 1 at 3,5: {tab.result.activations[0]:.4g}"]
