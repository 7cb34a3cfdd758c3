"""Type checks for JSON documents read from files (graphs, project fields, run folders).

A file may hold anything: an object where a list belongs, strings where numbers do. Each
check here names the field it looked at (``nodes[3].pos``), so that a loader can turn a wrong
type into one line for a person instead of an ``AttributeError`` deep in the code that uses it.
The graph's own shape of document is checked by :func:`check_graph_doc`; values of layer
parameters are checked by the catalog (:mod:`cnnstudio.core.params`), settings by
:mod:`cnnstudio.core.settings`.
"""

from __future__ import annotations

import math
from typing import Any


class DocError(ValueError):
    """A value of the wrong type or form in a document; the message names the field."""


def type_name(value: Any) -> str:
    """The JSON name of ``value``'s type, as a person reading the file would call it."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def expect(value: Any, kind: type | tuple, where: str, what: str) -> Any:
    """``value`` if it is a ``kind`` (never a bool for a number), else :class:`DocError`."""
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _kinds(kind)):
        return value
    raise DocError(f"{where} must be {what}, not {type_name(value)} ({_short(value)})")


def _kinds(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def is_number(value: Any) -> bool:
    """A finite JSON number (not true/false)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def expect_numbers(value: Any, where: str, length: int | None = None, integers: bool = False) -> list:
    """A list of finite numbers (of ``length`` when given; integers or null dimensions when asked)."""
    expect(value, list, where, "a list of numbers")
    if length is not None and len(value) != length:
        raise DocError(f"{where} must hold {length} numbers, not {len(value)} ({_short(value)})")
    for i, v in enumerate(value):
        if integers and not (v is None or (isinstance(v, int) and not isinstance(v, bool))):
            raise DocError(f"{where}[{i}] must be a whole number or null, not {type_name(v)} ({_short(v)})")
        if not integers and not is_number(v):
            raise DocError(f"{where}[{i}] must be a number, not {type_name(v)} ({_short(v)})")
    return value


def expect_names(value: Any, where: str) -> list[str]:
    """A list of strings (class names, output ids)."""
    expect(value, list, where, "a list of names")
    for i, v in enumerate(value):
        expect(v, str, f"{where}[{i}]", "a name (a string)")
    return value


def check_graph_doc(data: Any) -> None:
    """Check the form of a graph document (``LayerGraph.to_dict``): raise :class:`DocError`
    naming the first field of a wrong type. Parameter values are left to the catalog."""
    expect(data, dict, "graph", "an object with nodes and edges")
    nodes = expect(data.get("nodes", []), list, "graph.nodes", "a list of layers")
    for i, nd in enumerate(nodes):
        check_node_doc(nd, f"graph.nodes[{i}]")
    for i, edge in enumerate(expect(data.get("edges", []), list, "graph.edges", "a list of edges")):
        where = f"graph.edges[{i}]"
        if not (isinstance(edge, list) and len(edge) == 3):
            raise DocError(f"{where} must be [source id, target id, input port], not {_short(edge)}")
        expect(edge[0], str, f"{where}[0]", "a node id (a string)")
        expect(edge[1], str, f"{where}[1]", "a node id (a string)")
        expect(edge[2], int, f"{where}[2]", "an input port (a whole number)")
        if not 0 <= edge[2] < 1024:
            raise DocError(f"{where}[2] must be an input port from 0, not {edge[2]}")
    if data.get("outputs") is not None:
        expect_names(data["outputs"], "graph.outputs")
    expect(data.get("groups", []), list, "graph.groups", "a list of groups")


def check_node_doc(nd: Any, where: str) -> None:
    """Check the form of one node document (:func:`~cnnstudio.core.graph.node_to_dict`)."""
    expect(nd, dict, where, "an object (one layer)")
    for key in ("id", "kind", "name"):
        if key not in nd:
            raise DocError(f"{where} has no {key!r}")
        expect(nd[key], str, f"{where}.{key}", "a string")
    where = f"{where} ({nd['name']})"
    expect(nd.get("params", {}), dict, f"{where}.params", "an object of parameter values")
    expect(nd.get("extra", {}), dict, f"{where}.extra", "an object")
    expect_numbers(nd.get("pos", [0, 0]), f"{where}.pos", length=2)
    if nd.get("group") is not None:
        expect(nd["group"], str, f"{where}.group", "a group name (a string)")
    expect(nd.get("frozen", False), bool, f"{where}.frozen", "true/false")
    if nd.get("known_shape") is not None:
        expect_numbers(nd["known_shape"], f"{where}.known_shape", integers=True)
    if nd.get("known_params") is not None:
        expect_numbers(nd["known_params"], f"{where}.known_params", length=2, integers=True)
    if nd.get("known_inputs") is not None:
        for j, shape in enumerate(expect(nd["known_inputs"], list, f"{where}.known_inputs", "a list of shapes")):
            expect_numbers(shape, f"{where}.known_inputs[{j}]", integers=True)


def check_keras_doc(doc: Any) -> None:
    """Check the form of a Keras architecture (``model.to_json()``, a ``.keras`` file's
    ``config.json``, an ``.h5`` file's ``model_config``) down to each layer's class and config,
    so that Keras is never handed a list where it expects an object."""
    expect(doc, dict, "the architecture", "an object")
    expect(doc.get("class_name"), str, "class_name", "a string")
    config = expect(doc.get("config"), (dict, list), "config", "an object")
    if isinstance(config, list):  # a Keras 2.2 Sequential: its config was the list of layers
        config, where = {"layers": config}, "config"
    else:
        where = "config.layers"
    if "layers" in config:
        for i, layer in enumerate(expect(config["layers"], list, where, "a list of layers")):
            expect(layer, dict, f"{where}[{i}]", "an object (one layer)")
            expect(layer.get("class_name"), str, f"{where}[{i}].class_name", "a string")
            expect(layer.get("config"), dict, f"{where}[{i}].config", "an object")
