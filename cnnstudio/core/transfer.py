"""Transfer learning on the graph: the head put on a cut backbone, and which layers fine-tuning unfreezes.

Pure graph work (no Keras), so the editor can count and preview it on the GUI thread;
:mod:`cnnstudio.ml.model.transfer` reads the backbone with Keras and calls these.

A *block* for fine-tuning is one frozen layer with weights that learn (Conv2D, Dense,
DepthwiseConv2D...), counted from the top of the network down; the weightless layers
between them (activations, pooling, merges) unfreeze with them. BatchNormalization stays
frozen: frozen, it keeps running in inference mode on the statistics it learned, which is
what Keras's transfer-learning guide asks for when fine-tuning (training it on a few
images would wreck them).
"""

from __future__ import annotations

from typing import Any

from .commands import SetFrozen
from .graph import LayerGraph, Node
from .inference import infer
from .layout import lay_out
from .params import Param, ParamSet

#: The head template put on a cut backbone, described as settings are (forms are made from it).
HEAD = ParamSet((
    Param("pooling", "choice", "avg", "how the backbone's feature maps become one vector per image",
          choices=("avg", "max"), titles=("Global average pooling", "Global max pooling")),
    Param("dropout", "float", 0.2, "share of the pooled features dropped at random while training (0: none)",
          min=0.0, max=0.9),
    Param("hidden", "int", 0, "units of a ReLU Dense layer before the classifier (0: none)", min=0, max=4096),
))

#: Fine-tuning after the head trained, described as settings are.
FINE_TUNE = ParamSet((
    Param("blocks", "int", 2, "frozen layers with weights to unfreeze, from the top down "
          "(BatchNormalization stays frozen, in inference mode)", min=1, max=10_000),
    Param("lr_factor", "float", 0.1, "the run's learning rate is multiplied by this for fine-tuning",
          min=1e-4, max=1.0),
    Param("epochs", "int", 5, "more epochs to train, continuing the same run", min=1, max=10_000),
))

#: Layers that stay frozen when fine-tuning unfreezes the blocks around them.
KEEP_FROZEN = ("BatchNormalization",)
POOLING = {"avg": "GlobalAveragePooling2D", "max": "GlobalMaxPooling2D"}


def add_head(graph: LayerGraph, after: str, n_classes: int, head: dict[str, Any] | None = None,
             taken: set[str] = frozenset()) -> list[Node]:
    """Put the head template after node ``after``: pooling, dropout, optional hidden Dense, then a
    softmax Dense of ``n_classes``; it becomes the graph's output. Names avoid ``taken`` (the
    backbone file's other layers), so no old classifier's weights are ever copied into it."""
    values = HEAD.coerce(head or {})
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least two classes, the dataset has {n_classes}")
    layers = [(POOLING[values["pooling"]], {}, "head_pool")]
    if values["dropout"] > 0:
        layers.append(("Dropout", {"rate": values["dropout"]}, "head_dropout"))
    if values["hidden"] > 0:
        layers.append(("Dense", {"units": values["hidden"], "activation": "relu"}, "head_hidden"))
    layers.append(("Dense", {"units": n_classes, "activation": "softmax"}, "head_classifier"))
    nodes, last = [], after
    for kind, params, base in layers:
        name, k = base, 1
        while name in taken or graph.by_name(name) is not None:
            name, k = f"{base}_{k}", k + 1
        node = graph.add_node(kind, params, name=name)
        graph.add_edge(last, node.id, 0, check=False)
        nodes.append(node)
        last = node.id
    graph.set_outputs([last])
    lay_out(graph)
    return nodes


def fine_tune_layers(graph: LayerGraph, blocks: int) -> list[str]:
    """Ids of the frozen nodes fine-tuning unfreezes: the top ``blocks`` frozen layers with
    trainable weights and the weightless ones above the lowest of them (see the module doc)."""
    info = infer(graph)
    chosen: list[str] = []
    found = 0
    for nid in reversed(graph.topological_order()):
        node = graph.nodes[nid]
        if found >= blocks:
            break
        if not node.frozen or node.kind in KEEP_FROZEN:
            continue
        chosen.append(nid)
        if info[nid].params:
            found += 1
    while chosen and not info[chosen[-1]].params:  # weightless layers below the lowest block stay as they are
        chosen.pop()
    return chosen[::-1]


def unfreeze_top(graph: LayerGraph, blocks: int) -> SetFrozen | None:
    """The undoable command that unfreezes :func:`fine_tune_layers`, or ``None`` when nothing is frozen."""
    ids = fine_tune_layers(graph, blocks)
    return SetFrozen(graph, ids, False) if ids else None


__all__ = ["FINE_TUNE", "HEAD", "KEEP_FROZEN", "add_head", "fine_tune_layers", "unfreeze_top"]
