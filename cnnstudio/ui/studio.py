"""The studio's shared state: the open project, its undo stack, inference and selection.

Every view gets the one :class:`Studio` and listens to its signals; edits go through
:meth:`Studio.push` so they land on the ``QUndoStack``. Inference reruns (coalesced by a
zero-delay timer) after any graph change and is announced with ``inference_updated``.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from cnnstudio.core.commands import Command
from cnnstudio.core.graph import GraphError, LayerGraph
from cnnstudio.core.inference import CachedFallback, GraphInference, infer
from cnnstudio.core.params import ParamError
from cnnstudio.core.project import Project
from cnnstudio.ui.shared.state import ComputeDevice, TrainedModel


def _existing(path: str | None) -> str | None:
    """``path`` if it names an existing file, else ``None``."""
    return path if path and Path(path).is_file() else None


class _UndoAdapter(QUndoCommand):
    """A core :class:`Command` on Qt's undo stack. The first redo() is the push itself."""

    def __init__(self, cmd: Command) -> None:
        super().__init__(cmd.text)
        self.cmd = cmd
        self._first = True

    def redo(self) -> None:
        if self._first:  # already done by Studio.push (so errors surface before pushing)
            self._first = False
            return
        self.cmd.do()

    def undo(self) -> None:
        self.cmd.undo()


class Studio(QObject):
    """The open project and everything views share about it."""

    project_replaced = Signal()          # a new project object (New, Open, template)
    graph_changed = Signal()             # any edit of the graph (before inference reruns)
    inference_updated = Signal()         # ``self.inference`` is fresh
    selection_changed = Signal(list)     # selected node ids
    dirty_changed = Signal(bool)
    status_message = Signal(str)         # a short message for the status bar
    tensorflow_loaded = Signal(str)      # device description, once TF imported in the background
    tensorflow_failed = Signal(str)
    _tensorflow_imported = Signal(str, object)  # (device, Keras fallback), from the import thread
    settings_changed = Signal(str, dict)  # the open project's settings_changed(section, {name: new value}), as Qt's

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self.selection: list[str] = []
        self.inference: GraphInference = GraphInference()
        self.keras_fallback = None  # set once TensorFlow is loaded (on the GUI thread)
        #: What TensorFlow computes on, once known (shared by the Training and Live pages).
        self.compute = ComputeDevice(self)
        self._infer_timer = QTimer(self, singleShot=True, interval=0)
        self._infer_timer.timeout.connect(self.reinfer)
        self.project: Project = project or Project()
        #: The newest trained model (published by the Training page; an imported model's to start with).
        self.trained = TrainedModel(_existing(self.project.weights_file), self)
        self._tensorflow_imported.connect(self._on_tensorflow_imported)
        self._watch(self.project)
        self.reinfer()

    # -- project ------------------------------------------------------------------
    @property
    def graph(self) -> LayerGraph:
        """The open project's graph."""
        return self.project.graph

    def set_project(self, project: Project) -> None:
        """Replace the open project (clears undo history and selection)."""
        self.project.settings_changed.disconnect(self.settings_changed.emit)
        self.project = project
        self.trained.reset(_existing(project.weights_file))
        self.undo_stack.clear()
        self.selection = []
        self._watch(project)
        self.reinfer()
        self.project_replaced.emit()
        self.selection_changed.emit([])
        self.dirty_changed.emit(False)

    def mark_saved(self) -> None:
        """The project was written: the undo stack's current state is clean."""
        self.undo_stack.setClean()
        self.dirty_changed.emit(False)

    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    @property
    def dirty(self) -> bool:
        """Unsaved edits exist."""
        return not self.undo_stack.isClean()

    def _watch(self, project: Project) -> None:
        graph = project.graph
        for sig in (graph.node_added, graph.node_removed, graph.node_changed,
                    graph.edge_added, graph.edge_removed, graph.reset):
            sig.connect(self._on_graph_edited)
        project.settings_changed.connect(self.settings_changed.emit)

    def _on_graph_edited(self, *_args) -> None:
        self.graph_changed.emit()
        self._infer_timer.start()

    # -- edits --------------------------------------------------------------------
    def push(self, cmd: Command) -> str | None:
        """Do ``cmd`` and put it on the undo stack; returns an error message instead if it fails."""
        try:
            cmd.do()
        except (GraphError, ParamError) as exc:
            self.status_message.emit(str(exc))
            return str(exc)
        self.undo_stack.push(_UndoAdapter(cmd))
        return None

    def select(self, node_ids: list[str]) -> None:
        """Set the selection (node ids) and tell the views."""
        ids = [i for i in node_ids if i in self.graph.nodes]
        if ids != self.selection:
            self.selection = ids
            self.selection_changed.emit(ids)

    def reinfer(self) -> None:
        """Recompute shapes, parameters and receptive fields now."""
        self._infer_timer.stop()
        self.inference = infer(self.graph, self.keras_fallback)
        self.inference_updated.emit()

    # -- TensorFlow ---------------------------------------------------------------
    def load_tensorflow(self) -> None:
        """Import TensorFlow in a background thread; emits ``tensorflow_loaded(device)``."""
        threading.Thread(target=self._import_tensorflow, name="tensorflow-import", daemon=True).start()

    def _import_tensorflow(self) -> None:
        try:
            from cnnstudio.ml.model.device import describe_device
            from cnnstudio.ml.model.keras_io import keras_fallback
            device = describe_device()
        except Exception:  # a broken install must not take the editor down
            self.tensorflow_failed.emit(traceback.format_exc(limit=3))
            return
        self._tensorflow_imported.emit(device, keras_fallback)  # queued: the state is written on the GUI thread

    def _on_tensorflow_imported(self, device: str, keras_fallback) -> None:
        # reinfer runs on the GUI thread: only a configuration not met before builds a Keras layer there
        self.keras_fallback = CachedFallback(keras_fallback)
        self.compute.set(device)
        self.tensorflow_loaded.emit(device)
