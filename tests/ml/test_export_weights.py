"""Every path that writes a model keeps its trained weights, bit for bit.

The models are trained a few steps in the test, so their weights differ from any
initialisation: a path that rebuilt the architecture with fresh weights fails at once.
"""

from __future__ import annotations

import runpy

import keras
import numpy as np
import pytest

from cnnstudio.core.project import save_project
from cnnstudio.ml.model.builder import BuildError
from cnnstudio.ml.model.export import python_code, save_keras, save_python, weights_name
from cnnstudio.ml.model.keras_io import graph_from_model, load_model_file, project_from_file, project_from_model
from cnnstudio.ml.training.runs import Run
from cnnstudio.ml.model.weights import build_trained, trained_weights_file

X = np.random.default_rng(1).random((4, 12, 12, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def model(trained_model_factory) -> keras.Model:
    return trained_model_factory()


def assert_same_model(a: keras.Model, b: keras.Model) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    assert all(np.array_equal(u, v) for u, v in zip(wa, wb)), "weights differ"
    np.testing.assert_allclose(np.asarray(b(X)), np.asarray(a(X)), atol=1e-6)


def fresh(model: keras.Model) -> keras.Model:
    """The same architecture freshly initialised: what the defect wrote."""
    return keras.Model.from_config(model.get_config())


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_trained_model_file_exports_to_keras_with_its_weights(model, tmp_path, suffix):
    source = tmp_path / f"trained{suffix}"
    model.save(source)
    project = project_from_file(source)
    assert trained_weights_file(project) == source.resolve()
    built = save_keras(project.graph, tmp_path / "out.keras", project.name, trained_weights_file(project))
    assert built.trained and not built.untrained
    assert_same_model(model, load_model_file(tmp_path / "out.keras"))
    # the test would catch the defect: fresh weights differ
    assert not all(np.array_equal(u, v) for u, v in zip(model.get_weights(), fresh(model).get_weights()))


def test_the_python_export_writes_the_weights_beside_it_and_loads_them(model, tmp_path):
    source = tmp_path / "trained.keras"
    model.save(source)
    project = project_from_file(source)
    script = tmp_path / "net.py"
    built = save_python(project.graph, script, project.name, trained_weights_file(project))
    assert built is not None and (tmp_path / weights_name(script)).is_file()
    text = script.read_text(encoding="utf-8")
    assert "net.weights.h5" in text.split('"""')[1]  # the header says where the weights are
    assert_same_model(model, runpy.run_path(str(script))["model"])
    # without weights the header says how to get them, and no weights file is written
    bare = tmp_path / "bare.py"
    assert save_python(project.graph, bare, project.name) is None
    assert "--weights" in bare.read_text(encoding="utf-8").split('"""')[1]
    assert not (tmp_path / weights_name(bare)).exists()


def test_a_project_exports_its_newest_runs_weights(model, tmp_path):
    project = project_from_model(model, "tiny")
    save_project(project, tmp_path / "tiny.cnnproj")
    assert trained_weights_file(project) is None  # nothing trained yet: architecture only
    untrained = save_keras(project.graph, tmp_path / "untrained.keras", project.name, None)
    assert not untrained.trained and "architecture only" in untrained.describe()
    run = Run.create(project.runs_dir(), {"graph": project.graph.to_dict()})
    model.save(run.best_checkpoint)
    assert trained_weights_file(project) == run.best_checkpoint
    save_keras(project.graph, tmp_path / "out.keras", project.name, trained_weights_file(project))
    assert_same_model(model, load_model_file(tmp_path / "out.keras"))


def test_an_edited_graph_keeps_the_weights_of_the_layers_it_still_has(model, tmp_path):
    source = tmp_path / "trained.keras"
    model.save(source)
    graph = graph_from_model(model)
    graph.set_params(graph.by_name("out").id, {"units": 5})  # a new head: its weights cannot fit
    built = build_trained(graph, "edited", source)
    assert built.untrained == ["out"] and "out" in built.describe()
    for name in ("conv", "bn", "sep"):
        for u, v in zip(model.get_layer(name).get_weights(), built.model.get_layer(name).get_weights()):
            assert np.array_equal(u, v)


def test_weights_of_another_network_are_refused(model, tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="elsewhere")])
    other.save(tmp_path / "other.keras")
    with pytest.raises(BuildError, match="another network"):
        build_trained(graph_from_model(model), "tiny", tmp_path / "other.keras")
    assert "Dense" in python_code(graph_from_model(model))
