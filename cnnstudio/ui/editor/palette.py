"""The layer palette: every catalog layer kind, grouped, searchable, with what it does.

Drag a layer onto the canvas to add it there (the drag carries :data:`LAYER_MIME`), or
double-click it (or press Enter in the search box) to append it after the selected
layer, wired, one row below; with nothing selected it goes after the network's last output.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from cnnstudio.core.catalog import by_group, spec
from cnnstudio.core.commands import AddNode
from cnnstudio.core.layout import COL, ROW

from cnnstudio.ui.editor.nodes import GROUP_COLORS

#: Mime type of a palette drag: the layer kind, UTF-8.
LAYER_MIME = "application/x-cnnstudio-layer"
KIND_ROLE = Qt.UserRole + 1


def _swatch(color: str) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(color))
    p.drawRoundedRect(1, 1, 12, 12, 3, 3)
    p.end()
    return QIcon(pm)


class LayerTree(QTreeWidget):
    """The grouped list; dragging a layer carries its kind as :data:`LAYER_MIME`."""

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt name)
        return [LAYER_MIME, "text/plain"]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 (Qt name)
        kinds = [it.data(0, KIND_ROLE) for it in items if it.data(0, KIND_ROLE)]
        return layer_mime(kinds[0]) if kinds else QMimeData()


def layer_mime(kind: str) -> QMimeData:
    """The drag payload for a layer ``kind`` (what a canvas drop reads)."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, kind.encode("utf-8"))
    mime.setText(kind)
    return mime


class PaletteView(QWidget):
    """The Palette dock."""

    def __init__(self, studio, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter by name or by what a layer does; Enter appends the first match")
        self.tree = LayerTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIndentation(12)
        self.tree.setIconSize(QSize(14, 14))
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragOnly)
        self.tree.setUniformRowHeights(True)
        hint = QLabel("Drag onto the canvas, or double-click to append after the selected layer.", self)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #667085; font-size: 8pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(hint)
        self._fill()
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.tree.itemDoubleClicked.connect(self._on_tree_item_double_clicked)

    def _fill(self) -> None:
        bold = self.font()
        bold.setBold(True)
        for group, specs in by_group().items():
            head = QTreeWidgetItem(self.tree, [group])
            head.setFont(0, bold)
            head.setFlags(Qt.ItemIsEnabled)
            head.setIcon(0, _swatch(GROUP_COLORS[group]))
            for sp in specs:
                leaf = QTreeWidgetItem(head, [sp.kind])
                leaf.setData(0, KIND_ROLE, sp.kind)
                leaf.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                takes = {0: "no inputs", 1: "one input"}.get(sp.inputs, "two or more inputs")
                leaf.setToolTip(0, f"<b>{sp.kind}</b> <i>({group}, {takes})</i><p>{sp.doc}</p>")
                leaf.setData(0, Qt.UserRole + 2, f"{sp.kind} {group} {sp.doc}".lower())
        self.tree.expandAll()

    # -- search ---------------------------------------------------------------------
    def visible_kinds(self) -> list[str]:
        """Layer kinds shown now, in palette order."""
        out = []
        for g in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(g)
            out += [head.child(k).data(0, KIND_ROLE) for k in range(head.childCount())
                    if not head.child(k).isHidden() and not head.isHidden()]
        return out

    def _on_search_text_changed(self, text: str) -> None:
        words = text.lower().split()
        for g in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(g)
            shown = 0
            for k in range(head.childCount()):
                leaf = head.child(k)
                hay = leaf.data(0, Qt.UserRole + 2)
                hit = all(w in hay for w in words)
                leaf.setHidden(not hit)
                shown += hit
            head.setHidden(shown == 0)
            head.setExpanded(True)

    def _on_search_return_pressed(self) -> None:
        kinds = self.visible_kinds()
        if kinds:
            self.append(kinds[0])

    def _on_tree_item_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        kind = item.data(0, KIND_ROLE)
        if kind:
            self.append(kind)

    # -- adding ---------------------------------------------------------------------
    def append(self, kind: str) -> str | None:
        """Add ``kind`` after the selected layer (else the last output), wired, one row below.

        Returns the new node's id, or None if the edit was refused (the status bar says why).
        """
        graph = self.studio.graph
        after = None
        if spec(kind) is None or spec(kind).inputs != 0:
            chosen = [i for i in self.studio.selection if i in graph.nodes]
            sinks = graph.outputs() or graph.input_nodes()
            after = chosen[-1] if chosen else (sinks[-1].id if sinks else None)
        if after is not None:
            x, y = graph.node(after).pos
            pos = self._free_spot(x, y + ROW)
        elif graph.nodes:
            pos = self._free_spot(min(n.pos[0] for n in graph.nodes.values()) - COL,
                                  min(n.pos[1] for n in graph.nodes.values()))
        else:
            pos = (0.0, 0.0)
        cmd = AddNode(graph, kind, pos=pos, after=after)
        if self.studio.push(cmd) is not None:
            return None
        self.studio.select([cmd.node.id])
        return cmd.node.id

    def _free_spot(self, x: float, y: float) -> tuple[float, float]:
        """``(x, y)`` or the first place to its right that no card covers."""
        taken = [n.pos for n in self.studio.graph.nodes.values()]
        while any(abs(px - x) < COL * 0.8 and abs(py - y) < ROW * 0.7 for px, py in taken):
            x += COL
        return (x, y)
