"""Graph -> a readable Keras functional script, and graph -> a ``.keras`` / ``.h5`` file.

The script has one line per layer with only the arguments that differ from Keras's own
defaults, so it reads like code a person would write; running it rebuilds a model with the
same layers and configuration as :func:`cnnstudio.ml.model.builder.build_model`. A raw Keras
operation (``x + 3.0``) is rebuilt from its serialization and called as its model called it,
constants included: ``add = keras.saving.deserialize_keras_object({...})(conv, 3.0)``. The
script is the architecture; the trained weights travel beside it as a ``.weights.h5`` file
(:func:`save_python`), which the script loads when it is there. A ``.keras`` / ``.h5``
file holds both (:func:`save_keras`): the trained weights are copied in by
:mod:`cnnstudio.ml.model.weights`. A group is written as the builder builds it: its layers on
their own inputs, made a ``keras.Model`` and called from the model around it.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import json
import keyword
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import keras

from cnnstudio.core.catalog import spec
from cnnstudio.core.graph import GraphError, LayerGraph, Node, safe_name
from cnnstudio.core.groups import as_chain, boundary, scope_order
from cnnstudio.core.project import write_atomic

from cnnstudio.ml.model.builder import BuildError, call_arguments, group_input_names, keras_name, make_layer
from cnnstudio.ml.model.weights import TrainedModel, build_trained

#: Modules whose serialized objects are written as constructor calls (``keras.initializers.HeNormal(seed=1)``).
OBJECT_MODULES = ("keras", "keras.initializers", "keras.regularizers", "keras.constraints")
RESERVED = {"keras", "model", "inputs", "outputs", *dir(builtins)}
MAX_LINE = 120
_MISSING = object()


def python_code(graph: LayerGraph, name: str = "model", weights_file: str | None = None) -> str:
    """A Python script that builds ``graph`` as a functional ``keras.Model`` called ``model``.

    ``weights_file`` names a ``.weights.h5`` file beside the script (see :func:`save_python`)
    that the script loads when it exists; without one, its header says how to load weights.
    """
    order = graph.topological_order()
    if len(order) != len(graph.nodes):
        raise BuildError("the graph has a cycle")
    names: dict[str, str] = {}
    body: list[str] = []
    _write_scope(graph, None, names, set(), body)
    ins = [names[n.id] for n in graph.input_nodes() if n.id in names]
    outs = [names[n.id] for n in graph.outputs()]
    if not ins or not outs:
        raise BuildError("the graph needs an InputLayer and an output layer")
    head = [f'"""Keras model {_doc_text(name)}, exported by cnnstudio. Run it to rebuild the model.', ""]
    if weights_file is None:
        head += ["This file is the architecture only, with freshly initialised weights.",
                 "For the trained weights, export with `cnnstudio export PROJECT --format python --weights -o",
                 "FILE.py` (or tick the studio's question): FILE.weights.h5 is written beside the script and",
                 "loaded by it. A weights file of your own loads with model.load_weights(PATH).", '"""', "",
                 "import keras", ""]
    else:
        head += [f"This file is the architecture; the trained weights are in {_doc_text(weights_file)} beside it,",
                 "loaded below (model.load_weights) when that file is there.", '"""', "", "from pathlib import Path", "",
                 "import keras", ""]
    tail = ["", f"model = keras.Model(inputs={_seq(ins)}, outputs={_seq(outs)}, name={_lit(safe_name(name, 'model'))})"]
    if weights_file is not None:
        tail += [f"WEIGHTS = Path(__file__).with_name({_lit(weights_file)})",
                 "if WEIGHTS.is_file():", "    model.load_weights(WEIGHTS)"]
    tail += ["", 'if __name__ == "__main__":', "    model.summary()", ""]
    return "\n".join(head + body + tail)


def _write_scope(graph: LayerGraph, scope: str | None, names: dict[str, str], taken: set[str], body: list[str]) -> None:
    """Append the lines of every layer and nested model directly in ``scope`` to ``body``;
    ``names`` maps node ids to their variables (what feeds the scope from outside included)."""
    try:
        units = scope_order(graph, scope)
    except GraphError as exc:
        raise BuildError(str(exc)) from None
    for what, nid in units:
        if what == "group":
            _write_group(graph, nid, names, taken, body)
            continue
        node = graph.nodes[nid]
        var = names[nid] = _variable(node.name, taken)
        taken.add(var)
        if node.kind == "InputLayer":
            body.append(f"{var} = keras.Input(shape={_lit(tuple(node.params['shape']))}, name={_lit(node.name)})")
            continue
        srcs = [_Source(names[s]) for s in graph.inputs_of(nid)]
        if not srcs:
            raise BuildError(f"{node.name} has no input: connect a layer into it")
        args, kwargs = call_arguments(node, srcs, _constant)
        call = ", ".join([_lit(a) for a in args] + [f"{k}={_lit(v)}" for k, v in kwargs.items()])
        body.append(_call(f"{var} = {_constructor(node)}", _arguments(node), f"({call})"))


def _write_group(graph: LayerGraph, group: str, names: dict[str, str], taken: set[str], body: list[str]) -> None:
    """A group as the builder makes it: inputs shaped like what feeds it, its layers, a ``keras.Model``
    of them, then one call of that model from the model around it."""
    sources, outputs = boundary(graph, group)
    if not sources or not outputs:
        raise BuildError(f"group {group} {'takes no input' if not sources else 'has no output'}: a nested model needs both")
    inner: dict[str, str] = {}
    body += ["", f"# nested model {_doc_text(group)}"]
    chain = as_chain(graph, group)
    inputs = []
    for src, name in zip(sources, group_input_names(graph, group, len(sources))):
        inputs.append(f"keras.Input(shape={names[src]}.shape[1:], name={_lit(name)})")
        if chain is None:
            var = inner[src] = _variable(name, taken)
            taken.add(var)
            body.append(f"{var} = {inputs[-1]}")
    model_var = _variable(group, taken)
    taken.add(model_var)
    if chain is not None:  # imported from a keras.Sequential and still one: a Sequential again
        body.append(f"{model_var} = keras.Sequential([")
        body += [f"    {inputs[0]},"] + [_call(f"    {_constructor(graph.nodes[nid])}", _arguments(graph.nodes[nid]), ",")
                                        for nid in chain]
        body.append(f"], name={_lit(group)})")
    else:
        _write_scope(graph, group, inner, taken, body)
        body.append(f"{model_var} = keras.Model({_seq([inner[s] for s in sources])}, "
                    f"{_seq([inner[o] for o in outputs])}, name={_lit(group)})")
    results = []
    for o in outputs:
        var = names[o] = _variable(f"{graph.nodes[o].name}_out", taken)
        taken.add(var)
        results.append(var)
    call = ", ".join([_seq([names[s] for s in sources])] + [f"{k}={_lit(v)}" for k, v in graph.groups[group].call.items()])
    body += [f"{', '.join(results)} = {model_var}({call})", ""]


def save_keras(graph: LayerGraph, path: str | Path, name: str = "model",
               weights: str | Path | None = None) -> TrainedModel:
    """Build ``graph`` with the trained weights of model file ``weights`` (if any) and save it as
    a ``.keras`` (or legacy ``.h5``) file; returns the built model and where its weights came from."""
    p = Path(path)
    if p.suffix.lower() not in (".keras", ".h5"):
        raise BuildError(f"{p.name}: Keras models are saved as .keras (or .h5) files")
    built = build_trained(graph, name, weights)
    p.parent.mkdir(parents=True, exist_ok=True)
    built.model.save(p)
    return built


def weights_name(script: str | Path) -> str:
    """The weights file written beside a script: ``net.py`` -> ``net.weights.h5``."""
    return f"{Path(script).stem}.weights.h5"


def save_python(graph: LayerGraph, path: str | Path, name: str = "model",
                weights: str | Path | None = None) -> TrainedModel | None:
    """Write the script to ``path``; with a trained model file ``weights``, also its weights beside
    it (:func:`weights_name`), which the script loads. Returns the weights' build, or ``None``."""
    p = Path(path)
    built = None
    if weights is not None:
        built = build_trained(graph, name, weights)
        p.parent.mkdir(parents=True, exist_ok=True)
        built.model.save_weights(p.with_name(weights_name(p)))
    write_atomic(p, python_code(graph, name, weights_name(p) if built is not None else None))
    return built


def _doc_text(text: str) -> str:
    """``text`` as it may stand in the script's docstring: quoted, with nothing that could end it."""
    return json.dumps(str(text), ensure_ascii=True)  # escapes every quote: no \"\"\" can close the docstring


class _Source(str):
    """Python source written as it is: a variable name, a constant's constructor call."""


def _constant(doc: dict) -> _Source:
    """The source that rebuilds a Keras-serialized constant of an operation call (a slice, an array...)."""
    return _Source(f"keras.saving.deserialize_keras_object({_lit(doc, objects=False)})")


def _variable(name: str, taken: set[str]) -> str:
    """A Python name for layer ``name``: only characters a name may hold (a file's layer name can be any text)."""
    var = "".join(c if f"_{c}".isidentifier() else "_" for c in name)
    if not var or var[0].isdigit():
        var = f"layer_{var}"
    if keyword.iskeyword(var) or var in RESERVED:
        var = f"{var}_"
    base, k = var, 1
    while var in taken:
        var, k = f"{base}_{k}", k + 1
    return var


def _constructor(node: Node) -> str:
    if spec(node.kind) is None:
        return "keras.saving.deserialize_keras_object"
    return f"keras.layers.{node.kind}"


def _arguments(node: Node) -> list[str]:
    """``key=value`` texts of the layer's arguments that differ from Keras's defaults."""
    layer = make_layer(node)
    if spec(node.kind) is None:
        return [_lit(keras.saving.serialize_keras_object(layer), objects=False)]
    cfg = layer.get_config()
    catalog = spec(node.kind).params.names()
    keys = [k for k in catalog if k in cfg] + [k for k in cfg if k not in catalog and k != "name"]
    chosen = set(_required(node.kind))
    # Some defaults follow other arguments (pooling strides default to pool_size), so
    # rebuild from the chosen arguments until the rebuilt config is the node's.
    while True:
        rebuilt = type(layer)(**{k: cfg[k] for k in chosen}).get_config()
        differ = {k for k in keys if k not in chosen and _plain(rebuilt.get(k, _MISSING)) != _plain(cfg[k])}
        if not differ:
            break
        chosen |= differ
    return [f"{k}={_lit(cfg[k])}" for k in keys if k in chosen] + [f"name={_lit(keras_name(node))}"]


@lru_cache(maxsize=None)
def _required(kind: str) -> tuple[str, ...]:
    """The constructor arguments of ``keras.layers.<kind>`` that have no default."""
    sig = inspect.signature(getattr(keras.layers, kind).__init__)
    return tuple(n for n, p in sig.parameters.items() if n != "self" and p.default is inspect.Parameter.empty
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _plain(v: Any) -> Any:
    """``v`` with tuples as lists, for comparing configs."""
    return v if v is _MISSING else json.loads(json.dumps(v, default=str))


def _call(prefix: str, args: list[str], suffix: str) -> str:
    line = f"{prefix}({', '.join(args)}){suffix}"
    if len(line) <= MAX_LINE or len(args) < 2:
        return line
    inner = "".join(f"    {a},\n" for a in args)
    return f"{prefix}(\n{inner}){suffix}"


def _seq(vars_: list[str]) -> str:
    return vars_[0] if len(vars_) == 1 else f"[{', '.join(vars_)}]"


def _lit(v: Any, objects: bool = True) -> str:
    """Python source for a config value; Keras objects as constructor calls when ``objects``."""
    if isinstance(v, _Source):
        return str(v)
    if isinstance(v, bool) or v is None or isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else f'float("{v}")'
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, tuple):
        items = [_lit(x, objects) for x in v]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(v, list):
        return f"[{', '.join(_lit(x, objects) for x in v)}]"
    if isinstance(v, dict):
        call = _object_call(v) if objects else None
        if call is not None:
            return call
        return "{" + ", ".join(f"{_lit(k, objects)}: {_lit(x, objects)}" for k, x in v.items()) + "}"
    raise BuildError(f"cannot write {type(v).__name__} value {v!r} as Python")


def _object_call(doc: dict) -> str | None:
    """``keras.initializers.HeNormal(seed=None)`` for a serialized Keras object, or ``None``."""
    if set(doc) - {"module", "class_name", "config", "registered_name"} or doc.get("module") not in OBJECT_MODULES:
        return None
    cfg = doc.get("config")
    if doc.get("registered_name") is not None or not isinstance(cfg, dict) or not all(
            isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k) for k in cfg):
        return None
    # the class name is written as code: it must name a class of that module, nothing else a file could put there
    if not isinstance(getattr(importlib.import_module(doc["module"]), str(doc["class_name"]), None), type):
        return None
    return f"{doc['module']}.{doc['class_name']}({', '.join(f'{k}={_lit(x)}' for k, x in cfg.items())})"


__all__ = ["python_code", "save_keras", "save_python", "weights_name"]
