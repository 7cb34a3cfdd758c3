"""Fuzzing the loaders of our own files: project files, graph JSON and run folders.

The property: a loader either loads or raises its documented person-facing error with one line
(:class:`ProjectError` for project files, which wraps the graph's errors); a run folder always
opens. Never another exception, never a hang (Hypothesis's deadline).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnstudio.core.project import Project, ProjectError, load_project
from cnnstudio.core.templates import default_project, resnet_style

from hostile import DEEP, TOO_DEEP, check_loader, file_names, json_text, json_values, mutated_bytes, mutated_json

#: Valid documents to mutate: the default project and one with merges (Add) and batch norm.
PROJECTS = [default_project().to_dict(), resnet_style().to_dict()]


def _write(folder, name: str, data: str | bytes):
    path = folder / name
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


@given(doc=st.sampled_from(PROJECTS).flatmap(mutated_json))
def test_mutated_project_documents_load_or_say_why(tmp_path_factory, doc):
    path = _write(tmp_path_factory.mktemp("p"), "p.cnnproj", json_text(doc))
    project = check_loader("project file (mutated document)", lambda: load_project(path), (ProjectError,))
    if project is not None:  # what loads also saves and loads again the same
        assert Project.from_dict(json.loads(json.dumps(project.to_dict()))).to_dict() == project.to_dict()


@given(data=st.sampled_from([json.dumps(d, indent=1).encode() for d in PROJECTS]).flatmap(mutated_bytes))
def test_damaged_project_bytes_load_or_say_why(tmp_path_factory, data):
    path = _write(tmp_path_factory.mktemp("p"), "p.cnnproj", data)
    check_loader("project file (damaged bytes)", lambda: load_project(path), (ProjectError,))


@given(doc=json_values)
def test_any_json_as_a_project_file_is_refused_in_one_line(tmp_path_factory, doc):
    path = _write(tmp_path_factory.mktemp("p"), "p.cnnproj", json_text(doc))
    check_loader("project file (any JSON)", lambda: load_project(path), (ProjectError,))


@given(graph=st.sampled_from([d["graph"] for d in PROJECTS]).flatmap(mutated_json))
def test_mutated_graph_json_is_refused_as_a_project_error(graph):
    doc = {**PROJECTS[0], "graph": json.loads(json_text(graph, depth=50))}
    check_loader("graph JSON (in a project)", lambda: Project.from_dict(doc), (ProjectError,))


@given(name=file_names)
def test_unicode_file_names_load(tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("u")
    path = _write(folder, name, json.dumps(PROJECTS[0]))
    project = check_loader("project file (unicode name)", lambda: load_project(path), (ProjectError,))
    assert project is not None and project.path == path


@pytest.mark.parametrize("text", [pytest.param("[" * TOO_DEEP, id="document"),
                                  pytest.param(json_text({**PROJECTS[0], "graph": DEEP}, TOO_DEEP), id="graph")])
def test_deeply_nested_json_is_refused_in_one_line(tmp_path, text):
    path = _write(tmp_path, "deep.cnnproj", text)
    check_loader("project file (deep nesting)", lambda: load_project(path), (ProjectError,))


# -- run folders ----------------------------------------------------------------------------

def _run_files():
    """The JSON files of a run folder, with a valid document each to mutate."""
    from cnnstudio.ml.training.runs import CURVES, METRICS, SETTINGS

    return {SETTINGS: {"project": "p", "epochs": 3, "classes": ["a", "b"], "graph": PROJECTS[0]["graph"],
                       "preprocessing": PROJECTS[0]["preprocessing"], "created": "2026-01-01T00:00:00"},
            CURVES: {"batch": {"step": [1, 2], "epoch": [1, 1], "loss": [0.9, 0.8]},
                     "epoch": {"loss": [0.8], "val_loss": [None], "seconds": [1.0]}},
            METRICS: {"status": "finished", "epochs_done": 1, "best_epoch": 1, "final": {"loss": 0.8}}}


def _open_run(folder) -> None:
    """Everything the studio reads of a run folder: it must never raise."""
    from cnnstudio.core.settings import Preprocessing
    from cnnstudio.ml.training.runs import Run, run_preprocessing

    run = Run(folder)
    run.curves.history(), run.curves.epochs_done, run.curves.steps_done, run.target_epochs, run.can_resume()
    run_preprocessing(run.settings, Preprocessing.default())


@given(name=st.sampled_from(sorted(_run_files())), data=st.data())
def test_a_damaged_run_folder_opens(tmp_path_factory, name, data):
    folder = tmp_path_factory.mktemp("run")
    for file, doc in _run_files().items():
        _write(folder, file, json.dumps(doc))
    damaged = data.draw(st.one_of(mutated_json(_run_files()[name]).map(json_text),
                                  mutated_bytes(json.dumps(_run_files()[name]).encode())))
    _write(folder, name, damaged)
    check_loader(f"run folder ({name})", lambda: _open_run(folder), ())


def _filters_npz(arrays: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@given(data=mutated_bytes(_filters_npz({"layer": np.array("conv1"), "epochs": np.arange(3, dtype=np.int32),
                                        "kernels": np.zeros((3, 3, 3, 1, 4), np.float32),
                                        "bias": np.zeros((3, 4), np.float32)})))
def test_damaged_filter_snapshots_open_or_say_why(tmp_path_factory, data):
    """``filters.npz`` is read by the probe page's filter replay on every training epoch."""
    from cnnstudio.ml.training.runs import Run

    folder = tmp_path_factory.mktemp("run")
    _write(folder, "filters.npz", data)
    snapshots = check_loader("run folder (filters.npz)", lambda: Run(folder).filters(), ())
    assert len(snapshots.kernels) == len(snapshots.epochs)  # read whole, or not at all (and said why)
    assert snapshots.problem or len(snapshots.epochs) == 3
