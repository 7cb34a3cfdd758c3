"""The Transfer learning dialog: backbone layers read in the background, the default cut preselected,
refused cuts greyed with their reason, the head's settings; the new project opens frozen; a failure
changes nothing."""

import json
import os

import keras
import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from cnnstudio.core.templates import simple_cnn
from cnnstudio.ui.mainwindow import MainWindow
from cnnstudio.ui.studio import Studio

SHOTS = os.environ.get("CNNSTUDIO_SHOTS")


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)  # closing: no questions
    project = simple_cnn(["circle", "square", "star"])
    project.set_settings("data", {"options": {**project.data.options, "count": 90}})
    win = MainWindow(Studio(project))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def backbone_file(trained_model_factory, tmp_path):
    path = tmp_path / "tiny.keras"
    trained_model_factory().save(path)
    return path


def wait_for_layers(qtbot, dialog):
    qtbot.waitUntil(lambda: dialog.preview is not None or bool(dialog.message.text()), timeout=60_000)


def test_the_dialog_preselects_the_default_cut_greys_refused_ones_and_builds_a_frozen_project(
        qtbot, window, backbone_file):
    actions = window.editor_actions.transfer
    assert actions.action in window.templates_menu.actions()
    dialog = actions.open_dialog(str(backbone_file))
    wait_for_layers(qtbot, dialog)
    assert dialog.cut.currentData() == "sep"
    model = dialog.cut.model()
    gap = dialog.cut.findData("gap")
    assert not model.item(gap).isEnabled() and "no spatial axes" in model.item(gap).toolTip()
    assert "cannot be cut at" in dialog.cut_note.text()
    assert dialog.classes.text() == "3 from the project's dataset: circle, square, star"
    assert not dialog.weights.isEnabled()  # a file brings its own weights and input shape
    dialog.head_fields["dropout"].set_value(0.3)
    dialog.head_fields["dropout"].committed.emit(0.3)
    if SHOTS:
        dialog.grab().save(os.path.join(SHOTS, "transfer-dialog.png"))
    assert dialog.choice() == {"source": str(backbone_file), "weights": None, "input_shape": None, "cut": "sep",
                               "head": {"pooling": "avg", "dropout": 0.3, "hidden": 0}}
    dialog.accept()
    qtbot.waitUntil(lambda: window.studio.graph.by_name("head_classifier") is not None, timeout=60_000)
    graph = window.studio.graph
    assert [n.name for n in graph.nodes.values() if n.frozen] == ["conv", "bn", "sep"]
    assert graph.by_name("head_dropout").params["rate"] == 0.3
    assert window.studio.project.weights_file == str(backbone_file.resolve())
    assert window.studio.inference.trainable_params == 6 * 3 + 3  # only the new head trains


def test_an_offline_download_leaves_the_open_project_as_it_was(qtbot, window, monkeypatch):
    real = keras.applications.MobileNetV2

    def offline(**kwargs):  # reading the layers (no weights) works; the download fails as Keras fails offline
        if kwargs.get("weights") is None:
            return real(**kwargs)
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    before = json.dumps(window.studio.project.to_dict(), sort_keys=True)
    dialog = window.editor_actions.transfer.open_dialog("MobileNetV2", "imagenet", (32, 32, 3))
    wait_for_layers(qtbot, dialog)
    assert dialog.weights.isEnabled() and dialog.cut.currentIndex() >= 0
    assert dialog.buttons.button(QDialogButtonBox.Ok).isEnabled()
    dialog.accept()
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    assert shown[0].startswith("cannot download the imagenet weights for MobileNetV2 (offline?)")
    assert shown[0].endswith("The open project was not changed.")
    assert json.dumps(window.studio.project.to_dict(), sort_keys=True) == before


def test_the_applications_dialog_leads_to_transfer_learning(qtbot, window, monkeypatch):
    from cnnstudio.ui.editor.applications import ApplicationsDialog

    opened = []
    monkeypatch.setattr(window.editor_actions.transfer, "open_dialog", lambda *a: opened.append(a))
    built = []
    monkeypatch.setattr(window.editor_actions, "build_application", built.append)

    def choose(dialog):
        dialog.set_names(["MobileNetV2", "ResNet50"])
        dialog.shape.setText("64x64x3")
        button = next(b for b in dialog.findChild(QDialogButtonBox).buttons() if b.text() == "Transfer learning…")
        button.click()
        return dialog.result()

    monkeypatch.setattr(ApplicationsDialog, "exec", choose)
    window.editor_actions.applications_dialog()
    assert opened == [("MobileNetV2", None, (64, 64, 3))] and built == []  # a backbone, not the whole network
