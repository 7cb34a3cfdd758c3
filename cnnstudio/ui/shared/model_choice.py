"""Which model the Live and Probe pages run: the latest trained one, the editor's graph untrained,
or a file.

Each choice becomes a :class:`ModelSpec` whose ``load()`` runs on the inference worker
(TensorFlow is imported there, not here). A trained run carries its own graph, classes and
preprocessing in its ``settings.json``, so the live view sees frames exactly as training did
even if the project was edited since. Until the project trains a model of its own, the
"trained" choice is the run the project shipped with, if any (the default project has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.project import Project
from cnnstudio.core.settings import Preprocessing


#: The choosers' text for the trained choice: the project's own newest model, or its shipped run.
TRAINED_LABEL, SHIPPED_LABEL = "Latest trained model", "Trained run (shipped)"


@dataclass(frozen=True)
class ModelSpec:
    """How to get the model to run, built in the worker: ``load() -> (keras.Model, LayerGraph | None)``.

    The graph gives the receptive fields; it is None when the model's graph is unknown.
    """

    title: str                      # shown to the user, e.g. "Trained: 20250101-120000/best.keras"
    load: Callable[[], tuple[Any, Any]]
    graph: Any = None               # the graph, when known before loading
    classes: tuple[str, ...] = ()
    preprocessing: Preprocessing = field(default_factory=Preprocessing.default)


def latest_checkpoint(studio) -> tuple[Path, Any] | None:
    """The newest trained model of the project and its :class:`~cnnstudio.ml.training.runs.Run`, or None.

    ``studio.trained`` (published by the Training page) wins; otherwise the newest run
    of the project with a best or last checkpoint (its shipped run when it has no other).
    """
    from cnnstudio.ml.training.runs import Run, newest_checkpoint  # JSON and NumPy only

    path = studio.trained.path
    if path and Path(path).is_file():
        return Path(path), Run(Path(path).parent)
    return newest_checkpoint(studio.project)


def trained_label(studio) -> str:
    """The choosers' text for the trained choice: :data:`SHIPPED_LABEL` while it is the shipped run."""
    found = latest_checkpoint(studio)
    return SHIPPED_LABEL if found is not None and found[1].shipped else TRAINED_LABEL


def _load_file(path: Path):
    from cnnstudio.ml.model.keras_io import graph_from_model, load_model_file

    model = load_model_file(path)
    try:
        graph = graph_from_model(model)
    except Exception:  # an exotic model still runs; only its receptive fields are unknown
        graph = None
    return model, graph


def trained_spec(studio) -> ModelSpec | None:
    """The latest trained model, or None when nothing was trained yet."""
    found = latest_checkpoint(studio)
    if found is None:
        return None
    path, run = found
    settings = run.settings
    project: Project = studio.project
    graph = None
    if settings.get("graph"):
        try:
            graph = LayerGraph.from_dict(settings["graph"])
        except Exception:  # an older run's graph: fields then come from the model file
            graph = None

    from cnnstudio.ml.training.runs import run_preprocessing  # JSON and NumPy only

    def load():
        model, file_graph = _load_file(path)
        return model, graph or file_graph

    title = SHIPPED_LABEL if run.shipped else f"Trained: {path.parent.name}/{path.name}"
    return ModelSpec(title, load, graph,
                     tuple(settings.get("classes") or project.classes),
                     run_preprocessing(settings, project.preprocessing))


def graph_spec(studio) -> ModelSpec:
    """The editor's graph with fresh random weights: its maps and shapes, not yet its knowledge."""
    project: Project = studio.project
    graph = LayerGraph.from_dict(project.graph.to_dict())  # a copy: edits go on while it builds

    def load():
        from cnnstudio.ml.model.builder import build_model

        return build_model(graph, name="live_model"), graph

    return ModelSpec("Editor graph (untrained)", load, graph, tuple(project.classes), project.preprocessing)


def file_spec(studio, path: str | Path) -> ModelSpec:
    """A model file (.keras, .h5, Keras JSON); classes and preprocessing from the project."""
    path = Path(path)
    return ModelSpec(f"File: {path.name}", lambda: _load_file(path), None, tuple(studio.project.classes),
                     studio.project.preprocessing)
