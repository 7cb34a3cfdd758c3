"""Keras models -> graphs: ``.keras``, ``.h5`` and Keras JSON files, ``keras.applications``.

A layer whose kind the catalog describes becomes a catalog node: its catalog parameters
come from ``layer.get_config()`` and every other config entry (initializers, regularizers,
dtype, trainable...) is kept in ``node.extra["config"]``, so
:func:`cnnstudio.ml.model.builder.build_model` rebuilds the same configuration. Any other layer
(or a catalog kind whose config the catalog cannot express, e.g. ``channels_first``)
becomes a generic node that keeps its serialized layer and the shape and parameter counts
Keras reported, so inference works later without TensorFlow. A raw Keras operation between
layers (``x + 3.0``) becomes a generic node too, one that keeps its call (:mod:`.operations`).
A nested model (a backbone called as a layer) becomes its layers in a group
(:mod:`cnnstudio.core.groups`) named after it, to any depth; a layer whose name another layer
already has is renamed in the graph and keeps its Keras name (``extra["keras_name"]``).
"""

from __future__ import annotations

import inspect
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnstudio.core.catalog import spec
from cnnstudio.core.doc_schema import DocError, check_keras_doc
from cnnstudio.core.graph import LayerGraph, Node
from cnnstudio.core.groups import Group
from cnnstudio.core.inference import NodeInfo, infer_node
from cnnstudio.core.layout import lay_out
from cnnstudio.core.params import ParamError
from cnnstudio.core.project import Project, user_data_dir

from cnnstudio.ml.model import pretrained, trust
from cnnstudio.ml.model.builder import call_arguments, make_layer
from cnnstudio.ml.model.keras_diagnosis import catalog_culprit
from cnnstudio.ml.model.legacy_h5 import readable_copy
from cnnstudio.ml.model.operations import merge_kind, operation_kind, read_call

JSON_SUFFIXES = (".json",)
H5_SUFFIXES = (".h5", ".hdf5")


class ModelImportError(ValueError):
    """A model file or architecture that cannot be imported; the message is one line for a person."""


class UntrustedCodeError(ModelImportError):
    """The file holds Python code (``what``, e.g. ``'a Lambda layer "x"'``) that would run on loading."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path} holds Python code ({what}) that runs when the model is loaded: refused")
        self.path, self.what = path, what


def keras_fallback(node: Node, input_shapes: list) -> tuple[tuple, int, int]:
    """Output shape and (trainable, non-trainable) parameters of a generic node, from Keras."""
    inputs = [keras.Input(shape=tuple(s)) for s in input_shapes]
    layer = make_layer(node)
    args, kwargs = call_arguments(node, inputs)
    out = layer(*args, **kwargs)
    return (tuple(out.shape[1:]),) + weight_counts(layer)


def weight_counts(layer: keras.layers.Layer | keras.Operation) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts of a built layer (an operation has none)."""
    def count(ws):
        return sum(int(np.prod(w.shape)) for w in ws)
    return count(getattr(layer, "trainable_weights", ())), count(getattr(layer, "non_trainable_weights", ()))


# -- files ----------------------------------------------------------------------------

def load_model_file(path: str | Path, trust_code: bool = False) -> keras.Model:
    """A ``keras.Model`` from a ``.keras``, ``.h5`` (full model) or Keras JSON architecture file.

    Models are loaded without their compile state. Python code in the file (a ``Lambda``
    layer...) is refused with :class:`UntrustedCodeError` unless ``trust_code`` or the user
    agreed to that same code earlier in this session (:mod:`cnnstudio.ml.model.trust`). Raises
    :class:`ModelImportError`.
    """
    p = Path(path)
    kind = _file_kind(p)
    if kind == "h5":
        return _load_h5(p, trust_code)
    if kind == "keras":
        config = _zip_config(p)
        safe = _code_check(p, config, trust_code)
        return _trusted(_keras_call(keras.saving.load_model, p, config, p, compile=False, safe_mode=safe), safe)
    if kind == "json":
        return _load_json(p, trust_code)
    kinds = {".keras": "not a .keras file (not a zip archive)", ".h5": "not an HDF5 file", ".hdf5": "not an HDF5 file"}
    raise ModelImportError(f"{p}: {kinds.get(p.suffix.lower(), 'not a Keras model file (.keras, .h5 or JSON)')}")


def _file_kind(p: Path) -> str | None:
    """``'h5'``, ``'keras'`` (zip), ``'json'`` or ``None``, from the file's first bytes."""
    if not p.is_file():
        raise ModelImportError(f"{p}: no such file")
    with open(p, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if zipfile.is_zipfile(p):
        return "keras"
    if p.suffix.lower() in JSON_SUFFIXES or head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return None


def _load_h5(p: Path, trust_code: bool) -> keras.Model:
    import h5py

    try:
        with h5py.File(p, "r") as f:
            config = f.attrs.get("model_config")
    except OSError as exc:
        raise ModelImportError(f"{p}: not a readable HDF5 file ({exc})") from None
    if config is None:
        raise ModelImportError(f"{p} holds only weights, no model architecture: open the full model file instead")
    config = _json_or_none(config)
    safe = _code_check(p, config, trust_code)
    with readable_copy(p) as readable:  # a Keras 2 config Keras 3 cannot read is rewritten first
        # no config to diagnose with: Keras reads the rewritten one, and a Keras 2 value in the
        # original could be blamed for what the rewrite fixed
        return _trusted(_keras_call(keras.saving.load_model, p, None, readable, compile=False, safe_mode=safe), safe)


def _zip_config(p: Path) -> Any:
    """The architecture (``config.json``) of a ``.keras`` archive, or ``None`` (Keras then says what is wrong)."""
    try:
        with zipfile.ZipFile(p) as z:
            return _json_or_none(z.read("config.json"))
    except (KeyError, OSError, zipfile.BadZipFile):
        return None


def _json_or_none(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):  # RecursionError: nested deeper than Python recurses
        return None


def _code_check(p: Path, config: Any, trust_code: bool) -> bool:
    """Keras's ``safe_mode`` for loading ``config``: True when it holds no code; False when its
    code is trusted (``trust_code`` records that); raises :class:`UntrustedCodeError` otherwise."""
    if config is not None:
        try:
            check_keras_doc(config)
        except DocError as exc:
            raise ModelImportError(f"{p}: {exc}") from None
    codes = trust.code_in(config)
    if codes and trust_code:
        trust.allow(codes)
    refused = trust.untrusted(codes)
    if refused:
        raise UntrustedCodeError(p, trust.describe(refused))
    return not codes


def _trusted(model: keras.Model, safe: bool) -> keras.Model:
    """``model``; once code was let run to build it, its layers' code as Keras writes it again
    (a checkpoint, a generic node) is the same agreement (bytecode may serialise differently)."""
    if not safe:
        trust.allow(trust.code_in([keras.saving.serialize_keras_object(layer) for layer in model.layers]))
    return model


def _load_json(p: Path, trust_code: bool) -> keras.Model:
    try:
        text = p.read_text(encoding="utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise ModelImportError(f"{p}: not a text file") from None
    except json.JSONDecodeError as exc:
        raise ModelImportError(f"{p} is corrupt or truncated JSON (error at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ModelImportError(f"{p} is nested too deeply to be a Keras model") from None
    if not isinstance(doc, dict) or "class_name" not in doc or "config" not in doc:
        raise ModelImportError(f"{p} is JSON but not a Keras model architecture (model.to_json())")
    safe = _code_check(p, doc, trust_code)
    # what keras.models.model_from_json does, with safe_mode said
    return _trusted(_keras_call(keras.saving.deserialize_keras_object, p, doc, doc, safe_mode=safe), safe)


#: Keras's words for a class it cannot find; the class may carry a module ("keras.layers.Foo") or package ("mine>Foo").
_UNKNOWN_CLASS = re.compile(r"(?:locate class|deserialize|Unknown layer:?|Unknown object:?)\s*'(?:[\w.>]*[.>])?(\w+)'")


def _keras_call(fn, p: Path, config: Any, *args, **kwargs) -> keras.Model:
    """Call a Keras loader of the architecture ``config``, turning whatever it raises into one
    clear line: the catalog's word on a layer value it refuses too, else Keras's first line."""
    try:
        model = fn(*args, **kwargs)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError...
        msg = str(exc)
        m = _UNKNOWN_CLASS.search(msg)
        if m:
            raise ModelImportError(f"{p}: unknown layer class '{m.group(1)}'") from None
        culprit = catalog_culprit(config)
        if culprit:
            raise ModelImportError(f"{p}: {culprit}") from None
        raise ModelImportError(f"{p}: cannot load the model: {first_line(msg) or type(exc).__name__}") from None
    if not isinstance(model, keras.Model):
        raise ModelImportError(f"{p} does not hold a Keras model")
    return model


def first_line(msg: str) -> str:
    """The first non-blank line of an error message (at most 300 characters), or ``""``."""
    return next((line.strip() for line in msg.splitlines() if line.strip()), "")[:300]


# -- model -> graph -------------------------------------------------------------------

def graph_from_model(model: keras.Model) -> LayerGraph:
    """A laid-out :class:`LayerGraph` with ``model``'s layers, wiring and configuration.

    Functional models (branches and merges included) and Sequential models are read, and
    a nested model becomes its layers in a group, collapsed. Raises :class:`ModelImportError`
    for models the graph cannot express (shared layers, layers with several outputs).
    """
    try:
        model.input_shape
    except (AttributeError, ValueError):
        raise ModelImportError(f"model {model.name!r} has no input shape yet: build it or give it an Input") from None
    graph = LayerGraph()
    sources: dict[str, keras.Operation] = {}  # node id -> the Keras layer it was read from
    graph.set_outputs(_read_model(model, graph, sources))
    _check_against_keras(graph, sources)
    lay_out(graph)
    return graph


def _read_model(model: keras.Model, graph: LayerGraph, sources: dict, feeds: list[str] | None = None,
                group: str | None = None) -> list[str]:
    """Read ``model``'s layers into ``graph`` (into ``group``); returns the ids of its output nodes.

    ``feeds`` are the nodes a nested model's inputs take, in order; the outermost model
    (``feeds=None``) makes its InputLayer nodes.
    """
    if isinstance(model, keras.Sequential):
        return _read_sequential(model, graph, sources, feeds, group)
    return _read_functional(model, graph, sources, feeds, group)


def _read_sequential(model: keras.Sequential, graph: LayerGraph, sources: dict, feeds: list[str] | None,
                     group: str | None) -> list[str]:
    input_shape = model.input_shape
    if isinstance(input_shape, list):
        raise ModelImportError(f"{model.name}: a Sequential model with several inputs cannot be read")
    if feeds is None:
        last = graph.add_node("InputLayer", {"shape": tuple(input_shape[1:])}, name=_sequential_input(model)).id
    else:
        last = feeds[0]
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            last = _read_nested(layer, [last], {}, graph, sources, group)
            continue
        node = _node_for(layer, graph, group)
        sources[node.id] = layer
        graph.add_edge(last, node.id, 0, check=False)
        last = node.id
    return [last]


def _sequential_input(model: keras.Sequential) -> str:
    """The name of a Sequential model's input: its InputLayer's, else ``input``."""
    first = model.get_config()["layers"][0]
    return first["config"]["name"] if first["class_name"] == "InputLayer" else "input"


def _read_functional(model: keras.Model, graph: LayerGraph, sources: dict, feeds: list[str] | None,
                     group: str | None) -> list[str]:
    cfg = model.get_config()
    entries = {entry.get("name") or entry["config"]["name"]: entry for entry in cfg["layers"]}
    layers = {op.name: op for op in model.operations}  # the layers and the raw operations between them
    ids: dict[str, str] = {}
    # the inputs first, in the model's order: the builder hands them to keras.Model in node order
    for k, (name, *_) in enumerate(_histories(cfg["input_layers"], f"{model.name} inputs")):
        if feeds is not None:
            ids[name] = feeds[k]
            continue
        batch_shape = entries[name]["config"].get("batch_shape") or (None,) + tuple(layers[name].output.shape[1:])
        ids[name] = graph.add_node("InputLayer", {"shape": tuple(batch_shape[1:])}, name=name).id
    for name, entry in entries.items():
        nodes = entry.get("inbound_nodes", [])
        if len(nodes) > 1:
            raise ModelImportError(f"layer {name!r} is shared (called {len(nodes)} times): shared layers are not supported")
        if name in ids:
            continue
        layer = layers[name]
        if isinstance(layer, keras.Model):
            call = nodes[0] if nodes else {}
            srcs = _inbound_layers(name, call)
            feeds = [ids[s] for s in srcs if s in ids]
            ids[name] = _read_nested(layer, feeds, call.get("kwargs", {}), graph, sources, group, len(srcs))
            continue
        if isinstance(layer, keras.layers.Layer):
            node = _node_for(layer, graph, group)
            srcs = _inbound_layers(name, nodes[0] if nodes else {})
        else:
            node, srcs = _operation_node(layer, nodes[0], graph, group)
        sources[node.id] = layer
        ids[name] = node.id
        for port, src in enumerate(srcs):
            if src not in ids:
                raise ModelImportError(f"layer {name!r} is fed by {src!r}, which comes later in the model")
            graph.add_edge(ids[src], node.id, port, check=False)
    return [ids[h[0]] for h in _histories(cfg["output_layers"], f"{model.name} outputs")]


def _read_nested(model: keras.Model, feeds: list[str], call: dict, graph: LayerGraph, sources: dict,
                 parent: str | None, n_inputs: int | None = None) -> str:
    """Read a model called as a layer into a new group named after it; returns its output node's id."""
    if model.name in graph.groups:
        raise ModelImportError(f"two nested models are called {model.name!r}: a model called twice is not supported")
    if n_inputs is not None and len(feeds) != n_inputs:
        raise ModelImportError(f"nested model {model.name!r} is fed by a layer that comes later in the model")
    if isinstance(model, keras.Sequential):
        inputs = (_sequential_input(model),)
    else:
        inputs = tuple(h[0] for h in _histories(model.get_config()["input_layers"], f"{model.name} inputs"))
    if len(inputs) != len(feeds):
        raise ModelImportError(f"nested model {model.name!r} takes {len(inputs)} inputs, is given {len(feeds)}")
    plain = {k: v for k, v in call.items() if isinstance(v, (bool, int, float, str))}  # training=False; no mask=None
    graph.add_group(Group(model.name, parent, collapsed=False, inputs=inputs, call=plain,
                          sequential=isinstance(model, keras.Sequential)))
    outs = _read_model(model, graph, sources, feeds, model.name)
    if len(outs) != 1:
        raise ModelImportError(f"nested model {model.name!r} has {len(outs)} outputs; nested models with several "
                               "outputs are not supported")
    return outs[0]


def _histories(value: Any, where: str) -> list[list]:
    """``[layer_name, node_index, tensor_index]`` of every Keras tensor in a config value."""
    out: list = []

    def walk(v):
        if isinstance(v, dict):
            if v.get("class_name") == "__keras_tensor__":
                out.append(v["config"]["keras_history"])
            else:
                for x in v.values():
                    walk(x)
        elif isinstance(v, (list, tuple)):
            if len(v) == 3 and isinstance(v[0], str) and all(isinstance(x, int) for x in v[1:]):
                out.append(list(v))  # output_layers entries are bare histories
            else:
                for x in v:
                    walk(x)
    walk(value)
    for h in out:
        if h[2] != 0:
            raise ModelImportError(f"{where}: output {h[2]} of layer {h[0]!r} is used; layers with several outputs are not supported")
    return out


def _inbound_layers(name: str, node: dict) -> list[str]:
    """Names of the layers feeding one call, in argument order (a merge passes a list)."""
    args = node.get("args", [])
    if len(args) > 1 and _histories(args[1:], name) or _histories(node.get("kwargs", {}), name):
        raise ModelImportError(f"layer {name!r} takes tensors in several arguments; only one input (or one list) is supported")
    return [h[0] for h in _histories(args[:1], f"layer {name!r}")]


def _operation_node(op: keras.Operation, node_data: dict, graph: LayerGraph, group: str | None
                    ) -> tuple[Node, list[str]]:
    """The node for a raw operation's call and the names of the layers feeding it, by port."""
    tensors, call = read_call(node_data)
    histories = [t["keras_history"] for t in tensors]
    for h in histories:
        if h[2] != 0:
            raise ModelImportError(f"operation {op.name!r}: output {h[2]} of layer {h[0]!r} is used; "
                                   "layers with several outputs are not supported")
    kind = merge_kind(type(op).__name__, call, [t["shape"] for t in tensors])
    if kind:
        name, extra = _free_name(graph, op.name)
        node = graph.add_node(kind, name=name, extra=extra)
        graph.set_group(node.id, group)
    else:
        node = _generic_node(op, graph, group, call=call)
    return node, [h[0] for h in histories]


def _free_name(graph: LayerGraph, name: str) -> tuple[str, dict]:
    """A graph name for the Keras layer ``name`` (a nested model's layer may share it with
    another), and the extra config keeping the Keras name when the graph's differs."""
    if graph.by_name(name) is None:
        return name, {}
    return graph.unique_name(name), {"keras_name": name}


def _node_for(layer: keras.layers.Layer, graph: LayerGraph, group: str | None) -> Node:
    """A catalog node for ``layer`` where the catalog can express its config, else a generic one."""
    parts = catalog_parts(layer)
    if parts is not None:
        kind, params, extra_cfg = parts
        name, extra = _free_name(graph, layer.name)
        node = graph.add_node(kind, params, name=name, extra={"config": extra_cfg, **extra})
        graph.set_group(node.id, group)
        node.frozen = not layer.trainable
    else:
        node = _generic_node(layer, graph, group)
    return node


def catalog_parts(layer: keras.layers.Layer) -> tuple[str, dict, dict] | None:
    """``(kind, params, other config)`` for a layer of a catalog kind, or ``None``.

    ``None`` when the layer is not Keras's own class of that name, or when its config uses
    something the catalog cannot express (``channels_first``, an activation outside the
    catalog's list, a list where the catalog has one number...). Keras 2 argument names
    (LeakyReLU's ``alpha``) are already Keras 3 names here: Keras renames them on loading.
    """
    kind = type(layer).__name__
    sp = spec(kind)
    if sp is None or sp.inputs == 0 or getattr(keras.layers, kind, None) is not type(layer):
        return None
    cfg = layer.get_config()
    if cfg.get("data_format", "channels_last") != "channels_last":
        return None
    names = set(sp.params.names())
    try:
        params = sp.coerce({k: v for k, v in cfg.items() if k in names})
    except ParamError:
        return None
    extra = {k: v for k, v in cfg.items() if k not in names and k not in ("name", "trainable")}  # trainable: Node.frozen
    return kind, params, extra


def _generic_node(layer: keras.layers.Layer | keras.Operation, graph: LayerGraph, group: str | None,
                  node_id: str | None = None, call: dict | None = None, name: str | None = None) -> Node:
    """A generic node for ``layer``, or for an operation and its recorded ``call`` (``node_id`` and
    ``name``: to take the place of the catalog node read for it)."""
    doc = keras.saving.serialize_keras_object(layer)
    frozen = isinstance(layer, keras.layers.Layer) and not layer.trainable
    if isinstance(doc.get("config"), dict):
        doc["config"].pop("trainable", None)  # kept as Node.frozen
    kind = type(layer).__name__
    extra: dict[str, Any] = {"layer": doc}
    if call is not None:
        kind, extra["call"] = operation_kind(kind), call
    elif spec(kind) is not None:  # a catalog name the catalog cannot express here: keep it apart
        kind = f"{doc.get('module') or 'keras.layers'}.{kind}"
    if name is None:
        name, renamed = _free_name(graph, layer.name)
        extra.update(renamed)
    elif name != layer.name:
        extra["keras_name"] = layer.name
    node = Node(node_id or graph.new_id(), kind, name, {}, extra=json.loads(json.dumps(extra, default=_jsonable)),
                group=group)
    node.known_shape = _output_shape(layer)
    node.frozen = frozen
    node.known_params = _unfrozen_counts(layer) if frozen else weight_counts(layer)
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    node.known_inputs = tuple(_shape(t) for t in inputs)
    if node_id is None:
        graph.insert_node(node)
    return node


def _unfrozen_counts(layer: keras.layers.Layer) -> tuple[int, int]:
    """``layer``'s (trainable, non-trainable) counts were it not frozen: the node keeps those and
    inference moves them all to non-trainable while it is frozen, so unfreezing it counts right."""
    layer.trainable = True
    try:
        return weight_counts(layer)
    finally:
        layer.trainable = False


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot store {type(v).__name__} in a project")


def _output_shape(layer: keras.layers.Layer | keras.Operation) -> tuple:
    out = layer.output
    if isinstance(out, (list, tuple)):
        raise ModelImportError(f"layer {layer.name!r} has several outputs; such layers are not supported")
    return _shape(out)


def _fits(keras_shape: tuple, shape: tuple | None) -> bool:
    """True if ``shape`` is ``keras_shape`` with its open (``None``) sizes filled in."""
    return shape is not None and len(shape) == len(keras_shape) and all(
        k is None or k == s for k, s in zip(keras_shape, shape))


def _shape(tensor) -> tuple:
    """A symbolic tensor's shape without the batch axis, as plain ints (None: any size)."""
    return tuple(None if d is None else int(d) for d in tensor.shape[1:])


def _check_against_keras(graph: LayerGraph, sources: dict[str, keras.Operation]) -> None:
    """Make any catalog node whose inferred shape or parameters differ from Keras's generic.

    The catalog's arithmetic is tested against Keras; this keeps an import faithful even
    for a configuration those tests never met. A size Keras leaves open (a backbone built for
    any image size, called on a fixed one) fits any size.
    """
    infos: dict[str, NodeInfo] = {}
    for nid in graph.topological_order():
        node = graph.nodes[nid]
        ins = [infos[s] for s in graph.inputs_of(nid)]
        info = infer_node(node, ins)
        layer = sources.get(nid)
        if layer is not None and not node.generic and node.kind != "InputLayer":
            want = _output_shape(layer)
            if not info.ok or not _fits(want, info.output_shape) or (info.trainable, info.non_trainable) != weight_counts(layer):
                node = _generic_node(layer, graph, node.group, node_id=nid, name=node.name)
                graph.replace_node(node)
                info = infer_node(node, ins)
        infos[nid] = info


# -- projects -------------------------------------------------------------------------

def project_from_model(model: keras.Model, name: str) -> Project:
    """A new, unsaved project around ``model``'s architecture.

    Preprocessing takes the input size and colour from an image-shaped input, and the scaling
    and class names from the network's family (:mod:`cnnstudio.ml.model.pretrained`).
    """
    project = Project(graph=graph_from_model(model), name=name)
    inputs = project.graph.input_nodes()
    if len(inputs) == 1:
        shape = inputs[0].params["shape"]
        if len(shape) == 3 and shape[2] in (1, 3) and shape[0] and shape[1]:
            project.set_settings("preprocessing", {"size": shape[:2], "color": "grey" if shape[2] == 1 else "rgb"})
    pretrained.set_up(project, model)
    return project


def project_from_file(path: str | Path, trust_code: bool = False) -> Project:
    """A new, unsaved project from a ``.keras``, ``.h5`` or Keras JSON file (named after the file).

    A ``.keras`` or ``.h5`` file carries weights: the project points at it (``weights_file``)
    so probing and live views use the trained model, not random weights. ``trust_code``: as
    for :func:`load_model_file`.
    """
    path = Path(path)
    project = project_from_model(load_model_file(path, trust_code), path.stem)
    if _file_kind(path) in ("h5", "keras"):
        project.weights_file = str(path.resolve())
    return project


def application_names() -> list[str]:
    """The ``keras.applications`` constructors, e.g. ``['ConvNeXtBase', ..., 'Xception']``."""
    return sorted(n for n, obj in vars(keras.applications).items()
                  if n[:1].isupper() and inspect.isfunction(obj))


def project_from_application(name: str, weights: str | None = None, input_shape: tuple | None = None,
                             classes: int = 1000, include_top: bool = True) -> Project:
    """A project with the ``keras.applications`` architecture ``name``.

    ``weights=None`` works offline; ``weights="imagenet"`` downloads the weights (once) and
    fails with a clear message when that is not possible.
    """
    model = build_application(name, weights, input_shape, classes, include_top)
    project = project_from_model(model, name)
    if weights is not None:  # keep the downloaded weights with the architecture
        project.weights_file = str(keep_weights(model, name, weights))
    return project


def build_application(name: str, weights: str | None = None, input_shape: tuple | None = None,
                      classes: int = 1000, include_top: bool = True) -> keras.Model:
    """The ``keras.applications`` model ``name``; raises :class:`ModelImportError`, in one line
    that says so when the weights cannot be downloaded (offline)."""
    if name not in application_names():
        raise ModelImportError(f"keras.applications has no {name!r}")
    kwargs: dict[str, Any] = {"weights": weights, "include_top": include_top}
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    if include_top:
        kwargs["classes"] = classes
    try:
        return getattr(keras.applications, name)(**kwargs)
    except Exception as exc:  # a failed download, a bad input_shape / classes combination...
        msg = first_line(str(exc))
        if weights is not None and ("URL fetch failure" in msg or "http" in msg.lower() or isinstance(exc, OSError)):
            raise ModelImportError(f"cannot download the {weights} weights for {name} (offline?): {msg}") from None
        raise ModelImportError(f"{name}: {msg or type(exc).__name__}") from None


def keep_weights(model: keras.Model, name: str, weights: str, tag: str = "") -> Path:
    """Save a ``keras.applications`` model built with downloaded ``weights`` in the user's data
    folder (``weights/<name>-<weights>[-<tag>].keras``), for projects to point at; returns the path."""
    stem = f"{name}-{Path(str(weights)).stem}" + (f"-{tag}" if tag else "")
    target = user_data_dir() / "weights" / f"{stem}.keras"  # keras.config has no home
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    return target


__all__ = ["ModelImportError", "first_line", "UntrustedCodeError", "application_names", "build_application",
           "catalog_parts", "keep_weights", "graph_from_model", "keras_fallback",
           "load_model_file", "project_from_application", "project_from_file", "project_from_model"]
