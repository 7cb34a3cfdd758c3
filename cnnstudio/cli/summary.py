"""``cnnstudio summary PATH [--json]``: per-layer shapes, parameters, receptive fields and FLOPs.

PATH is a project (``.cnnproj``), a ``.keras`` or ``.h5`` model, or a Keras JSON architecture.
Projects are summarised by the core inference alone, without loading TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnstudio.core.graph import LayerGraph, Node
from cnnstudio.core.inference import GraphInference, infer
from cnnstudio.core.project import FORMAT, SUFFIX, Project, ProjectError, load_project

from . import CLIError, add_trust_code, untrusted
from .quiet import tensorflow_chatter_hidden


def register(subparsers) -> None:
    """Add the ``summary`` subcommand."""
    p = subparsers.add_parser("summary", help="per-layer shapes, parameters, receptive fields and FLOPs",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("path", help="project (.cnnproj), .keras, .h5 or Keras JSON file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_trust_code(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """Print the summary of ``args.path``."""
    project = load_any(args.path, args.trust_code)
    report = summarise(project.graph, project.name)
    print(json.dumps(report, indent=1) if args.json else table(report))
    return 0


def load_any(path: str | Path, trust_code: bool = False) -> Project:
    """A project from a project file or a Keras model file; bad input raises :class:`CLIError`.

    ``trust_code`` lets Python code in a model file run (see :func:`~cnnstudio.ml.model.keras_io.load_model_file`).
    """
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{p}: no such file")
    try:
        if p.suffix.lower() == SUFFIX or _is_project_json(p):
            return load_project(p)
    except ProjectError as exc:
        raise CLIError(str(exc)) from None
    with tensorflow_chatter_hidden():
        from cnnstudio.ml.model.keras_io import UntrustedCodeError, project_from_file  # loads TensorFlow: only for Keras files

        try:
            return project_from_file(p, trust_code)
        except UntrustedCodeError as exc:
            raise untrusted(exc) from None
        except (ValueError, OSError) as exc:  # ModelImportError and the odd Keras error that slips past it
            raise CLIError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def _is_project_json(p: Path) -> bool:
    """True for a ``.json`` file holding a cnnstudio project (corrupt JSON raises CLIError)."""
    if p.suffix.lower() != ".json":
        return False
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, OSError, RecursionError):  # not a project: the Keras loader says what it is
        return False
    except json.JSONDecodeError as exc:
        raise CLIError(f"{p} is corrupt or truncated JSON (error at line {exc.lineno}, column {exc.colno})") from None
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def layer_class(node: Node) -> str:
    """The Keras class name of a node (a generic node's saved class; an operation's kind, e.g. ``Add (op)``)."""
    if node.is_operation or not node.generic:
        return node.kind
    return node.extra.get("layer", {}).get("class_name", node.kind)


def summarise(graph: LayerGraph, name: str, inference: GraphInference | None = None) -> dict[str, Any]:
    """The summary as JSON-ready data: totals and one entry per layer, in topological order."""
    inference = infer(graph) if inference is None else inference
    layers = []
    for nid in graph.topological_order():
        node, info = graph.nodes[nid], inference[nid]
        layers.append({
            "name": node.name,
            "class": layer_class(node),
            "output_shape": None if info.output_shape is None else [None, *info.output_shape],
            "params": info.params,
            "trainable_params": info.trainable,
            "receptive_field": info.receptive_field.to_json() if info.receptive_field else None,
            "receptive_field_note": None if info.receptive_field or not info.ok else info.rf_note or None,
            "flops": info.flops,
            "error": info.error,
        })
    return {
        "name": name,
        "total_params": inference.total_params,
        "trainable_params": inference.trainable_params,
        "non_trainable_params": inference.total_params - inference.trainable_params,
        "total_flops": inference.total_flops,
        "layers": layers,
    }


def compact(n: int) -> str:
    """``7730941952`` -> ``'7.73G'``."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _shape_text(shape: list | None) -> str:
    return "-" if shape is None else "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _rf_text(rf: dict | None, note: str | None) -> str:
    if rf is None:
        return f"- ({note})" if note else "-"
    def axes(v):
        return str(v[0]) if len(set(v)) == 1 else "x".join(map(str, v))
    return f"{'x'.join(map(str, rf['size']))}, s{axes(rf['stride'])}, p{axes(rf['padding'])}"


def table(report: dict[str, Any]) -> str:
    """A readable, aligned text table of a :func:`summarise` report, with totals."""
    head = ("Layer (class)", "Output shape", "Params", "Receptive field", "FLOPs")
    rows = [(f"{r['name']} ({r['class']})", _shape_text(r["output_shape"]), f"{r['params']:,}",
             _rf_text(r["receptive_field"], r["receptive_field_note"]), compact(r["flops"])) for r in report["layers"]]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    right = (False, False, True, False, True)

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()
    rule = "-" * len(line(head))
    out = [f"Model: {report['name']}", rule, line(head), rule, *map(line, rows), rule,
           f"Total params: {report['total_params']:,}  (trainable {report['trainable_params']:,}, "
           f"non-trainable {report['non_trainable_params']:,})",
           f"FLOPs per sample: {compact(report['total_flops'])}  (multiply-adds count 2)",
           "Receptive field: size in input pixels, s = effective stride, p = effective padding"]
    errors = [f"  {r['name']}: {r['error']}" for r in report["layers"] if r["error"]]
    if errors:
        out += ["Errors:", *errors]
    return "\n".join(out)
