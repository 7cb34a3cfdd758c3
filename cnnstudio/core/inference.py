"""Inference over a whole graph: per node output shape, parameters, receptive field, FLOPs.

Receptive fields follow Araujo, Norris & Sim, "Computing receptive fields of convolutional
neural networks" (Distill, 2019): per spatial axis a field has a ``size`` r, an effective
``stride`` S and an effective ``padding`` P, and the output unit at index i is centred on
input coordinate ``-P + i*S + (r-1)/2``. A layer with kernel k, stride s and padding p maps
(r, S, P) to (r + (k-1)*S, S*s, P + p*S). Where branches join, each axis takes the union
of the branches' fields: with one stride S on that axis, unit i of branch b sees
``[-P_b + i*S, -P_b + i*S + r_b - 1]``, so the merged unit sees ``P = max(P_b)`` and
``r = max(r_b - P_b) + P``, whether or not the branches' centres agree. Branches whose
strides differ on an axis have no common field. Where a field is not defined,
:attr:`NodeInfo.rf_note` says why and :attr:`NodeInfo.receptive_field` is ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from .catalog import spec
from .graph import LayerGraph, Node
from .params import ParamError
from .rules import IDENTITY, LayerMath, ShapeError, activation_bytes, dims

#: ``fallback(node, input_shapes) -> (output_shape, trainable, non_trainable)`` for kinds
#: the catalog does not know; the ml package offers one backed by Keras.
Fallback = Callable[[Node, list], tuple]


class CachedFallback:
    """A :data:`Fallback` that asks the wrapped one once per layer configuration and input shapes.

    The editor infers the whole graph on every edit, on the GUI thread; a Keras fallback
    builds a layer each time. Its answer (or the error it raised) depends only on the node's
    kind, parameters, serialized layer (its name aside) and frozen state and on the input shapes, so it is
    kept under those. A renamed or moved layer, or any edit elsewhere, asks Keras nothing.
    """

    def __init__(self, fallback: Fallback, size: int = 1024) -> None:
        self.fallback, self.size = fallback, size
        self._answers: dict[tuple, tuple | Exception] = {}

    @staticmethod
    def key(node: Node, input_shapes: list) -> tuple:
        """What the answer depends on, hashable."""
        layer = dict(node.extra.get("layer", {}))
        layer["config"] = {k: v for k, v in layer.get("config", {}).items() if k != "name"}
        extra = {**node.extra, "layer": layer}
        config = json.dumps([node.kind, node.params, extra, node.frozen], sort_keys=True, default=str)
        return config, tuple(tuple(s) for s in input_shapes)

    def __call__(self, node: Node, input_shapes: list) -> tuple:
        key = self.key(node, input_shapes)
        if key not in self._answers:
            if len(self._answers) >= self.size:  # bounded: the oldest answer goes first
                del self._answers[next(iter(self._answers))]
            try:
                self._answers[key] = self.fallback(node, input_shapes)
            except Exception as exc:  # a configuration that does not fit stays so: remembered too
                self._answers[key] = exc
        answer = self._answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass(frozen=True)
class ReceptiveField:
    """A receptive field per spatial axis, in input pixels."""

    size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]

    def center(self, index: tuple[int, ...]) -> tuple[float, ...]:
        """Input coordinate of the centre of :meth:`box` of the unit at ``index`` (one per axis)."""
        return tuple(-p + i * s + (r - 1) / 2 for i, r, s, p in zip(index, self.size, self.stride, self.padding))

    def box(self, index: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """Inclusive input-pixel range ``(first, last)`` per axis seen by the unit at ``index``.

        The range may start below 0 or end past the input: that part lies in the padding.
        """
        return tuple((-p + i * s, -p + i * s + r - 1) for i, r, s, p in zip(index, self.size, self.stride, self.padding))

    def to_json(self) -> dict:
        """``{"size": [...], "stride": [...], "padding": [...]}``."""
        return {"size": list(self.size), "stride": list(self.stride), "padding": list(self.padding)}

    def text(self) -> str:
        """``'212x212 px, stride 32, padding 90'``."""
        def j(t):
            return str(t[0]) if len(set(t)) == 1 else "x".join(map(str, t))
        size = "x".join(map(str, self.size))
        return f"{size} px, stride {j(self.stride)}, padding {j(self.padding)}"


@dataclass
class NodeInfo:
    """What inference knows about one node."""

    output_shape: tuple | None = None
    trainable: int = 0
    non_trainable: int = 0
    flops: int = 0
    memory: int = 0  # activation bytes per sample (float32)
    receptive_field: ReceptiveField | None = None
    rf_note: str = ""
    formula: list[str] = field(default_factory=list)
    error: str | None = None  # set when this node (or one it depends on) fails
    root_error: bool = False  # True on the node at fault, False on those downstream
    culprit: str = ""  # name of the node at fault

    @property
    def params(self) -> int:
        """Trainable plus non-trainable parameters."""
        return self.trainable + self.non_trainable

    @property
    def ok(self) -> bool:
        """No error here or upstream."""
        return self.error is None


class GraphInference(dict):
    """``node id -> NodeInfo`` for a whole graph, with totals."""

    @property
    def total_params(self) -> int:
        """All parameters of valid nodes."""
        return sum(i.params for i in self.values())

    @property
    def trainable_params(self) -> int:
        """Trainable parameters of valid nodes."""
        return sum(i.trainable for i in self.values())

    @property
    def total_flops(self) -> int:
        """FLOPs of one forward pass of one sample."""
        return sum(i.flops for i in self.values())

    @property
    def errors(self) -> dict[str, str]:
        """``node id -> message`` for the nodes at fault (not those downstream)."""
        return {k: i.error for k, i in self.items() if i.root_error}


def _step_rf(rf: ReceptiveField, steps) -> ReceptiveField:
    size, stride, pad = [], [], []
    for r, s, p, st in zip(rf.size, rf.stride, rf.padding, steps):
        size.append(r + (st.kernel - 1) * s)
        stride.append(s * st.stride)
        pad.append(p + st.padding * s)
    return ReceptiveField(tuple(size), tuple(stride), tuple(pad))


def _merge_rf(fields: list[ReceptiveField | None], notes: list[str]) -> tuple[ReceptiveField | None, str]:
    """The union of the branches' fields, axis by axis (see the module docstring)."""
    if any(f is None for f in fields):
        return None, next((n for n in notes if n), "an input has no receptive field")
    if len({len(f.size) for f in fields}) > 1:
        return None, "branches have different spatial axes"
    if len({f.stride for f in fields}) > 1:
        return None, f"misaligned branches: their strides differ ({', '.join(dims(f.stride) for f in fields)})"
    size, pad = [], []
    for rs, ps in zip(zip(*(f.size for f in fields)), zip(*(f.padding for f in fields))):
        # relative to unit i's offset i*S, branch b sees pixels -P_b .. r_b - 1 - P_b
        first = max(ps)
        last = max(r - 1 - q for r, q in zip(rs, ps))
        pad.append(first)
        size.append(first + last + 1)
    return ReceptiveField(tuple(size), fields[0].stride, tuple(pad)), ""


def _spatial_axes(shape: tuple | None) -> int:
    return 0 if shape is None else len(shape) - 1


def infer_node(node: Node, inputs: list[NodeInfo], fallback: Fallback | None = None) -> NodeInfo:
    """Infer one node from its inputs' infos."""
    sp = spec(node.kind)
    if sp is not None and sp.inputs == 0:
        shape = tuple(node.params["shape"])
        axes = len(shape) - 1
        rf = ReceptiveField((1,) * axes, (1,) * axes, (0,) * axes) if axes in (1, 2, 3) else None
        return NodeInfo(shape, memory=activation_bytes(shape), receptive_field=rf,
                        rf_note="" if rf else "no spatial axes", formula=[f"input {'x'.join(map(str, shape))}"])
    if not inputs:
        return NodeInfo(error=f"{node.name} has no input: connect a layer into it", root_error=True, culprit=node.name)
    if sp is not None and sp.inputs == 1 and len(inputs) > 1:
        return NodeInfo(error=f"{node.name} takes one input, has {len(inputs)}", root_error=True, culprit=node.name)
    bad = [i for i in inputs if not i.ok]
    if bad:
        return NodeInfo(error=f"not computed: {bad[0].culprit} upstream has an error", culprit=bad[0].culprit)
    shapes = [i.output_shape for i in inputs]
    if sp is None:
        return _infer_generic(node, inputs, shapes, fallback)
    try:
        math: LayerMath = sp.compute(node.params, shapes)
    except (ShapeError, ParamError) as exc:
        return NodeInfo(error=f"{node.name}: {exc}", root_error=True, culprit=node.name)
    trainable, frozen = _frozen_counts(node, math.trainable, math.non_trainable)
    info = NodeInfo(math.output_shape, trainable, frozen, math.flops,
                    activation_bytes(math.output_shape), formula=math.formula)
    _set_rf(info, math.rf, math.rf_note, inputs)
    return info


def _frozen_counts(node: Node, trainable: int, non_trainable: int) -> tuple[int, int]:
    """(trainable, non-trainable) of ``node``: a frozen layer's weights all count non-trainable, as Keras counts them."""
    return (0, trainable + non_trainable) if node.frozen else (trainable, non_trainable)


def _set_rf(info: NodeInfo, step, note: str, inputs: list[NodeInfo]) -> None:
    """Compose the node's receptive field from its inputs' and its own step."""
    if _spatial_axes(info.output_shape) == 0:
        info.rf_note = note or "no spatial axes"
        return
    if step is None:
        info.rf_note = note
        return
    rf, why = _merge_rf([i.receptive_field for i in inputs], [i.rf_note for i in inputs])
    if rf is None:
        info.rf_note = why
    elif step == IDENTITY:
        info.receptive_field = rf if len(rf.size) == _spatial_axes(info.output_shape) else None
        info.rf_note = "" if info.receptive_field else "spatial axes changed"
    elif len(step) != len(rf.size):
        info.rf_note = "spatial axes changed"
    else:
        info.receptive_field = _step_rf(rf, step)


def _infer_generic(node: Node, inputs: list[NodeInfo], shapes: list, fallback: Fallback | None) -> NodeInfo:
    note = f"{node.kind} is not in the catalog"
    # what Keras said at import wins while the inputs are as they were then; without Keras it is the best guess
    recorded = node.known_shape is not None and (fallback is None or node.known_inputs == tuple(map(tuple, shapes)))
    if recorded:
        shape = tuple(node.known_shape)
        tr, ntr = node.known_params or (0, 0)
    elif fallback is not None:
        try:
            shape, tr, ntr = fallback(node, shapes)
        except Exception as exc:  # Keras raises many kinds; all mean 'does not fit'
            return NodeInfo(error=f"{node.name} ({node.kind}): {exc}", root_error=True, culprit=node.name)
    else:
        return NodeInfo(error=f"{node.name}: {node.kind} needs Keras to infer its shape", root_error=True, culprit=node.name)
    tr, ntr = _frozen_counts(node, tr, ntr)
    info = NodeInfo(tuple(shape), tr, ntr, memory=activation_bytes(tuple(shape)))
    same = all(tuple(s) == tuple(shape) for s in shapes) and len(shapes) == 1
    _set_rf(info, IDENTITY if same else None, "" if same else note, inputs)
    return info


def infer(graph: LayerGraph, fallback: Fallback | None = None) -> GraphInference:
    """Infer every node of ``graph`` in topological order."""
    out = GraphInference()
    order = graph.topological_order()
    incoming: dict[str, list] = {i: [] for i in graph.nodes}
    for e in graph.edges:
        incoming[e.dst].append(e)
    for nid in order:
        node = graph.nodes[nid]
        ins = [out[e.src] for e in sorted(incoming[nid], key=lambda e: e.port)]
        out[nid] = infer_node(node, ins, fallback)
    for nid in graph.nodes:  # nodes on a cycle never became ready
        if nid not in out:
            out[nid] = NodeInfo(error=f"{graph.nodes[nid].name} is on a cycle", root_error=True, culprit=graph.nodes[nid].name)
    return out


def group_info(graph: LayerGraph, inference: GraphInference, group: str) -> NodeInfo:
    """A group's totals as one :class:`NodeInfo`: the parameters and FLOPs of all its layers, and
    the output shape and receptive field of its output (of its first, when it has several)."""
    from .groups import boundary, members

    inside = [inference[nid] for nid in members(graph, group) if nid in inference]
    outputs = boundary(graph, group)[1]
    bad = next((i for i in inside if not i.ok), None)
    if bad is not None:
        return NodeInfo(error=bad.error, root_error=bad.root_error, culprit=bad.culprit)
    out = inference.get(outputs[0]) if outputs else None
    return NodeInfo(out.output_shape if out else None, sum(i.trainable for i in inside),
                    sum(i.non_trainable for i in inside), sum(i.flops for i in inside),
                    out.memory if out else 0, out.receptive_field if out else None,
                    out.rf_note if out else "the group has no output")
