"""The data section of the Training page: source, generator sliders, split and preprocessing.

Edits go into the project (``data``, ``data["options"]`` for the shapes generator, and
``preprocessing``) through the panel, as undoable commands. "Show samples" loads the data
off the GUI thread and shows a grid of what the model will see, the class balance and any
files that were skipped.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QToolButton,
                               QVBoxLayout, QWidget)

from cnnstudio.core.settings import DATA, GUESSED_SCALE, PREPROCESSING
from cnnstudio.ml.data.generated_shapes import CHALLENGES, DEFAULT_OPTIONS, OPTIONS
from cnnstudio.ui.forms import FieldSet, PercentField, SliderField


class DataForm(QWidget):
    """Source, shapes options, split and preprocessing; ``show_samples_requested`` for the grid."""

    show_samples_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = f = FieldSet(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        source = QGroupBox("Data")
        form = QFormLayout(source)
        self.kind = f.field("data", DATA.get("kind"))
        form.addRow("Source", self.kind)
        self.path_row = QWidget()
        path_layout = QHBoxLayout(self.path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        self.path = f.field("data", DATA.get("path"), placeholder="folder or .npz file")
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose the folder or file")
        browse.clicked.connect(self._browse)
        path_layout.addWidget(self.path, 1)
        path_layout.addWidget(browse)
        form.addRow("Path", self.path_row)
        self.keras_name = f.field("data", DATA.get("name"))
        form.addRow("Dataset", self.keras_name)
        self.form = form
        layout.addWidget(source)

        # The generator's options are one setting (data.options) edited as a section of their own.
        self.shapes_box = QGroupBox("Shapes generator")
        shapes = QFormLayout(self.shapes_box)
        shapes.addRow("Classes", f.field("shapes", OPTIONS.get("classes"), columns=3))
        shapes.addRow("Images", f.field("shapes", OPTIONS.get("count"), step=500))
        shapes.addRow("Size", f.field("shapes", OPTIONS.get("image_size"), step=8, suffix=" px"))
        shapes.addRow("", f.field("shapes", OPTIONS.get("color"), text="Colour"))
        for key in ("noise", "position", "scale", "rotation", *CHALLENGES):
            shapes.addRow(key.capitalize(), f.field("shapes", OPTIONS.get(key), SliderField))
        layout.addWidget(self.shapes_box)

        split = QGroupBox("Split and preprocessing")
        sform = QFormLayout(split)
        sform.addRow("Validation", f.field("data", DATA.get("validation_split"), PercentField))
        sform.addRow("Test", f.field("data", DATA.get("test_split"), PercentField))
        sform.addRow("Seed", f.field("data", DATA.get("seed")))
        sform.addRow("Input size", f.field("preprocessing", PREPROCESSING.get("size"), suffix=" px", link=False))
        #: why an imported model got its scaling (or that nobody could tell), as the import decided it
        self.scale_note = QLabel(wordWrap=True)
        self.scale_note.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for key, title in (("color", "Colour"), ("scale", "Scaling"), ("fit", "Fit")):
            sform.addRow(title, f.field("preprocessing", PREPROCESSING.get(key)))
            if key == "scale":
                sform.addRow("", self.scale_note)
        self.samples_button = QPushButton("Show samples")
        self.samples_button.setToolTip("Load the data and show a grid of what the model will see, and the class balance")
        self.samples_button.clicked.connect(self.show_samples_requested)
        sform.addRow(self.samples_button)
        layout.addWidget(split)
        self.kind.committed.connect(self._update_visibility)
        self._update_visibility()

    def load(self, project) -> None:
        """Show the project's data and preprocessing settings."""
        self.fields.load("data", vars(project.data))
        self.fields.load("preprocessing", vars(project.preprocessing))
        self.fields.load("shapes", {**DEFAULT_OPTIONS, **project.data.options})
        self._show_scale_note(project)
        self._update_visibility()

    def _show_scale_note(self, project) -> None:
        note = project.import_note
        self.scale_note.setVisible(bool(note))
        if not note:
            return
        unknown = note.endswith(GUESSED_SCALE)
        self.scale_note.setText(f"{'⚠ ' if unknown else ''}At import: {note}")
        self.scale_note.setStyleSheet(f"color: {'#b36b00' if unknown else 'palette(mid)'}; font-size: small")

    def changes(self, project) -> dict[str, dict]:
        """The user's edits since the last call that differ from ``project``, by settings section."""
        edits = self.fields.take_edits()
        data = dict(edits.get("data", {}))
        if edits.get("shapes"):
            # options hold JSON values, as a project file does: the class names as a list
            shapes = {k: list(v) if isinstance(v, tuple) else v for k, v in edits["shapes"].items()}
            options = {**project.data.options, **shapes}
            if options != project.data.options:
                data["options"] = options
        out = {}
        for section, new in (("data", data), ("preprocessing", edits.get("preprocessing", {}))):
            current = project.settings(section)
            diff = {k: v for k, v in new.items() if getattr(current, k) != v}
            if diff:
                out[section] = diff
        return out

    def _update_visibility(self, *_args) -> None:
        kind = self.kind.value()
        self.shapes_box.setVisible(kind == "shapes")
        self.form.setRowVisible(self.path_row, kind in ("folder", "npz"))
        self.form.setRowVisible(self.keras_name, kind == "keras")

    def _browse(self) -> None:
        if self.kind.value() == "folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)", self.path.value())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "NumPy arrays", self.path.value(), "NumPy (*.npz)")
        if path:
            self.path.edit.setText(path)
            self.path.edit.editingFinished.emit()
