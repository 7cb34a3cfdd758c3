"""Raw Keras operations between layers (``x + 3.0``, ``1.0 - x``, ``keras.ops.relu``) import and rebuild exactly.

Keras 3 records them as operation entries of the functional config, not as layers; the
applications MobileNetV3 (hard-swish: ``relu6(x + 3) * (1/6)``) and ConvNeXt (residual
``x + y``) are built from them.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.inference import group_info, infer
from cnnstudio.core.project import Project, load_project, save_project
from cnnstudio.ml.model.builder import BuildError, build_model
from cnnstudio.ml.model.export import python_code, save_keras
from cnnstudio.ml.model.keras_io import graph_from_model, keras_fallback, load_model_file, project_from_application


def ops_model() -> keras.Model:
    """Layers with operations between them: constants on either side, a tensor used twice, a slice."""
    inp = keras.Input((8, 8, 3), name="image")
    a = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    b = keras.layers.BatchNormalization(name="bn")(1.0 - (a + 3.0) * 0.5)
    c = keras.layers.Conv2D(4, 1, name="conv2")(keras.ops.relu(b))
    d = c + a  # two tensors of one shape: the catalog's Add
    e = d * d  # one tensor used twice
    f = keras.layers.Flatten(name="flat")(e[:, 1:5, ::2])
    return keras.Model(inp, keras.layers.Dense(3, name="out")(f), name="ops_net")


@pytest.fixture(scope="module")
def ops():
    model = ops_model()
    return model, graph_from_model(model)


def script_model(code: str) -> keras.Model:
    """The ``model`` an exported script builds."""
    namespace = {"__name__": "exported"}
    exec(compile(code, "exported.py", "exec"), namespace)
    return namespace["model"]


def only(graph: LayerGraph, kind: str, **call):
    """The one node of ``kind`` whose recorded call has ``call``'s entries.

    Keras numbers operation names per process (``add``, ``add_1``...): tests find them by what they are.
    """
    found = [n for n in graph.nodes.values() if n.kind == kind and all(n.extra["call"][k] == v for k, v in call.items())]
    assert len(found) == 1, (kind, call, found)
    return found[0]


def same_outputs(model: keras.Model, rebuilt: keras.Model) -> float:
    """Largest output difference of ``rebuilt`` (given ``model``'s weights by layer name) on random input."""
    assert sorted(op.name for op in rebuilt.operations) == sorted(op.name for op in model.operations)
    for layer in model.layers:
        rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
    return float(np.abs(np.asarray(model(x)) - np.asarray(rebuilt(x))).max())


def test_operations_import_as_nodes_with_their_calls(ops):
    _, graph = ops
    assert only(graph, "Add (op)").extra["call"] == {"args": [{"__input__": 0}, 3.0], "kwargs": {}}
    assert only(graph, "Subtract (op)").extra["call"]["args"] == [1.0, {"__input__": 0}]  # 1.0 - x keeps its order
    only(graph, "Relu (op)")
    merge = next(n for n in graph.nodes.values() if n.kind == "Add")  # conv2 + conv: a merge the catalog describes
    assert [graph.node(s).name for s in graph.inputs_of(merge.id)] == ["conv2", "conv"]
    square = only(graph, "Multiply (op)", args=[{"__input__": 0}, {"__input__": 0}])  # d * d: one input, used twice
    assert graph.inputs_of(square.id) == [merge.id]
    assert all(n.is_operation == n.kind.endswith(" (op)") for n in graph.nodes.values())


def test_operation_shapes_come_from_keras_and_inference_runs_without_it(ops):
    model, graph = ops
    inference = infer(graph)
    for op in model.operations:
        info = inference[graph.by_name(op.name).id]
        assert info.ok and info.output_shape == tuple(op.output.shape[1:]), op.name
    assert inference.total_params == model.count_params()
    assert inference[only(graph, "Relu (op)").id].receptive_field.size == (3, 3)  # an element-wise op keeps the field


def test_rebuilt_model_and_exported_script_compute_the_same(ops, tmp_path):
    model, graph = ops
    assert same_outputs(model, build_model(graph, model.name)) < 1e-6
    code = python_code(graph, model.name)
    halve = only(graph, "Multiply (op)", args=[{"__input__": 0}, 0.5])
    assert f"(1.0, {halve.name})" in code  # the constant stays where the model had it
    assert same_outputs(model, script_model(code)) < 1e-6
    save_keras(graph, tmp_path / "ops.keras", name=model.name)
    assert same_outputs(model, load_model_file(tmp_path / "ops.keras")) < 1e-6


def test_operation_nodes_survive_the_project_file(ops, tmp_path):
    model, graph = ops
    path = save_project(Project(graph=LayerGraph.from_dict(graph.to_dict()), name="ops"), tmp_path / "ops.cnnproj")
    loaded = load_project(path).graph
    assert loaded.to_dict() == graph.to_dict()
    assert same_outputs(model, build_model(loaded, model.name)) < 1e-6


def test_keras_fallback_infers_an_operation_with_a_constant(ops):
    _, graph = ops
    node = only(graph, "Subtract (op)")
    saved, node.known_shape = node.known_shape, None
    try:
        assert infer(graph, keras_fallback)[node.id].output_shape == (8, 8, 4)
    finally:
        node.known_shape = saved


def test_an_operation_fed_otherwise_than_recorded_says_so(ops):
    _, graph = ops
    graph = LayerGraph.from_dict(graph.to_dict())
    node = only(graph, "Subtract (op)")
    graph.add_edge(graph.by_name("image").id, node.id)  # the recorded call 1.0 - x has no place for it
    with pytest.raises(BuildError, match=rf"{node.name} \(Subtract \(op\)\) takes 1 input, has 2"):
        build_model(graph)
    assert "takes 1 input, has 2" in infer(graph, keras_fallback)[node.id].error


@pytest.mark.parametrize("name, kinds", [("MobileNetV3Small", {"Add (op)", "Multiply (op)"}),  # hard sigmoid, swish
                                         ("ConvNeXtTiny", {"Add"})])  # residuals: two tensors of one shape
def test_applications_made_of_operations_open_and_rebuild(name, kinds):
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), include_top=False)
    graph = graph_from_model(model)
    assert {graph.by_name(op.name).kind for op in model.operations if not isinstance(op, keras.layers.Layer)} == kinds
    inference = infer(graph)
    for op in model.operations:
        info = group_info(graph, inference, op.name) if op.name in graph.groups else inference[graph.by_name(op.name).id]
        assert info.output_shape == tuple(op.output.shape[1:]), op.name  # a nested model (ConvNeXt's stem) is a group
    assert inference.total_params == model.count_params()
    assert same_outputs(model, build_model(graph, model.name)) < 1e-6
    assert same_outputs(model, script_model(python_code(graph, model.name))) < 1e-6


def test_project_from_application_opens_mobilenet_v3():
    project = project_from_application("MobileNetV3Large", input_shape=(32, 32, 3), include_top=False)
    assert sum(n.kind == "Add (op)" for n in project.graph.nodes.values()) > 0
    assert all(info.ok for info in infer(project.graph).values())
