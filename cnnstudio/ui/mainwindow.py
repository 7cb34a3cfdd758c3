"""The main window: the editor canvas in the middle, docks around it, pages as tabs.

Pages and docks are registered in :data:`PAGES` and :data:`DOCKS` as ``module:Class``
names and built on first show, so start-up imports only the editor; pyqtgraph and
TensorFlow come later. TensorFlow is imported in the background once the window is up.
Each panel class takes ``(studio, parent)``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QStackedLayout, QTabWidget, QWidget)

from cnnstudio.core.autosave import AUTOSAVE_ERRORS, read_autosave, write_autosave
from cnnstudio.core.project import SUFFIX, Project, ProjectError, load_project, save_project

from cnnstudio.ui.studio import Studio
from cnnstudio.ui.tasks import TaskRunner
from cnnstudio.ui.window_memory import WindowMemory

#: Central pages: (title, "module:Class").
PAGES = [
    ("Editor", "cnnstudio.ui.editor.canvas:CanvasView"),
    ("Training", "cnnstudio.ui.training.panel:TrainingPanel"),
    ("Probe", "cnnstudio.ui.probe.panel:ProbePanel"),
    ("Convolution explorer", "cnnstudio.ui.explorer.page:ConvolutionExplorer"),
    ("Live", "cnnstudio.ui.live.panel:LivePanel"),
]
#: Docks: (title, area, "module:Class").
DOCKS = [
    ("Palette", Qt.LeftDockWidgetArea, "cnnstudio.ui.editor.palette:PaletteView"),
    ("Inspector", Qt.RightDockWidgetArea, "cnnstudio.ui.editor.inspector:InspectorView"),
    ("Summary", Qt.BottomDockWidgetArea, "cnnstudio.ui.editor.summary:SummaryView"),
]
PROJECT_FILTER = f"cnnstudio projects (*{SUFFIX});;Keras models (*.keras *.h5 *.json);;All files (*)"
AUTOSAVE_MS = 60_000
MAX_RECENT = 8


def _import_file(path: Path, trust_code: bool):
    """The project from a model file, or the :class:`UntrustedCodeError` that refused it (returned,
    not raised, so the window can ask whether to run the code)."""
    from cnnstudio.ml.model.keras_io import UntrustedCodeError, project_from_file

    try:
        return project_from_file(path, trust_code)
    except UntrustedCodeError as exc:
        return exc


def load_class(path: str):
    """``'pkg.mod:Class'`` -> the class."""
    mod, _, cls = path.partition(":")
    return getattr(importlib.import_module(mod), cls)


class LazyPage(QWidget):
    """Builds its panel the first time it is shown."""

    def __init__(self, studio: Studio, target: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio, self.target = studio, target
        self.panel: QWidget | None = None
        self._layout = QStackedLayout(self)

    def ensure(self) -> QWidget:
        """Build the panel now if it is not built yet; returns it."""
        if self.panel is None:
            try:
                self.panel = load_class(self.target)(self.studio, self)
            except Exception as exc:  # a broken panel must not take the studio down
                self.panel = QLabel(f"This panel failed to open:\n{type(exc).__name__}: {exc}", self)
                self.panel.setAlignment(Qt.AlignCenter)
                self.panel.setWordWrap(True)
            self._layout.addWidget(self.panel)
        return self.panel

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.ensure()
        super().showEvent(event)


class MainWindow(QMainWindow):
    """The studio window."""

    def __init__(self, studio: Studio | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.studio = studio or Studio(parent=self)
        self.settings = settings or QSettings("cnnstudio", "cnnstudio")
        self.tasks = TaskRunner(self)
        self.resize(1500, 920)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.pages: dict[str, LazyPage] = {}
        for title, target in PAGES:
            page = LazyPage(self.studio, target, self.tabs)
            self.pages[title] = page
            self.tabs.addTab(page, title)
        self.setCentralWidget(self.tabs)
        self.docks: dict[str, QDockWidget] = {}
        for title, area, target in DOCKS:
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(LazyPage(self.studio, target, dock))
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self._dock_shown: dict[str, bool] = {}
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self._build_status_bar()
        self._build_menus()
        self.studio.dirty_changed.connect(self._update_title)
        self.studio.project_replaced.connect(self._update_title)
        for signal in (self.studio.project_replaced, self.studio.dirty_changed):  # dirty: saved elsewhere
            signal.connect(self._update_runs_label)
        self.studio.status_message.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.studio.tensorflow_loaded.connect(self._on_studio_tensorflow_loaded)
        self.studio.tensorflow_failed.connect(self._on_studio_tensorflow_failed)
        self._autosave = QTimer(self, interval=AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()
        self._update_title()
        self.memory = WindowMemory(self, self.tabs, self.settings)
        self.memory.restore()

    # -- pages --------------------------------------------------------------------
    def page(self, title: str) -> QWidget:
        """The panel of page ``title`` (built if needed)."""
        return self.pages[title].ensure()

    def dock_panel(self, title: str) -> QWidget:
        """The panel inside dock ``title`` (built if needed)."""
        return self.docks[title].widget().ensure()

    def show_page(self, title: str) -> QWidget:
        """Switch to page ``title`` and return its panel."""
        self.tabs.setCurrentWidget(self.pages[title])
        return self.page(title)

    def _on_tabs_current_changed(self, index: int) -> None:
        # The palette, inspector and summary belong to the editor: other pages get the room,
        # and coming back restores whichever docks the user had open.
        editor = self.tabs.widget(index) is self.pages["Editor"]
        if editor and self._dock_shown:
            for title, dock in self.docks.items():
                dock.setVisible(self._dock_shown[title])
            self._dock_shown = {}
        elif not editor and not self._dock_shown:
            self._dock_shown = {title: not dock.isHidden() for title, dock in self.docks.items()}  # also before the window shows
            for dock in self.docks.values():
                dock.hide()

    # -- status bar ---------------------------------------------------------------
    def _build_status_bar(self) -> None:
        self.runs_label = QLabel()
        self.statusBar().addPermanentWidget(self.runs_label)
        self.device_label = QLabel("Loading TensorFlow…")
        self.device_label.setToolTip("The device TensorFlow trains and probes on")
        self.statusBar().addPermanentWidget(self.device_label)
        self._update_runs_label()

    def _update_runs_label(self, *_args) -> None:
        """Say where new runs go: beside the project, or the user's folder when it cannot be there."""
        folder, why = self.studio.project.runs_place()
        try:
            shown = str(Path("~") / folder.relative_to(Path.home()))
        except ValueError:
            shown = str(folder)
        self.runs_label.setText(f"Runs: {shown}")
        self.runs_label.setToolTip(f"New training runs go to {folder}"
                                   + (f" (your data folder: {why})" if why else " (beside the project file)"))

    def _on_studio_tensorflow_loaded(self, device: str) -> None:
        self.device_label.setText(device)
        self.studio.reinfer()  # generic layers can now get shapes from Keras

    def _on_studio_tensorflow_failed(self, tb: str) -> None:
        self.device_label.setText("TensorFlow unavailable")
        self.device_label.setToolTip(tb)

    # -- menus --------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self._action(self.file_menu, "&New", self.new_project, QKeySequence.New)
        self._action(self.file_menu, "&Open…", self.open_dialog, QKeySequence.Open)
        self.recent_menu = self.file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.file_menu.addSeparator()
        self._action(self.file_menu, "&Save", self.save, QKeySequence.Save)
        self._action(self.file_menu, "Save &As…", self.save_as, QKeySequence.SaveAs)
        self.file_menu.addSeparator()
        self._action(self.file_menu, "&Quit", self.close, QKeySequence.Quit)
        self.edit_menu = bar.addMenu("&Edit")
        undo = self.studio.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.studio.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.Redo)
        self.edit_menu.addActions([undo, redo])
        self.edit_menu.addSeparator()
        self.view_menu = bar.addMenu("&View")
        for dock in self.docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self._action(self.view_menu, "Reset &layout", lambda: self.memory.reset())
        self.templates_menu = bar.addMenu("&Templates")
        self.help_menu = bar.addMenu("&Help")
        self._action(self.help_menu, "&About cnnstudio", self._about)
        from cnnstudio.ui.editor.actions import install_editor_actions  # templates, applications, import, export
        install_editor_actions(self)

    def _about(self) -> None:
        from cnnstudio import __version__
        QMessageBox.about(self, "About cnnstudio", f"cnnstudio {__version__}\nBuild, train and look inside CNNs.")

    # -- title and dirty state ----------------------------------------------------
    def _update_title(self, *_args) -> None:
        p = self.studio.project
        name = p.path.name if p.path else p.name
        self.setWindowTitle(f"{name}{' *' if self.studio.dirty else ''} — cnnstudio")
        self.setWindowModified(self.studio.dirty)

    def confirm_discard(self) -> bool:
        """True if there are no unsaved edits, or the user agrees to lose or save them."""
        if not self.studio.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save changes to {self.studio.project.name} first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    # -- file actions -------------------------------------------------------------
    def new_project(self) -> None:
        """Start from the default project (after confirming unsaved edits)."""
        if not self.confirm_discard():
            return
        from cnnstudio.core.templates import open_default_project
        self.studio.set_project(open_default_project())

    def open_dialog(self) -> None:
        """Ask for a project or Keras model file and open it."""
        if not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open", str(self._last_dir()), PROJECT_FILTER)
        if path:
            self.open_path(path, confirmed=True)

    def open_path(self, path: str | Path, confirmed: bool = False) -> bool:
        """Open a project file; Keras model files go to the importer. Returns success."""
        if not confirmed and not self.confirm_discard():
            return False
        path = Path(path)
        if path.suffix.lower() in (".keras", ".h5", ".hdf5", ".json") and not path.name.endswith(SUFFIX):
            return self.import_model(path)
        try:
            project = load_project(path)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            return False
        self.studio.set_project(project)
        self._add_recent(path)
        return True

    def import_model(self, path: Path, trust_code: bool = False) -> bool:
        """Open a Keras model file as a new, unsaved project (in the background). A file with Python
        code in it (a Lambda layer) is imported only after the user agreed to run that code."""
        from cnnstudio.ml.model import keras_io  # noqa: F401 - imported here: it loads TensorFlow
        self.statusBar().showMessage(f"Importing {path.name}…")
        self.tasks.run(_import_file, Path(path), trust_code, on_done=self._on_import_done,
                       on_error=lambda msg, tb: QMessageBox.warning(self, "Cannot import model", msg))
        return True

    def _on_import_done(self, result) -> None:
        from cnnstudio.ml.model.keras_io import UntrustedCodeError

        if isinstance(result, UntrustedCodeError):
            self.statusBar().clearMessage()
            if self.confirm_code(result.path, result.what):
                self.import_model(result.path, trust_code=True)
            return
        project: Project = result
        self.studio.set_project(project)
        self.studio.undo_stack.resetClean()
        self.statusBar().showMessage(f"Imported {project.name}; scaling {project.preprocessing.scale}: "
                                     f"{project.import_note}", 15000)

    def confirm_code(self, path: Path, what: str) -> bool:
        """Ask whether the Python code (``what``) in model file ``path`` may run; No is the default."""
        answer = QMessageBox.question(
            self, "Run code from this file?",
            f"This model contains Python code ({what}) that runs when it is loaded.\n\n"
            "Code from a file can do anything you can do on this computer: read, change or delete your "
            "files, or send them elsewhere. Import it only if you trust where "
            f"{path.name} comes from.\n\nRun the code and import the model?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def save(self) -> bool:
        """Save to the project's file (asks for one the first time)."""
        if self.studio.project.path is None:
            return self.save_as()
        return self._write(self.studio.project.path)

    def save_as(self) -> bool:
        """Ask for a file name and save there."""
        start = self._last_dir() / f"{self.studio.project.name}{SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(SUFFIX):
            path += SUFFIX
        return self._write(Path(path))

    def _write(self, path: Path) -> bool:
        try:
            save_project(self.studio.project, path)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot save", str(exc))
            return False
        self.studio.mark_saved()
        self._add_recent(path)
        self._autosave_path().unlink(missing_ok=True)
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # -- recent files -------------------------------------------------------------
    def recent_files(self) -> list[str]:
        """Recently opened or saved files, newest first."""
        return [p for p in (self.settings.value("recent", []) or []) if Path(p).exists()]

    def _add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        recent = [p] + [r for r in self.recent_files() if r != p]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.settings.setValue("last_dir", str(Path(p).parent))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            act = self.recent_menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _=False, p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _last_dir(self) -> Path:
        return Path(self.settings.value("last_dir", str(Path.home())))

    # -- autosave and recovery ----------------------------------------------------
    def _autosave_path(self) -> Path:
        base = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home() / ".cnnstudio")
        return base / f"autosave{SUFFIX}"

    def autosave(self) -> None:
        """Write unsaved edits to the autosave file (removed after a clean save or close)."""
        if not self.studio.dirty:
            return
        try:
            write_autosave(self.studio.project, self._autosave_path())
        except ProjectError as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 6000)

    def recover_autosave(self, ask: bool = True) -> bool:
        """If a previous session left an autosave (it crashed), offer to restore it."""
        path = self._autosave_path()
        try:
            project = read_autosave(path)
        except AUTOSAVE_ERRORS as exc:
            self._set_aside(path, exc)
            return False
        if project is None:
            return False
        if ask and QMessageBox.question(
                self, "Recover unsaved work",
                "cnnstudio did not close cleanly last time. Restore the unsaved project?") != QMessageBox.Yes:
            path.unlink(missing_ok=True)
            return False
        self.studio.set_project(project)
        self.studio.undo_stack.resetClean()  # recovered work is unsaved
        self._update_title()
        return True

    def _set_aside(self, path: Path, exc: Exception) -> None:
        """Keep an autosave that cannot be recovered beside it (``.corrupt``: nothing is lost, and
        the next start does not ask again), and say why in one line."""
        why = (f"{path} is corrupt or truncated (JSON error at line {exc.lineno})"
               if isinstance(exc, json.JSONDecodeError) else str(exc) if isinstance(exc, ProjectError)
               else f"{path}: {exc}")
        kept = path.with_name(path.name + ".corrupt")
        try:
            path.replace(kept)
        except OSError:
            kept = path
        self.statusBar().showMessage(f"Unsaved work not recovered: {why} (kept as {kept.name})", 15000)

    # -- close --------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if not self.confirm_discard():
            event.ignore()
            return
        for page in list(self.pages.values()) + [d.widget() for d in self.docks.values()]:
            shutdown = getattr(page.panel, "shutdown", None)
            if shutdown is not None:
                shutdown()  # stop training, capture and probe workers
        self.tasks.shutdown()
        self._autosave_path().unlink(missing_ok=True)
        self.memory.save()
        event.accept()
