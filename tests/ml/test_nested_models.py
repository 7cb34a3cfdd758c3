"""Nested models (a backbone used as a layer) import as groups of their layers and build, save
and export with the same nesting, outputs and trained weights."""

import keras
import numpy as np
import pytest

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.groups import members
from cnnstudio.core.inference import group_info, infer
from cnnstudio.ml.model.builder import BuildError, build_model
from cnnstudio.ml.model.export import python_code, save_keras
from cnnstudio.ml.model.keras_io import ModelImportError, graph_from_model, load_model_file, project_from_file
from cnnstudio.ml.model.weights import build_project, copy_weights, leaf_layers


def nested_model() -> keras.Model:
    """A Sequential inside a Functional inside a Functional; three layers are called ``conv``."""
    seq = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(4, 3, padding="same", name="conv"),
                            keras.layers.BatchNormalization(name="bn")], name="inner_seq")
    i = keras.Input((8, 8, 3), name="mid_in")
    x = seq(keras.layers.Conv2D(4, 3, padding="same", name="conv")(i))
    mid = keras.Model(i, keras.layers.Activation("relu", name="act")(x), name="mid")
    inp = keras.Input((8, 8, 3), name="img")
    y = keras.layers.GlobalAveragePooling2D(name="gap")(mid(inp, training=False))
    model = keras.Model(inp, keras.layers.Dense(3, name="conv")(y), name="outer")
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])  # not Keras's init
    return model


def nesting(model: keras.Model) -> list[tuple[str, str]]:
    """Every layer's path through the nested models and its class: ``[('mid/inner_seq/bn', 'BatchNormalization'), ...]``,
    after each nested model's own: ``('mid/inner_seq', 'Sequential')``."""
    out = []
    for layer in model.layers:
        out.append((layer.name, type(layer).__name__))
        if isinstance(layer, keras.Model):
            out += [(f"{layer.name}/{p}", k) for p, k in nesting(layer)]
    return out


def images(n=2):
    return np.random.default_rng(0).random((n, 8, 8, 3), dtype=np.float32)


def test_a_nested_model_imports_as_groups_of_its_layers():
    model = nested_model()
    graph = graph_from_model(model)
    assert {n: (g.parent, g.collapsed) for n, g in graph.groups.items()} == {"mid": (None, True), "inner_seq": ("mid", True)}
    assert graph.groups["mid"].call == {"training": False} and graph.groups["mid"].inputs == ("mid_in",)
    names = {graph.nodes[i].name for i in members(graph, "mid")}
    assert names == {"conv", "conv_1", "bn", "act"}  # the file's names, clashes renamed in the graph
    assert [graph.nodes[i].name for i in members(graph, "inner_seq")] == ["conv_1", "bn"]
    outer = graph.by_name("conv_2")  # the head's Dense, called conv in the file
    assert outer.group is None and outer.extra["keras_name"] == "conv"
    inference = infer(graph)
    assert inference.total_params == model.count_params()
    mid = group_info(graph, inference, "mid")
    assert (mid.output_shape, mid.params) == ((8, 8, 4), model.get_layer("mid").count_params())
    assert mid.receptive_field.size == (5, 5)  # two 3x3 convolutions flow through the group
    assert group_info(graph, inference, "inner_seq").params == model.get_layer("mid").get_layer("inner_seq").count_params()


def test_built_again_it_nests_and_computes_the_same():
    model = nested_model()
    graph = LayerGraph.from_dict(graph_from_model(model).to_dict())  # through the project file
    built = build_model(graph, "outer")
    assert nesting(built) == nesting(model)
    assert isinstance(built.get_layer("mid").get_layer("inner_seq"), keras.Model)
    assert copy_weights(model, built) == []
    np.testing.assert_allclose(built(images()), model(images()), atol=1e-5)


def test_the_python_export_writes_the_same_nesting():
    model = nested_model()
    code = python_code(graph_from_model(model), "outer")
    assert 'mid = keras.Model(mid_in, act, name="mid")' in code and "mid(img, training=False)" in code
    namespace = {"__name__": "exported"}
    exec(compile(code, "exported.py", "exec"), namespace)
    script = namespace["model"]
    assert nesting(script) == nesting(model)
    copy_weights(model, script)
    np.testing.assert_allclose(script(images()), model(images()), atol=1e-5)


def test_an_imported_keras_file_keeps_its_trained_weights_through_export(tmp_path):
    model = nested_model()
    model.save(tmp_path / "nested.keras")
    project = project_from_file(tmp_path / "nested.keras")
    trained = build_project(project)
    assert trained.trained and trained.untrained == []
    np.testing.assert_allclose(trained.model(images()), model(images()), atol=1e-5)
    save_keras(project.graph, tmp_path / "out.keras", "outer", project.weights_file)
    saved = load_model_file(tmp_path / "out.keras")
    assert nesting(saved) == nesting(model)
    np.testing.assert_allclose(saved(images()), model(images()), atol=1e-5)


def test_a_backbone_of_any_size_called_on_a_fixed_one_keeps_catalog_layers():
    base = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, name="c"),
                             keras.layers.MaxPooling2D(name="p")], name="base")
    inp = keras.Input((16, 16, 3))
    graph = graph_from_model(keras.Model(inp, base(inp)))
    assert not any(graph.nodes[i].generic for i in members(graph, "base"))
    assert group_info(graph, infer(graph), "base").output_shape == (7, 7, 4)


def test_a_nested_model_called_twice_is_refused_clearly():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)], name="twice")
    inp = keras.Input((4,))
    with pytest.raises(ModelImportError, match="'twice' is shared"):
        graph_from_model(keras.Model(inp, inner(inner(inp))))


def test_a_group_with_no_way_in_cannot_be_built():
    graph = graph_from_model(nested_model())
    for edge in graph.in_edges(graph.by_name("conv").id):
        graph.remove_edge(edge)  # mid's first layer loses its input
    with pytest.raises(BuildError, match="conv has no input|group mid takes no input"):
        build_model(graph)


def test_probing_the_imported_file_sees_its_weights_and_the_backbones_field(tmp_path):
    from cnnstudio.ml.probing.prober import Prober

    model = nested_model()
    model.save(tmp_path / "nested.keras")
    project = project_from_file(tmp_path / "nested.keras")
    loaded = load_model_file(project.weights_file)  # what the Probe page runs for an imported project
    prober = Prober(loaded, project.graph)
    np.testing.assert_allclose(prober.run(images(1)).output, np.asarray(model(images(1)))[0], atol=1e-5)
    assert prober.receptive_field("mid").size == (5, 5)  # the nested model's output, through its layers
