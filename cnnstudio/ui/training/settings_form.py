"""The training settings form: optimizer, learning rate and schedule, loss, metrics, batch size,
epochs, early stopping, seed, mixed precision (offered only on a GPU) and histograms."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QVBoxLayout, QWidget

from cnnstudio.core.settings import TRAINING
from cnnstudio.ui.forms import FieldSet


class TrainingForm(QWidget):
    """Edits ``project.training`` (through the panel, as undoable commands)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = FieldSet(self)
        box = QGroupBox("Training")
        form = QFormLayout(box)

        def setting(name, **look):
            return self.fields.field("training", TRAINING.get(name), **look)

        self.optimizer = setting("optimizer")
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", setting("learning_rate"))
        self.momentum = setting("momentum")
        form.addRow("Momentum", self.momentum)
        self.weight_decay = setting("weight_decay")
        form.addRow("Weight decay", self.weight_decay)
        self.schedule = setting("schedule")
        form.addRow("Schedule", self.schedule)
        self.decay_rate = setting("decay_rate")
        form.addRow("Decay rate", self.decay_rate)
        self.decay_epochs = setting("decay_epochs")
        form.addRow("Decay epochs", self.decay_epochs)
        self.loss = setting("loss")
        form.addRow("Loss", self.loss)
        self.gamma = setting("focal_gamma")
        form.addRow("Focal γ", self.gamma)
        form.addRow("", setting("class_weighted", text="Weight classes by rarity"))
        self.metrics = setting("metrics")
        form.addRow("Metrics", self.metrics)
        form.addRow("Batch size", setting("batch_size"))
        form.addRow("Epochs", setting("epochs"))
        form.addRow("Early stopping", setting("early_stopping", suffix=" epochs", special="off"))
        form.addRow("Seed", setting("seed"))
        self.mixed = setting("mixed_precision", text="Mixed precision (GPU)")
        form.addRow("", self.mixed)
        form.addRow("", setting("histograms", text="Record histograms every epoch"))
        self.form = form
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        for choice in (self.optimizer, self.schedule, self.loss):
            choice.committed.connect(self._update_visibility)
        self.set_gpu(False)
        self._update_visibility()

    def set_gpu(self, on_gpu: bool) -> None:
        """Mixed precision can be switched on only when TensorFlow trains on a GPU."""
        self.mixed.setEnabled(on_gpu)
        self.mixed.setToolTip(TRAINING.get("mixed_precision").doc if on_gpu
                              else "needs a GPU: TensorFlow trains on the CPU here")

    def load(self, project) -> None:
        """Show ``project.training``."""
        self.fields.load("training", vars(project.training))
        self._update_visibility()

    def changes(self, project) -> dict[str, dict]:
        """``{"training": {key: new value}}`` for the user's edits that differ from the project."""
        new = self.fields.take_edits().get("training", {})
        diff = {k: v for k, v in new.items() if getattr(project.training, k) != v}
        return {"training": diff} if diff else {}

    def _update_visibility(self, *_args) -> None:
        self.form.setRowVisible(self.momentum, self.optimizer.value() == "sgd")
        self.form.setRowVisible(self.weight_decay, self.optimizer.value() == "adamw")
        stepped = self.schedule.value() in ("step", "exponential")
        self.form.setRowVisible(self.decay_rate, stepped)
        self.form.setRowVisible(self.decay_epochs, stepped)
        self.form.setRowVisible(self.gamma, self.loss.value() == "focal")
