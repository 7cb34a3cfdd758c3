"""The training settings form: optimizer, learning rate and schedule, loss, metrics, batch size,
epochs, early stopping, seed and mixed precision (offered only on a GPU)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QVBoxLayout, QWidget

from cnnstudio.core.settings import TRAINING

from .fields import AnyChanged, Field, FieldSet


class TrainingForm(QWidget):
    """Edits ``project.training`` (through the panel, as undoable commands)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = f = FieldSet(self)
        box = QGroupBox("Training")
        form = QFormLayout(box)
        def setting(name, **options):
            return f.setting("training", TRAINING.get(name), **options)

        self.optimizer = setting("optimizer")
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", setting("learning_rate", decimals=6))
        self.momentum = setting("momentum", decimals=3)
        form.addRow("Momentum", self.momentum)
        self.weight_decay = setting("weight_decay", decimals=6)
        form.addRow("Weight decay", self.weight_decay)
        self.schedule = setting("schedule")
        form.addRow("Schedule", self.schedule)
        self.decay_rate = setting("decay_rate", decimals=3)
        form.addRow("Decay rate", self.decay_rate)
        self.decay_epochs = setting("decay_epochs")
        form.addRow("Decay epochs", self.decay_epochs)
        self.loss = setting("loss")
        form.addRow("Loss", self.loss)
        self.gamma = setting("focal_gamma", decimals=2)
        form.addRow("Focal γ", self.gamma)
        form.addRow("", setting("class_weighted", text="Weight classes by rarity"))
        metric = TRAINING.get("metrics")
        self.metric_checks = {name: QCheckBox(metric.title(name)) for name in metric.choices}
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
        form.addRow("Batch size", setting("batch_size"))
        form.addRow("Epochs", setting("epochs"))
        form.addRow("Early stopping", setting("early_stopping", suffix=" epochs", special="off"))
        form.addRow("Seed", setting("seed"))
        self.mixed = setting("mixed_precision", text="Mixed precision (GPU)")
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
        self.mixed.setToolTip(TRAINING.get("mixed_precision").doc if on_gpu
                              else "needs a GPU: TensorFlow trains on the CPU here")

    def load(self, project) -> None:
        """Show ``project.training``."""
        self.fields.load({"training": project.training.to_dict()})
        self._update_visibility()

    def changes(self, project) -> dict[str, dict]:
        """``{"training": {key: new value}}`` for the user's edits that differ from the project."""
        new = self.fields.take_edits().get("training", {})
        current = project.training.to_dict()
        diff = {k: v for k, v in new.items() if current[k] != v}
        return {"training": diff} if diff else {}

    def _update_visibility(self) -> None:
        self.form.setRowVisible(self.momentum, self.optimizer.currentData() == "sgd")
        self.form.setRowVisible(self.weight_decay, self.optimizer.currentData() == "adamw")
        stepped = self.schedule.currentData() in ("step", "exponential")
        self.form.setRowVisible(self.decay_rate, stepped)
        self.form.setRowVisible(self.decay_epochs, stepped)
        self.form.setRowVisible(self.gamma, self.loss.currentData() == "focal")
