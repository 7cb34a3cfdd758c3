"""Deploy a trained model: SavedModel, TFLite float32 and int8, ONNX, each checked before it lands.

:func:`export_deployment` builds the project's graph for inference (augmentation layers
dropped: they are identity at inference) with its trained weights (:mod:`.weights`),
converts it in a staging folder beside the output, loads the result in its own runtime and
compares it with Keras (:mod:`.deploy_check`), writes the metadata beside it (input shape
and dtype, preprocessing, class names, format, opset, where the weights came from, the
check's figures) and labels for TFLite, and only then moves everything into place. An export
that fails its check leaves nothing behind and replaces nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import cnnstudio
from cnnstudio.core.catalog import spec
from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.settings import Preprocessing

from cnnstudio.ml.model.deploy_check import CheckRow, LiteRuntime, verify
from cnnstudio.ml.model.deploy_data import DeployJob, Samples
from cnnstudio.ml.model.deploy_formats import ONNX_OPSET, DeployFormat, deploy_format, existing_outputs, install_hint, labels_path, \
    metadata_path, outputs
from cnnstudio.ml.data.preprocess import input_shape
from cnnstudio.ml.model.weights import TrainedModel, build_trained


class DeployError(ValueError):
    """An export that cannot be made or failed its check; the message is for a person."""


class OutputExists(DeployError):
    """The output is already there and replacing it was not asked for."""


class VerificationFailed(DeployError):
    """The artefact differs from Keras beyond tolerance; ``row`` has the figures."""

    def __init__(self, message: str, row: CheckRow) -> None:
        super().__init__(message)
        self.row = row


@dataclass
class DeployResult:
    """A finished export: the files written and the check that let them through."""

    format: DeployFormat
    paths: list[Path]
    row: CheckRow
    weights: str  # where the trained weights came from, in words
    dropped: list[str] = field(default_factory=list)  # augmentation layers left out
    samples: str = ""

    def describe(self) -> str:
        """A few lines for a person: what was written, from which weights, checked on what."""
        lines = ["wrote:", *(f"  {p}" for p in self.paths), self.weights,
                 f"checked in {self.row.runtime} on {self.samples}"]
        if self.dropped:
            lines.append(f"augmentation layers left out (identity at inference): {', '.join(self.dropped)}")
        return "\n".join(lines)


def inference_graph(graph: LayerGraph) -> tuple[LayerGraph, list[str]]:
    """A copy of ``graph`` without its augmentation layers (Random*), each consumer fed by what
    fed the layer; and the names of the layers dropped."""
    g = LayerGraph.from_dict(graph.to_dict())
    dropped = []
    for node in [n for n in g.nodes.values() if spec(n.kind) is not None and spec(n.kind).group == "Augmentation"]:
        feeds = g.inputs_of(node.id)
        consumers = [(e.dst, e.port) for e in g.out_edges(node.id)]
        explicit = g.output_ids
        g.remove_node(node.id)
        if feeds:
            for dst, port in consumers:
                g.add_edge(feeds[0], dst, port, check=False)
            if explicit is not None:
                g.set_outputs([feeds[0] if i == node.id else i for i in explicit])
        dropped.append(node.name)
    return g, dropped


def export_deployment(job: DeployJob, fmt_name: str, out: str | Path, samples: Samples, force: bool = False,
                      progress: Callable[[str], None] = lambda text: None) -> DeployResult:
    """Export ``job`` as ``fmt_name`` to ``out`` and check it on ``samples``; raises :class:`DeployError`
    (an :class:`OutputExists` or a :class:`VerificationFailed`) or ``BuildError``."""
    fmt = deploy_format(fmt_name)
    hint = install_hint(fmt)
    if hint:
        raise DeployError(hint)
    if job.weights is None:
        raise DeployError(f"{job.name} has no trained weights (no trained run or weights file): train it first; "
                          f"a deployed {fmt.title} model would give random answers")
    there = existing_outputs(fmt, out)
    if there and not force:
        raise OutputExists(f"{', '.join(map(str, there))} already exist(s): choose another name or replace them")
    if fmt.quantized and samples.calibration is None:
        raise DeployError(f"int8 quantization needs calibration data and has none ({samples.missing}): "
                          "export a project whose dataset can be read, or give calibration data (an .npz file "
                          "with an array x, or a folder of images; --calibration on the command line)")
    progress("Building the model with its trained weights…")
    graph, dropped = inference_graph(job.graph)
    built = build_trained(graph, job.name, job.weights)
    signature = _input_spec(built.model, job.preprocessing, samples)
    staging = _staging_folder(outputs(fmt, out)[0].parent)
    try:
        staged = staging / outputs(fmt, out)[0].name
        progress(f"Converting to {fmt.title}…")
        extra = convert(fmt, built.model, staged, signature, samples.calibration)
        progress(f"Checking the export in {fmt.runtime} on {len(samples.check)} inputs…")
        try:
            row = verify(built.model, {fmt: staged}, samples.check)[0]
        except Exception as exc:  # tf2onnx writes what it cannot convert as ops no runtime knows: loading fails
            raise DeployError(conversion_problem(fmt, built.model, exc)) from None
        row.path = str(outputs(fmt, out)[0])
        if not row.passed:
            raise VerificationFailed(f"{fmt.title} export failed its check and was not written: {row.problem}", row)
        _write_sidecars(fmt, staged, job, built, dropped, samples, signature, extra, row)
        paths = _move_into_place(staging, fmt, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return DeployResult(fmt, paths, row, built.describe(), dropped, samples.source)


def _input_spec(model, preprocessing: Preprocessing, samples: Samples):
    """The one input's ``tf.TensorSpec`` (batch free; a free image size fixed by the preprocessing)."""
    import tensorflow as tf

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DeployError(f"deploy exports take a model with one input and one output; this one has "
                          f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s)")
    shape = list(model.inputs[0].shape[1:])
    if None in shape and len(shape) == 3:
        shape = [s if s is not None else p for s, p in zip(shape, input_shape(preprocessing))]
    if None in shape:
        raise DeployError(f"the input shape {tuple(shape)} has free sizes: set them on the Input layer")
    if tuple(samples.check.shape[1:]) != tuple(shape):
        raise DeployError(f"the data gives inputs of {'x'.join(map(str, samples.check.shape[1:]))}, the model "
                          f"takes {'x'.join(map(str, shape))}: check the preprocessing size and colour")
    return tf.TensorSpec([None, *shape], tf.float32, name=model.inputs[0].name)


def convert(fmt: DeployFormat, model, path: Path, signature, calibration: np.ndarray | None) -> dict:
    """Write ``model`` as ``fmt`` at ``path``; returns format facts for the metadata (opset...).
    A converter's failure becomes a :class:`DeployError` naming the layers it mentions."""
    try:
        with warnings.catch_warnings():  # Keras's tf2onnx patch and the TFLite converter warn about NumPy 2
            warnings.simplefilter("ignore", FutureWarning)
            if fmt.name == "savedmodel":
                model.export(str(path), format="tf_saved_model", input_signature=[signature], verbose=False)
                return {}
            if fmt.name == "onnx":
                model.export(str(path), format="onnx", input_signature=[signature], opset_version=ONNX_OPSET,
                             verbose=False)
                return {"opset": ONNX_OPSET}
            path.write_bytes(_tflite_bytes(model, signature, calibration if fmt.quantized else None))
            return {}
    except Exception as exc:  # converters raise anything from ValueError to ConverterError
        raise DeployError(conversion_problem(fmt, model, exc)) from None


def _tflite_bytes(model, signature, calibration: np.ndarray | None) -> bytes:
    """The TFLite flatbuffer, from a SavedModel (the same ``serve`` graph as the SavedModel export);
    with ``calibration``, full-integer: int8 weights, activations, input and output."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="cnnstudio-tflite-") as tmp:
        model.export(tmp, format="tf_saved_model", input_signature=[signature], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if calibration is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x[None]] for x in calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        return converter.convert()


def conversion_problem(fmt: DeployFormat, model, exc: Exception) -> str:
    """What went wrong, naming the model's layers the converter's (or runtime's) message mentions.

    TensorFlow names ops by scope, ``model_1/warp_1/erfinv/Erfinv``: a layer is mentioned when
    its name stands between separators there, with or without the ``_1`` scopes get.
    """
    text = str(exc)
    named = [f"{layer.name} ({type(layer).__name__})" for layer in model.layers[1:]
             if re.search(rf"(?<![\w]){re.escape(layer.name)}(?:_\d+)?(?![\w])", text)]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()] or [type(exc).__name__]
    line = next((ln for ln in lines if "error" in ln.lower()), lines[0])
    detail = re.split(r"error:?\s*", line, flags=re.IGNORECASE)[-1] or line  # the words after the last "error"
    detail = re.sub(r"^loc\(.*\)\s*:\s*", "", detail) or detail  # MLIR's op location: the layer is named above
    if named:
        return f"{fmt.title} cannot represent layer(s) {', '.join(named)}: {detail[:300]}"
    return f"{fmt.title} conversion failed ({type(exc).__name__}): {detail[:300]}"


def _staging_folder(parent: Path) -> Path:
    """A fresh folder beside the output (same file system: the final moves are renames)."""
    if parent.exists() and not parent.is_dir():
        raise DeployError(f"cannot write to {parent}: it is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".cnnstudio-export-", dir=parent))
    except OSError as exc:
        raise DeployError(f"cannot write to {parent}: {exc.strerror or exc}") from None


def _write_sidecars(fmt: DeployFormat, staged: Path, job: DeployJob, built: TrainedModel, dropped: list[str],
                    samples: Samples, signature, extra: dict, row: CheckRow) -> None:
    out_units = int(built.model.outputs[0].shape[-1])
    classes = list(job.classes) if len(job.classes) == out_units else [str(i) for i in range(out_units)]
    io = LiteRuntime(staged).io() if fmt.name.startswith("tflite") else {
        "input": {"dtype": "float32"}, "output": {"dtype": "float32"}}
    meta = {
        "format": fmt.name, "title": fmt.title, "file": staged.name,
        "exported_by": f"cnnstudio {cnnstudio.__version__}", "model": job.name,
        "input": {"name": signature.name, "shape": list(signature.shape), **io["input"]},
        "output": {"shape": list(built.model.outputs[0].shape), **io["output"]},
        "preprocessing": job.preprocessing.to_dict(), "classes": classes, **extra,
        "weights": str(built.source), "weights_note": built.describe(), "dropped_layers": dropped,
        "samples": samples.source, "verification": row.as_dict(),
    }
    metadata_path(staged).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    if fmt.labels:
        labels_path(staged).write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")


def _move_into_place(staging: Path, fmt: DeployFormat, out: str | Path) -> list[Path]:
    """Move the staged files to their final paths, replacing what is there (the caller asked)."""
    final = outputs(fmt, out)
    for target in final:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        (staging / target.name).rename(target)
    return final


__all__ = ["DeployError", "DeployResult", "OutputExists", "VerificationFailed", "convert",
           "conversion_problem", "export_deployment", "inference_graph"]
