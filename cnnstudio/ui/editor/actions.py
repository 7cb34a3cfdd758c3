"""The editor's menu entries: templates, Keras Applications, import and export.

:func:`install_editor_actions` adds them to the main window's existing File and Templates
menus; it reuses the window's confirm-discard, importer, task runner and status bar.
Everything that needs TensorFlow (building, saving, exporting) runs on the task runner
behind a busy dialog; failures come back as a message box that says what went wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QMessageBox, QProgressDialog

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.templates import TEMPLATES

from cnnstudio.ui.editor.applications import ApplicationsDialog
from cnnstudio.ui.editor.deploy_actions import DeployActions
from cnnstudio.ui.editor.transfer_actions import TransferActions

KERAS_FILTER = "Keras models (*.keras *.h5 *.hdf5 *.json);;All files (*)"
IMAGE_FILTERS = {"PNG image (*.png)": ".png", "SVG image (*.svg)": ".svg"}
#: Fragments of the errors Keras raises when it cannot download weights.
OFFLINE_HINTS = ("offline", "cannot download", "url fetch failure", "urlopen", "name or service not known",
                 "name resolution", "network is unreachable", "getaddrinfo", "connection", "http error", "timed out")


def graph_problem(studio) -> str | None:
    """Why the graph cannot become a Keras model (empty, or which layer has which error), or None."""
    if not studio.graph.nodes:
        return "The graph is empty: add an Input layer and some layers first."
    errors = studio.inference.errors
    if not errors:
        return None
    lines = [f"• {studio.graph.nodes[nid].name}: {msg}" for nid, msg in list(errors.items())[:5]]
    more = f"\n…and {len(errors) - 5} more" if len(errors) > 5 else ""
    return "The graph has errors; fix these layers first:\n" + "\n".join(lines) + more


def offline_message(name: str, error: str) -> str:
    """A person's explanation of a failed ImageNet download, or ``error`` as it is."""
    if any(h in error.lower() for h in OFFLINE_HINTS):
        return (f"Could not download the ImageNet weights for {name}: this computer seems to be offline.\n\n"
                "Choose weights 'none' to build the same architecture with random weights, "
                "or connect to the internet and try again.")
    return error


def _snapshot(graph: LayerGraph) -> LayerGraph:
    """A copy for a background task, so edits made meanwhile cannot change what it builds."""
    return LayerGraph.from_dict(graph.to_dict())


def _save_keras(graph: LayerGraph, name: str, path: Path, weights: Path | None) -> str:
    from cnnstudio.ml.model.export import save_keras
    return f"Exported {path}: {save_keras(graph, path, name, weights).describe()}"


def _save_python(graph: LayerGraph, name: str, path: Path, weights: Path | None) -> str:
    from cnnstudio.ml.model.export import save_python, weights_name
    from cnnstudio.ml.model.weights import ARCHITECTURE_ONLY

    built = save_python(graph, path, name, weights)
    if built is None:
        return f"Exported {path}: {ARCHITECTURE_ONLY}"
    return f"Exported {path} and {weights_name(path)} beside it: {built.describe()}"


def _build_application(**choice: Any):
    from cnnstudio.ml.model.keras_io import project_from_application
    return project_from_application(**choice)


class EditorActions(QObject):
    """Owns the editor's menu actions on one main window."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window, self.studio = window, window.studio
        self.busy: QProgressDialog | None = None
        self.template_actions: dict[str, QAction] = {}
        for name in TEMPLATES:
            act = window.templates_menu.addAction(name)
            act.triggered.connect(lambda _=False, n=name: self.load_template(n))
            self.template_actions[name] = act
        window.templates_menu.addSeparator()
        self.applications_action = window.templates_menu.addAction("Keras &Applications…", self.applications_dialog)
        self.transfer = TransferActions(self)  # Templates > Transfer Learning…
        menu = window.file_menu
        after_recent = menu.actions()[menu.actions().index(window.recent_menu.menuAction()) + 1]
        self.import_action = QAction("&Import Keras model…", self)
        self.import_action.triggered.connect(self.import_dialog)
        menu.insertAction(after_recent, self.import_action)
        quit_action = next(a for a in menu.actions() if a.text() == "&Quit")
        self.export_menu = QMenu("&Export", menu)
        menu.insertMenu(quit_action, self.export_menu)
        menu.insertSeparator(quit_action)
        self.export_keras_action = self.export_menu.addAction("&Keras model (.keras)…", self.export_keras)
        self.export_python_action = self.export_menu.addAction("&Python code (.py)…", self.export_python)
        self.export_image_action = self.export_menu.addAction("Graph &image (PNG, SVG)…", self.export_image)
        self.deploy = DeployActions(self)  # SavedModel, TFLite, ONNX, after the Keras entries

    # -- templates and applications ----------------------------------------------------
    def load_template(self, name: str) -> bool:
        """Replace the project by template ``name`` (after confirming unsaved edits)."""
        if not self.window.confirm_discard():
            return False
        self.studio.set_project(TEMPLATES[name][1]())
        self.studio.status_message.emit(f"Opened the {name} template")
        return True

    def applications_dialog(self) -> None:
        """Ask for a ``keras.applications`` architecture and build it in the background."""
        dialog = ApplicationsDialog(self.window.tasks, self.window)
        if dialog.exec() != QDialog.Accepted:
            return
        if dialog.wants_transfer:  # its "Transfer learning…" button: the architecture as a backbone
            choice = dialog.choice()
            self.transfer.open_dialog(choice["name"], choice["weights"], choice["input_shape"])
            return
        if self.window.confirm_discard():
            self.build_application(dialog.choice())

    def build_application(self, choice: dict) -> None:
        """Build ``choice`` (see :meth:`ApplicationsDialog.choice`) off the GUI thread, then open it."""
        name = choice["name"]

        def _failed(msg: str, _tb: str) -> None:
            text = offline_message(name, msg) if choice.get("weights") == "imagenet" else msg
            QMessageBox.warning(self.window, f"Cannot build {name}", text)

        self._run_busy(f"Building {name}…", _build_application, on_done=self.window._on_import_done,
                       on_error=_failed, **choice)

    # -- import and export -----------------------------------------------------------
    def import_dialog(self) -> None:
        """Ask for a ``.keras``, ``.h5`` or Keras JSON file and import it as a new project."""
        if not self.window.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Import Keras model", str(self.window._last_dir()), KERAS_FILTER)
        if path:
            self.window.import_model(Path(path))

    def _ask_save_path(self, title: str, suffix: str, filters: str) -> tuple[Path | None, str]:
        start = self.window._last_dir() / f"{self.studio.project.name.replace(' ', '_')}{suffix}"
        path, chosen = QFileDialog.getSaveFileName(self.window, title, str(start), filters)
        return (Path(path) if path else None), chosen

    def _check_graph(self, what: str) -> bool:
        problem = graph_problem(self.studio)
        if problem:
            QMessageBox.warning(self.window, f"Cannot export {what}", problem)
        return problem is None

    def _trained_weights(self) -> Path | None:
        from cnnstudio.ml.model.weights import trained_weights_file  # file look-ups only, no TensorFlow
        return trained_weights_file(self.studio.project)

    def export_keras(self) -> None:
        """Save the graph as a ``.keras`` model, with the project's trained weights where it has any."""
        if not self._check_graph("the Keras model"):
            return
        path, _ = self._ask_save_path("Export Keras model", ".keras", "Keras model (*.keras)")
        if path is not None:
            path = path if path.suffix == ".keras" else path.with_name(path.name + ".keras")
            self._run_busy("Saving the Keras model…", _save_keras, _snapshot(self.studio.graph),
                           self.studio.project.name, path, self._trained_weights(),
                           on_done=self._on_exported, on_error=self._on_export_failed)

    def export_python(self) -> None:
        """Write a Keras functional script that rebuilds the model; offer its trained weights beside it."""
        if not self._check_graph("Python code"):
            return
        path, _ = self._ask_save_path("Export Python code", ".py", "Python script (*.py)")
        if path is None:
            return
        path = path if path.suffix == ".py" else path.with_name(path.name + ".py")
        weights = self._trained_weights()
        if weights is not None:
            from cnnstudio.ml.model.export import weights_name

            answer = QMessageBox.question(
                self.window, "Export the trained weights too?",
                f"The script holds the architecture only. Also write the trained weights from\n{weights}\n"
                f"beside it as {weights_name(path)}? The script loads them when that file is there.",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
            weights = weights if answer == QMessageBox.Yes else None
        self._run_busy("Writing the Python code…", _save_python, _snapshot(self.studio.graph),
                       self.studio.project.name, path, weights, on_done=self._on_exported,
                       on_error=self._on_export_failed)

    def export_image(self) -> None:
        """Save a picture of the graph as the canvas draws it (PNG or SVG, by the file name)."""
        path, chosen = self._ask_save_path("Export graph image", ".png", ";;".join(IMAGE_FILTERS))
        if path is None:
            return
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_name(path.name + IMAGE_FILTERS.get(chosen, ".png"))
        canvas = self.window.page("Editor")
        try:
            canvas.export_image(path)
        except Exception as exc:  # a full disk, a canvas that failed to build: say so, keep going
            self._on_export_failed(f"{type(exc).__name__}: {exc}", "")
            return
        self._on_exported(f"Exported {path}")

    def _on_exported(self, report: str) -> None:
        self.studio.status_message.emit(report)

    def _on_export_failed(self, msg: str, _tb: str) -> None:
        QMessageBox.warning(self.window, "Export failed", msg)

    # -- background work ------------------------------------------------------------
    def _run_busy(self, text: str, fn: Callable, *args: Any, on_done: Callable, on_error: Callable, **kwargs: Any) -> None:
        """Run ``fn`` on the window's task runner with a modal busy dialog until it reports back."""
        busy = QProgressDialog(text, "", 0, 0, self.window)
        busy.setCancelButton(None)  # Keras cannot be interrupted mid-build
        busy.setWindowTitle("Working")
        busy.setWindowModality(Qt.WindowModal)
        busy.setMinimumDuration(0)
        busy.show()
        self.busy = busy

        def _finish(callback: Callable, *result: Any) -> None:
            busy.close()
            busy.deleteLater()
            self.busy = None
            callback(*result)

        self.window.tasks.run(fn, *args, on_done=lambda r: _finish(on_done, r),
                              on_error=lambda m, tb: _finish(on_error, m, tb), **kwargs)


def install_editor_actions(window) -> EditorActions:
    """Add the editor's menu entries to ``window`` (a MainWindow); kept as ``window.editor_actions``."""
    window.editor_actions = EditorActions(window)
    return window.editor_actions
