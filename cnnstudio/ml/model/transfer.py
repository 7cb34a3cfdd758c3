"""Transfer learning: a new project from a backbone, cut at a layer, frozen, with a new head.

Headless, for the studio's dialog, the Live page's "Train on these" and scripts alike::

    backbone = load_backbone("MobileNetV2", weights="imagenet", input_shape=(96, 96, 3), progress=cb)
    # or load_backbone("runs/20250101-120000/best.keras")
    project = transfer_project(base, backbone, cut=default_cut(backbone.model), head={"dropout": 0.2})
    run_project(project)                      # trains the head from the backbone's weights
    unfreeze_top(project.graph, 2).do()       # cnnstudio.core.transfer: top 2 blocks
    run_project(project, resume=run, fine_tune=0.1)   # the same run goes on at 1/10 the rate

A backbone is any ``keras.applications`` constructor (``weights=None`` or ``"imagenet"``,
which downloads once with progress) or a ``.keras`` / ``.h5`` model file (one this studio
trained too: a run's checkpoint, whose run also says how its input was scaled). The new
project is ``base`` (its dataset, classes and training settings) with the backbone up to the
cut as a nested model (a group in the editor, collapsed to one card), every backbone layer frozen, and :data:`cnnstudio.core.transfer.HEAD`'s layers on top.
Its ``weights_file`` is the backbone's file, so its first run starts from those weights
(:func:`cnnstudio.ml.training.runner.run_project` copies them in by layer name).
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import keras

from cnnstudio.core.project import Project
from cnnstudio.core.transfer import add_head

from cnnstudio.ml.data.datasets import load_dataset
from cnnstudio.ml.model import pretrained
from cnnstudio.ml.model.keras_io import (ModelImportError, application_names, build_application, graph_from_model,
                                         keep_weights, load_model_file)
from cnnstudio.ml.training.runs import SETTINGS, Run, run_preprocessing

#: ``progress(done_bytes, total_bytes)`` while weights download (total 0 when unknown).
Progress = Callable[[int, int], None]
#: Layers whose output ends the spatial part of a network: the classifier starts there.
FLATTENING = (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


class TransferError(ValueError):
    """A backbone or cut that transfer learning cannot use; the message is one line for a person."""


@dataclass
class Backbone:
    """A network to transfer from: the Keras model, the file its weights are in (``None``: random
    initial weights), what it is in words, and the input scaling it was trained with (and why)."""

    model: keras.Model
    weights_file: Path | None
    title: str
    scale: str
    scale_note: str


@dataclass(frozen=True)
class CutPoint:
    """A layer the backbone may be cut after: its output shape, and why not when it may not."""

    name: str
    shape: tuple
    reason: str = ""

    @property
    def ok(self) -> bool:
        """The head can go after this layer (it has a spatial, 4-D output)."""
        return not self.reason


def load_backbone(source: str | Path, weights: str | None = "imagenet", input_shape: tuple | None = None,
                  progress: Progress | None = None, trust_code: bool = False) -> Backbone:
    """The backbone ``source`` names: a ``keras.applications`` constructor (built without its
    classifier at ``input_shape``, with ``weights``), else a model file. Raises
    :class:`~cnnstudio.ml.model.keras_io.ModelImportError` (an offline download says so in one line)."""
    if str(source) in application_names():
        name = str(source)
        with download_progress(progress):
            model = build_application(name, weights, input_shape, include_top=False)
        scale, note = pretrained.preprocessing_mode(model)
        file = keep_weights(model, name, weights, tag=_shape_tag(model)) if weights is not None else None
        return Backbone(model, file, f"{name} ({weights or 'random'} weights)", scale, note)
    path = Path(source)
    model = load_model_file(path, trust_code)
    scale, note = pretrained.preprocessing_mode(model)
    run_dir = path.parent
    if (run_dir / SETTINGS).is_file():  # a studio run's checkpoint: its run says how it was trained
        trained = run_preprocessing(Run(run_dir).settings, None)
        if trained is not None:
            scale, note = trained.scale, f"run {run_dir.name} trained it with {trained.scale!r} scaling"
    return Backbone(model, path.resolve(), path.name, scale, note)


def _shape_tag(model: keras.Model) -> str:
    return "x".join(str(d) for d in model.inputs[0].shape[1:])


@contextlib.contextmanager
def download_progress(progress: Progress | None):
    """While inside, Keras's weight downloads (``keras.utils.get_file``) also report to ``progress``.

    Keras offers no hook: its downloader calls ``urlretrieve`` with a console progress bar,
    so the call is wrapped for the duration. Without that module (another Keras), downloads
    still work, without progress.
    """
    module = importlib.import_module("keras.src.utils.file_utils") if progress is not None else None
    original = getattr(module, "urlretrieve", None)
    if original is None:
        yield
        return

    def retrieve(url, filename=None, reporthook=None, data=None):
        def hook(blocks, block_size, total):
            if reporthook is not None:
                reporthook(blocks, block_size, total)
            progress(min(blocks * block_size, total) if total > 0 else blocks * block_size, max(total, 0))
        return original(url, filename, hook, data)

    module.urlretrieve = retrieve
    try:
        yield
    finally:
        module.urlretrieve = original


def cut_points(model: keras.Model) -> list[CutPoint]:
    """Every layer of ``model`` after the input, in order, with why a cut there is refused: the head
    needs a spatial (4-D, height x width x channels) output to pool."""
    points = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        out = layer.output
        if isinstance(out, (list, tuple)):
            points.append(CutPoint(layer.name, (), "it has several outputs"))
            continue
        shape = tuple(out.shape[1:])
        reason = "" if len(shape) == 3 else (
            f"its output {_fmt(shape)} has no spatial axes: the head pools height x width x channels maps")
        points.append(CutPoint(layer.name, shape, reason))
    return points


def default_cut(model: keras.Model) -> str:
    """The last layer with a spatial output before the classifier (before the first global
    pooling or Flatten after the spatial part). Raises :class:`TransferError` when there is none."""
    points = {p.name: p for p in cut_points(model)}
    best = None
    for layer in model.layers:
        if isinstance(layer, FLATTENING) and best is not None:
            break
        point = points.get(layer.name)
        if point is not None and point.ok:
            best = point.name
    if best is None:
        raise TransferError(f"{model.name} has no layer with a spatial (height x width x channels) output to cut at")
    return best


def check_cut(model: keras.Model, cut: str) -> CutPoint:
    """The cut point called ``cut``; raises :class:`TransferError` with the reason it is refused."""
    point = next((p for p in cut_points(model) if p.name == cut), None)
    if point is None:
        raise TransferError(f"{model.name} has no layer {cut!r} to cut at")
    if not point.ok:
        raise TransferError(f"cannot cut {model.name} at {cut}: {point.reason}")
    return point


def transfer_project(base: Project, backbone: Backbone, cut: str | None = None, head: dict[str, Any] | None = None,
                     classes: list[str] | None = None, name: str | None = None) -> Project:
    """A new, unsaved project: ``base``'s data and training settings; ``backbone`` up to ``cut``
    (default :func:`default_cut`), frozen; the head for ``classes`` (default: those of ``base``'s
    dataset, in its label order). ``base`` is not changed. Raises :class:`TransferError`, or the
    dataset's :class:`~cnnstudio.ml.data.sources.DataError`."""
    model = backbone.model
    cut = cut or default_cut(model)
    check_cut(model, cut)
    classes = list(classes) if classes is not None else dataset_classes(base)
    if len(classes) < 2:
        raise TransferError(f"the project's dataset has {len(classes)} class(es): a new head needs at least two")
    # the backbone as a model inside the model, called in inference mode: the shape of Keras's
    # transfer-learning guide; it imports as a group, collapsed to one card
    cut_model = keras.Model(model.inputs, model.get_layer(cut).output, name=model.name)
    image = keras.Input(tuple(model.inputs[0].shape[1:]), name="image")
    try:
        graph = graph_from_model(keras.Model(image, cut_model(image, training=False)))
    except ModelImportError as exc:
        raise TransferError(f"cannot read {backbone.title} up to {cut}: {exc}") from None
    with graph.bulk_edit():
        for node in graph.nodes.values():
            if node.kind != "InputLayer":
                node.frozen = True
        add_head(graph, graph.by_name(cut).id, len(classes), head, taken={layer.name for layer in model.layers})
    project = Project.from_dict({**base.to_dict(), "graph": graph.to_dict(), "classes": classes,
                                 "name": name or f"{base.name} on {model.name}",
                                 "weights_file": str(backbone.weights_file) if backbone.weights_file else None})
    shape = tuple(model.inputs[0].shape[1:])
    project.set_settings("preprocessing", {"size": shape[:2], "color": "grey" if shape[2] == 1 else "rgb",
                                           "scale": backbone.scale})
    project.import_note = f"backbone {backbone.title}, cut after {cut}, frozen; scaling: {backbone.scale_note}"
    return project


def dataset_classes(project: Project) -> list[str]:
    """The class names of ``project``'s dataset, in its label order (what a new head must output)."""
    return list(load_dataset(project.data, project.preprocessing).classes)


@dataclass
class Preview:
    """What the transfer dialog shows before anything is built: the backbone's name, where it may
    be cut (and the default), and the classes the head will have."""

    name: str
    cuts: list[CutPoint]
    default: str | None
    classes: list[str]


def preview(base: Project, source: str | Path, input_shape: tuple | None = None) -> Preview:
    """The backbone ``source``'s architecture (never downloads: an application is read without
    weights, its layers are the same) and ``base``'s classes. Raises ModelImportError, DataError."""
    model = load_backbone(source, weights=None, input_shape=input_shape).model
    try:
        default = default_cut(model)
    except TransferError:
        default = None
    return Preview(model.name, cut_points(model), default, dataset_classes(base))


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


__all__ = ["Backbone", "CutPoint", "Preview", "TransferError", "check_cut", "cut_points", "dataset_classes",
           "default_cut", "download_progress", "load_backbone", "preview", "transfer_project"]
