"""File > Export's deploy formats: menu items, the overwrite question, the busy dialog and the result table."""

from __future__ import annotations

import importlib.util

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from cnnstudio import RESOURCES
from cnnstudio.core.project import load_project
from cnnstudio.core.templates import lenet5
from cnnstudio.ml.model.deploy_formats import FORMATS, missing_packages
from cnnstudio.ui.mainwindow import MainWindow
from cnnstudio.ui.studio import Studio

needs_extra = pytest.mark.skipif(any(missing_packages(f) for f in FORMATS.values()),
                                 reason="the export extra (pip install 'cnnstudio[export]') is not installed")


@pytest.fixture
def messages(monkeypatch):
    """Answers for QMessageBox.question (queued) and the questions and warnings asked."""
    record = {"answers": [], "questions": [], "warnings": []}

    def question(parent, title, text, *args):
        record["questions"].append(text)
        return record["answers"].pop(0)

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: record["warnings"].append(text))
    return record


def make_window(tmp_path, project):
    return MainWindow(Studio(project), QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


@pytest.fixture
def window(qtbot, tmp_path):
    win = make_window(tmp_path, load_project(RESOURCES / "projects" / "default.cnnproj"))
    qtbot.addWidget(win)
    yield win
    win.tasks.shutdown()


def test_a_missing_converter_is_named_in_its_disabled_item(qtbot, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    win = make_window(tmp_path, lenet5())
    qtbot.addWidget(win)
    items = win.editor_actions.deploy.actions
    assert items["onnx"].text() == "ONNX (install cnnstudio[export])" and not items["onnx"].isEnabled()
    assert "tf2onnx" in items["onnx"].toolTip()
    assert items["tflite-int8"].isEnabled() and items["tflite-int8"].text() == "TFLite int8 (.tflite)…"


def test_an_untrained_project_is_refused_before_asking_where(qtbot, tmp_path, messages, monkeypatch):
    win = make_window(tmp_path, lenet5())
    qtbot.addWidget(win)
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(a) or ("", ""))
    win.editor_actions.deploy.actions["tflite"].trigger()
    assert not asked and "no trained weights" in messages["warnings"][0]


@needs_extra
def test_export_shows_progress_asks_before_replacing_and_shows_the_table(qtbot, window, messages, tmp_path,
                                                                         monkeypatch):
    deploy, editor = window.editor_actions.deploy, window.editor_actions
    target = tmp_path / "shapes.tflite"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "shapes"), ""))
    deploy.actions["tflite-int8"].trigger()
    assert editor.busy is not None and editor.busy.isVisible()  # the conversion runs behind it
    qtbot.waitUntil(lambda: deploy.dialog is not None or bool(messages["warnings"]), timeout=60_000)
    assert not messages["warnings"] and editor.busy is None and target.exists() and not messages["questions"]
    table = deploy.dialog.table
    cells = [table.item(0, c).text() for c in range(table.columnCount())]
    assert cells[0] == "tflite-int8" and cells[3] == "100.0%" and cells[-1] == "ok"
    assert "checked in LiteRT" in deploy.dialog.text.text()
    # the same again: asked first; "No" leaves the files as they are
    before = target.stat().st_mtime_ns
    messages["answers"] = [QMessageBox.No]
    assert not deploy.export_to("tflite-int8", target)
    assert "shapes.labels.txt" in messages["questions"][0] and target.stat().st_mtime_ns == before


@needs_extra
def test_a_failed_check_shows_the_table_in_red_and_writes_nothing(qtbot, window, messages, tmp_path, monkeypatch):
    from cnnstudio.ml.model.deploy_check import RUNTIMES

    real = RUNTIMES["onnx"]

    def off(path):
        run = real(path)
        return type("Off", (), {"name": "off", "__call__": lambda self, x: run(x) + 0.01})()

    monkeypatch.setitem(RUNTIMES, "onnx", off)
    deploy = window.editor_actions.deploy
    assert deploy.export_to("onnx", tmp_path / "shapes.onnx")
    qtbot.waitUntil(lambda: deploy.dialog is not None or bool(messages["warnings"]), timeout=60_000)
    assert deploy.dialog.windowTitle() == "Export failed its check"
    assert deploy.dialog.table.item(0, 6).text() == "FAILED" and "Nothing was written" in deploy.dialog.text.text()
    assert not any(tmp_path.glob("shapes*")) and not any(tmp_path.glob(".cnnstudio-export-*"))
