"""The summary dock: the model as ``model.summary()`` prints it, plus receptive fields, FLOPs and memory.

A :class:`SummaryModel` (one row per layer in topological order) is refilled from
``studio.inference`` on every ``inference_updated``; rows of layers with an error are red
with the message as tooltip. Clicking rows selects those layers everywhere.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QSize, QItemSelection, QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.inference import GraphInference

from cnnstudio.ui.editor import formatting as fmt

COLUMNS = ("Layer", "Class", "Output shape", "Params", "Trainable", "Receptive field", "FLOPs", "Memory")
_NUMERIC = {3, 4, 6, 7}
_ERROR = QColor("#c62828")
_ERROR_BACKGROUND = QColor(198, 40, 40, 28)


class SummaryModel(QAbstractTableModel):
    """Rows of per-layer figures; :meth:`refresh` rebuilds them from a graph and its inference."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.ids: list[str] = []
        self.cells: list[tuple[str, ...]] = []
        self.errors: list[str | None] = []  # the tooltip of a row with an error, upstream ones included
        self.notes: list[str] = []  # why a receptive field is undefined

    def refresh(self, graph: LayerGraph, inference: GraphInference) -> None:
        """Recompute every row (cheap: strings for a few hundred layers)."""
        self.beginResetModel()
        self.ids, self.cells, self.errors, self.notes = [], [], [], []
        root_errors = {graph.nodes[i].name: msg for i, msg in inference.errors.items()}
        for nid in graph.topological_order():
            node, info = graph.nodes[nid], inference.get(nid)
            if info is None:
                continue
            if info.error:
                # the message without the leading "name: " (the Layer column says it); all of it in the tooltip
                what = info.error.removeprefix(f"{node.name}: ") if info.root_error else f"not computed: error in {info.culprit}"
                self.cells.append((node.name, node.kind, f"⚠ {what}", "—", "—", "—", "—", "—"))
            else:
                rf = info.receptive_field.text() if info.receptive_field else "—"
                self.cells.append((node.name, node.kind, fmt.keras_shape(info.output_shape), fmt.count(info.params),
                                   fmt.count(info.trainable), rf, fmt.flops(info.flops), fmt.size_bytes(info.memory)))
            self.ids.append(nid)
            if info.error and not info.root_error and info.culprit in root_errors:
                self.errors.append(f"{info.error}:\n{root_errors[info.culprit]}")
            else:
                self.errors.append(info.error)
            self.notes.append(info.rf_note)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.DisplayRole):  # noqa: N802 (Qt name)
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        row, col = index.row(), index.column()
        if role == Qt.DisplayRole:
            return self.cells[row][col]
        if role == Qt.ToolTipRole:
            if self.errors[row]:
                return self.errors[row]
            if col == 5 and self.notes[row]:
                return f"Receptive field undefined: {self.notes[row]}"
            return None
        if role == Qt.ForegroundRole and self.errors[row]:
            return QBrush(_ERROR)
        if role == Qt.BackgroundRole and self.errors[row]:
            return QBrush(_ERROR_BACKGROUND)
        if role == Qt.TextAlignmentRole and col in _NUMERIC:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.UserRole:
            return self.ids[row]
        return None


class SummaryView(QWidget):
    """The summary table with the model's totals under it."""

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.model = SummaryModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(False)
        self.totals = QLabel(self)
        self.totals.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        self._syncing = False
        self._sized_for: int | None = None
        self._errors_shown: list = []
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        studio.inference_updated.connect(self.refresh)
        studio.project_replaced.connect(self._on_studio_project_replaced)
        studio.selection_changed.connect(self._on_studio_selection_changed)
        self.refresh()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(900, 280)  # about a dozen rows: all of LeNet-5 at once

    def refresh(self) -> None:
        """Refill the table and totals from the studio's inference."""
        graph, inference = self.studio.graph, self.studio.inference
        self._syncing = True  # a model reset clears the table's selection: not a user action
        self.model.refresh(graph, inference)
        self._syncing = False
        if self._sized_for != len(self.model.ids):  # fit columns when layers come or go, not on every edit
            self._sized_for = len(self.model.ids)
            self.table.resizeColumnsToContents()

        if self.model.errors != self._errors_shown:  # widen the shape column to show messages, and back
            self._errors_shown = list(self.model.errors)
            shape = COLUMNS.index("Output shape")
            self.table.resizeColumnToContents(shape)
            self.table.setColumnWidth(shape, min(self.table.columnWidth(shape), 75 * self.fontMetrics().averageCharWidth()))
        self._show_selection(self.studio.selection)
        self.totals.setText(self.totals_text(inference))

    @staticmethod
    def totals_text(inference: GraphInference) -> str:
        """``Total params: 61,706 (241.0 KiB) · Trainable: ... · FLOPs ... · Activations ...``."""
        total, trainable = inference.total_params, inference.trainable_params
        parts = [f"Total params: <b>{fmt.count(total)}</b> ({fmt.size_bytes(4 * total)})",
                 f"Trainable: {fmt.count(trainable)}", f"Non-trainable: {fmt.count(total - trainable)}",
                 f"FLOPs: {fmt.flops(inference.total_flops)} per sample",
                 f"Activations: {fmt.size_bytes(sum(i.memory for i in inference.values()))} per sample"]
        errors = len(inference.errors)
        if errors:
            parts.append(f"<span style='color: #c62828;'><b>{errors} error{'s' if errors != 1 else ''}</b></span>")
        return " &nbsp;·&nbsp; ".join(parts)

    def _show_selection(self, ids: list[str]) -> None:
        wanted = set(ids)
        selection = QItemSelection()
        for row, nid in enumerate(self.model.ids):
            if nid in wanted:
                selection.select(self.model.index(row, 0), self.model.index(row, len(COLUMNS) - 1))
        self._syncing = True
        self.table.selectionModel().select(selection, QItemSelectionModel.ClearAndSelect)
        self._syncing = False
        if ids and ids[0] in self.model.ids:
            self.table.scrollTo(self.model.index(self.model.ids.index(ids[0]), 0))

    def _on_studio_project_replaced(self) -> None:
        self._sized_for = None  # another network: fit the columns to it
        self.refresh()

    def _on_studio_selection_changed(self, ids: list) -> None:
        if not self._syncing:
            self._show_selection(ids)

    def _on_table_selection_changed(self, *_args) -> None:
        if self._syncing:
            return
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        self._syncing = True  # the studio echoes the selection back: the table has it already
        self.studio.select([self.model.ids[r] for r in rows])
        self._syncing = False
