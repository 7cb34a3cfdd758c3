"""The Training page's "Fine-tune…" dialog: how many top blocks to unfreeze, the learning-rate factor, more epochs.

The blocks are counted as :func:`cnnstudio.core.transfer.fine_tune_layers` counts them (frozen
layers with weights, from the top; BatchNormalization stays frozen), and the dialog names the
layers that will unfreeze as the number changes. Accepting unfreezes them in the editor (one
undoable step) and continues the same run at the lower rate.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.transfer import FINE_TUNE, fine_tune_layers
from cnnstudio.ui.forms import FieldSet


class FineTuneDialog(QDialog):
    """Ask for the top blocks to unfreeze, the learning-rate factor and the epochs to add."""

    def __init__(self, graph: LayerGraph, run_name: str, learning_rate: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph, self.learning_rate = graph, learning_rate
        self.setWindowTitle("Fine-tune")
        self.forms = FieldSet(self)
        self.fields = {p.name: self.forms.field("fine_tune", p) for p in FINE_TUNE}
        form = QFormLayout()
        titles = {"blocks": "Unfreeze top blocks", "lr_factor": "Learning-rate factor", "epochs": "More epochs"}
        for p in FINE_TUNE:
            self.fields[p.name].set_value(p.default)
            self.fields[p.name].setToolTip(p.doc)
            self.fields[p.name].committed.connect(lambda _v: self._show_plan())
            form.addRow(titles[p.name], self.fields[p.name])
        intro = QLabel(f"Continues run {run_name} (same curves, the epochs go on) with the chosen layers unfrozen "
                       f"and a fresh optimizer at the lower learning rate.", self)
        intro.setWordWrap(True)
        self.plan = QLabel(self)
        self.plan.setWordWrap(True)
        self.plan.setStyleSheet("color: #444;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.button(QDialogButtonBox.Ok).setText("Fine-tune")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.plan)
        layout.addWidget(self.buttons)
        self.resize(480, 300)
        self._show_plan()

    def values(self) -> dict:
        """``{"blocks", "lr_factor", "epochs"}``, coerced."""
        return {name: FINE_TUNE.get(name).coerce(field.value()) for name, field in self.fields.items()}

    def layers(self) -> list[str]:
        """Ids of the nodes that will unfreeze."""
        return fine_tune_layers(self.graph, self.values()["blocks"])

    def _show_plan(self) -> None:
        names = [self.graph.nodes[i].name for i in self.layers()]
        rate = self.learning_rate * self.values()["lr_factor"]
        self.plan.setText(f"Unfreezes {len(names)} layer(s): {', '.join(names)}. Learning rate "
                          f"{self.learning_rate:g} → {rate:g}." if names else "No frozen layers to unfreeze.")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(bool(names))
