"""The training settings form: optimizer, learning rate and schedule, loss, metrics, batch size,
epochs, early stopping, seed and mixed precision (offered only on a GPU)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QVBoxLayout, QWidget

from cnnstudio.ml.losses import LOSSES, METRICS
from cnnstudio.ml.optimizers import OPTIMIZERS, SCHEDULES

from .fields import AnyChanged, Field, FieldSet


class TrainingForm(QWidget):
    """Edits ``project.training`` (through the panel, as undoable commands)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = f = FieldSet(self)
        box = QGroupBox("Training")
        form = QFormLayout(box)
        self.optimizer = f.combo("training", "optimizer", OPTIMIZERS)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", f.number("training", "learning_rate", 1e-6, 10.0, 6))
        self.momentum = f.number("training", "momentum", 0.0, 0.999, 3, "SGD momentum")
        form.addRow("Momentum", self.momentum)
        self.weight_decay = f.number("training", "weight_decay", 0.0, 1.0, 6, "AdamW decoupled weight decay")
        form.addRow("Weight decay", self.weight_decay)
        self.schedule = f.combo("training", "schedule", SCHEDULES,
                                "cosine: down to 1% over the run; step / exponential: times the decay rate "
                                "every 'decay epochs'")
        form.addRow("Schedule", self.schedule)
        self.decay_rate = f.number("training", "decay_rate", 0.01, 1.0, 3)
        form.addRow("Decay rate", self.decay_rate)
        self.decay_epochs = f.spin("training", "decay_epochs", 1, 1000)
        form.addRow("Decay epochs", self.decay_epochs)
        self.loss = f.combo("training", "loss", {k: v[0] for k, v in LOSSES.items()})
        form.addRow("Loss", self.loss)
        self.gamma = f.number("training", "focal_gamma", 0.0, 10.0, 2, "focal loss focusing parameter")
        form.addRow("Focal γ", self.gamma)
        form.addRow("", f.check("training", "class_weighted", "Weight classes by rarity",
                                "counter class imbalance: rare classes count more in the loss"))
        self.metric_checks = {name: QCheckBox(title) for name, title in METRICS.items()}
        metrics = QWidget()
        row = QVBoxLayout(metrics)
        row.setContentsMargins(0, 0, 0, 0)
        for check in self.metric_checks.values():
            row.addWidget(check)
        f.add(Field("training", "metrics", metrics,
                    lambda: [n for n, c in self.metric_checks.items() if c.isChecked()],
                    lambda names: [c.setChecked(n in names) for n, c in self.metric_checks.items()],
                    AnyChanged([c.toggled for c in self.metric_checks.values()], metrics).changed))
        form.addRow("Metrics", metrics)
        form.addRow("Batch size", f.spin("training", "batch_size", 1, 8192))
        form.addRow("Epochs", f.spin("training", "epochs", 1, 10000))
        form.addRow("Early stopping", f.spin("training", "early_stopping", 0, 1000, suffix=" epochs",
                                             special="off", tip="stop when the validation loss has not improved "
                                             "for this many epochs"))
        form.addRow("Seed", f.spin("training", "seed", 0, 2**31 - 1, tip="same seed, same initial weights"))
        self.mixed = f.check("training", "mixed_precision", "Mixed precision (GPU)",
                             "float16 compute with float32 weights: faster on a GPU")
        form.addRow("", self.mixed)
        self.form = form
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        for combo in (self.optimizer, self.schedule, self.loss):
            combo.currentIndexChanged.connect(self._update_visibility)
        self.set_gpu(False)
        self._update_visibility()

    def set_gpu(self, on_gpu: bool) -> None:
        """Mixed precision can be switched on only when TensorFlow trains on a GPU."""
        self.mixed.setEnabled(on_gpu)
        self.mixed.setToolTip("float16 compute with float32 weights: faster on a GPU" if on_gpu
                              else "needs a GPU: TensorFlow trains on the CPU here")

    def load(self, project) -> None:
        """Show ``project.training``."""
        self.fields.load({"training": project.training})
        self._update_visibility()

    def changes(self, project) -> dict[str, dict]:
        """``{"training": {key: new value}}`` for the user's edits that differ from the project."""
        new = self.fields.take_edits().get("training", {})
        diff = {k: v for k, v in new.items() if project.training.get(k) != v}
        return {"training": diff} if diff else {}

    def _update_visibility(self) -> None:
        self.form.setRowVisible(self.momentum, self.optimizer.currentData() == "sgd")
        self.form.setRowVisible(self.weight_decay, self.optimizer.currentData() == "adamw")
        stepped = self.schedule.currentData() in ("step", "exponential")
        self.form.setRowVisible(self.decay_rate, stepped)
        self.form.setRowVisible(self.decay_epochs, stepped)
        self.form.setRowVisible(self.gamma, self.loss.currentData() == "focal")
