"""Which model the Live page runs: the latest trained one, the editor's graph untrained, or a file.

Each choice becomes a :class:`ModelSpec` whose ``load()`` runs on the inference worker
(TensorFlow is imported there, not here). A trained run carries its own graph, classes and
preprocessing in its ``settings.json``, so the live view sees frames exactly as training did
even if the project was edited since.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.project import Project

from .worker import ModelSpec


def latest_checkpoint(studio) -> tuple[Path, dict[str, Any]] | None:
    """The newest trained model of the project and its run settings, or None.

    ``studio.trained_model_path`` (set by the Training page) wins; otherwise the newest run
    in the project's run folder with a best or last checkpoint.
    """
    from cnnstudio.ml.runs import Run, newest_checkpoint  # JSON and NumPy only

    path = getattr(studio, "trained_model_path", None)
    if path and Path(path).is_file():
        run = Run(Path(path).parent)
        return Path(path), run.settings
    found = newest_checkpoint(studio.project.runs_dir())
    return (found[0], found[1].settings) if found else None


def _load_file(path: Path):
    from cnnstudio.ml.keras_io import graph_from_model, load_model_file

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
    path, settings = found
    project: Project = studio.project
    graph = None
    if settings.get("graph"):
        try:
            graph = LayerGraph.from_dict(settings["graph"])
        except Exception:  # an older run's graph: fields then come from the model file
            graph = None

    from cnnstudio.ml.runs import run_preprocessing  # JSON and NumPy only

    def load():
        model, file_graph = _load_file(path)
        return model, graph or file_graph

    return ModelSpec(f"Trained: {path.parent.name}/{path.name}", load, graph,
                     tuple(settings.get("classes") or project.classes),
                     run_preprocessing(settings, project.preprocessing))


def graph_spec(studio) -> ModelSpec:
    """The editor's graph with fresh random weights: its maps and shapes, not yet its knowledge."""
    project: Project = studio.project
    graph = LayerGraph.from_dict(project.graph.to_dict())  # a copy: edits go on while it builds

    def load():
        from cnnstudio.ml.builder import build_model

        return build_model(graph, name="live_model"), graph

    return ModelSpec("Editor graph (untrained)", load, graph, tuple(project.classes), project.preprocessing)


def file_spec(studio, path: str | Path) -> ModelSpec:
    """A model file (.keras, .h5, Keras JSON); classes and preprocessing from the project."""
    path = Path(path)
    return ModelSpec(f"File: {path.name}", lambda: _load_file(path), None, tuple(studio.project.classes),
                     studio.project.preprocessing)
