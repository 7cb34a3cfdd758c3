"""Review the frames captured for one class as thumbnails, and delete the bad ones before training.

Deleting moves the files into the dataset's trash folder (``.trash`` inside its root, see
:class:`~cnnstudio.ml.data.capture_folder.DatasetWriter`), so it can be undone. The commands go
on the review's own ``QUndoStack``, not the studio's: that one tracks the project file (its
clean state is "saved"), and frames on disk are no part of the project.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QKeySequence, QPixmap, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QHBoxLayout, QListView, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout,
                               QWidget)

from cnnstudio.ml.data.capture_folder import CaptureError, DatasetWriter

THUMB_PX = 64


def thumbnail(path: Path, size: int = THUMB_PX) -> QIcon:
    """A small icon of an image file, decoded at that size (Qt's JPEG reader scales as it decodes)."""
    reader = QImageReader(str(path))
    full = reader.size()
    if full.isValid():
        reader.setScaledSize(full.scaled(size, size, Qt.KeepAspectRatio))
    return QIcon(QPixmap.fromImage(reader.read()))


class DeleteFrames(QUndoCommand):
    """Move frames into the trash folder; undo moves them back."""

    def __init__(self, review: "CaptureReview", writer: DatasetWriter, paths: list[Path]) -> None:
        super().__init__(f"delete {len(paths)} frame{'s' if len(paths) != 1 else ''}")
        self.review, self.writer, self.paths = review, writer, paths
        self.trashed: list[Path] = []

    def redo(self) -> None:
        self.trashed = []
        for path in self.paths:
            try:
                self.trashed.append(self.writer.trash(path))
            except CaptureError as exc:  # Qt would only print an exception raised here
                self.review.message.emit(str(exc))
                break
        self.paths = self.paths[:len(self.trashed)]  # undo restores what was moved
        self.review.reload()

    def undo(self) -> None:
        for trashed, path in zip(self.trashed, self.paths):
            self.writer.restore(trashed, path)
        self.review.reload()


class CaptureReview(QWidget):
    """Thumbnails of one class's frames, with Delete (the key or the button), Undo and Redo."""

    changed = Signal()      # frames were deleted or restored: the counts changed
    message = Signal(str)   # for the panel's message line

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.writer: DatasetWriter | None = None
        self.class_name: str | None = None
        self.undo_stack = QUndoStack(self)
        self.frames = QListWidget(self)
        self.frames.setViewMode(QListView.IconMode)
        self.frames.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.frames.setResizeMode(QListView.Adjust)
        self.frames.setMovement(QListView.Static)
        self.frames.setSelectionMode(QListWidget.ExtendedSelection)
        self.frames.setUniformItemSizes(True)
        QShortcut(QKeySequence.Delete, self.frames, self.delete_selected, context=Qt.WidgetShortcut)
        self.delete_button = QPushButton("Delete selected", self)
        self.delete_button.clicked.connect(self.delete_selected)
        row = QHBoxLayout()
        row.addWidget(self.delete_button, 1)
        # plain buttons: the stack's own actions are named after the command ("Undo delete 2 frames"),
        # too long for this narrow box; the name goes in the tooltip instead
        for text, slot, can, changed, said in (
                ("Undo", self.undo_stack.undo, self.undo_stack.canUndo, self.undo_stack.canUndoChanged,
                 self.undo_stack.undoTextChanged),
                ("Redo", self.undo_stack.redo, self.undo_stack.canRedo, self.undo_stack.canRedoChanged,
                 self.undo_stack.redoTextChanged)):
            button = QPushButton(text, self)
            button.clicked.connect(slot)
            button.setEnabled(can())
            changed.connect(button.setEnabled)
            said.connect(lambda what, b=button, t=text: b.setToolTip(f"{t} {what}" if what else ""))
            row.addWidget(button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.frames)
        lay.addLayout(row)

    def show_class(self, writer: DatasetWriter | None, class_name: str | None) -> None:
        """Show ``class_name``'s frames (nothing changes if it is already shown: captures add one at a time)."""
        if writer is self.writer and class_name == self.class_name:
            return
        if writer is not self.writer:
            self.undo_stack.clear()  # its commands move files of the other folder
        self.writer, self.class_name = writer, class_name
        self.reload()

    def reload(self) -> None:
        """Read the shown class's frames from disk again."""
        self.frames.clear()
        if self.writer is not None and self.class_name is not None:
            for path in self.writer.files(self.class_name):
                self.add_frame(path)
        self.changed.emit()

    def add_frame(self, path: Path) -> None:
        """Show one more frame (just captured)."""
        item = QListWidgetItem(thumbnail(path), "")
        item.setData(Qt.UserRole, str(path))
        item.setToolTip(Path(path).name)
        self.frames.addItem(item)

    def delete_selected(self) -> None:
        """Move the selected frames to the trash folder, undoably."""
        paths = [Path(item.data(Qt.UserRole)) for item in self.frames.selectedItems()]
        if paths and self.writer is not None:
            self.undo_stack.push(DeleteFrames(self, self.writer, paths))
