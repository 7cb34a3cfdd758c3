"""File > Export's deploy formats: SavedModel, TFLite float32 and int8, ONNX, each checked.

One menu item per format (see :mod:`cnnstudio.ml.model.deploy_formats`); a format whose converter
is not installed says which package in its disabled item, found without importing
TensorFlow. An export asks before replacing any of the files it writes, runs on the
window's task runner behind the editor's busy dialog, whose text follows the steps
(building, converting, checking), and ends in :class:`DeployResultDialog`: the check's
table and where everything went, or why the export was refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QLabel,
                               QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout)

from cnnstudio.ml.model.deploy_check import table_cells
from cnnstudio.ml.model.deploy_formats import EXPORT_EXTRA, FORMATS, deploy_format, existing_outputs, install_hint

#: The table's column titles, in the order of :func:`cnnstudio.ml.model.deploy_check.table_cells`.
COLUMNS = ("Format", "File size", "Largest difference", "Top-1 agreement", "Per sample", "Keras direct call", "Check")


def _deploy(job, fmt_name: str, path: Path, force: bool, progress: Callable[[str], None]):
    """The task: inputs from the project's data, then the export; a failed check comes back as
    the exception object (its table is shown), any other failure is raised."""
    from cnnstudio.ml.model.deploy import VerificationFailed, export_deployment
    from cnnstudio.ml.model.deploy_data import choose_samples

    samples = choose_samples(job.data, job.preprocessing)
    try:
        return export_deployment(job, fmt_name, path, samples, force=force, progress=progress)
    except VerificationFailed as exc:
        return exc


class DeployResultDialog(QDialog):
    """The check of one export: a row of figures (red when it failed) and what happened, in words."""

    def __init__(self, rows: list, text: str, failed: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export failed its check" if failed else "Export checked")
        self.table = QTableWidget(len(rows), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.setFocusPolicy(Qt.NoFocus)
        for r, row in enumerate(rows):
            for c, cell in enumerate(table_cells(row)):
                item = QTableWidgetItem(cell)
                if not row.passed:
                    item.setForeground(QColor("#c62828"))
                item.setToolTip(row.problem or f"{row.runtime}, {row.samples} inputs")
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setFixedHeight(self.table.horizontalHeader().height() + 8
                                  + sum(self.table.rowHeight(r) for r in range(len(rows))))
        self.text = QLabel(text, self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)  # paths to copy
        buttons = QDialogButtonBox(QDialogButtonBox.Ok, self)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        # a word-wrapped label is as tall as its text at the dialog's width, not at its own hint's
        self.resize(760, max(self.sizeHint().height(), layout.totalHeightForWidth(760)))


class _Progress(QObject):
    step = Signal(str)  # emitted on the task's thread, delivered on the GUI thread


class DeployActions(QObject):
    """The deploy entries of one window's File > Export menu (on :class:`EditorActions`)."""

    def __init__(self, editor) -> None:
        super().__init__(editor)
        self.editor, self.window, self.studio = editor, editor.window, editor.studio
        self.dialog: DeployResultDialog | None = None
        self.progress = _Progress(self)
        self.progress.step.connect(self._on_progress_step)
        self.actions: dict[str, QAction] = {}
        editor.export_menu.addSeparator()
        for fmt in FORMATS.values():
            where = "folder" if not fmt.suffix else fmt.suffix
            hint = install_hint(fmt)
            title = f"{fmt.title} ({where})…" if hint is None else f"{fmt.title} (install {EXPORT_EXTRA})"
            act = editor.export_menu.addAction(title, lambda n=fmt.name: self.export(n))
            act.setEnabled(hint is None)
            act.setToolTip(hint or f"checked in {fmt.runtime} against Keras after writing")
            self.actions[fmt.name] = act
        editor.export_menu.setToolTipsVisible(True)

    def export(self, fmt_name: str) -> None:
        """Ask where, then export the project's trained model as ``fmt_name`` (see :meth:`export_to`)."""
        fmt = deploy_format(fmt_name)
        if not self.editor._check_graph(fmt.title) or not self._has_weights(fmt.title):
            return
        start = self.window._last_dir() / f"{self.studio.project.name.replace(' ', '_')}{fmt.suffix}"
        what = f"{fmt.title} (*{fmt.suffix})" if fmt.suffix else "SavedModel folder (*)"
        # our own question covers the metadata and labels too
        path, _ = QFileDialog.getSaveFileName(self.window, f"Export {fmt.title}", str(start), what,
                                              options=QFileDialog.DontConfirmOverwrite)
        if path:
            self.export_to(fmt_name, Path(path))

    def export_to(self, fmt_name: str, path: Path) -> bool:
        """Export to ``path`` (asking before replacing anything); False when refused or declined."""
        from cnnstudio.ml.model.deploy_data import DeployJob  # reads datasets (OpenCV): not at start-up

        fmt = deploy_format(fmt_name)
        there = existing_outputs(fmt, path)
        if there:
            names = "\n".join(str(p) for p in there)
            answer = QMessageBox.question(self.window, "Replace the existing export?",
                                          f"These are already there:\n{names}\n\nReplace them?",
                                          QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return False
        job = DeployJob.of(self.studio.project, self.editor._trained_weights())
        self.editor._run_busy(f"Exporting {fmt.title}…", _deploy, job, fmt_name, path, bool(there),
                              self.progress.step.emit,
                              on_done=self._on_done, on_error=self.editor._on_export_failed)
        return True

    def _has_weights(self, title: str) -> bool:
        if self.editor._trained_weights() is not None:
            return True
        QMessageBox.warning(self.window, f"Cannot export {title}",
                            "The project has no trained weights (no trained run or weights file): train it on "
                            "the Training page first. A deployed model with random weights would give random answers.")
        return False

    def _on_progress_step(self, text: str) -> None:
        if self.editor.busy is not None:
            self.editor.busy.setLabelText(text)

    def _on_done(self, result) -> None:
        from cnnstudio.ml.model.deploy import VerificationFailed

        if isinstance(result, VerificationFailed):
            self.show_result([result.row], f"{result}\n\nNothing was written.", failed=True)
            self.studio.status_message.emit(f"Export failed its check: {result.row.problem}")
            return
        self.show_result([result.row], result.describe())
        self.studio.status_message.emit(f"Exported {result.paths[0]} ({result.format.title}, checked)")

    def show_result(self, rows: list, text: str, failed: bool = False) -> DeployResultDialog:
        """Show the check's table (not modal: the studio stays usable); kept as :attr:`dialog`."""
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = DeployResultDialog(rows, text, failed, self.window)
        self.dialog.show()
        return self.dialog
