"""The layer graph: nodes (a layer kind, its parameters, a position) and edges between them.

Rules live here: :meth:`LayerGraph.check_connect` raises a typed :class:`GraphError`;
the canvas asks :meth:`LayerGraph.can_connect` for hover feedback. Edits go through
:mod:`cnnstudio.core.commands` so they can be undone; the model emits signals on change.

The graph is sealed: its containers are private and shown read-only (:attr:`LayerGraph.nodes`
is a mapping proxy, :attr:`LayerGraph.edges` a tuple), so every change, undo and import
included, goes through a method that checks it and tells the listeners; a change that
changes nothing tells no one. :meth:`LayerGraph.bulk_edit` makes many changes one ``reset``.
"""

from __future__ import annotations

import itertools
import re
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

from .catalog import MANY, spec
from .doc_schema import DocError, check_graph_doc
from .groups import Group, group_from_dict, group_to_dict
from .params import ParamError
from .signals import Signal


#: Marks where an input goes in an operation node's ``extra["call"]``: ``{CALL_INPUT: port}``.
CALL_INPUT = "__input__"


class GraphError(ValueError):
    """A graph edit that cannot be made; the message is for a person."""


class CycleError(GraphError):
    """The connection would close a loop."""


class PortTakenError(GraphError):
    """The input port already has an incoming edge."""


class ShapeMismatchError(GraphError):
    """The source's output shape does not fit the destination's input."""


class MissingInputError(GraphError):
    """A layer has fewer inputs than it needs."""


class UnknownNodeError(GraphError, KeyError):
    """No node has that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass
class Node:
    """One layer: its kind, parameters (coerced), name and canvas position.

    ``extra`` keeps Keras config entries the catalog does not edit (initializers,
    regularizers...), and for a generic (non-catalog) kind the whole serialized layer.
    ``known_shape`` is the output shape Keras reported at import for generic kinds, and
    ``known_inputs`` the input shapes it had then: while they are the same, it is the shape.
    ``frozen``: its weights do not train (Keras's ``trainable=False``; a frozen BatchNormalization
    also runs in inference mode, on its moving statistics).
    """

    id: str
    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)
    known_shape: tuple | None = None
    known_params: tuple[int, int] | None = None
    known_inputs: tuple[tuple, ...] | None = None
    group: str | None = None  # the :class:`~cnnstudio.core.groups.Group` this layer belongs to directly
    frozen: bool = False

    @property
    def generic(self) -> bool:
        """True for a layer kind the catalog does not describe."""
        return spec(self.kind) is None

    @property
    def is_operation(self) -> bool:
        """True for a raw Keras operation (``x + 3.0``, ``keras.ops.relu(x)``) rather than a layer.

        Operations are generic kinds whose ``extra["call"]`` keeps the arguments the model called
        them with (``{"args": [...], "kwargs": {...}}``, each input as ``{CALL_INPUT: port}``).
        """
        return "call" in self.extra

    @property
    def n_inputs(self) -> int:
        """Inputs the kind takes: 0, 1, or :data:`MANY`."""
        s = spec(self.kind)
        return s.inputs if s else MANY


@dataclass(frozen=True)
class Edge:
    """Output of ``src`` feeds input ``port`` of ``dst``."""

    src: str
    dst: str
    port: int = 0


_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")


def safe_name(text: str, fallback: str = "layer") -> str:
    """``text`` with every run of characters other than letters, digits and ``_`` made one ``_``.

    Keras layer and model names (and TensorFlow function names built from them) stay valid.
    """
    return _NAME_RE.sub("_", text).strip("_") or fallback


def snake(kind: str) -> str:
    """``'Conv2D'`` -> ``'conv2d'``, ``'MaxPooling2D'`` -> ``'max_pooling2d'``: Keras's own naming rule."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", kind)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return "input" if s == "input_layer" else s


class LayerGraph:
    """A directed acyclic graph of layers with change signals.

    Signals: ``node_added(node)``, ``node_removed(node)``, ``node_changed(node)``,
    ``node_moved(node)``, ``edge_added(edge)``, ``edge_removed(edge)``, ``reset()``,
    ``group_changed(group)`` (a group added or collapsed/expanded).
    """

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        self._outputs: list[str] | None = None  # None: the sinks, in node order
        self._groups: dict[str, Group] = {}
        self._bulk = 0
        self._ids = itertools.count(1)
        self.node_added = Signal()
        self.node_removed = Signal()
        self.node_changed = Signal()
        self.node_moved = Signal()
        self.edge_added = Signal()
        self.edge_removed = Signal()
        self.reset = Signal()
        self.group_changed = Signal()

    # -- queries ----------------------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, Node]:
        """The nodes by id, in insertion order (read-only: edit through the methods)."""
        return MappingProxyType(self._nodes)

    @property
    def edges(self) -> tuple[Edge, ...]:
        """The edges, oldest first (a snapshot: edit through the methods)."""
        return tuple(self._edges)

    @property
    def output_ids(self) -> list[str] | None:
        """The explicit model outputs (node ids, in order), or ``None`` for the sinks."""
        return None if self._outputs is None else list(self._outputs)

    def node(self, node_id: str) -> Node:
        """The node with ``node_id``; raises :class:`UnknownNodeError`."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UnknownNodeError(f"no node {node_id!r}") from None

    def by_name(self, name: str) -> Node | None:
        """The node called ``name``, or ``None``."""
        for n in self._nodes.values():
            if n.name == name:
                return n
        return None

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id``, by port."""
        return sorted((e for e in self._edges if e.dst == node_id), key=lambda e: e.port)

    def out_edges(self, node_id: str) -> list[Edge]:
        """Edges out of ``node_id``."""
        return [e for e in self._edges if e.src == node_id]

    def inputs_of(self, node_id: str) -> list[str]:
        """Ids of the nodes feeding ``node_id``, by port."""
        return [e.src for e in self.in_edges(node_id)]

    def input_nodes(self) -> list[Node]:
        """The InputLayer nodes, in node order."""
        return [n for n in self._nodes.values() if n.kind == "InputLayer"]

    def outputs(self) -> list[Node]:
        """The model outputs: explicit ``output_ids`` if set and valid, else the sinks."""
        if self._outputs and all(i in self._nodes for i in self._outputs):
            return [self._nodes[i] for i in self._outputs]
        has_out = {e.src for e in self._edges}
        return [n for n in self._nodes.values() if n.id not in has_out and n.kind != "InputLayer"]

    def topological_order(self) -> list[str]:
        """Node ids, every node after its inputs; stable with respect to insertion order."""
        indeg = {i: 0 for i in self._nodes}
        succ: dict[str, list[str]] = {i: [] for i in self._nodes}
        for e in self._edges:
            indeg[e.dst] += 1
            succ[e.src].append(e.dst)
        ready = [i for i in self._nodes if indeg[i] == 0]
        order: list[str] = []
        pos = {i: k for k, i in enumerate(self._nodes)}
        while ready:
            ready.sort(key=pos.__getitem__, reverse=True)
            i = ready.pop()
            order.append(i)
            for j in succ[i]:
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
        return order

    def descendants(self, node_id: str) -> set[str]:
        """Every node reachable from ``node_id`` (not including it)."""
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            for e in self.out_edges(stack.pop()):
                if e.dst not in seen:
                    seen.add(e.dst)
                    stack.append(e.dst)
        return seen

    def unique_name(self, base: str) -> str:
        """``base`` if unused, else ``base_1``, ``base_2``..."""
        base = safe_name(base)
        names = {n.name for n in self._nodes.values()}
        if base not in names:
            return base
        for k in itertools.count(1):
            cand = f"{base}_{k}"
            if cand not in names:
                return cand
        raise AssertionError("unreachable")

    def new_id(self) -> str:
        """A fresh node id."""
        while True:
            i = f"n{next(self._ids)}"
            if i not in self._nodes:
                return i

    # -- rules ------------------------------------------------------------------------
    def free_port(self, dst: str) -> int:
        """The port a new edge into ``dst`` would take."""
        ports = {e.port for e in self.in_edges(dst)}
        k = 0
        while k in ports:
            k += 1
        return k

    def check_connect(self, src: str, dst: str, port: int | None = None, shape_of=None) -> int:
        """Raise a :class:`GraphError` if ``src -> dst`` cannot be made; return the port used.

        ``shape_of(node_id)`` (optional) gives the current output shape of a node; with it a
        connection into a single-input catalog layer is tried for shape fit too.
        """
        s, d = self.node(src), self.node(dst)
        if src == dst:
            raise CycleError(f"{s.name} cannot feed itself")
        if d.n_inputs == 0:
            raise PortTakenError(f"{d.name} is an input layer and takes no inputs")
        if port is None:
            port = 0 if d.n_inputs == 1 else self.free_port(dst)
        if d.n_inputs == 1 and port != 0:
            raise PortTakenError(f"{d.name} has a single input")
        if any(e.dst == dst and e.port == port for e in self._edges):
            taken = next(e for e in self._edges if e.dst == dst and e.port == port)
            where = "the input" if d.n_inputs == 1 else f"input {port}"
            raise PortTakenError(f"{where} of {d.name} is already fed by {self.node(taken.src).name}")
        if any(e.src == src and e.dst == dst for e in self._edges):
            raise PortTakenError(f"{s.name} already feeds {d.name}")
        if dst == src or dst in self.ancestors(src):
            raise CycleError(f"connecting {s.name} to {d.name} would make a cycle")
        if shape_of is not None and not d.generic:
            self._check_fit(s, d, shape_of)
        return port

    def _check_fit(self, s: Node, d: Node, shape_of) -> None:
        """Raise ShapeMismatchError if ``s``'s output cannot feed ``d`` (with ``d``'s other inputs)."""
        shape = shape_of(s.id)
        if shape is None:
            return
        shapes = [shape]
        if d.n_inputs == MANY:
            shapes = [shape_of(e.src) for e in self.in_edges(d.id)] + [shape]
            if len(shapes) < 2 or any(x is None for x in shapes):
                return
        try:
            spec(d.kind).compute(d.params, shapes)
        except ValueError as exc:
            raise ShapeMismatchError(f"{s.name} gives {_fmt(shape)}: {exc}") from None

    def can_connect(self, src: str, dst: str, port: int | None = None, shape_of=None) -> tuple[bool, str]:
        """``(True, '')`` or ``(False, reason)`` for hover feedback."""
        try:
            self.check_connect(src, dst, port, shape_of)
        except GraphError as exc:
            return False, str(exc)
        return True, ""

    def check_inputs(self) -> None:
        """Raise :class:`MissingInputError` for the first layer fed by fewer inputs than it needs."""
        for node in self._nodes.values():
            need = {0: 0, 1: 1}.get(node.n_inputs, 1 if node.generic else 2)
            have = len(self.in_edges(node.id))
            if have < need:
                if have == 0:
                    raise MissingInputError(f"{node.name} has no input: connect a layer into it")
                raise MissingInputError(f"{node.name} needs at least {need} inputs, has {have}")

    def ancestors(self, node_id: str) -> set[str]:
        """Every node that reaches ``node_id``."""
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            for e in self.in_edges(stack.pop()):
                if e.src not in seen:
                    seen.add(e.src)
                    stack.append(e.src)
        return seen

    # -- raw edits (use commands for undoable edits) -----------------------------------
    def add_node(self, kind: str, params: dict | None = None, name: str | None = None,
                 pos: Iterable[float] = (0.0, 0.0), node_id: str | None = None,
                 extra: dict | None = None) -> Node:
        """Add a layer of ``kind``; parameters are checked against the catalog."""
        sp = spec(kind)
        if sp is not None:
            kind = sp.kind
            values = sp.coerce(params or {})
        else:
            values = dict(params or {})
        if name is not None and self.by_name(name) is not None:
            raise GraphError(f"a layer called {name!r} already exists")
        node = Node(node_id or self.new_id(), kind, name or self.unique_name(snake(kind)), values,
                    tuple(float(x) for x in pos), dict(extra or {}))
        self.insert_node(node)
        return node

    def insert_node(self, node: Node, index: int | None = None) -> None:
        """Put an existing :class:`Node` object in, at position ``index`` of the node order
        (the end by default; undo puts a deleted node back where it was)."""
        if node.id in self._nodes:
            raise GraphError(f"node id {node.id} already used")
        if index is None or index >= len(self._nodes):
            self._nodes[node.id] = node
        else:
            items = list(self._nodes.items())
            items.insert(max(0, index), (node.id, node))
            self._nodes = dict(items)
        self.node_added.emit(node)

    def replace_node(self, node: Node) -> None:
        """Put ``node`` in place of the node with its id (same place, same edges)."""
        self.node(node.id)
        self._nodes[node.id] = node
        self.node_changed.emit(node)

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both for undo."""
        node = self.node(node_id)
        gone = [e for e in self._edges if e.src == node_id or e.dst == node_id]
        for e in gone:
            self.remove_edge(e)
        del self._nodes[node_id]
        self.node_removed.emit(node)
        return node, gone

    def add_edge(self, src: str, dst: str, port: int | None = None, check: bool = True) -> Edge:
        """Connect ``src`` to ``dst``: checked against every rule, or with ``check=False`` (undo,
        import) only that both nodes exist and the port is free."""
        if check:
            port = self.check_connect(src, dst, port)
        else:
            self.node(src), self.node(dst)
            port = self.free_port(dst) if port is None else int(port)
            if any(e.dst == dst and e.port == port for e in self._edges):
                raise PortTakenError(f"input {port} of {self._nodes[dst].name} is already fed")
        edge = Edge(src, dst, port)
        self._edges.append(edge)
        self.edge_added.emit(edge)
        return edge

    def remove_edge(self, edge: Edge) -> None:
        """Remove ``edge``."""
        self._edges.remove(edge)
        self.edge_removed.emit(edge)

    def set_outputs(self, node_ids: list[str] | None) -> None:
        """Make ``node_ids`` the model's outputs, in order (``None``: the sinks)."""
        ids = None if node_ids is None else [self.node(i).id for i in node_ids]
        if ids != self._outputs:
            self._outputs = ids
            self.reset.emit()

    def set_params(self, node_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Change parameters (checked); returns the previous values of those that changed.

        Nothing is emitted when every value is already the node's.
        """
        node = self.node(node_id)
        sp = spec(node.kind)
        new = {}
        for k, v in values.items():
            p = sp.params.get(k) if sp is not None else None
            if sp is not None and p is None:
                raise ParamError(f"{node.kind} has no parameter {k!r}")
            new[k] = p.coerce(v) if p is not None else v
        changed = {k: v for k, v in new.items() if k not in node.params or node.params[k] != v}
        if not changed:
            return {}
        old = {k: node.params.get(k) for k in changed}
        node.params = {**node.params, **changed}
        self.node_changed.emit(node)
        return old

    def rename(self, node_id: str, name: str) -> str:
        """Rename a node; names are unique and Keras-safe. Returns the old name."""
        node = self.node(node_id)
        if not name or _NAME_RE.search(name):
            raise GraphError(f"{name!r} is not a valid layer name (letters, digits and _ only)")
        other = self.by_name(name)
        if other is not None and other.id != node_id:
            raise GraphError(f"a layer called {name!r} already exists")
        old = node.name
        if name != old:
            node.name = name
            self.node_changed.emit(node)
        return old

    def set_frozen(self, node_id: str, frozen: bool) -> bool:
        """Freeze (or unfreeze) a node's weights; returns the old state."""
        node = self.node(node_id)
        old = node.frozen
        if bool(frozen) != old:
            node.frozen = bool(frozen)
            self.node_changed.emit(node)
        return old

    def move(self, node_id: str, pos: Iterable[float]) -> tuple[float, float]:
        """Move a node on the canvas; returns the old position."""
        node = self.node(node_id)
        old, new = node.pos, tuple(float(x) for x in pos)
        if new != old:
            node.pos = new
            self.node_moved.emit(node)
        return old

    def clear(self) -> None:
        """Remove everything (emits ``reset``)."""
        self._nodes.clear()
        self._edges.clear()
        self._groups.clear()
        self._outputs = None
        self.reset.emit()

    @contextmanager
    def bulk_edit(self) -> Iterator["LayerGraph"]:
        """Make many changes (an import, a load) as one: the listeners hear one ``reset`` at the end
        of the outermost block instead of a signal per change."""
        signals = (self.node_added, self.node_removed, self.node_changed, self.node_moved,
                   self.edge_added, self.edge_removed, self.reset, self.group_changed)
        self._bulk += 1
        try:
            with ExitStack() as stack:
                for s in signals:
                    stack.enter_context(s.blocked())
                yield self
        finally:
            self._bulk -= 1
        if not self._bulk:
            self.reset.emit()

    # -- groups (nested models): queries and helpers in :mod:`cnnstudio.core.groups` --
    @property
    def groups(self) -> Mapping[str, Group]:
        """The groups by name, parents before their children (read-only)."""
        return MappingProxyType(self._groups)

    def add_group(self, group: Group) -> Group:
        """Add ``group`` (its name Keras-safe and unused by other groups, its parent defined)."""
        if not group.name.strip() or "/" in group.name:  # a Keras model's name: "mobilenetv2_1.00_224"
            raise GraphError(f"{group.name!r} is not a valid group name (a model name without '/')")
        if group.name in self._groups:
            raise GraphError(f"a group called {group.name!r} already exists")
        if group.parent is not None and group.parent not in self._groups:
            raise GraphError(f"group {group.name!r}: its parent group {group.parent!r} does not exist")
        self._groups[group.name] = group
        self.group_changed.emit(group)
        return group

    def set_group(self, node_id: str, group: str | None) -> str | None:
        """Put a node in ``group`` (``None``: in no group); returns the group it was in."""
        node = self.node(node_id)
        if group is not None and group not in self._groups:
            raise GraphError(f"no group {group!r}")
        old = node.group
        if group != old:
            node.group = group
            self.node_changed.emit(node)
        return old

    def set_collapsed(self, name: str, collapsed: bool) -> bool:
        """Collapse (show as one card) or expand a group; returns whether it was collapsed."""
        group = self._groups.get(name)
        if group is None:
            raise GraphError(f"no group {name!r}")
        old = group.collapsed
        if bool(collapsed) != old:
            group.collapsed = bool(collapsed)
            self.group_changed.emit(group)
        return old

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used by project files and the clipboard)."""
        return {
            "nodes": [node_to_dict(n) for n in self._nodes.values()],
            "edges": [[e.src, e.dst, e.port] for e in self._edges],
            "outputs": self.output_ids,
            **self._groups_dict(),
        }

    def _groups_dict(self) -> dict[str, Any]:
        """``{"groups": [...]}`` with the groups that hold layers (directly or through a child), or ``{}``."""
        used = {n.group for n in self._nodes.values() if n.group is not None}
        for name in reversed(list(self._groups)):  # children after parents: walk up from the children
            if name in used and self._groups[name].parent is not None:
                used.add(self._groups[name].parent)
        kept = [group_to_dict(g) for g in self._groups.values() if g.name in used]
        return {"groups": kept} if kept else {}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LayerGraph":
        """Rebuild a graph from :meth:`to_dict` output (or a file's): raises :class:`GraphError`
        naming the field (``graph.nodes[2] (conv1).params.filters: ...``)."""
        try:
            check_graph_doc(data)
        except DocError as exc:
            raise GraphError(str(exc)) from None
        g = cls()
        for i, gd in enumerate(data.get("groups", [])):
            try:
                g.add_group(group_from_dict(gd, f"graph.groups[{i}]"))
            except DocError as exc:
                raise GraphError(str(exc)) from None
            except GraphError as exc:
                raise GraphError(f"graph.groups[{i}]: {exc}") from None
        for i, nd in enumerate(data.get("nodes", [])):
            if nd.get("group") is not None and nd["group"] not in g._groups:
                raise GraphError(f"graph.nodes[{i}] ({nd['name']}): group {nd['group']!r} does not exist")
            try:
                g.insert_node(node_from_dict(nd))
            except ParamError as exc:
                raise GraphError(f"graph.nodes[{i}] ({nd['name']}) params: {exc}") from None
            except GraphError as exc:
                raise GraphError(f"graph.nodes[{i}] ({nd['name']}): {exc}") from None
        for i, (src, dst, port) in enumerate(data.get("edges", [])):
            if src not in g._nodes or dst not in g._nodes:
                raise GraphError(f"graph.edges[{i}] joins a node that does not exist ({src!r} -> {dst!r})")
            g.add_edge(src, dst, port, check=False)
        outputs = data.get("outputs")
        unknown = [i for i in outputs or [] if i not in g._nodes]
        if unknown:
            raise GraphError(f"graph.outputs names node(s) that do not exist: {', '.join(unknown)}")
        g.set_outputs(outputs)
        if len(g.topological_order()) != len(g._nodes):
            raise CycleError("the graph contains a cycle")
        return g


def node_to_dict(n: Node) -> dict[str, Any]:
    """One node as JSON-ready data."""
    d = {"id": n.id, "kind": n.kind, "name": n.name, "params": _jsonable(n.params), "pos": list(n.pos)}
    if n.extra:
        d["extra"] = _jsonable(n.extra)
    if n.known_shape is not None:
        d["known_shape"] = list(n.known_shape)
    if n.known_params is not None:
        d["known_params"] = list(n.known_params)
    if n.known_inputs is not None:
        d["known_inputs"] = [list(s) for s in n.known_inputs]
    if n.group is not None:
        d["group"] = n.group
    if n.frozen:
        d["frozen"] = True
    return d


def node_from_dict(d: dict[str, Any]) -> Node:
    """Inverse of :func:`node_to_dict`; parameters are coerced through the catalog."""
    sp = spec(d["kind"])
    params = sp.coerce(d.get("params", {})) if sp else dict(d.get("params", {}))
    known = d.get("known_shape")
    kp = d.get("known_params")
    ki = d.get("known_inputs")
    extra = dict(d.get("extra", {}))
    return Node(str(d["id"]), sp.kind if sp else d["kind"], str(d["name"]), params,
                tuple(d.get("pos", (0, 0))), extra,
                tuple(known) if known is not None else None, tuple(kp) if kp is not None else None,
                tuple(map(tuple, ki)) if ki is not None else None, d.get("group"),
                frozen=_frozen_from(d, extra))


def _frozen_from(d: dict[str, Any], extra: dict[str, Any]) -> bool:
    """A node document's frozen state; a file from before ``frozen`` kept Keras's ``trainable``
    in the layer config, which moves to the field here (the field is the one place that decides)."""
    if "config" in extra and "trainable" in extra["config"]:
        config = dict(extra["config"])
        extra["config"] = config
        return d.get("frozen", config.pop("trainable") is False)
    return d.get("frozen", False)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
