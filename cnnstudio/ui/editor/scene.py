"""The canvas scene: a mirror of ``studio.graph`` that turns gestures into core commands.

The scene never edits the graph directly. It listens to the graph's signals and to the
studio's (``project_replaced``, ``inference_updated``, ``selection_changed``) and updates
only the items concerned: a parameter edit repaints one card and the labels of its
outgoing edges, not the scene. Moves, wires and deletions go through ``studio.push``.
A collapsed group (a nested model) shows as one card, with the edges into and out of it
ending there; an expanded one as a frame behind its layers (:mod:`.groups`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsScene

from cnnstudio.core.commands import Connect, Disconnect, Macro, MoveNodes, RemoveNodes, ToggleGroup
from cnnstudio.core.groups import boundary, card_of, card_pos, chain, members
from cnnstudio.core.inference import group_info

from cnnstudio.ui.editor.edges import EdgeItem
from cnnstudio.ui.editor.groups import GroupFrame, GroupItem
from cnnstudio.ui.editor.nodes import HEIGHT, WIDTH, NodeItem, PortItem
from cnnstudio.ui.editor.wiring import WireDrag

GRAPH_SIGNALS = ("node_added", "node_removed", "node_changed", "node_moved", "edge_added", "edge_removed", "reset",
                 "group_changed")


class GraphScene(QGraphicsScene):
    """Node and edge items for every node and edge of the studio's graph."""

    rebuilt = Signal()  # every item was made anew (new project, graph reset)

    def __init__(self, studio, parent=None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict = {}  # core Edge -> EdgeItem
        self.cards: dict[str, GroupItem] = {}  # group name -> its card (shown while collapsed)
        self.frames: dict[str, GroupFrame] = {}  # group name -> its frame (shown while expanded)
        self.last_toggle_ms = 0.0  # how long the last collapse or expand took to show
        self.wire: WireDrag | None = None
        self._graph = None
        self._syncing = False  # selection being copied between scene and studio
        self._reroute = QTimer(self, singleShot=True, interval=0)
        self._reroute.timeout.connect(self.reroute_edges)
        self._regroup = QTimer(self, singleShot=True, interval=0)
        self._regroup.timeout.connect(self.apply_groups)
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
        self.cards.clear()
        self.frames.clear()
        inference = self.studio.inference
        for node in self._graph.nodes.values():
            self._add_node_item(node, inference.get(node.id))
        self.apply_groups()  # makes the edges: those into and out of a collapsed group end on its card
        self.reroute_edges()
        self._on_studio_selection_changed(self.studio.selection)
        self.fit_scene_rect()
        self.rebuilt.emit()

    def fit_scene_rect(self) -> None:
        """Let the view scroll a screen's worth past the outermost items."""
        self.setSceneRect(self.shown_rect().adjusted(-1500, -1000, 1500, 1000))

    def shown_rect(self) -> QRectF:
        """The bounding rectangle of what is shown (the layers of a collapsed group are not)."""
        rect = QRectF()
        for item in self.items():
            if item.isVisible() and item.parentItem() is None:
                rect = rect.united(item.sceneBoundingRect())
        return rect

    def _add_node_item(self, node, info=None) -> NodeItem:
        item = NodeItem(node, info)
        item.setVisible(card_of(self._graph, node.id) is None)
        self.addItem(item)
        self.nodes[node.id] = item
        return item

    # -- groups ---------------------------------------------------------------------
    def shown_item(self, node_id: str) -> NodeItem:
        """The card a node shows as: its own, or that of the outermost collapsed group holding it."""
        group = card_of(self._graph, node_id)
        return self.nodes[node_id] if group is None else self.cards[group]

    def apply_groups(self) -> None:
        """Show each group as its card (collapsed) or its frame (expanded), hide the layers of
        collapsed groups and end the edges into and out of them on the card."""
        self._regroup.stop()
        graph = self._graph
        for name in graph.groups:
            if name not in self.cards:
                self.cards[name] = GroupItem(name, 0)
                self.frames[name] = GroupFrame(name, len(chain(graph, name)) - 1, self.toggle_group)
                self.addItem(self.cards[name])
                self.addItem(self.frames[name])
        for nid, item in self.nodes.items():
            item.setVisible(card_of(graph, nid) is None)
        for name, group in graph.groups.items():
            open_above = not any(graph.groups[g].collapsed for g in chain(graph, group.parent))
            held = bool(members(graph, name))
            self.cards[name].setVisible(held and open_above and group.collapsed)
            self.frames[name].setVisible(held and open_above and not group.collapsed)
        changed = False
        for edge in graph.edges:
            if edge.src not in self.nodes or edge.dst not in self.nodes:
                continue  # being rebuilt: the edge comes with its nodes
            want = (self.shown_item(edge.src), self.shown_item(edge.dst))
            item = self.edges.get(edge)
            if item is not None and (item.src_item, item.dst_item) == want:
                continue
            changed = True
            if item is not None:
                self._drop_edge_item(edge, route=False)
            if want[0] is not want[1]:
                self._on_graph_edge_added(edge, route=False)
        self.place_groups()
        self._refresh_group_info()
        if changed:  # one routing pass for all the edges made anew, once everything stands
            for item in self.nodes.values():
                item.update_ports()
            for card in self.cards.values():
                card.update_ports()
            self._reroute.start()

    def place_groups(self) -> None:
        """Put each card where its group's first layer stands and fit each frame round its layers."""
        graph = self._graph
        for name, card in self.cards.items():
            if card.isVisible():
                pos = QPointF(*card_pos(graph, name))
                if card.pos() != pos:
                    card.setPos(pos)
        areas: dict[str, QRectF] = {}
        for name in sorted(graph.groups, key=lambda g: -len(chain(graph, g))):  # inner frames first
            if not self.frames[name].isVisible():
                continue
            area = QRectF()
            for nid in members(graph, name, deep=False):
                p = self.nodes[nid].pos()
                area = area.united(QRectF(p.x() - WIDTH / 2, p.y() - HEIGHT / 2, WIDTH, HEIGHT))
            for child, g in graph.groups.items():
                if g.parent != name:
                    continue
                if self.cards[child].isVisible():
                    area = area.united(self.cards[child].sceneBoundingRect())
                elif child in areas:
                    area = area.united(self.frames[child].boundingRect())
            areas[name] = area
            self.frames[name].set_area(area)

    def _refresh_group_info(self) -> None:
        graph, inference = self._graph, self.studio.inference
        for name, card in self.cards.items():
            if not (card.isVisible() or self.frames[name].isVisible()):
                continue
            info = group_info(graph, inference, name)
            inside = members(graph, name)
            layers = len(inside)
            card.set_layers(layers, len(boundary(graph, name)[0]), all(graph.nodes[i].frozen for i in inside))
            if card.set_info(info):
                for e in card.edges:
                    if e.src_item is card:
                        e.update_label()
            self.frames[name].set_info(layers, info)

    def toggle_group(self, name: str) -> None:
        """Collapse or expand group ``name`` (one undoable step); times how long it takes to show."""
        start = time.perf_counter()
        self.studio.push(ToggleGroup(self._graph, name))
        self.reroute_edges()  # now, not on the next turn of the event loop: part of what is timed
        self.fit_scene_rect()
        self.last_toggle_ms = (time.perf_counter() - start) * 1000

    def toggle_selected_group(self) -> None:
        """Expand the selected card, else collapse the innermost group of the selected layer."""
        cards = [it for it in self.selectedItems() if isinstance(it, GroupItem)]
        if cards:
            self.toggle_group(cards[0].group)
            return
        grouped = [nid for nid in self.selected_node_ids() if self._graph.nodes[nid].group is not None]
        if grouped:
            self.toggle_group(self._graph.nodes[grouped[0]].group)
        else:
            self.studio.status_message.emit("Select a nested model's card or one of its layers to collapse or expand it")

    def _on_graph_group_changed(self, _group) -> None:
        self.apply_groups()

    def _on_studio_project_replaced(self) -> None:
        self._attach(self.studio.graph)

    def _on_graph_reset(self) -> None:
        self.rebuild()

    def _on_graph_node_added(self, node) -> None:
        self._add_node_item(node, self.studio.inference.get(node.id))
        self.fit_scene_rect()
        if self._graph.groups:
            self._regroup.start()  # a group may hold it: its card and frame change

    def _on_graph_node_removed(self, node) -> None:
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)
        if self._graph.groups:
            self._regroup.start()

    def _on_graph_node_changed(self, node) -> None:
        item = self.nodes[node.id]
        item.set_node(node)
        for e in item.edges:  # names appear in the edges' tooltips
            e.update_label()
        if node.group is not None:
            self._regroup.start()

    def _on_graph_node_moved(self, node) -> None:
        item = self.nodes[node.id]
        if (item.pos().x(), item.pos().y()) != tuple(node.pos):
            item.setPos(QPointF(*node.pos))
            self._reroute.start()  # other edges may now pass through it (layout, undo)

    def _on_graph_edge_added(self, edge, route: bool = True) -> None:
        src, dst = self.shown_item(edge.src), self.shown_item(edge.dst)
        if src is dst or edge in self.edges:
            return  # inside one collapsed group (its card shows it), or made already
        item = EdgeItem(edge, src, dst)
        self.addItem(item)
        self.edges[edge] = item
        if route:
            item.update_path()  # now that it is in the scene it can see what lies in its way
            self._refresh_inputs(item.dst_item)

    def _on_graph_edge_removed(self, edge) -> None:
        self._drop_edge_item(edge)

    def _drop_edge_item(self, edge, route: bool = True) -> None:
        item = self.edges.pop(edge, None)
        if item is None:
            return
        item.detach()
        self.removeItem(item)
        if route:
            self._refresh_inputs(item.dst_item)

    def _refresh_inputs(self, node_item: NodeItem) -> None:
        """A merge's incoming edges spread over its port: re-place all of them."""
        node_item.update_ports()
        for e in node_item.edges:
            if e.dst_item is node_item:
                e.update_path()

    def reroute_edges(self) -> None:
        """Re-route every edge (after many nodes moved at once), cards and frames placed first."""
        self._reroute.stop()
        self.place_groups()
        for e in self.edges.values():
            e.update_path()

    def _on_studio_inference_updated(self) -> None:
        inference = self.studio.inference
        for nid, item in self.nodes.items():
            if item.set_info(inference.get(nid)):
                for e in item.edges:
                    if e.src_item is item:
                        e.update_label()
        self._refresh_group_info()

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
                    self.shown_item(nid).setSelected(True)  # a layer of a collapsed group: its card
        finally:
            self._syncing = False
        if len(ids) == 1 and ids[0] in self.nodes:
            for view in self.views():  # chosen elsewhere (summary, palette): bring it into view
                view.ensureVisible(self.shown_item(ids[0]).sceneBoundingRect(), 60, 60)

    def selected_node_ids(self) -> list[str]:
        """Ids of the selected nodes, in graph order (a selected card stands for all its group's layers)."""
        chosen = set()
        for it in self.selectedItems():
            if isinstance(it, GroupItem):
                chosen.update(members(self._graph, it.group))
            elif isinstance(it, NodeItem):
                chosen.add(it.node_id)
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
            if pos != tuple(node.pos) and item.isVisible():
                moves[nid], old[nid] = pos, tuple(node.pos)
        for name, card in self.cards.items():  # a card moved takes all its group's layers along
            x, y = card_pos(self._graph, name)
            dx, dy = card.pos().x() - x, card.pos().y() - y
            if card.isVisible() and (dx or dy):
                for nid in members(self._graph, name):
                    p = self._graph.nodes[nid].pos
                    moves[nid], old[nid] = (p[0] + dx, p[1] + dy), tuple(p)
        if moves:
            self.studio.push(MoveNodes(self._graph, moves, old))
            self.fit_scene_rect()
            self._reroute.start()  # edges of other nodes may now pass through the moved ones

    # -- mouse: wires and moves ----------------------------------------------------
    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt name)
        card = next((it for it in self.items(event.scenePos()) if isinstance(it, GroupItem) and it.isVisible()), None)
        if card is not None and event.button() == Qt.LeftButton:
            self.toggle_group(card.group)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

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
