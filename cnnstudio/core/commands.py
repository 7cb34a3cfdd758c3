"""Undoable edits of a :class:`~cnnstudio.core.graph.LayerGraph`.

Each command has ``do()`` and ``undo()`` and a ``text`` for the Edit menu. ``do()`` may
raise :class:`~cnnstudio.core.graph.GraphError` or ParamError, leaving the graph unchanged.
The UI wraps commands in a ``QUndoStack``; :class:`UndoStack` is the same idea without Qt,
for headless use and tests.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from .graph import Edge, GraphError, LayerGraph, Node, node_from_dict, node_to_dict
from .groups import chain, toggle_moves


class Command:
    """Base class: an edit of ``graph`` that can be undone."""

    text = "edit"

    def __init__(self, graph: LayerGraph) -> None:
        self.graph = graph

    def do(self) -> None:
        """Apply the edit."""
        raise NotImplementedError

    def undo(self) -> None:
        """Revert the edit."""
        raise NotImplementedError


class AddNode(Command):
    """Add a layer, optionally wired after ``after`` (into its free port)."""

    def __init__(self, graph: LayerGraph, kind: str, params: dict | None = None,
                 pos: Iterable[float] = (0, 0), after: str | None = None, name: str | None = None) -> None:
        super().__init__(graph)
        self.kind, self.params, self.pos, self.after, self.name = kind, params, tuple(pos), after, name
        self.node: Node | None = None
        self.text = f"add {kind}"

    def do(self) -> None:
        if self.node is None:
            self.node = self.graph.add_node(self.kind, self.params, self.name, self.pos)
        else:
            self.graph.insert_node(self.node)
        if self.after is not None:
            try:
                self.graph.add_edge(self.after, self.node.id)
            except Exception:
                self.graph.remove_node(self.node.id)
                raise

    def undo(self) -> None:
        self.graph.remove_node(self.node.id)


class RemoveNodes(Command):
    """Delete nodes and every edge touching them."""

    def __init__(self, graph: LayerGraph, node_ids: Iterable[str]) -> None:
        super().__init__(graph)
        self.ids = list(node_ids)
        self.removed: list[tuple[Node, int]] = []
        self.edges: list[Edge] = []
        self.text = f"delete {len(self.ids)} layer{'s' if len(self.ids) != 1 else ''}"

    def do(self) -> None:
        order = list(self.graph.nodes)
        self.edges = [e for e in self.graph.edges if e.src in self.ids or e.dst in self.ids]
        self.removed = [(self.graph.nodes[i], order.index(i)) for i in self.ids]
        for i in self.ids:
            self.graph.remove_node(i)

    def undo(self) -> None:
        # back where they were in the node order, so names, layout and Keras layer order stay
        for node, index in sorted(self.removed, key=lambda t: t[1]):
            self.graph.insert_node(node, index)
        for e in self.edges:
            self.graph.add_edge(e.src, e.dst, e.port, check=False)


class Connect(Command):
    """Add an edge ``src -> dst``."""

    def __init__(self, graph: LayerGraph, src: str, dst: str, port: int | None = None) -> None:
        super().__init__(graph)
        self.src, self.dst, self.port = src, dst, port
        self.edge: Edge | None = None
        self.text = "connect"

    def do(self) -> None:
        self.edge = self.graph.add_edge(self.src, self.dst, self.port)

    def undo(self) -> None:
        self.graph.remove_edge(self.edge)


class Disconnect(Command):
    """Remove edges."""

    def __init__(self, graph: LayerGraph, edges: Iterable[Edge]) -> None:
        super().__init__(graph)
        self.edges = list(edges)
        self.text = "disconnect"

    def do(self) -> None:
        for e in self.edges:
            self.graph.remove_edge(e)

    def undo(self) -> None:
        for e in self.edges:
            self.graph.add_edge(e.src, e.dst, e.port, check=False)


class SetParams(Command):
    """Change some parameters of one node (checked; a bad value raises ParamError)."""

    def __init__(self, graph: LayerGraph, node_id: str, values: dict[str, Any]) -> None:
        super().__init__(graph)
        self.node_id, self.values = node_id, dict(values)
        self.old: dict[str, Any] = {}
        self.text = f"set {', '.join(values)}"

    def do(self) -> None:
        self.old = self.graph.set_params(self.node_id, self.values)

    def undo(self) -> None:
        self.graph.set_params(self.node_id, self.old)


class Rename(Command):
    """Rename a node (its Keras name too: a layer of a nested model renamed at import keeps its
    file's name in ``extra["keras_name"]`` until the user names it)."""

    def __init__(self, graph: LayerGraph, node_id: str, name: str) -> None:
        super().__init__(graph)
        self.node_id, self.name, self.old = node_id, name, ""
        self.keras_name: str | None = None
        self.text = f"rename to {name}"

    def do(self) -> None:
        self.old = self.graph.rename(self.node_id, self.name)
        self.keras_name = self.graph.nodes[self.node_id].extra.pop("keras_name", None)

    def undo(self) -> None:
        if self.keras_name is not None:
            self.graph.nodes[self.node_id].extra["keras_name"] = self.keras_name
        self.graph.rename(self.node_id, self.old)


class ToggleGroup(Command):
    """Collapse a group to one card or expand it in place (``collapse=None``: the other way), moving
    the layers below it up or down (:func:`~cnnstudio.core.groups.toggle_moves`)."""

    def __init__(self, graph: LayerGraph, name: str, collapse: bool | None = None) -> None:
        super().__init__(graph)
        group = graph.groups.get(name)
        if group is None:
            raise GraphError(f"no group {name!r}")
        self.name = name
        self.collapse = not group.collapsed if collapse is None else bool(collapse)
        self.was = group.collapsed
        self.old: dict[str, tuple[float, float]] = {}
        self.text = f"{'collapse' if self.collapse else 'expand'} {name}"

    # The layers move while the group is collapsed (before an expand, after a collapse): hidden in
    # its card they carry no edges, so a view has nothing to re-route until the group opens.
    def do(self) -> None:
        changes = self.collapse != self.graph.groups[self.name].collapsed
        moves = toggle_moves(self.graph, self.name, self.collapse) if changes else {}
        self.old = {nid: self.graph.nodes[nid].pos for nid in moves}
        if self.collapse:
            self.was = self.graph.set_collapsed(self.name, True)
        self._move(moves)
        if not self.collapse:
            self.was = self.graph.set_collapsed(self.name, False)

    def undo(self) -> None:
        if not self.collapse:
            self.graph.set_collapsed(self.name, self.was)
        self._move(self.old)
        if self.collapse:
            self.graph.set_collapsed(self.name, self.was)

    def _move(self, moves: dict[str, tuple[float, float]]) -> None:
        for nid, pos in moves.items():
            self.graph.move(nid, pos)


class SetFrozen(Command):
    """Freeze (or unfreeze) the weights of one node or a selection (layers without weights too:
    the state is the node's, and it counts once the layer has weights)."""

    def __init__(self, graph: LayerGraph, node_ids: Iterable[str], frozen: bool) -> None:
        super().__init__(graph)
        self.ids = [graph.node(i).id for i in node_ids if graph.node(i).kind != "InputLayer"]
        self.frozen = bool(frozen)
        self.old: dict[str, bool] = {}
        count = f"{len(self.ids)} layer{'s' if len(self.ids) != 1 else ''}"
        self.text = f"{'freeze' if frozen else 'unfreeze'} {count}"

    def do(self) -> None:
        self.old = {i: self.graph.set_frozen(i, self.frozen) for i in self.ids}

    def undo(self) -> None:
        for i, was in self.old.items():
            self.graph.set_frozen(i, was)


class MoveNodes(Command):
    """Move nodes to new positions (one command for a whole drag)."""

    def __init__(self, graph: LayerGraph, moves: dict[str, tuple[float, float]], old: dict | None = None) -> None:
        super().__init__(graph)
        self.moves = dict(moves)
        self.old = dict(old or {})
        self.text = "move"

    def do(self) -> None:
        for nid, pos in self.moves.items():
            prev = self.graph.move(nid, pos)
            self.old.setdefault(nid, prev)

    def undo(self) -> None:
        for nid, pos in self.old.items():
            self.graph.move(nid, pos)


class Paste(Command):
    """Insert a copied sub-graph (from :func:`copy_subgraph`), with fresh ids and names."""

    def __init__(self, graph: LayerGraph, clip: dict, offset: tuple[float, float] = (40, 40)) -> None:
        super().__init__(graph)
        self.clip, self.offset = clip, offset
        self.new_ids: list[str] = []
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.text = "paste"

    def do(self) -> None:
        if not self.nodes:
            remap = {}
            for nd in self.clip["nodes"]:
                node = node_from_dict(nd)
                remap[node.id] = node.id = self.graph.new_id()
                node.name = self.graph.unique_name(node.name)
                node.pos = (node.pos[0] + self.offset[0], node.pos[1] + self.offset[1])
                if node.group not in self.graph.groups or any(
                        self.graph.groups[g].collapsed for g in chain(self.graph, node.group)):
                    node.group = None  # only an open group of this graph takes a pasted layer in
                self.graph.insert_node(node)
                self.nodes.append(node)
            self.edges = [Edge(remap[s], remap[d], p) for s, d, p in self.clip["edges"]]
        else:
            for node in self.nodes:
                self.graph.insert_node(node)
        for e in self.edges:
            self.graph.add_edge(e.src, e.dst, e.port, check=False)
        self.new_ids = [n.id for n in self.nodes]

    def undo(self) -> None:
        for n in self.nodes:
            self.graph.remove_node(n.id)


class Macro(Command):
    """Several commands as one undo step."""

    def __init__(self, graph: LayerGraph, text: str, commands: list[Command]) -> None:
        super().__init__(graph)
        self.commands, self.text = commands, text
        self.done: list[Command] = []

    def do(self) -> None:
        self.done = []
        try:
            for c in self.commands:
                c.do()
                self.done.append(c)
        except Exception:
            for c in reversed(self.done):
                c.undo()
            raise

    def undo(self) -> None:
        for c in reversed(self.done):
            c.undo()


class SetSettings(Command):
    """Change settings of one of a project's sections: ``training``, ``data`` or ``preprocessing``.

    Goes through :meth:`Project.set_settings`, so values are coerced (a bad one raises
    :class:`ParamError` before anything changes) and listeners hear of real changes only.
    """

    def __init__(self, project: Any, section: str, values: dict[str, Any]) -> None:
        super().__init__(project.graph)
        project.settings(section)  # an unknown section raises here, before the push
        self.project, self.section = project, section
        self.new = copy.deepcopy(values)
        self.old: dict[str, Any] = {}
        self.text = f"set {section}: {', '.join(values)}"

    def do(self) -> None:
        self.old = self.project.set_settings(self.section, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.project.set_settings(self.section, self.old)


def copy_subgraph(graph: LayerGraph, node_ids: Iterable[str]) -> dict:
    """The selected nodes and the edges among them, as clipboard data."""
    ids = set(node_ids)
    return {
        "nodes": [copy.deepcopy(node_to_dict(graph.nodes[i])) for i in graph.nodes if i in ids],
        "edges": [[e.src, e.dst, e.port] for e in graph.edges if e.src in ids and e.dst in ids],
    }


class UndoStack:
    """A plain undo stack (the UI uses QUndoStack with the same commands)."""

    def __init__(self) -> None:
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, cmd: Command) -> Command:
        """Do ``cmd`` and record it; if it raises, nothing is recorded."""
        cmd.do()
        self._done.append(cmd)
        self._undone.clear()
        return cmd

    def undo(self) -> bool:
        """Undo the last command; False if there is none."""
        if not self._done:
            return False
        cmd = self._done.pop()
        cmd.undo()
        self._undone.append(cmd)
        return True

    def redo(self) -> bool:
        """Redo the last undone command; False if there is none."""
        if not self._undone:
            return False
        cmd = self._undone.pop()
        cmd.do()
        self._done.append(cmd)
        return True
