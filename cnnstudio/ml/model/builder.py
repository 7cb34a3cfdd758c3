"""Graph -> ``keras.Model``: every node becomes the Keras layer its catalog entry names.

A catalog node's Keras config is its edited parameters over the config entries the
catalog does not edit (``node.extra["config"]``: initializers, regularizers, dtype...).
A generic node is rebuilt from its whole serialized layer (``node.extra["layer"]``), and an
operation node (``x + 3.0``) is also called as its model called it (:mod:`.operations`).
Each group (:mod:`cnnstudio.core.groups`) becomes a ``keras.Model`` of its layers, called from
the model around it, so the built model nests as the imported one did.
"""

from __future__ import annotations

from typing import Any, Callable

import keras

from cnnstudio.core.catalog import MANY, spec
from cnnstudio.core.graph import GraphError, LayerGraph, Node, safe_name
from cnnstudio.core.groups import as_chain, boundary, scope_order

from cnnstudio.ml.model import trust
from cnnstudio.ml.model.operations import call_ports, fill_call


class BuildError(ValueError):
    """The graph cannot become a Keras model; the message names the layer."""


def keras_name(node: Node) -> str:
    """The name of ``node``'s Keras layer: its own, or the one its model file gave it when a layer
    of another (nested) model took that name in the graph."""
    return node.extra.get("keras_name") or node.name


def layer_config(node: Node) -> dict[str, Any]:
    """The Keras ``get_config()`` dict of a catalog node."""
    cfg = dict(node.extra.get("config", {}))
    for k, v in node.params.items():
        cfg[k] = list(v) if isinstance(v, tuple) and k == "target_shape" else v
    cfg["name"] = keras_name(node)
    return cfg


def make_layer(node: Node) -> keras.layers.Layer:
    """A fresh Keras layer for ``node`` (not for InputLayer), ``trainable=False`` when the node is frozen."""
    layer = _new_layer(node)
    if node.frozen:  # a frozen BatchNormalization then also runs in inference mode (Keras 3)
        layer.trainable = False
    return layer


def _new_layer(node: Node) -> keras.layers.Layer:
    try:
        if spec(node.kind) is None:
            if "layer" not in node.extra:
                raise BuildError(f"{node.name}: layer kind {node.kind!r} is unknown and has no saved Keras config")
            layer_doc = dict(node.extra["layer"])
            layer_doc["config"] = {**layer_doc.get("config", {}), "name": keras_name(node)}
            codes = trust.code_in(layer_doc)
            refused = trust.untrusted(codes)
            if refused:  # a project file (or a graph) can carry a Lambda's code as well as a model file
                raise BuildError(f"{node.name} holds Python code ({trust.describe(refused)}) that was not trusted "
                                 "in this session: import its model file again and agree to run it")
            return keras.saving.deserialize_keras_object(layer_doc, safe_mode=not codes)
        cls = getattr(keras.layers, node.kind)
        return cls.from_config(layer_config(node))
    except BuildError:
        raise
    except Exception as exc:  # Keras raises ValueError, TypeError...: all mean a bad config
        raise BuildError(f"{node.name} ({node.kind}): {exc}") from None


def call_arguments(node: Node, inputs: list, constant: Callable[[dict], Any] = keras.saving.deserialize_keras_object
                   ) -> tuple[list, dict]:
    """``(args, kwargs)`` that ``node``'s layer is called with, given its inputs by port.

    A layer takes its one input, or the list of them (merges, generic layers fed by
    several); an operation node gets its recorded call back, constants included, each made
    by ``constant`` from its Keras serialization (see :func:`.operations.fill_call`).
    """
    if node.is_operation:
        need = len(call_ports(node.extra["call"]))
        if len(inputs) != need:  # an edit added or removed an input the recorded call has no place for
            raise BuildError(f"{node.name} ({node.kind}) takes {need} input{'s' * (need != 1)}, has {len(inputs)}")
        return fill_call(node.extra["call"], inputs, constant)
    many = spec(node.kind).inputs == MANY if spec(node.kind) else len(inputs) > 1
    return [inputs if many else inputs[0]], {}


def build_model(graph: LayerGraph, name: str = "model") -> keras.Model:
    """A functional ``keras.Model`` with the graph's layers, wiring and configuration.

    ``name`` may be any text (a project's title): it is made Keras-safe here.
    """
    name = safe_name(name, "model")
    tensors: dict[str, Any] = {}
    order = graph.topological_order()
    if len(order) != len(graph.nodes):
        raise BuildError("the graph has a cycle")
    if not graph.input_nodes():
        raise BuildError("the graph has no InputLayer")
    _build_scope(graph, None, tensors)
    inputs = [tensors[n.id] for n in graph.input_nodes()]
    outputs = [tensors[n.id] for n in graph.outputs()]
    if not outputs:
        raise BuildError("the graph has no output layer")
    try:
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                           outputs[0] if len(outputs) == 1 else outputs, name=name)
    except Exception as exc:
        raise BuildError(f"cannot make a model: {exc}") from None


def _build_scope(graph: LayerGraph, scope: str | None, tensors: dict[str, Any]) -> None:
    """Call every layer and nested model directly in ``scope`` (``None``: the whole graph), filling
    ``tensors`` (node id -> output), which holds what feeds the scope from outside."""
    try:
        units = scope_order(graph, scope)
    except GraphError as exc:
        raise BuildError(str(exc)) from None
    for what, key in units:
        if what == "group":
            _call_group(graph, key, tensors)
            continue
        node = graph.nodes[key]
        if node.kind == "InputLayer":
            if scope is not None:
                raise BuildError(f"group {scope} holds the model input {node.name}: "
                                 "a nested model takes its inputs from outside")
            tensors[key] = keras.Input(shape=tuple(node.params["shape"]), name=node.name)
            continue
        srcs = graph.inputs_of(key)
        if not srcs:
            raise BuildError(f"{node.name} has no input: connect a layer into it")
        layer = make_layer(node)
        args, kwargs = call_arguments(node, [tensors[s] for s in srcs])
        try:
            tensors[key] = layer(*args, **kwargs)
        except Exception as exc:
            raise BuildError(f"{node.name} ({node.kind}): {exc}") from None


def group_input_names(graph: LayerGraph, group: str, n: int) -> list[str]:
    """Names of a group's ``n`` inputs: those of the model it was imported from, else ``<group>_input``."""
    kept = list(graph.groups[group].inputs)
    if len(kept) == n:
        return kept
    base = safe_name(group, "group")
    return [f"{base}_input"] if n == 1 else [f"{base}_input_{k + 1}" for k in range(n)]


def _call_group(graph: LayerGraph, group: str, tensors: dict[str, Any]) -> None:
    """Build ``group`` as a ``keras.Model`` on fresh inputs shaped like what feeds it, and call it."""
    sources, outputs = boundary(graph, group)
    if not sources or not outputs:
        raise BuildError(f"group {group} {'takes no input' if not sources else 'has no output'}: "
                         "a nested model needs both")
    names = group_input_names(graph, group, len(sources))
    inner = {s: keras.Input(shape=tuple(tensors[s].shape[1:]), name=n) for s, n in zip(sources, names)}
    chain = as_chain(graph, group)
    if chain is None:
        _build_scope(graph, group, inner)
    try:
        if chain is not None:  # imported from a keras.Sequential and still one: a Sequential again
            sub = keras.Sequential([inner[sources[0]], *(make_layer(graph.nodes[nid]) for nid in chain)], name=group)
        else:
            sub = keras.Model([inner[s] for s in sources] if len(sources) > 1 else inner[sources[0]],
                              [inner[o] for o in outputs] if len(outputs) > 1 else inner[outputs[0]], name=group)
        result = sub([tensors[s] for s in sources] if len(sources) > 1 else tensors[sources[0]],
                     **graph.groups[group].call)
    except Exception as exc:
        raise BuildError(f"group {group}: {exc}") from None
    for o, t in zip(outputs, result if len(outputs) > 1 else [result]):
        tensors[o] = t
