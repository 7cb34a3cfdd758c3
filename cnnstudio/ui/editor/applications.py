"""The "Keras Applications…" dialog: pick a ``keras.applications`` architecture and its options.

The list of names comes from :func:`cnnstudio.ml.model.keras_io.application_names`, fetched on the
window's task runner so that opening the dialog never waits for TensorFlow to import.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QListWidget,
                               QSpinBox, QVBoxLayout, QWidget)

from cnnstudio.core.catalog import spec
from cnnstudio.core.params import ParamError

WEIGHTS = (("none (random initial weights)", None), ("imagenet (pre-trained)", "imagenet"))
WEIGHTS_NOTE = ("ImageNet weights are downloaded from the internet the first time (tens to hundreds of MB, "
                "then cached). They need 1000 classes. Offline, choose none: the architecture is the same.")


def application_names() -> list[str]:
    """The architectures Keras offers (imports TensorFlow: call it off the GUI thread)."""
    from cnnstudio.ml.model.keras_io import application_names as names
    return list(names())


class ChoiceDialog(QDialog):
    """A dialog whose OK refuses to close on a bad :meth:`choice` and says why in ``self.message``."""

    message: QLabel

    def choice(self):
        raise NotImplementedError

    def accept(self) -> None:
        try:
            self.choice()
        except ParamError as exc:
            self.message.setText(str(exc))
            return
        super().accept()


class ApplicationsDialog(ChoiceDialog):
    """Choose an architecture, input shape, number of classes and weights."""

    def __init__(self, tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keras Applications")
        self.resize(460, 560)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter, e.g. resnet")
        self.search.textChanged.connect(self._on_search_text_changed)
        self.names = QListWidget(self)
        self.names.addItem("Loading the list from Keras…")
        self.names.setEnabled(False)
        self.names.itemDoubleClicked.connect(lambda _item: self.accept())
        self.shape = QLineEdit(self)
        self.shape.setPlaceholderText("default of the architecture, e.g. 224x224x3")
        self.shape.setToolTip("Input height x width x channels; empty for the architecture's own default")
        self.classes = QSpinBox(self)
        self.classes.setRange(1, 100_000)
        self.classes.setValue(1000)
        self.weights = QComboBox(self)
        for text, _value in WEIGHTS:
            self.weights.addItem(text)
        self.weights.currentIndexChanged.connect(self._on_weights_changed)
        note = QLabel(WEIGHTS_NOTE, self)
        note.setWordWrap(True)
        note.setStyleSheet("color: #6b6b6b;")
        self.message = QLabel(self)
        self.message.setStyleSheet("color: #c62828;")
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Input shape", self.shape)
        form.addRow("Classes", self.classes)
        form.addRow("Weights", self.weights)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        buttons.button(QDialogButtonBox.Ok).setText("Build")
        #: True when closed with "Transfer learning…": the architecture becomes a frozen backbone with a new head
        self.wants_transfer = False
        transfer = buttons.addButton("Transfer learning…", QDialogButtonBox.ActionRole)
        transfer.setToolTip("Use this architecture (without its classifier) as a frozen backbone with a new head "
                            "for the open project's classes")
        transfer.clicked.connect(self._on_transfer_clicked)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.names, 1)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        tasks.run(application_names, on_done=self.set_names,
                  on_error=lambda msg, _tb: self._fail(f"Keras is not available: {msg}"))

    def set_names(self, names: list[str]) -> None:
        """Fill the list (called when the background look-up ends)."""
        self.names.clear()
        self.names.addItems(sorted(names))
        self.names.setEnabled(True)
        self.names.setCurrentRow(0)
        self._on_search_text_changed(self.search.text())

    def _fail(self, message: str) -> None:
        self.names.clear()
        self.message.setText(message)

    def _on_search_text_changed(self, text: str) -> None:
        first = None
        for row in range(self.names.count()):
            item = self.names.item(row)
            item.setHidden(text.lower() not in item.text().lower())
            if first is None and not item.isHidden():
                first = item
        if first is not None and (self.names.currentItem() is None or self.names.currentItem().isHidden()):
            self.names.setCurrentItem(first)

    def _on_weights_changed(self, index: int) -> None:
        if WEIGHTS[index][1] == "imagenet":
            self.classes.setValue(1000)

    def choice(self) -> dict:
        """``{"name", "input_shape", "classes", "weights"}``; raises ParamError for a bad shape."""
        item = self.names.currentItem()
        if item is None or not self.names.isEnabled() or item.isHidden():
            raise ParamError("choose an architecture from the list")
        text = self.shape.text().strip()
        shape = spec("InputLayer").params.get("shape").coerce(text) if text else None
        if shape is not None and len(shape) != 3:
            raise ParamError(f"input shape needs height x width x channels, got {len(shape)} values")
        return {"name": item.text(), "input_shape": shape, "classes": self.classes.value(),
                "weights": WEIGHTS[self.weights.currentIndex()][1]}

    def _on_transfer_clicked(self) -> None:
        self.wants_transfer = True
        self.accept()
        if self.result() != QDialog.Accepted:  # a bad choice kept it open
            self.wants_transfer = False

