"""The Keras round trip: models -> graphs -> models keep every layer's configuration and wiring.

Covers functional models with branches and merges, Sequential models, generic (non-catalog)
layers, model files (.keras, .h5, JSON), the exported Python script, keras.applications
networks (imported once per module) and the clear errors for files that cannot be read.
"""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import pytest

from cnnstudio.core.inference import infer
from cnnstudio.ml.model.builder import build_model
from cnnstudio.ml.model.export import python_code, save_keras
from cnnstudio.ml.model.keras_io import (ModelImportError, application_names, graph_from_model, keras_fallback,
                                   load_model_file, project_from_application, project_from_file)

APPLICATIONS = ["ResNet50", "InceptionV3", "DenseNet121", "MobileNetV2"]


def layer_configs(model: keras.Model) -> dict[str, dict]:
    """``{layer name: {class, config, inputs}}`` as plain JSON data, for comparing models."""
    inbound = {}
    if not isinstance(model, keras.Sequential):
        for entry in model.get_config()["layers"]:
            inbound[entry["name"]] = [h[0] for h in _histories(entry.get("inbound_nodes", []))]
    return {layer.name: json.loads(json.dumps({"class": type(layer).__name__, "config": layer.get_config(),
                                               "inputs": inbound.get(layer.name)}, default=str))
            for layer in model.layers}


def _histories(v) -> list:
    if isinstance(v, dict):
        if "keras_history" in v.get("config", {}):
            return [v["config"]["keras_history"]]
        return [h for x in v.values() for h in _histories(x)]
    if isinstance(v, (list, tuple)):
        return [h for x in v for h in _histories(x)]
    return []


def exec_script(code: str) -> keras.Model:
    """Run an exported script as its own module would; returns its ``model``."""
    namespace = {"__name__": "exported"}
    exec(compile(code, "exported.py", "exec"), namespace)
    return namespace["model"]


def branching_model() -> keras.Model:
    """Branches, merges, non-default configs, a frozen layer and layers outside the catalog."""
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", kernel_initializer="he_normal",
                            kernel_regularizer=keras.regularizers.L2(1e-4), name="stem")(inp)
    x = keras.layers.BatchNormalization(momentum=0.9, trainable=False, name="stem_bn")(x)
    a = keras.layers.Conv2D(8, 1, activation="relu", name="branch_a")(x)
    b = keras.layers.DepthwiseConv2D(3, padding="same", name="3x3_depthwise")(x)  # not a Python name
    x = keras.layers.Add(name="add")([a, b, x])
    c = keras.layers.Permute((3, 1, 2), name="to_channels_first")(x)  # not in the catalog
    c = keras.layers.Conv2D(4, 3, data_format="channels_first", name="cf_conv")(c)  # a catalog kind it cannot express
    c = keras.layers.Permute((2, 3, 1), name="to_channels_last")(c)
    d = keras.layers.MaxPooling2D(3, strides=1, name="pool")(x)
    x = keras.layers.Concatenate(name="concat")([c, d])
    x = keras.layers.LeakyReLU(negative_slope=0.1, name="leaky")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(x)
    aux = keras.layers.Dense(1, name="aux")(x)
    return keras.Model(inp, [out, aux], name="branchy")


@pytest.fixture(scope="module")
def branchy():
    model = branching_model()
    return model, graph_from_model(model)


def test_import_keeps_layers_wiring_outputs_and_generic_kinds(branchy):
    model, graph = branchy
    assert [n.name for n in graph.nodes.values()] == [layer.name for layer in model.layers]
    assert [graph.nodes[i].name for i in graph.output_ids] == ["probs", "aux"]
    add = graph.by_name("add")
    assert [graph.node(s).name for s in graph.inputs_of(add.id)] == ["branch_a", "3x3_depthwise", "stem_bn"]
    assert graph.by_name("to_channels_first").generic
    assert graph.by_name("cf_conv").kind == "keras.layers.Conv2D"  # generic, kept apart from the catalog's Conv2D
    stem = graph.by_name("stem")
    assert stem.params["filters"] == 8 and stem.params["padding"] == "same"
    assert stem.extra["config"]["kernel_initializer"]["class_name"] == "HeNormal"
    assert "name" not in stem.extra["config"] and "filters" not in stem.extra["config"]
    assert all(node.pos != (0.0, 0.0) for node in list(graph.nodes.values())[1:])  # laid out


def test_inference_without_tensorflow_equals_keras(branchy):
    model, graph = branchy
    inference = infer(graph)  # no Keras fallback: generic nodes use what the import recorded
    for layer in model.layers:
        info = inference[graph.by_name(layer.name).id]
        assert info.ok, info.error
        assert info.output_shape == tuple(layer.output.shape[1:]), layer.name
        assert info.trainable == sum(int(np.prod(w.shape)) for w in layer.trainable_weights), layer.name
    assert inference.total_params == model.count_params()
    assert inference[graph.by_name("stem_bn").id].trainable == 0  # frozen


def test_graph_keras_graph_keras_keeps_every_config(branchy):
    model, graph = branchy
    rebuilt = build_model(graph, model.name)
    again = build_model(graph_from_model(rebuilt), model.name)
    assert layer_configs(rebuilt) == layer_configs(model)
    assert layer_configs(again) == layer_configs(model)
    assert layer_configs(again)["concat"]["inputs"] == ["to_channels_last", "pool"]  # the wiring is compared too


def test_exported_script_rebuilds_the_same_model(branchy):
    model, graph = branchy
    code = python_code(graph, model.name)
    assert code.startswith('"""') and "import keras\n" in code
    assert 'image = keras.Input(shape=(16, 16, 3), name="image")' in code
    assert "keras.initializers.HeNormal(" in code and "keras.regularizers.L2(" in code
    assert "keras.saving.deserialize_keras_object(" in code  # the generic layers
    assert "strides=(1, 1)" in code  # pooling strides differ from their default (the pool size)
    assert "layer_3x3_depthwise = keras.layers.DepthwiseConv2D(" in code
    assert layer_configs(exec_script(code)) == layer_configs(model)


def test_keras_fallback_infers_a_generic_node_without_recorded_shape(branchy):
    _, graph = branchy
    node = graph.by_name("to_channels_first")
    node.known_shape = None
    try:
        assert infer(graph)[node.id].error  # nothing to go on without Keras
        assert infer(graph, keras_fallback)[node.id].output_shape == (8, 16, 16)
    finally:
        node.known_shape = (8, 16, 16)


def test_an_imported_generic_layer_keeps_its_recorded_shape_without_asking_keras(branchy):
    _, graph = branchy
    node = graph.by_name("to_channels_first")
    assert node.known_inputs == ((16, 16, 8),)  # what the layer was called on at import
    asked = []

    def fallback(n, shapes):
        asked.append(n.name)
        return keras_fallback(n, shapes)
    inference = infer(graph, fallback)
    assert inference[node.id].output_shape == (8, 16, 16) and "to_channels_first" not in asked


def test_sequential_model_becomes_a_chain_from_its_input_shape():
    model = keras.Sequential([keras.Input((28, 28, 1), name="pixels"), keras.layers.Conv2D(4, 5, name="c1"),
                              keras.layers.MaxPooling2D(name="p1"), keras.layers.Flatten(name="flat"),
                              keras.layers.Dense(10, name="out")])
    graph = graph_from_model(model)
    assert [(n.kind, n.name) for n in graph.nodes.values()] == [
        ("InputLayer", "pixels"), ("Conv2D", "c1"), ("MaxPooling2D", "p1"), ("Flatten", "flat"), ("Dense", "out")]
    assert graph.input_nodes()[0].params["shape"] == (28, 28, 1)
    assert infer(graph).total_params == model.count_params()
    rebuilt = layer_configs(build_model(graph))
    assert {k: v["config"] for k, v in layer_configs(model).items()} == {k: rebuilt[k]["config"] for k in layer_configs(model)}
    assert rebuilt["p1"]["inputs"] == ["c1"]


def test_keras2_argument_names_import_under_catalog_names(tmp_path):
    doc = json.loads(keras.Sequential([keras.Input((4,)), keras.layers.LeakyReLU(0.2, name="lr")]).to_json())
    config = doc["config"]["layers"][1]["config"]
    config["alpha"] = config.pop("negative_slope")  # as Keras 2 wrote it
    (tmp_path / "old.json").write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="alpha"):
        graph = project_from_file(tmp_path / "old.json").graph
    assert graph.by_name("lr").params == {"negative_slope": 0.2}


def test_several_inputs_keep_the_models_order():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    out = keras.layers.Add(name="add")([keras.layers.Dense(2, name="da")(a), keras.layers.Dense(2, name="db")(b)])
    graph = graph_from_model(keras.Model([b, a], out))
    assert [n.name for n in graph.input_nodes()] == ["b", "a"]
    assert [t.name for t in build_model(graph).inputs] == ["b", "a"]


def test_shared_layer_is_refused_clearly():
    inp = keras.Input((4,))
    dense = keras.layers.Dense(4, name="shared")
    model = keras.Model(inp, dense(dense(inp)))
    with pytest.raises(ModelImportError, match="'shared' is shared"):
        graph_from_model(model)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".json"])
def test_model_files_import_back(tmp_path, branchy, suffix):
    model, _ = branchy
    path = tmp_path / f"my_net{suffix}"
    if suffix == ".json":
        path.write_text(model.to_json())
    else:
        model.save(path)
    project = project_from_file(path)
    assert project.name == "my_net"
    assert project.preprocessing.size == (16, 16) and project.preprocessing.color == "rgb"
    assert infer(project.graph).total_params == model.count_params()
    assert layer_configs(build_model(project.graph, model.name)) == layer_configs(model)


def test_saved_keras_file_holds_the_graphs_model(tmp_path, branchy):
    model, graph = branchy
    save_keras(graph, tmp_path / "out.keras", name=model.name)
    assert layer_configs(load_model_file(tmp_path / "out.keras")) == layer_configs(model)


def _bad_files(tmp_path):
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    (tmp_path / "garbage.keras").write_bytes(b"not a zip")
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5 either")
    (tmp_path / "cut.json").write_text(seq.to_json()[:40])
    (tmp_path / "foo.json").write_text(seq.to_json().replace('"Dense"', '"Foo"'))
    (tmp_path / "other.json").write_text('{"hello": 1}')
    seq.save_weights(tmp_path / "only.weights.h5")
    seq.save(tmp_path / "foo.h5")
    with h5py.File(tmp_path / "foo.h5", "r+") as f:  # as if saved with a custom layer this process lacks
        f.attrs["model_config"] = f.attrs["model_config"].replace('"Dense"', '"mine>Foo"')
    return {
        "missing.keras": "no such file",
        "garbage.keras": "not a .keras file",
        "garbage.h5": "not an HDF5 file",
        "cut.json": "corrupt or truncated JSON",
        "foo.json": "unknown layer class 'Foo'",
        "foo.h5": "unknown layer class 'Foo'",
        "other.json": "not a Keras model architecture",
        "only.weights.h5": "only weights, no model architecture",
    }


def test_bad_files_give_one_line_errors(tmp_path):
    for name, message in _bad_files(tmp_path).items():
        with pytest.raises(ModelImportError) as info:
            project_from_file(tmp_path / name)
        assert message in str(info.value) and "\n" not in str(info.value), name


def test_application_names_and_offline_imagenet_message(monkeypatch):
    names = application_names()
    assert set(APPLICATIONS) <= set(names) and "VGG16" in names and "resnet" not in names
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- [Errno -3] name resolution")
    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(ModelImportError, match="cannot download the imagenet weights for MobileNetV2"):
        project_from_application("MobileNetV2", weights="imagenet", input_shape=(96, 96, 3), include_top=False)
    with pytest.raises(ModelImportError, match="no 'NoSuchNet'"):
        project_from_application("NoSuchNet")


@pytest.fixture(scope="module", params=APPLICATIONS)
def application(request):
    """(keras model, imported graph) of one keras.applications network, built once."""
    model = getattr(keras.applications, request.param)(weights=None)
    return model, graph_from_model(model)


def test_application_imports_with_keras_shapes_and_params(application):
    model, graph = application
    assert not [n.name for n in graph.nodes.values() if n.generic]  # every layer is a catalog layer
    inference = infer(graph)
    for layer in model.layers:
        info = inference[graph.by_name(layer.name).id]
        assert info.output_shape == tuple(layer.output.shape[1:]), layer.name
    assert inference.total_params == model.count_params()
    assert inference.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_application_round_trips_and_exports(application):
    model, graph = application
    rebuilt = build_model(graph, model.name)
    assert layer_configs(rebuilt) == layer_configs(model)
    assert graph_from_model(rebuilt).to_dict() == graph.to_dict()  # so a second build is the same again
    assert layer_configs(exec_script(python_code(graph, model.name))) == layer_configs(model)


def test_project_from_application_sets_preprocessing():
    project = project_from_application("MobileNetV2", input_shape=(96, 96, 3), include_top=False)
    assert project.name == "MobileNetV2"
    assert project.preprocessing.size == (96, 96) and project.preprocessing.color == "rgb"
