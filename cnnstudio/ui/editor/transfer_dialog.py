"""The "Transfer learning…" dialog: a backbone, where to cut it, the new head, and the classes it learns.

The backbone is a ``keras.applications`` name or a model file (an imported model, a run's
checkpoint). Its layers are read in the background (an application without its weights, so
nothing downloads yet) to fill the cut combo: the default cut is preselected and layers
without a spatial output are greyed, their reason in the tooltip and under the combo. The
head's settings come from :data:`cnnstudio.core.transfer.HEAD` through the shared forms; the
classes are those of the project's dataset. :meth:`TransferDialog.choice` is what
:func:`cnnstudio.ml.model.transfer` needs to build the new project.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from cnnstudio.core.catalog import spec
from cnnstudio.core.params import ParamError
from cnnstudio.core.project import Project
from cnnstudio.core.transfer import HEAD
from cnnstudio.ui.forms import FieldSet

from cnnstudio.ui.editor.applications import WEIGHTS, ChoiceDialog, application_names

KERAS_FILES = "Keras models (*.keras *.h5 *.hdf5);;All files (*)"
NOTE = ("The backbone's layers up to the cut are frozen; the head learns your classes. Its first run starts from "
        "the backbone's weights; afterwards, Fine-tune on the Training page unfreezes the top blocks. ImageNet "
        "weights download once when you create the project.")


def _preview(base_doc: dict, source: str, input_shape):
    from cnnstudio.ml.model.transfer import preview
    return preview(Project.from_dict(base_doc), source, input_shape)


class TransferDialog(ChoiceDialog):
    """Choose backbone, cut layer, head settings; shows the classes the head will learn."""

    def __init__(self, tasks, project: Project, source: str = "", weights: str | None = "imagenet",
                 input_shape: tuple | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.base = tasks, project
        self.setWindowTitle("Transfer learning")
        self.resize(600, 470)
        self.preview = None
        self._asked = None  # (source, shape) of the preview in flight
        self._names: set[str] | None = None  # keras.applications' constructors, once read
        self.source = QComboBox(self)
        self.source.setEditable(True)
        self.source.setInsertPolicy(QComboBox.NoInsert)
        self.source.lineEdit().setPlaceholderText("a keras.applications name, or a .keras file")
        if source:
            self.source.addItem(source)
        self.browse = QPushButton("Browse…", self)
        self.browse.setToolTip("A .keras or .h5 model: one you imported, or a run's best.keras")
        self.browse.clicked.connect(self._on_browse_clicked)
        self.weights = QComboBox(self)
        for text, _value in WEIGHTS:
            self.weights.addItem(text)
        self.weights.setCurrentIndex(next(i for i, (_t, v) in enumerate(WEIGHTS) if v == weights))
        self.shape = QLineEdit(self)
        size = project.preprocessing.size
        self.shape.setText("x".join(map(str, input_shape or (size[0], size[1], 3))))
        self.shape.setToolTip("Input height x width x channels of a keras.applications backbone "
                              "(ImageNet weights need 3 channels); a model file keeps its own")
        self.cut = QComboBox(self)
        self.cut.setEnabled(False)
        self.cut.currentIndexChanged.connect(self._on_cut_index_changed)
        self.cut_note = QLabel(self)
        self.cut_note.setWordWrap(True)
        self.cut_note.setStyleSheet("color: #6b6b6b;")
        self.forms = FieldSet(self)
        self.head_fields = {p.name: self.forms.field("head", p) for p in HEAD}
        self.classes = QLabel("Reading the project's dataset…", self)
        self.classes.setWordWrap(True)
        self.message = QLabel(self)
        self.message.setStyleSheet("color: #c62828;")
        self.message.setWordWrap(True)
        note = QLabel(NOTE, self)
        note.setWordWrap(True)
        note.setStyleSheet("color: #6b6b6b;")
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Backbone", row)
        form.addRow("Weights", self.weights)
        form.addRow("Input shape", self.shape)
        form.addRow("Cut after", self.cut)
        form.addRow("", self.cut_note)
        for p in HEAD:
            form.addRow(f"Head: {p.name}", self.head_fields[p.name])
            self.head_fields[p.name].setToolTip(p.doc)
            self.head_fields[p.name].set_value(p.default)
        form.addRow("Classes", self.classes)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.button(QDialogButtonBox.Ok).setText("Create project")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._reread = QTimer(self, singleShot=True, interval=400)  # typing a name reads it once, when it pauses
        self._reread.timeout.connect(self.read_backbone)
        self.source.editTextChanged.connect(lambda _t: self._reread.start())
        self.shape.textEdited.connect(lambda _t: self._reread.start())
        self._update_kind()
        tasks.run(application_names, on_done=self._set_names, on_error=lambda *_: None)
        if source:
            self.read_backbone()

    # -- the backbone -----------------------------------------------------------------
    def _set_names(self, names: list[str]) -> None:
        current = self.source.currentText()
        self._names = set(names)
        self.source.blockSignals(True)
        self.source.addItems([n for n in sorted(names) if n != current])
        self.source.setEditText(current)
        self.source.blockSignals(False)
        self._update_kind()

    def is_application(self) -> bool:
        """The backbone is a keras.applications name (not a file); before the names are read, anything
        that does not look like a file path counts as one."""
        text = self.source.currentText().strip()
        if self._names is not None:
            return text in self._names
        return bool(text) and not any(c in text for c in "/\\.")

    def _update_kind(self) -> None:
        application = self.is_application()
        self.weights.setEnabled(application)
        self.shape.setEnabled(application)

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Backbone model", str(Path(self.source.currentText()).parent),
                                              KERAS_FILES)
        if path:
            self.source.setEditText(path)
            self.read_backbone()

    def _input_shape(self) -> tuple | None:
        """The typed input shape for an application (``None`` for a file); raises ParamError."""
        if not self.is_application():
            return None
        shape = spec("InputLayer").params.get("shape").coerce(self.shape.text().strip())
        if len(shape) != 3 or None in shape:
            raise ParamError(f"input shape needs height x width x channels, got {self.shape.text()!r}")
        return shape

    def read_backbone(self) -> None:
        """Read the backbone's layers (and the dataset's classes) in the background."""
        self._reread.stop()
        self._update_kind()
        source = self.source.currentText().strip()
        if not source:
            return
        try:
            shape = self._input_shape()
        except ParamError as exc:
            self.message.setText(str(exc))
            return
        asked = self._asked = (source, shape)
        self.preview = None
        self.cut.clear()
        self.cut.setEnabled(False)
        self.cut_note.setText(f"Reading {Path(source).name}…")
        self.message.setText("")
        self.tasks.run(_preview, self.base.to_dict(), source, shape,
                       on_done=lambda p: self._on_preview_done(asked, p),
                       on_error=lambda msg, _tb: self._on_preview_failed(asked, msg))

    def _on_preview_done(self, asked, preview) -> None:
        if asked != self._asked:
            return  # an older question: the user changed the backbone meanwhile
        self.preview = preview
        refused = [c for c in preview.cuts if not c.ok]
        model: QStandardItemModel = self.cut.model()
        self.cut.blockSignals(True)
        for c in preview.cuts:
            self.cut.addItem(f"{c.name}   {'x'.join('?' if d is None else str(d) for d in c.shape)}", c.name)
            item = model.item(self.cut.count() - 1)
            if not c.ok:
                item.setEnabled(False)
                item.setToolTip(c.reason)
        self.cut.blockSignals(False)
        self.cut.setEnabled(preview.default is not None)
        if preview.default is not None:
            self.cut.setCurrentIndex(self.cut.findData(preview.default))
        self._on_cut_index_changed(self.cut.currentIndex())
        if refused:
            self.cut_note.setText(f"{len(refused)} of {len(preview.cuts)} layers of {preview.name} cannot be cut "
                                  f"at (greyed): their output has no spatial axes, and the head pools height x width "
                                  f"x channels maps. Default: {preview.default or 'none'}, the last spatial layer "
                                  f"before the classifier.")
        else:
            self.cut_note.setText(f"{len(preview.cuts)} layers of {preview.name}; default: {preview.default}, "
                                  f"its last layer.")
        classes = preview.classes
        self.classes.setText(f"{len(classes)} from the project's dataset: {', '.join(classes[:12])}"
                             + ("…" if len(classes) > 12 else ""))
        if preview.default is None:
            self.message.setText(f"{preview.name} has no layer with a spatial output to put a head on")

    def _on_preview_failed(self, asked, message: str) -> None:
        if asked == self._asked:
            self.cut_note.setText("")
            self.message.setText(message.splitlines()[0] if message else "cannot read the backbone")

    def _on_cut_index_changed(self, index: int) -> None:
        ok = self.preview is not None and index >= 0 and self.cut.model().item(index).isEnabled()
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(ok)

    # -- the answer -------------------------------------------------------------------
    def choice(self) -> dict:
        """``{"source", "weights", "input_shape", "cut", "head"}``; raises ParamError for a bad choice."""
        if self.preview is None or self.cut.currentIndex() < 0:
            raise ParamError("choose a backbone and wait for its layers")
        head = {name: HEAD.get(name).coerce(field.value()) for name, field in self.head_fields.items()}
        application = self.is_application()
        return {"source": self.source.currentText().strip(),
                "weights": WEIGHTS[self.weights.currentIndex()][1] if application else None,
                "input_shape": self._input_shape(), "cut": self.cut.currentData(), "head": head}

