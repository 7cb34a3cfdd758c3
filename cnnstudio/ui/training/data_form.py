"""The data section of the Training page: source, generator sliders, split and preprocessing.

Edits go into the project (``data``, ``data["options"]`` for the shapes generator, and
``preprocessing``) through the panel, as undoable commands. "Show samples" loads the data
off the GUI thread and shows a grid of what the model will see, the class balance and any
files that were skipped.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout,
                               QLineEdit, QPushButton, QToolButton, QVBoxLayout, QWidget)

from cnnstudio.core.settings import DATA, PREPROCESSING
from cnnstudio.ml.shapes import CHALLENGES, DEFAULT_OPTIONS, SHAPE_NAMES

from .fields import AnyChanged, Field, FieldSet

SLIDER_TIPS = {
    "noise": "Gaussian pixel noise",
    "position": "how far shapes wander from the centre",
    "scale": "how much their size varies",
    "rotation": "how much they turn (1 = any angle)",
    "viewpoint": "perspective warp and foreshortening: all pixels change when the camera moves",
    "illumination": "brightness, contrast, lighting gradient, sometimes dark on light",
    "deformation": "smooth non-rigid bending of the outline",
    "occlusion": "a blob hides part of the shape",
    "clutter": "textured background with distractor strokes",
}


class DataForm(QWidget):
    """Source, shapes options, split and preprocessing; ``show_samples_requested`` for the grid."""

    show_samples_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = FieldSet(self)
        f = self.fields
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        source = QGroupBox("Data")
        form = QFormLayout(source)
        self.kind = f.setting("data", DATA.get("kind"))
        form.addRow("Source", self.kind)
        self.path_row = QWidget()
        path_layout = QHBoxLayout(self.path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder or .npz file")
        f.add(Field("data", "path", self.path, self.path.text, self.path.setText, self.path.editingFinished))
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose the folder or file")
        browse.clicked.connect(self._browse)
        path_layout.addWidget(self.path, 1)
        path_layout.addWidget(browse)
        form.addRow("Path", self.path_row)
        self.keras_name = f.setting("data", DATA.get("name"))
        form.addRow("Dataset", self.keras_name)
        self.form = form
        layout.addWidget(source)

        self.shapes_box = QGroupBox("Shapes generator")
        shapes = QFormLayout(self.shapes_box)
        grid = QGridLayout()
        grid.setSpacing(2)
        self.shape_checks: dict[str, QCheckBox] = {}
        for i, name in enumerate(SHAPE_NAMES):
            box = QCheckBox(name)
            self.shape_checks[name] = box
            grid.addWidget(box, i // 3, i % 3)
        holder = QWidget()
        holder.setLayout(grid)
        f.add(Field("shapes", "classes", holder, self._checked_shapes, self._check_shapes,
                    AnyChanged([b.toggled for b in self.shape_checks.values()], holder).changed))
        shapes.addRow("Classes", holder)
        shapes.addRow("Images", f.spin("shapes", "count", 60, 200000, 500, tip="how many images to generate"))
        shapes.addRow("Size", f.spin("shapes", "image_size", 8, 512, 8, " px"))
        shapes.addRow("", f.check("shapes", "color", "Colour"))
        for key in ("noise", "position", "scale", "rotation", *CHALLENGES):
            shapes.addRow(key.capitalize(), f.slider("shapes", key, SLIDER_TIPS[key]))
        layout.addWidget(self.shapes_box)

        split = QGroupBox("Split and preprocessing")
        sform = QFormLayout(split)
        sform.addRow("Validation", f.percent("data", "validation_split", tip=DATA.get("validation_split").doc))
        sform.addRow("Test", f.percent("data", "test_split", tip=DATA.get("test_split").doc))
        sform.addRow("Seed", f.setting("data", DATA.get("seed")))
        sform.addRow("Input size", f.size("preprocessing", "size"))
        for key, title in (("color", "Colour"), ("scale", "Scaling"), ("fit", "Fit")):
            sform.addRow(title, f.choice("preprocessing", PREPROCESSING.get(key)))
        self.samples_button = QPushButton("Show samples")
        self.samples_button.setToolTip("Load the data and show a grid of what the model will see, and the class balance")
        self.samples_button.clicked.connect(self.show_samples_requested)
        sform.addRow(self.samples_button)
        layout.addWidget(split)
        self.kind.currentIndexChanged.connect(self._update_visibility)
        self._update_visibility()

    def load(self, project) -> None:
        """Show the project's data and preprocessing settings."""
        self.fields.load({"data": project.data.to_dict(), "preprocessing": project.preprocessing.to_dict(),
                          "shapes": {**DEFAULT_OPTIONS, **project.data.options}})
        self._update_visibility()

    def changes(self, project) -> dict[str, dict]:
        """The user's edits since the last call that differ from ``project``, by settings section."""
        edits = self.fields.take_edits()
        data = dict(edits.get("data", {}))
        if edits.get("shapes"):
            options = {**project.data.options, **edits["shapes"]}
            if options != project.data.options:
                data["options"] = options
        out = {}
        for section, new in (("data", data), ("preprocessing", edits.get("preprocessing", {}))):
            current = project.settings(section).to_dict()
            diff = {k: v for k, v in new.items() if current[k] != v}
            if diff:
                out[section] = diff
        return out

    def _checked_shapes(self) -> list[str]:
        return [name for name, box in self.shape_checks.items() if box.isChecked()]

    def _check_shapes(self, names) -> None:
        for name, box in self.shape_checks.items():
            box.setChecked(name in names)

    def _update_visibility(self) -> None:
        kind = self.kind.currentData()
        self.shapes_box.setVisible(kind == "shapes")
        self.form.setRowVisible(self.path_row, kind in ("folder", "npz"))
        self.form.setRowVisible(self.keras_name, kind == "keras")

    def _browse(self) -> None:
        if self.kind.currentData() == "folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)", self.path.text())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "NumPy arrays", self.path.text(), "NumPy (*.npz)")
        if path:
            self.path.setText(path)
            self.path.editingFinished.emit()
