"""Groups: named sets of layers that stand for a nested model (a backbone inside a model).

A layer belongs directly to at most one group (``Node.group``); a group may sit inside another
(``Group.parent``), to any depth. The layers of a group are real nodes of the graph: shapes,
parameters and receptive fields flow through them as through any layer. A group only changes
how the editor shows them (collapsed to one card, or expanded in a frame) and how a model is
built (each group a ``keras.Model`` called from the model around it).

Collapsing pulls the layers below a group up by the height the group gave up, expanding pushes
them down again (:func:`toggle_moves`), so the picture stays tight either way. An expanded
group's layers stand :data:`HEADROOM` lower than its card would, with :data:`FOOTROOM` below
them: room for the frame's header and border.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .doc_schema import expect, expect_names

HEADROOM = 50.0  # between where a group's card stands and its first layer when expanded (the frame's header)
FOOTROOM = 24.0  # below an expanded group's last layer (the frame's border, the label of the edge out)

if TYPE_CHECKING:  # the graph imports this module
    from .graph import Edge, LayerGraph


@dataclass
class Group:
    """A nested model: its name (the Keras model's), its parent group, whether it shows as one card.

    ``inputs`` are the names of the nested model's inputs, ``call`` the keyword arguments the
    model around it called it with (``{"training": False}``) and ``sequential`` whether it was a
    ``keras.Sequential``, all kept from an import so that the model built again reads the same.
    """

    name: str
    parent: str | None = None
    collapsed: bool = True
    inputs: tuple[str, ...] = ()
    call: dict[str, Any] = field(default_factory=dict)
    sequential: bool = False


def group_to_dict(g: Group) -> dict[str, Any]:
    """One group as JSON-ready data."""
    d: dict[str, Any] = {"name": g.name, "collapsed": g.collapsed}
    if g.parent is not None:
        d["parent"] = g.parent
    if g.inputs:
        d["inputs"] = list(g.inputs)
    if g.call:
        d["call"] = dict(g.call)
    if g.sequential:
        d["sequential"] = True
    return d


def group_from_dict(d: Any, where: str = "group") -> Group:
    """Inverse of :func:`group_to_dict`; raises :class:`~cnnstudio.core.doc_schema.DocError` naming the field."""
    expect(d, dict, where, "an object (one group)")
    name = expect(d.get("name"), str, f"{where}.name", "a string")
    parent = d.get("parent")
    if parent is not None:
        expect(parent, str, f"{where}.parent", "a group name (a string)")
    collapsed = expect(d.get("collapsed", True), bool, f"{where}.collapsed", "true/false")
    inputs = expect_names(d.get("inputs", []), f"{where}.inputs")
    call = expect(d.get("call", {}), dict, f"{where}.call", "an object of call arguments")
    for k, v in call.items():
        expect(v, (bool, int, float, str, type(None)), f"{where}.call.{k}", "a plain value")
    sequential = expect(d.get("sequential", False), bool, f"{where}.sequential", "true/false")
    return Group(name, parent, collapsed, tuple(inputs), dict(call), sequential)


# -- membership -----------------------------------------------------------------------

def chain(graph: "LayerGraph", group: str | None) -> list[str]:
    """``group`` and the groups around it, innermost first (``[]`` for ``None``)."""
    out = []
    while group is not None:
        out.append(group)
        group = graph.groups[group].parent
    return out


def in_group(graph: "LayerGraph", node_id: str, group: str) -> bool:
    """True if the node lies in ``group``, directly or in a group inside it."""
    return group in chain(graph, graph.nodes[node_id].group)


def members(graph: "LayerGraph", group: str, deep: bool = True) -> list[str]:
    """Ids of the layers in ``group`` (with ``deep``, also those of the groups inside it), in node order."""
    if deep:
        return [nid for nid, n in graph.nodes.items() if group in chain(graph, n.group)]
    return [nid for nid, n in graph.nodes.items() if n.group == group]


def children(graph: "LayerGraph", group: str | None) -> list[str]:
    """The groups directly inside ``group`` (``None``: the top-level groups)."""
    return [name for name, g in graph.groups.items() if g.parent == group]


def card_of(graph: "LayerGraph", node_id: str) -> str | None:
    """The outermost collapsed group holding the node (its card shows it), or ``None`` if it shows itself."""
    shown = None
    for g in chain(graph, graph.nodes[node_id].group):
        if graph.groups[g].collapsed:
            shown = g
    return shown


def unit_in(graph: "LayerGraph", node_id: str, scope: str | None) -> str | None:
    """The group directly inside ``scope`` that holds the node, or ``None`` if it is in ``scope`` itself."""
    groups = chain(graph, graph.nodes[node_id].group)
    inner = groups[:groups.index(scope)] if scope is not None else groups
    return inner[-1] if inner else None


def boundary(graph: "LayerGraph", group: str) -> tuple[list[str], list[str]]:
    """``(sources, outputs)`` of a group: the outside layers feeding it (in the order its layers
    take them), and its layers read outside it or that are model outputs (in node order)."""
    inside = set(members(graph, group))
    order = {nid: k for k, nid in enumerate(graph.topological_order())}
    feeding: list["Edge"] = sorted((e for e in graph.edges if e.dst in inside and e.src not in inside),
                                   key=lambda e: (order.get(e.dst, 0), e.port))
    sources = list(dict.fromkeys(e.src for e in feeding))
    model_outputs = {n.id for n in graph.outputs()}
    read_outside = {e.src for e in graph.edges if e.src in inside and e.dst not in inside}
    outputs = [nid for nid in graph.nodes if nid in inside and (nid in read_outside or nid in model_outputs)]
    return sources, outputs


def as_chain(graph: "LayerGraph", group: str) -> list[str] | None:
    """The layers of a group kept from a ``keras.Sequential`` that are still one chain (one
    outside input, each layer fed by the one before, the last its only output), else ``None``."""
    if not graph.groups[group].sequential:
        return None
    units = scope_order(graph, group)
    sources, outputs = boundary(graph, group)
    if len(sources) != 1 or any(kind != "node" for kind, _ in units):
        return None
    ids = [nid for _, nid in units]
    feeds = [sources[0]] + ids[:-1]
    if outputs != ids[-1:] or any(graph.inputs_of(nid) != [f] or graph.nodes[nid].is_operation
                                  for nid, f in zip(ids, feeds)):
        return None
    return ids


def scope_order(graph: "LayerGraph", scope: str | None) -> list[tuple[str, str]]:
    """What lies directly in ``scope`` (``None``: the whole graph), each layer or inner group once,
    every one after what feeds it: ``[("node", id) | ("group", name), ...]``.

    Raises :class:`~cnnstudio.core.graph.GraphError` when a group cannot be one nested model:
    a layer outside it both reads from it and feeds it.
    """
    from .graph import GraphError

    ids = [nid for nid in graph.topological_order() if scope is None or in_group(graph, nid, scope)]
    unit = {nid: (("group", g) if (g := unit_in(graph, nid, scope)) else ("node", nid)) for nid in ids}
    units = list(dict.fromkeys(unit.values()))
    preds: dict[tuple, set] = {u: set() for u in units}
    for e in graph.edges:
        if e.src in unit and e.dst in unit and unit[e.src] != unit[e.dst]:
            preds[unit[e.dst]].add(unit[e.src])
    done: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    left = list(units)
    while left:
        ready = next((u for u in left if preds[u] <= seen), None)
        if ready is None:
            group = next(u[1] for u in left if u[0] == "group")
            raise GraphError(f"group {group} cannot be one nested model: "
                             "a layer outside it both reads from it and feeds it")
        done.append(ready)
        seen.add(ready)
        left.remove(ready)
    return done


# -- collapsing -------------------------------------------------------------------------

def _first(graph: "LayerGraph", group: str) -> tuple[float, float]:
    """Position of a group's first layer (the topmost, leftmost of them)."""
    pts = [graph.nodes[nid].pos for nid in members(graph, group)]
    return min(pts, key=lambda p: (p[1], p[0])) if pts else (0.0, 0.0)


def card_pos(graph: "LayerGraph", group: str) -> tuple[float, float]:
    """Where a group's card stands: at its first layer when collapsed, :data:`HEADROOM` above it
    (in the frame's header) when expanded."""
    x, y = _first(graph, group)
    return (x, y) if graph.groups[group].collapsed else (x, y - HEADROOM)


def _bottom(graph: "LayerGraph", group: str) -> float:
    """The lowest row the group fills when expanded (collapsed groups inside it count one row)."""
    ys = [graph.nodes[nid].pos[1] for nid in members(graph, group, deep=False)]
    for child in children(graph, group):
        if not members(graph, child):
            continue
        ys.append(card_pos(graph, child)[1] if graph.groups[child].collapsed else _bottom(graph, child))
    return max(ys, default=card_pos(graph, group)[1])


def toggle_moves(graph: "LayerGraph", group: str, collapse: bool) -> dict[str, tuple[float, float]]:
    """New positions when ``group`` collapses (its layers go up to where its card stands, those
    below it come up by the height it no longer takes) or expands (its layers go down below the
    frame's header, those below its card down to make room).

    Inside a collapsed group, only the layers of that group move (its card is what shows).
    """
    top = _first(graph, group)[1]
    height = _bottom(graph, group) - top  # of its layers, from the first row to the last
    hidden_in = [g for g in chain(graph, graph.groups[group].parent) if graph.groups[g].collapsed]
    scope = set(members(graph, hidden_in[-1])) if hidden_in else set(graph.nodes)
    inside = set(members(graph, group))
    line = top + height if collapse else top
    sign = -1.0 if collapse else 1.0
    moves = {nid: (n.pos[0], n.pos[1] + sign * (height + HEADROOM + FOOTROOM)) for nid, n in graph.nodes.items()
             if nid in scope and nid not in inside and n.pos[1] > line + 1e-6}
    moves.update({nid: (graph.nodes[nid].pos[0], graph.nodes[nid].pos[1] + sign * HEADROOM) for nid in inside})
    return moves


def open_frames(graph: "LayerGraph") -> None:
    """Make room round every group of a freshly laid-out graph (all expanded): :data:`HEADROOM`
    above its first layer, :data:`FOOTROOM` below its last (raw edit, for imports)."""
    for name in graph.groups:  # parents first: a child's room opens inside its parent's
        top = _first(graph, name)[1]
        for nid, n in graph.nodes.items():
            if n.pos[1] >= top - 1e-6:
                graph.move(nid, (n.pos[0], n.pos[1] + HEADROOM))
        bottom = _bottom(graph, name)
        inside = set(members(graph, name))
        for nid, n in graph.nodes.items():
            if nid not in inside and n.pos[1] > bottom + 1e-6:
                graph.move(nid, (n.pos[0], n.pos[1] + FOOTROOM))


__all__ = ["FOOTROOM", "HEADROOM", "Group", "as_chain", "boundary", "card_of", "card_pos", "chain", "children", "group_from_dict",
           "group_to_dict", "in_group", "members", "open_frames", "scope_order", "toggle_moves", "unit_in"]
