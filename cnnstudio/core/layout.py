"""Automatic layered layout: inputs at the top, each layer one row below its deepest input.

Rows are ordered by the mean column of each node's inputs (a barycentre pass), which keeps
skip connections and branches side by side without crossings in the common cases.
"""

from __future__ import annotations

from .graph import LayerGraph
from .groups import chain, open_frames, toggle_moves

ROW = 110.0  # vertical distance between rows, in scene units
COL = 240.0  # horizontal distance between columns


def layered_positions(graph: LayerGraph) -> dict[str, tuple[float, float]]:
    """Positions for every node: ``{id: (x, y)}``."""
    order = graph.topological_order()
    preds: dict[str, list[str]] = {i: [] for i in graph.nodes}
    for e in graph.edges:
        preds[e.dst].append(e.src)
    rank: dict[str, int] = {}
    for nid in order:
        rank[nid] = 1 + max((rank[p] for p in preds[nid]), default=-1)
    rows: dict[int, list[str]] = {}
    for nid in order:
        rows.setdefault(rank[nid], []).append(nid)
    col: dict[str, float] = {}
    for r in sorted(rows):
        ids = rows[r]
        def bary(i: str) -> float:
            ps = [col[p] for p in preds[i] if p in col]
            return sum(ps) / len(ps) if ps else 0.0
        ids.sort(key=bary)
        # place each node at its barycentre, pushed right so columns never overlap
        placed: list[float] = []
        for i in ids:
            x = round(bary(i))
            if placed and x <= placed[-1]:
                x = placed[-1] + 1
            placed.append(x)
        shift = (placed[0] + placed[-1]) / 2 if len(ids) > 1 and all(not preds[i] for i in ids) else 0
        for i, x in zip(ids, placed):
            col[i] = x - shift
    return {i: (col[i] * COL, rank[i] * ROW) for i in graph.nodes}


def apply_layout(graph: LayerGraph) -> None:
    """Move every node to its layered position (raw edit: wrap in MoveNodes to undo)."""
    for nid, pos in layered_positions(graph).items():
        graph.move(nid, pos)


def lay_out(graph: LayerGraph) -> None:
    """Lay out a graph just read or made (raw edit): every node at its layered position, room
    round each group, then each group collapsed to its card (innermost first: each sees its own height)."""
    apply_layout(graph)
    open_frames(graph)
    for name in sorted(graph.groups, key=lambda g: -len(chain(graph, g))):
        for nid, pos in toggle_moves(graph, name, collapse=True).items():
            graph.move(nid, pos)
        graph.set_collapsed(name, True)
