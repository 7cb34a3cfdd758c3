"""``.h5`` files as Keras 2 / tf.keras 2.x wrote them open, summarise, probe and export.

No Keras 2 is installed (and no network), so each file is written here with h5py in the
layout those versions used: a ``model_config`` attribute in Keras 2's JSON (``batch_input_shape``,
``[[["layer", 0, 0, {}]]]`` inbound nodes, initializers and regularizers by their old names) and
weights under ``model_weights/<layer>/<layer>/kernel:0``.
"""

from __future__ import annotations

import json
import runpy

import cv2
import h5py
import keras
import numpy as np
import pytest

from cnnstudio.cli import main
from cnnstudio.ml.model.keras_io import ModelImportError, load_model_file, project_from_file
from cnnstudio.ml.model.legacy_h5 import keras3_readable

RNG = np.random.default_rng(0)
L2 = {"class_name": "L2", "config": {"l2": 0.01}}
OLD_L1L2 = {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.001}}
GLOROT = {"class_name": "GlorotUniform", "config": {"seed": None}}
OLD_GLOROT = {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                                                          "seed": None}}


def write_keras2_h5(path, config: dict, weights: dict[str, list[tuple[str, np.ndarray]]]) -> None:
    """An .h5 as tf.keras 2.12 saved it: ``model_config`` and ``model_weights/<layer>/<layer>/<weight>:0``."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.12.0", "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name in weights]
        group.attrs["backend"], group.attrs["keras_version"] = b"tensorflow", b"2.12.0"
        for name, ws in weights.items():
            layer = group.create_group(name)
            layer.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w, _ in ws]
            for w, value in ws:
                layer.create_dataset(f"{name}/{w}:0", data=np.asarray(value, np.float32))


def layer(kind: str, name: str, **config) -> dict:
    return {"class_name": kind, "config": {"name": name, "trainable": True, "dtype": "float32", **config}}


def conv(name: str, filters: int, init, reg, **extra) -> dict:
    return layer("Conv2D", name, filters=filters, kernel_size=[3, 3], strides=[1, 1], padding="same",
                 data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu", use_bias=True,
                 kernel_initializer=init, bias_initializer={"class_name": "Zeros", "config": {}},
                 kernel_regularizer=reg, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **extra)


def dense(name: str, units: int) -> dict:
    return layer("Dense", name, units=units, activation="softmax", use_bias=True, kernel_initializer=OLD_GLOROT,
                 bias_initializer={"class_name": "Zeros", "config": {}}, kernel_regularizer=OLD_L1L2,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None)


def sequential_h5(path, keras22: bool = False, init=GLOROT):
    """conv (batch_input_shape on it, no InputLayer) -> flatten -> dense; Keras 2.2 wrote the layer list bare."""
    layers = [conv("conv2d", 4, init, L2, batch_input_shape=[None, 8, 8, 3]),
              layer("Flatten", "flatten", data_format="channels_last"), dense("dense", 3)]
    config = {"class_name": "Sequential", "config": layers if keras22 else {"name": "sequential", "layers": layers}}
    weights = {"conv2d": [("kernel", RNG.normal(size=(3, 3, 3, 4))), ("bias", RNG.normal(size=4))], "flatten": [],
               "dense": [("kernel", RNG.normal(size=(256, 3))), ("bias", RNG.normal(size=3))]}
    write_keras2_h5(path, config, weights)
    return weights


def functional_h5(path, class_name="Functional", extra_layer: dict | None = None):
    """input -> conv -> batch norm -> add(conv, bn) -> global pooling -> dense, in Keras 2's functional format."""
    def node(entry, *inbound):
        return {**entry, "name": entry["config"]["name"], "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]]}
    inp = {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [], "config": {
        "batch_input_shape": [None, 8, 8, 3], "dtype": "float32", "sparse": False, "ragged": False, "name": "input_1"}}
    bn = layer("BatchNormalization", "bn", axis=[3], momentum=0.99, epsilon=0.001, center=True, scale=True,
               beta_initializer={"class_name": "Zeros", "config": {}}, gamma_initializer={"class_name": "Ones", "config": {}},
               moving_mean_initializer={"class_name": "Zeros", "config": {}},
               moving_variance_initializer={"class_name": "Ones", "config": {}}, beta_regularizer=None,
               gamma_regularizer=None, beta_constraint=None, gamma_constraint=None)
    layers = [inp, node(conv("conv2d", 4, "glorot_uniform", L2), "input_1"), node(bn, "conv2d"),
              node(layer("Add", "add"), "conv2d", "bn"),
              node(layer("GlobalAveragePooling2D", "gap", data_format="channels_last", keepdims=False), "add"),
              node(dense("dense", 3), "gap")]
    if extra_layer is not None:
        layers.append(node(extra_layer, "dense"))
    config = {"class_name": class_name, "config": {"name": "model", "layers": layers, "input_layers": [["input_1", 0, 0]],
                                                   "output_layers": [[layers[-1]["name"], 0, 0]]}}
    weights = {"conv2d": [("kernel", RNG.normal(size=(3, 3, 3, 4))), ("bias", RNG.normal(size=4))],
               "bn": [("gamma", RNG.random(4) + 0.5), ("beta", RNG.normal(size=4)), ("moving_mean", RNG.normal(size=4)),
                      ("moving_variance", RNG.random(4) + 0.5)],
               "dense": [("kernel", RNG.normal(size=(4, 3))), ("bias", RNG.normal(size=3))]}
    write_keras2_h5(path, config, weights)
    return weights


FILES = {"sequential": lambda p: sequential_h5(p), "keras22": lambda p: sequential_h5(p, keras22=True),
         "functional": lambda p: functional_h5(p), "model": lambda p: functional_h5(p, "Model")}


@pytest.mark.parametrize("kind", list(FILES))
def test_keras2_file_loads_with_its_weights_initializers_and_regularizers(kind, tmp_path):
    path = tmp_path / f"{kind}.h5"
    weights = FILES[kind](path)
    model = load_model_file(path)
    assert model.input_shape == (None, 8, 8, 3)
    for name, ws in weights.items():
        for (w, value), variable in zip(ws, model.get_layer(name).weights):
            np.testing.assert_array_equal(np.asarray(variable), value.astype(np.float32), err_msg=f"{name}/{w}")
    conv2d = model.get_layer("conv2d")
    assert type(conv2d.kernel_initializer).__name__ == "GlorotUniform"
    assert conv2d.kernel_regularizer.get_config() == {"l2": pytest.approx(0.01)}
    assert model.get_layer("dense").kernel_regularizer.get_config() == {"l1": 0.0, "l2": pytest.approx(0.001)}
    project = project_from_file(path)
    assert project.graph.by_name("conv2d").kind == "Conv2D" and project.weights_file == str(path.resolve())


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_keras2_file_summarises_probes_and_exports(kind, tmp_path, capsys):
    path = tmp_path / f"{kind}.h5"
    FILES[kind](path)
    model = load_model_file(path)
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), RNG.integers(0, 256, (20, 16, 3), dtype=np.uint8))
    assert main(["summary", str(path)]) == 0
    assert "conv2d" in capsys.readouterr().out
    assert main(["probe", str(path), str(image), "--layer", "conv2d", "--out", str(tmp_path / "probe")]) == 0
    assert np.load(tmp_path / "probe" / "activations_conv2d.npy").shape == (8, 8, 4)
    assert len(json.loads((tmp_path / "probe" / "predictions.json").read_text())["top_k"]) == 3
    assert main(["export", str(path), "--format", "keras", "-o", str(tmp_path / "out.keras")]) == 0
    assert main(["export", str(path), "--format", "python", "--weights", "-o", str(tmp_path / "net.py")]) == 0
    x = RNG.random((2, 8, 8, 3), dtype=np.float32)
    for exported in (keras.saving.load_model(tmp_path / "out.keras", compile=False),
                     runpy.run_path(str(tmp_path / "net.py"))["model"]):
        np.testing.assert_allclose(np.asarray(exported(x)), np.asarray(model(x)), atol=1e-6)
        assert exported.get_layer("conv2d").kernel_regularizer.get_config() == {"l2": pytest.approx(0.01)}


def test_only_what_keras3_cannot_read_is_rewritten():
    functional = {"class_name": "Functional", "config": {"layers": [{"class_name": "InputLayer", "config": {
        "batch_input_shape": [None, 4]}}]}}
    assert keras3_readable(functional) is functional
    seq = {"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {
        "name": "d", "units": 2, "batch_input_shape": [None, 4]}}]}
    fixed = keras3_readable(seq)
    assert fixed["config"]["layers"] == [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "d_input"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]
    assert "batch_input_shape" in seq["config"][0]["config"]  # the file's own config is left alone


def test_an_unknown_custom_layer_is_named_in_one_line(tmp_path):
    path = tmp_path / "custom.h5"
    functional_h5(path, extra_layer=layer("AttentionPool", "attention", heads=2))
    with pytest.raises(ModelImportError) as info:
        load_model_file(path)
    assert str(info.value) == f"{path}: unknown layer class 'AttentionPool'"
