"""The inspector dock: edit the selected layer and see what it does to the tensor.

The form is generated from the layer's catalog entry (one typed editor per parameter,
advanced ones folded). Each change is applied at once as one undoable ``SetParams``;
a value the catalog refuses shows its message under the editor and changes nothing.
Below the form: the lecture's output-size formula with this layer's numbers, the
receptive field, parameters, FLOPs, memory and the error, if the layer has one.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QFrame, QLabel, QLineEdit, QPlainTextEdit, QScrollArea, QToolButton,
                               QVBoxLayout, QWidget)

from cnnstudio.core.catalog import spec
from cnnstudio.core.commands import Rename, SetFrozen, SetParams
from cnnstudio.core.graph import Node
from cnnstudio.core.params import Param, ParamError
from cnnstudio.ui.forms import ParamField, make_field

from cnnstudio.ui.editor.inspector_text import multi_html, node_error_html, node_html

ERROR_STYLE = "color: #c62828;"


def _error_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def _show(label: QLabel, message: str | None) -> None:
    label.setText(message or "")
    label.setVisible(bool(message))


class InspectorView(QWidget):
    """Form and arithmetic of the selected layer; totals when several are selected."""

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.node: Node | None = None  # the node the form edits (by identity, ids repeat across projects)
        self.fields: dict[str, ParamField] = {}
        self.field_errors: dict[str, QLabel] = {}
        self._shown: dict[str, Any] = {}  # last value put into each editor, so a refresh never clobbers typing
        self._advanced_open = False
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # the form follows the dock's width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self.setMinimumWidth(320)
        studio.selection_changed.connect(self._on_studio_selection_changed)
        studio.inference_updated.connect(self._on_studio_inference_updated)
        studio.project_replaced.connect(self.rebuild)
        self.rebuild()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(390, 640)  # room for a formula line without wrapping

    # -- building ---------------------------------------------------------------------
    def rebuild(self) -> None:
        """Build the page for the current selection from scratch."""
        graph = self.studio.graph
        ids = [i for i in self.studio.selection if i in graph.nodes]
        self.node = graph.nodes[ids[0]] if len(ids) == 1 else None
        self.fields, self.field_errors, self._shown = {}, {}, {}
        page = QWidget()
        self.page_layout = QVBoxLayout(page)
        self.page_layout.setContentsMargins(10, 8, 10, 8)
        if self.node is not None:
            self._build_node_page(page, self.node)
        else:
            self.stats = self._rich_label(page)
            self.page_layout.addWidget(self.stats)
            self.error_label = None
        self.page_layout.addStretch(1)
        self.scroll.setWidget(page)
        self.refresh()

    def _rich_label(self, parent: QWidget) -> QLabel:
        label = QLabel(parent)
        label.setWordWrap(True)
        label.setTextFormat(Qt.RichText)
        label.setTextInteractionFlags(Qt.TextBrowserInteraction)
        label.linkActivated.connect(self._on_link_activated)
        return label

    def _build_node_page(self, page: QWidget, node: Node) -> None:
        sp = spec(node.kind)
        self.name_edit = QLineEdit(node.name, page)
        self.name_edit.setToolTip("The layer's name (unique; letters, digits and _). Enter to rename.")
        font = self.name_edit.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.name_edit.setFont(font)
        self.name_edit.editingFinished.connect(self._on_name_edit_finished)
        self.page_layout.addWidget(self.name_edit)
        self.name_error = _error_label(page)
        self.page_layout.addWidget(self.name_error)
        kind = QLabel(f"<b>{node.kind}</b> · {sp.group}" if sp else f"<b>{node.kind}</b> · not in the layer catalog", page)
        self.page_layout.addWidget(kind)
        doc = QLabel(sp.doc if sp else "Imported from Keras. Its configuration is shown read-only.", page)
        doc.setWordWrap(True)
        doc.setStyleSheet("color: #6b6b6b;")
        self.page_layout.addWidget(doc)
        self.frozen_box = None
        if node.kind != "InputLayer":
            self._build_frozen_box(page, node)
        if sp is None:
            config = QPlainTextEdit(json.dumps(node.extra or node.params, indent=2, default=str), page)
            config.setReadOnly(True)
            config.setMinimumHeight(160)
            self.page_layout.addWidget(config)
        else:
            self._label_width = max((self.fontMetrics().horizontalAdvance(p.name) for p in sp.params), default=0)
            basic = [p for p in sp.params if not p.advanced]
            advanced = [p for p in sp.params if p.advanced]
            if basic:
                self.page_layout.addLayout(self._form(page, basic))
            if advanced:
                self._build_advanced(page, advanced)
        self.error_label = self._rich_label(page)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.page_layout.addWidget(self.error_label)
        line = QFrame(page)
        line.setFrameShape(QFrame.HLine)
        line.setFrameShadow(QFrame.Sunken)
        self.page_layout.addWidget(line)
        self.stats = self._rich_label(page)
        self.page_layout.addWidget(self.stats)

    def _build_frozen_box(self, page: QWidget, node: Node) -> None:
        self.frozen_box = QCheckBox("Frozen: its weights do not train (Ctrl+F for a selection)", page)
        self.frozen_box.setToolTip("Keras's trainable=False. A frozen BatchNormalization also runs in inference "
                                   "mode, on its moving statistics.")
        self.frozen_box.setChecked(node.frozen)
        self.frozen_box.toggled.connect(self._on_frozen_box_toggled)
        self.page_layout.addWidget(self.frozen_box)

    def _on_frozen_box_toggled(self, checked: bool) -> None:
        if self.node is not None and checked != self.node.frozen:
            self.studio.push(SetFrozen(self.studio.graph, [self.node.id], checked))

    def _form(self, parent: QWidget, params: list[Param]) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        for p in params:
            cell = QWidget(parent)
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(1)
            field = make_field(p, cell)
            field.committed.connect(lambda value, name=p.name: self._apply(name, value))
            box.addWidget(field)
            error = _error_label(cell)
            box.addWidget(error)
            label = QLabel(p.name, parent)
            label.setToolTip(p.doc)
            label.setMinimumWidth(self._label_width)  # basic and advanced forms line up
            label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            form.addRow(label, cell)
            self.fields[p.name] = field
            self.field_errors[p.name] = error
        return form

    def _build_advanced(self, page: QWidget, params: list[Param]) -> None:
        toggle = QToolButton(page)
        toggle.setText(f"Advanced ({len(params)})")
        toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        toggle.setAutoRaise(True)
        toggle.setCheckable(True)
        holder = QWidget(page)
        holder.setLayout(self._form(holder, params))

        def _set_open(checked: bool) -> None:
            self._advanced_open = checked
            toggle.setArrowType(Qt.DownArrow if checked else Qt.RightArrow)
            holder.setVisible(checked)

        toggle.toggled.connect(_set_open)
        toggle.setChecked(self._advanced_open)
        _set_open(self._advanced_open)
        self.advanced_toggle = toggle
        self.page_layout.addWidget(toggle)
        self.page_layout.addWidget(holder)

    # -- refreshing -------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the current values and arithmetic without rebuilding the editors."""
        graph, inference = self.studio.graph, self.studio.inference
        if self.node is None:
            ids = [i for i in self.studio.selection if i in graph.nodes]
            self.stats.setText(multi_html(ids, graph, inference))
            return
        node = self.node
        if node.name != self._shown.get("__name__"):
            self._shown["__name__"] = node.name
            self.name_edit.setText(node.name)
            _show(self.name_error, None)
        for name, field in self.fields.items():
            value = node.params.get(name)
            if name not in self._shown or self._shown[name] != value:
                self._shown[name] = value
                field.set_value(value)
                _show(self.field_errors[name], None)
        if self.frozen_box is not None and self.frozen_box.isChecked() != node.frozen:  # an undo, the selection action
            self.frozen_box.blockSignals(True)
            self.frozen_box.setChecked(node.frozen)
            self.frozen_box.blockSignals(False)
        info = inference.get(node.id)
        self.error_label.setText(node_error_html(info, graph, inference))
        self.error_label.setVisible(bool(info and info.error))
        self.stats.setText(node_html(info))

    def _on_studio_selection_changed(self, _ids: list) -> None:
        self.rebuild()

    def _on_studio_inference_updated(self) -> None:
        graph = self.studio.graph
        if self.node is not None and graph.nodes.get(self.node.id) is not self.node:
            self.rebuild()  # the node went away (undo of its addition, another project)
        else:
            self.refresh()

    # -- edits ------------------------------------------------------------------------
    def _apply(self, name: str, value: Any) -> None:
        """Push one SetParams for a changed value; show the catalog's message for a bad one."""
        node = self.node
        param = spec(node.kind).params.get(name)
        try:
            new = param.coerce(value)
        except ParamError as exc:
            _show(self.field_errors[name], str(exc))
            return
        if new == node.params.get(name):
            _show(self.field_errors[name], None)
            return
        error = self.studio.push(SetParams(self.studio.graph, node.id, {name: new}))
        if error is None:
            self._shown[name] = new  # the editor shows it already
        _show(self.field_errors[name], error)

    def _on_name_edit_finished(self) -> None:
        name = self.name_edit.text().strip()
        if self.node is None or name == self.node.name:
            return
        error = self.studio.push(Rename(self.studio.graph, self.node.id, name))
        if error is None:
            self._shown["__name__"] = name
        _show(self.name_error, error)

    def _on_link_activated(self, link: str) -> None:
        if link.startswith("node:"):
            self.studio.select([link[5:]])
