"""The list of a project's runs: tick runs to overlay their curves, pick one to see its evaluation
or to resume it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from cnnstudio.core.project import Project
from cnnstudio.ml.training.runs import Run, project_runs


def describe(run: Run) -> str:
    """One line: name, epochs, best validation accuracy, status (and "damaged" when files of it were left out)."""
    epochs = run.curves.epochs_done
    acc = [v for v in run.curves.epoch.get("val_accuracy", []) if v == v]
    best = f" · val acc {100 * max(acc):.1f}%" if acc else ""
    name = "shipped (read-only)" if run.shipped else run.name
    damaged = " · damaged (see tooltip)" if run.problems else ""
    return f"{name} · {epochs}/{run.target_epochs or epochs} ep{best} · {run.metrics.get('status', '?')}{damaged}"


class RunsView(QGroupBox):
    """Runs of the open project, newest first."""

    overlays_changed = Signal(list)      # the ticked runs (Run objects)
    evaluation_requested = Signal(object)  # a Run

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Runs", parent)
        self.list = QListWidget(self)
        self.list.setToolTip("Tick runs to overlay their validation curves; double-click to see the evaluation")
        self.list.itemChanged.connect(self._on_list_item_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.evaluation_requested.emit(item.data(Qt.UserRole)))
        self.evaluation_button = QPushButton("Evaluation")
        self.evaluation_button.clicked.connect(self._on_evaluation_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.evaluation_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def refresh(self, project: Project) -> None:
        """Re-read the runs of ``project`` (ticks are kept by name)."""
        ticked = {r.name for r in self.ticked()}
        self.list.blockSignals(True)
        self.list.clear()
        for run in reversed(project_runs(project)):
            item = QListWidgetItem(describe(run))
            item.setData(Qt.UserRole, run)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if run.name in ticked else Qt.Unchecked)
            item.setToolTip("\n".join([str(run.path), *run.problems]))  # each damaged file or field, named
            self.list.addItem(item)
        self.list.blockSignals(False)

    def ticked(self) -> list[Run]:
        """Runs whose box is ticked."""
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.Checked]

    def selected(self) -> Run | None:
        """The highlighted run, or None."""
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def _on_list_item_changed(self, _item) -> None:
        self.overlays_changed.emit(self.ticked())

    def _on_evaluation_clicked(self) -> None:
        run = self.selected()
        if run is not None:
            self.evaluation_requested.emit(run)
