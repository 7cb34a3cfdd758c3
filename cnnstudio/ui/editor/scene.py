"""The canvas scene: a mirror of ``studio.graph`` that turns gestures into core commands.

The scene never edits the graph directly. It listens to the graph's signals and to the
studio's (``project_replaced``, ``inference_updated``, ``selection_changed``) and updates
only the items concerned: a parameter edit repaints one card and the labels of its
outgoing edges, not the scene. Moves, wires and deletions go through ``studio.push``.
"""

from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsScene

from cnnstudio.core.commands import Connect, Disconnect, Macro, MoveNodes, RemoveNodes

from cnnstudio.ui.editor.edges import EdgeItem
from cnnstudio.ui.editor.nodes import NodeItem, PortItem
from cnnstudio.ui.editor.wiring import WireDrag

GRAPH_SIGNALS = ("node_added", "node_removed", "node_changed", "node_moved", "edge_added", "edge_removed", "reset")


class GraphScene(QGraphicsScene):
    """Node and edge items for every node and edge of the studio's graph."""

    rebuilt = Signal()  # every item was made anew (new project, graph reset)

    def __init__(self, studio, parent=None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict = {}  # core Edge -> EdgeItem
        self.wire: WireDrag | None = None
        self._graph = None
        self._syncing = False  # selection being copied between scene and studio
        self._reroute = QTimer(self, singleShot=True, interval=0)
        self._reroute.timeout.connect(self.reroute_edges)
        studio.project_replaced.connect(self._on_studio_project_replaced)
        studio.inference_updated.connect(self._on_studio_inference_updated)
        studio.selection_changed.connect(self._on_studio_selection_changed)
        self.selectionChanged.connect(self._on_scene_selection_changed)
        self._attach(studio.graph)

    # -- mirroring ----------------------------------------------------------------
    def _attach(self, graph) -> None:
        if self._graph is not None:
            for name in GRAPH_SIGNALS:
                getattr(self._graph, name).disconnect(getattr(self, f"_on_graph_{name}"))
        self._graph = graph
        for name in GRAPH_SIGNALS:
            getattr(graph, name).connect(getattr(self, f"_on_graph_{name}"))
        self.rebuild()

    def rebuild(self) -> None:
        """Drop every item and make them again from the graph (new project or reset)."""
        if self.wire is not None:
            self.wire.cancel()
            self.wire = None
        self._syncing = True
        try:
            self.clear()
        finally:
            self._syncing = False
        self.nodes.clear()
        self.edges.clear()
        inference = self.studio.inference
        for node in self._graph.nodes.values():
            self._add_node_item(node, inference.get(node.id))
        for edge in self._graph.edges:
            self._on_graph_edge_added(edge)
        self._on_studio_selection_changed(self.studio.selection)
        self.fit_scene_rect()
        self.rebuilt.emit()

    def fit_scene_rect(self) -> None:
        """Let the view scroll a screen's worth past the outermost items."""
        self.setSceneRect(self.itemsBoundingRect().adjusted(-1500, -1000, 1500, 1000))

    def _add_node_item(self, node, info=None) -> NodeItem:
        item = NodeItem(node, info)
        self.addItem(item)
        self.nodes[node.id] = item
        return item

    def _on_studio_project_replaced(self) -> None:
        self._attach(self.studio.graph)

    def _on_graph_reset(self) -> None:
        self.rebuild()

    def _on_graph_node_added(self, node) -> None:
        self._add_node_item(node, self.studio.inference.get(node.id))
        self.fit_scene_rect()

    def _on_graph_node_removed(self, node) -> None:
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)

    def _on_graph_node_changed(self, node) -> None:
        item = self.nodes[node.id]
        item.set_node(node)
        for e in item.edges:  # names appear in the edges' tooltips
            e.update_label()

    def _on_graph_node_moved(self, node) -> None:
        item = self.nodes[node.id]
        if (item.pos().x(), item.pos().y()) != tuple(node.pos):
            item.setPos(QPointF(*node.pos))
            self._reroute.start()  # other edges may now pass through it (layout, undo)

    def _on_graph_edge_added(self, edge) -> None:
        item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst])
        self.addItem(item)
        item.update_path()  # now that it is in the scene it can see what lies in its way
        self.edges[edge] = item
        self._refresh_inputs(item.dst_item)

    def _on_graph_edge_removed(self, edge) -> None:
        item = self.edges.pop(edge, None)
        if item is None:
            return
        item.detach()
        self.removeItem(item)
        self._refresh_inputs(item.dst_item)

    def _refresh_inputs(self, node_item: NodeItem) -> None:
        """A merge's incoming edges spread over its port: re-place all of them."""
        node_item.update_ports()
        for e in node_item.edges:
            if e.dst_item is node_item:
                e.update_path()

    def reroute_edges(self) -> None:
        """Re-route every edge (after many nodes moved at once)."""
        for e in self.edges.values():
            e.update_path()

    def _on_studio_inference_updated(self) -> None:
        inference = self.studio.inference
        for nid, item in self.nodes.items():
            if item.set_info(inference.get(nid)):
                for e in item.edges:
                    if e.src_item is item:
                        e.update_label()

    # -- selection ----------------------------------------------------------------
    def _on_scene_selection_changed(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.studio.select(self.selected_node_ids())
        finally:
            self._syncing = False

    def _on_studio_selection_changed(self, ids: list) -> None:
        if self._syncing:
            return
        wanted = set(ids)
        self._syncing = True
        try:
            for item in self.selectedItems():
                if not isinstance(item, NodeItem) or item.node_id not in wanted:
                    item.setSelected(False)
            for nid in ids:
                if nid in self.nodes:
                    self.nodes[nid].setSelected(True)
        finally:
            self._syncing = False
        if len(ids) == 1 and ids[0] in self.nodes:
            for view in self.views():  # chosen elsewhere (summary, palette): bring it into view
                view.ensureVisible(self.nodes[ids[0]].sceneBoundingRect(), 60, 60)

    def selected_node_ids(self) -> list[str]:
        """Ids of the selected nodes, in graph order."""
        chosen = {it.node_id for it in self.selectedItems() if isinstance(it, NodeItem)}
        return [nid for nid in self._graph.nodes if nid in chosen]

    def selected_edges(self) -> list:
        """Core edges whose items are selected."""
        return [it.edge for it in self.selectedItems() if isinstance(it, EdgeItem)]

    def select_all(self) -> None:
        """Select every node (one selection update for the studio)."""
        self._syncing = True
        try:
            for item in self.nodes.values():
                item.setSelected(True)
        finally:
            self._syncing = False
        self._on_scene_selection_changed()

    @contextmanager
    def selection_hidden(self):
        """Draw without selection outlines (for pictures); the studio's selection is kept."""
        selected = self.selectedItems()
        self._syncing = True
        try:
            for it in selected:
                it.setSelected(False)
            yield
        finally:
            for it in selected:
                it.setSelected(True)
            self._syncing = False

    # -- edits ----------------------------------------------------------------------
    def shape_of(self, node_id: str):
        """Current inferred output shape of ``node_id`` (None if unknown or failing)."""
        info = self.studio.inference.get(node_id)
        return None if info is None else info.output_shape

    def delete_selected(self) -> None:
        """Delete the selected nodes and edges as one undoable step."""
        ids = self.selected_node_ids()
        edges = [e for e in self.selected_edges() if e.src not in ids and e.dst not in ids]
        graph = self._graph
        cmds = ([Disconnect(graph, edges)] if edges else []) + ([RemoveNodes(graph, ids)] if ids else [])
        if len(cmds) == 1:
            self.studio.push(cmds[0])
        elif cmds:
            self.studio.push(Macro(graph, "delete", cmds))

    def _commit_moves(self) -> None:
        """One MoveNodes command for everything a drag moved."""
        moves, old = {}, {}
        for nid, item in self.nodes.items():
            node = self._graph.nodes[nid]
            pos = (item.pos().x(), item.pos().y())
            if pos != tuple(node.pos):
                moves[nid], old[nid] = pos, tuple(node.pos)
        if moves:
            self.studio.push(MoveNodes(self._graph, moves, old))
            self.fit_scene_rect()
            self._reroute.start()  # edges of other nodes may now pass through the moved ones

    # -- mouse: wires and moves ----------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        port = next((it for it in self.items(event.scenePos()) if isinstance(it, PortItem)), None)
        if port is not None and event.button() == Qt.LeftButton:
            self.wire = WireDrag(self, port)
            self.wire.move_to(event.scenePos())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.wire is not None:
            self.wire.move_to(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.wire is not None:
            wire, self.wire = self.wire, None
            ends = wire.finish()
            if ends is not None:
                self.studio.push(Connect(self._graph, *ends))
            elif wire.target is not None:
                self.studio.status_message.emit(f"Cannot connect: {wire.reason}")
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self._commit_moves()
