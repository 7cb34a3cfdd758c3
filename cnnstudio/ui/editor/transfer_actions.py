"""The editor's "Transfer learning…" entry: the dialog, then the new project built in the background.

Reachable from Templates > Transfer learning…, from the Keras Applications dialog (its
"Transfer learning…" button, with the architecture chosen there) and, for an imported model,
with that model's file preselected. Building may download ImageNet weights: the busy dialog
shows the bytes. Any failure (offline, a bad cut) is one line in a message box, and the open
project stays as it was: the new one replaces it only when it is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QMessageBox

from cnnstudio.core.project import Project

from cnnstudio.ui.editor.transfer_dialog import TransferDialog


def _build_transfer(base_doc: dict, choice: dict, progress: Callable[[int, int], None]) -> Project:
    from cnnstudio.ml.model.transfer import load_backbone, transfer_project

    backbone = load_backbone(choice["source"], choice["weights"], choice["input_shape"], progress)
    return transfer_project(Project.from_dict(base_doc), backbone, choice["cut"], choice["head"])


class _Bytes(QObject):
    step = Signal(int, int)  # emitted on the task's thread, delivered on the GUI thread


class TransferActions(QObject):
    """Transfer learning on one window's editor (see :class:`~cnnstudio.ui.editor.actions.EditorActions`)."""

    def __init__(self, editor) -> None:
        super().__init__(editor)
        self.editor, self.window, self.studio = editor, editor.window, editor.studio
        self.dialog: TransferDialog | None = None
        self.bytes = _Bytes(self)
        self.bytes.step.connect(self._on_bytes_step)
        self.action = self.window.templates_menu.addAction("&Transfer Learning…", lambda: self.open_dialog())
        self.action.setToolTip("A new project: a pretrained backbone, frozen, with a new head for this project's classes")

    def default_source(self) -> str:
        """The project's own model file (an imported model, a trained run's checkpoint), else nothing."""
        project = self.studio.project
        weights = self.editor._trained_weights()
        return str(weights) if weights is not None else (project.weights_file or "")

    def open_dialog(self, source: str | None = None, weights: str | None = "imagenet",
                    input_shape: tuple | None = None) -> TransferDialog:
        """Show the dialog (``source`` preselected; by default the project's model file); on OK,
        build the new project in the background."""
        dialog = self.dialog = TransferDialog(self.window.tasks, self.studio.project,
                                              source if source is not None else self.default_source(),
                                              weights, input_shape, self.window)
        dialog.finished.connect(lambda result: self._on_dialog_finished(dialog, result))
        dialog.open()
        return dialog

    def _on_dialog_finished(self, dialog: TransferDialog, result: int) -> None:
        self.dialog = None
        if result == QDialog.Accepted and self.window.confirm_discard():
            self.build(dialog.choice())

    def build(self, choice: dict[str, Any]) -> None:
        """Make the transfer project of ``choice`` (see :meth:`TransferDialog.choice`) off the GUI thread."""
        name = Path(choice["source"]).name
        weights = f" and its {choice['weights']} weights" if choice.get("weights") else ""
        self.editor._run_busy(f"Reading {name}{weights}…", _build_transfer, self.studio.project.to_dict(), choice,
                              self.bytes.step.emit, on_done=self.window._on_import_done,
                              on_error=lambda msg, _tb: self._on_failed(name, msg))

    def _on_bytes_step(self, done: int, total: int) -> None:
        busy = self.editor.busy
        if busy is None:
            return
        if total > 0:
            busy.setRange(0, 1000)
            busy.setValue(int(1000 * done / total))
            busy.setLabelText(f"Downloading weights: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            busy.setLabelText(f"Downloading weights: {done / 1e6:.1f} MB")

    def _on_failed(self, name: str, message: str) -> None:
        line = message.splitlines()[0] if message else "failed"
        QMessageBox.warning(self.window, "Transfer learning failed",
                            f"{line}\n\nThe open project was not changed.")
        self.studio.status_message.emit(f"Transfer learning from {name} failed: {line}")
