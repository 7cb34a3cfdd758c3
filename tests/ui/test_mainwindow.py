"""The main window shell: opens without TensorFlow, loads it in the background, survives a broken panel."""

import sys

import pytest

from cnnstudio.core.project import save_project
from cnnstudio.core.templates import lenet5
from cnnstudio.ui.mainwindow import LazyPage, MainWindow
from cnnstudio.ui.studio import Studio


def test_window_shows_before_tensorflow_and_then_names_the_device(qtbot):
    studio = Studio(lenet5())
    win = MainWindow(studio)
    qtbot.addWidget(win)
    win.show()
    assert win.device_label.text() == "Loading TensorFlow…"
    assert "LeNet-5" in win.windowTitle()
    with qtbot.waitSignal(studio.tensorflow_loaded, timeout=60000) as blocker:
        studio.load_tensorflow()
    device = blocker.args[0]
    assert device.startswith(("CPU", "GPU"))
    qtbot.waitUntil(lambda: win.device_label.text() == device)
    assert studio.keras_fallback is not None and studio.compute.description == device  # written on the GUI thread


def test_editor_modules_do_not_import_tensorflow_at_startup():
    import subprocess
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen';"
            "from PySide6.QtWidgets import QApplication; app=QApplication([]);"
            "from cnnstudio.ui.mainwindow import MainWindow; w=MainWindow(); w.show(); app.processEvents();"
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, "TensorFlow was imported before the window showed\n" + out.stderr[-2000:]


def test_a_panel_that_fails_to_build_shows_its_error_instead_of_crashing(qtbot):
    studio = Studio(lenet5())
    page = LazyPage(studio, "cnnstudio.ui.no_such_module:Panel")
    qtbot.addWidget(page)
    panel = page.ensure()
    assert "failed to open" in panel.text()
    assert "ModuleNotFoundError" in panel.text()


def test_dirty_marker_follows_the_undo_stack(qtbot):
    from cnnstudio.core.commands import SetParams

    studio = Studio(lenet5())
    win = MainWindow(studio)
    qtbot.addWidget(win)
    c1 = studio.graph.by_name("C1").id
    assert studio.push(SetParams(studio.graph, c1, {"filters": 8})) is None
    assert win.windowTitle().startswith("LeNet-5 *")
    studio.undo_stack.undo()
    assert not win.windowTitle().startswith("LeNet-5 *")
    assert studio.graph.nodes[c1].params["filters"] == 6


def test_editor_docks_make_room_on_other_pages_and_come_back(qtbot):
    win = MainWindow(Studio(lenet5()))
    qtbot.addWidget(win)
    win.show()
    win.docks["Summary"].hide()  # the user closed one dock
    win.show_page("Convolution explorer")
    assert not any(d.isVisible() for d in win.docks.values())
    win.show_page("Editor")
    assert win.docks["Palette"].isVisible() and win.docks["Inspector"].isVisible()
    assert not win.docks["Summary"].isVisible()


def test_a_project_with_a_weights_file_offers_it_as_the_trained_model(qtbot, tmp_path):
    weights = tmp_path / "w.keras"
    weights.write_bytes(b"")
    project = lenet5()
    project.weights_file = str(weights)
    studio = Studio(project)
    studio.set_project(project)
    assert studio.trained.path == str(weights)
    project.weights_file = str(tmp_path / "gone.keras")
    studio.set_project(project)
    assert studio.trained.path is None


def test_every_page_and_dock_builds_in_the_window_and_closes_cleanly(qtbot):
    from PySide6.QtWidgets import QLabel

    from cnnstudio.ui.mainwindow import DOCKS, PAGES

    win = MainWindow(Studio(lenet5()))
    qtbot.addWidget(win)
    win.show()
    for title, _target in PAGES:
        panel = win.show_page(title)
        assert not (isinstance(panel, QLabel) and "failed to open" in panel.text()), panel.text()
    for title, _area, _target in DOCKS:
        panel = win.dock_panel(title)
        assert not (isinstance(panel, QLabel) and "failed to open" in panel.text()), panel.text()
    win.show_page("Editor")
    assert win.close()  # shuts every panel's workers down (the fixture fails on a running QThread)


@pytest.mark.parametrize("text, why", [
    ('{"format": "cnnstudio-project", "version": 1, "graph": {"nodes": [', "is corrupt or truncated (JSON error"),
    ('{"format": "cnnstudio-project", "version": 1, "graph": {"nodes": {}}}', "graph.nodes must be a list"),
    ('{"format": "cnnstudio-project", "version": 1, "autosave_of": 5}', "autosave_of must be a file path"),
])
def test_a_corrupt_autosave_is_set_aside_named_and_the_open_project_kept(qtbot, text, why):
    win = MainWindow(Studio(lenet5()))
    qtbot.addWidget(win)
    path = win._autosave_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    assert win.recover_autosave(ask=False) is False
    kept = path.with_name(path.name + ".corrupt")
    assert not path.exists() and kept.read_text(encoding="utf-8") == text  # nothing lost
    kept.unlink()
    assert why in win.statusBar().currentMessage() and "\n" not in win.statusBar().currentMessage()
    assert win.studio.project.name == "LeNet-5"


def test_the_status_bar_says_where_runs_go(qtbot, tmp_path, read_only):
    project = lenet5()
    save_project(project, tmp_path / "install" / "lenet.cnnproj")
    win = MainWindow(Studio(project))
    qtbot.addWidget(win)
    assert f"go to {tmp_path / 'install' / 'lenet.runs'} (beside" in win.runs_label.toolTip()
    read_only(tmp_path / "install")
    win.studio.set_project(project)  # opened again, from a read-only install
    assert win.runs_label.text().endswith("cnnstudio/runs/lenet") and "read-only" in win.runs_label.toolTip()
