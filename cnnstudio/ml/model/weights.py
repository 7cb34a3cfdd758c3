"""A graph built as a Keras model WITH the weights its project was trained to.

Every path that writes a model (``.keras``/``.h5``, the Python script's weights file, the
deploy formats) builds the editor's graph and then copies the trained weights into it,
layer by layer and by name, from the project's trained model: its newest run's best
checkpoint, else the file it was imported from (``Project.weights_file``). Copying by name
keeps the export faithful to the graph the user sees, also after edits: a layer added or
reshaped since training keeps fresh weights, and the result says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.project import Project

from cnnstudio.ml.model.builder import BuildError, build_model


#: What an export without trained weights holds, in a person's words.
ARCHITECTURE_ONLY = "the architecture only, with freshly initialised weights (no trained run or weights file)"


@dataclass
class TrainedModel:
    """A built model and where its weights came from."""

    model: keras.Model
    source: Path | None = None  # the file the trained weights were read from; None: untrained
    untrained: list[str] = field(default_factory=list)  # layers with weights that kept fresh ones

    @property
    def trained(self) -> bool:
        """True when trained weights were copied in (for at least one layer)."""
        return self.source is not None

    def describe(self) -> str:
        """One line for a person: trained from where, partly, or architecture only."""
        if self.source is None:
            return ARCHITECTURE_ONLY
        text = f"trained weights from {self.source}"
        if self.untrained:
            names = ", ".join(self.untrained[:5]) + (f" and {len(self.untrained) - 5} more" if len(self.untrained) > 5 else "")
            text += f"; {len(self.untrained)} layer(s) not in that model or reshaped since keep fresh weights: {names}"
        return text


def trained_weights_file(project: Project) -> Path | None:
    """The file holding ``project``'s trained weights, or ``None`` if it has none.

    The newest run's best checkpoint wins (what the project learned itself); else the model
    file it was imported from, when that still exists.
    """
    from cnnstudio.ml.probing.inputs import latest_checkpoint

    found = latest_checkpoint(project)
    if found is not None:
        return found
    if project.weights_file and Path(project.weights_file).is_file():
        return Path(project.weights_file)
    return None


def leaf_layers(model: keras.Model, prefix: str = "") -> list[tuple[str, keras.layers.Layer]]:
    """``(path, layer)`` for every layer of ``model``, nested models opened: ``'resnet50/conv1_conv'``."""
    out: list[tuple[str, keras.layers.Layer]] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += leaf_layers(layer, f"{prefix}{layer.name}/")
        else:
            out.append((f"{prefix}{layer.name}", layer))
    return out


def copy_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copy each layer's weights from ``source`` into ``target``'s layer of the same name.

    Layers of nested models are matched by their path (``backbone/conv1``), else by their
    name where only one layer of ``source`` has it (a model nested since, or no longer).
    Returns the paths of ``target``'s layers with weights that found no such layer with the
    same weight shapes (they keep what they had). Values are copied as they are.
    """
    by_path = dict(leaf_layers(source))
    by_name: dict[str, list] = {}
    for layer in by_path.values():
        by_name.setdefault(layer.name, []).append(layer)
    missing = []
    for path, layer in leaf_layers(target):
        if not layer.weights:
            continue
        src = by_path.get(path)
        if src is None and len(by_name.get(layer.name, ())) == 1:
            src = by_name[layer.name][0]
        values = src.get_weights() if src is not None else None
        if values is None or [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            missing.append(path)
            continue
        layer.set_weights(values)
    return missing


def build_trained(graph: LayerGraph, name: str, weights: str | Path | None) -> TrainedModel:
    """``graph`` built as a Keras model, with the weights of the model file ``weights`` copied in.

    Raises :class:`BuildError` when the graph cannot be built or the weights file cannot be
    read, or when not one layer of the graph is found in it (the file is another network).
    """
    from cnnstudio.ml.model.keras_io import first_line, load_model_file

    model = build_model(graph, name=name)
    if weights is None:
        return TrainedModel(model)
    try:
        source = load_model_file(weights)
    except (ValueError, OSError) as exc:
        raise BuildError(f"cannot read the trained weights: {first_line(str(exc)) or type(exc).__name__}") from None
    missing = copy_weights(source, model)
    with_weights = [path for path, layer in leaf_layers(model) if layer.weights]
    if with_weights and len(missing) == len(with_weights):
        raise BuildError(f"{weights} holds another network: none of the graph's layers "
                         f"({', '.join(with_weights[:3])}...) is in it with the same shape")
    return TrainedModel(model, Path(weights), missing)


def build_project(project: Project) -> TrainedModel:
    """The project's graph as a Keras model with its trained weights, where it has any."""
    return build_trained(project.graph, project.name, trained_weights_file(project))


__all__ = ["ARCHITECTURE_ONLY", "TrainedModel", "build_project", "build_trained", "copy_weights", "leaf_layers",
           "trained_weights_file"]
