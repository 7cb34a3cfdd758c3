"""Files through the main window: templates, save/open, dirty title, discard prompts, autosave,
recent files, corrupt files, import, export and Keras Applications. Dialogs are monkeypatched."""

import zipfile

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from cnnstudio.core.commands import SetParams
from cnnstudio.core.templates import TEMPLATES, lenet5
from cnnstudio.ui.mainwindow import MainWindow
from cnnstudio.ui.studio import Studio


class Dialogs:
    """Stands in for the modal dialogs: queued answers and paths, recorded messages."""

    def __init__(self, monkeypatch) -> None:
        self.answers: list = []  # QMessageBox.question replies, in order
        self.open_paths: list = []
        self.save_paths: list = []  # (path, chosen filter)
        self.questions: list[str] = []
        self.warnings: list[str] = []
        self.save_asked = 0
        monkeypatch.setattr(QMessageBox, "question", self._question)
        monkeypatch.setattr(QMessageBox, "warning", self._warning)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", self._open)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", self._save)

    def _question(self, parent, title, text, *args):
        self.questions.append(text)
        assert self.answers, f"unexpected question: {text}"
        return self.answers.pop(0)

    def _warning(self, parent, title, text, *args):
        self.warnings.append(f"{title}: {text}")
        return QMessageBox.Ok

    def _open(self, *args, **kwargs):
        return (str(self.open_paths.pop(0)), "") if self.open_paths else ("", "")

    def _save(self, *args, **kwargs):
        self.save_asked += 1
        if not self.save_paths:
            return "", ""
        path, chosen = self.save_paths.pop(0)
        return str(path), chosen


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


@pytest.fixture
def window(qtbot, tmp_path, dialogs):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(Studio(lenet5()), settings)
    yield win
    win.studio.undo_stack.setClean()  # closing must not ask
    win.close()
    win.deleteLater()
    win._autosave_path().unlink(missing_ok=True)


def edit_c1(win, filters=8):
    studio = win.studio
    assert studio.push(SetParams(studio.graph, studio.graph.by_name("C1").id, {"filters": filters})) is None


def test_every_template_loads_without_errors(window):
    actions = window.editor_actions.template_actions
    assert list(actions) == list(TEMPLATES)
    for name, act in actions.items():
        act.trigger()
        assert window.studio.project.name == name
        assert not window.studio.inference.errors, name
    actions["LeNet-5"].trigger()
    assert window.studio.inference.total_params == 61_706
    assert window.windowTitle() == "LeNet-5 — cnnstudio"


def test_discarding_unsaved_work_asks_save_discard_or_cancel(window, dialogs, tmp_path):
    act = window.editor_actions.template_actions["Simple CNN"]
    edit_c1(window)
    dialogs.answers = [QMessageBox.Cancel]
    act.trigger()
    assert window.studio.project.name == "LeNet-5" and window.studio.dirty
    dialogs.answers = [QMessageBox.Discard]
    act.trigger()
    assert window.studio.project.name == "Simple CNN" and not window.studio.dirty
    window.editor_actions.template_actions["LeNet-5"].trigger()
    edit_c1(window)
    dialogs.answers = [QMessageBox.Save]
    dialogs.save_paths = [(tmp_path / "kept", "")]
    act.trigger()
    assert window.studio.project.name == "Simple CNN"
    assert (tmp_path / "kept.cnnproj").exists()
    assert len(dialogs.questions) == 3


def test_save_then_reopen_round_trips_and_the_title_shows_dirty(window, dialogs, tmp_path):
    edit_c1(window, 9)
    assert window.windowTitle().startswith("LeNet-5 *")
    dialogs.save_paths = [(tmp_path / "net", "")]
    assert window.save()
    path = tmp_path / "net.cnnproj"
    assert path.exists() and window.windowTitle() == "net.cnnproj — cnnstudio"
    window.editor_actions.template_actions["VGG-style"].trigger()
    dialogs.open_paths = [path]
    window.open_dialog()
    studio = window.studio
    assert studio.project.path == path and not studio.dirty
    assert studio.graph.by_name("C1").params["filters"] == 9
    assert len(studio.graph.nodes) == 9 and not studio.inference.errors
    assert window.recent_files()[0] == str(path.resolve())


def test_recent_files_are_listed_newest_first_and_open(window, dialogs, tmp_path):
    for stem in ("a", "b"):
        dialogs.save_paths = [(tmp_path / stem, "")]
        assert window.save_as()
    assert [p.rsplit("/", 1)[1] for p in window.recent_files()] == ["b.cnnproj", "a.cnnproj"]
    window.recent_menu.aboutToShow.emit()
    entries = window.recent_menu.actions()
    assert [a.text() for a in entries] == ["b.cnnproj", "a.cnnproj"]
    window.editor_actions.template_actions["ResNet-style"].trigger()
    entries[1].trigger()
    assert window.studio.project.path.name == "a.cnnproj"


def test_autosave_is_written_when_dirty_and_recovered(qtbot, window, tmp_path):
    autosave = window._autosave_path()
    window.autosave()
    assert not autosave.exists()  # nothing unsaved, nothing written
    edit_c1(window, 11)
    window.autosave()
    assert autosave.exists()
    other = MainWindow(Studio(), QSettings(str(tmp_path / "other.ini"), QSettings.IniFormat))
    qtbot.addWidget(other)
    assert other.recover_autosave(ask=False)
    assert other.studio.graph.by_name("C1").params["filters"] == 11
    assert other.studio.dirty and " *" in other.windowTitle()
    other.studio.undo_stack.setClean()


def test_a_corrupt_project_file_is_refused_and_the_open_project_kept(window, dialogs, tmp_path):
    bad = tmp_path / "broken.cnnproj"
    bad.write_text('{"format": "cnnstudio-project", "version": 1, "graph": {', encoding="utf-8")
    assert not window.open_path(bad, confirmed=True)
    assert "corrupt" in dialogs.warnings[-1]
    assert window.studio.project.name == "LeNet-5" and len(window.studio.graph.nodes) == 9


def test_export_is_refused_while_the_graph_has_errors_naming_the_layer(qtbot, window, dialogs):
    studio = window.studio
    studio.push(SetParams(studio.graph, studio.graph.by_name("C3").id, {"kernel_size": (15, 15)}))
    studio.reinfer()
    window.editor_actions.export_keras_action.trigger()
    window.editor_actions.export_python_action.trigger()
    assert dialogs.save_asked == 0
    assert len(dialogs.warnings) == 2
    assert "C3" in dialogs.warnings[0] and "does not fit input 14x14" in dialogs.warnings[0]


def test_export_python_and_keras_then_import_the_keras_file(qtbot, window, dialogs, tmp_path):
    actions = window.editor_actions
    dialogs.save_paths = [(tmp_path / "lenet", "")]
    actions.export_python_action.trigger()
    script = tmp_path / "lenet.py"
    qtbot.waitUntil(lambda: script.exists() and actions.busy is None, timeout=60_000)
    code = script.read_text(encoding="utf-8")
    compile(code, str(script), "exec")
    assert "Conv2D" in code and "C1" in code
    dialogs.save_paths = [(tmp_path / "lenet.keras", "")]
    actions.export_keras_action.trigger()
    model = tmp_path / "lenet.keras"
    qtbot.waitUntil(lambda: model.exists() and actions.busy is None, timeout=60_000)
    assert zipfile.is_zipfile(model)
    assert not dialogs.warnings
    window.editor_actions.template_actions["Simple CNN"].trigger()
    dialogs.open_paths = [model]
    actions.import_action.trigger()
    qtbot.waitUntil(lambda: window.studio.project.name != "Simple CNN", timeout=60_000)
    assert window.studio.inference.total_params == 61_706
    assert window.studio.dirty  # an import is unsaved work


@pytest.mark.parametrize("name", ["MobileNetV2", "MobileNetV3Small"])  # V3 has raw Keras operations (x + 3.0)
def test_keras_applications_build_in_the_background(qtbot, window, dialogs, name):
    actions = window.editor_actions
    actions.build_application({"name": name, "input_shape": (64, 64, 3), "classes": 5, "weights": None})
    assert actions.busy is not None and actions.busy.isVisible()
    qtbot.waitUntil(lambda: window.studio.project.name == name, timeout=60_000)
    assert actions.busy is None and not dialogs.warnings
    assert len(window.studio.graph.nodes) > 150 and not window.studio.inference.errors
    mode = {"MobileNetV2": "tf", "MobileNetV3Small": "raw"}[name]  # what it was trained with, and why:
    assert window.studio.project.preprocessing.scale == mode
    assert f"scaling {mode}: " in window.statusBar().currentMessage()
    from cnnstudio.ml.model.keras_io import keras_fallback

    window.studio.keras_fallback = keras_fallback  # as once TensorFlow has loaded: Keras infers the generic nodes
    window.studio.reinfer()
    assert not window.studio.inference.errors


def test_offline_imagenet_weights_get_a_clear_message(qtbot, window, dialogs, monkeypatch):
    from cnnstudio.ml.model import keras_io

    def offline(**_choice):
        raise keras_io.ModelImportError("cannot download the imagenet weights for ResNet50 (offline?): "
                                        "URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras_io, "project_from_application", offline)
    window.editor_actions.build_application({"name": "ResNet50", "input_shape": None, "classes": 1000,
                                             "weights": "imagenet"})
    qtbot.waitUntil(lambda: bool(dialogs.warnings), timeout=30_000)
    assert "offline" in dialogs.warnings[0] and "Choose weights 'none'" in dialogs.warnings[0]
    assert window.studio.project.name == "LeNet-5"


def test_the_applications_dialog_lists_keras_architectures(qtbot, window):
    from cnnstudio.ui.editor.applications import ApplicationsDialog

    dialog = ApplicationsDialog(window.tasks, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.names.isEnabled, timeout=60_000)
    dialog.search.setText("resnet50")
    assert dialog.names.currentItem().text() == "ResNet50"
    dialog.shape.setText("96x96")
    dialog.accept()
    assert "height x width x channels" in dialog.message.text() and dialog.result() == 0
    dialog.shape.setText("96x96x3")
    dialog.weights.setCurrentIndex(1)
    assert dialog.choice() == {"name": "ResNet50", "input_shape": (96, 96, 3), "classes": 1000, "weights": "imagenet"}


def test_graph_image_export_writes_png_and_svg(window, dialogs, tmp_path):
    canvas = window.page("Editor")
    if not hasattr(canvas, "export_image"):
        pytest.skip("the canvas has no export_image yet")
    dialogs.save_paths = [(tmp_path / "graph", "PNG image (*.png)"), (tmp_path / "graph.svg", "")]
    window.editor_actions.export_image_action.trigger()
    window.editor_actions.export_image_action.trigger()
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "graph.svg").read_bytes()[:2000]
    assert not dialogs.warnings


def test_export_of_an_imported_trained_model_keeps_its_weights(qtbot, window, dialogs, tmp_path,
                                                               trained_model_factory):
    import keras
    import numpy as np

    from cnnstudio.ml.model.keras_io import project_from_file

    model = trained_model_factory()
    model.save(tmp_path / "trained.keras")
    window.studio.set_project(project_from_file(tmp_path / "trained.keras"))
    actions = window.editor_actions
    messages = []
    window.studio.status_message.connect(messages.append)
    dialogs.save_paths = [(tmp_path / "out.keras", "")]
    actions.export_keras_action.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "out.keras").exists() and actions.busy is None, timeout=60_000)
    exported = keras.saving.load_model(tmp_path / "out.keras", compile=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), exported.get_weights()))
    assert "trained weights from" in messages[-1]
    dialogs.save_paths, dialogs.answers = [(tmp_path / "net.py", "")], [QMessageBox.Yes]
    actions.export_python_action.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "net.weights.h5").exists() and actions.busy is None, timeout=60_000)
    assert "trained weights" in dialogs.questions[-1] and "net.weights.h5" in messages[-1]
    assert not dialogs.warnings


@pytest.mark.parametrize("agree", [False, True])
def test_a_model_with_code_is_imported_only_after_the_risk_is_named_and_accepted(qtbot, window, dialogs,
                                                                                 tmp_path, agree):
    import keras

    marker = tmp_path / "ran"
    # the Lambda writes the marker when it runs; its path makes its bytecode unlike any other test's
    inp = keras.Input((4,))
    fn = eval(f"lambda t: t * float(__import__('pathlib').Path({str(marker)!r}).write_text('ran') > 0)")
    keras.Model(inp, keras.layers.Lambda(fn, name="scale")(inp)).save(tmp_path / "code.keras")
    marker.unlink()
    dialogs.answers = [QMessageBox.Yes if agree else QMessageBox.No]
    window.open_path(tmp_path / "code.keras", confirmed=True)
    qtbot.waitUntil(lambda: not dialogs.answers, timeout=60_000)
    assert dialogs.questions[0].startswith('This model contains Python code (a Lambda layer "scale") that runs when '
                                           "it is loaded.")
    assert "read, change or delete your files" in dialogs.questions[0]
    if agree:
        qtbot.waitUntil(lambda: window.studio.project.name == "code", timeout=60_000)
        assert marker.exists()
    else:
        qtbot.wait(200)
        assert window.studio.project.name == "LeNet-5" and not marker.exists()
    assert not dialogs.warnings
