"""``cnnstudio summary`` and ``export`` on model files with raw Keras operations between layers.

Keras 3 records ``x + 3.0`` or ``y * 0.5`` as operation entries, not layers; MobileNetV3 is
made of them (its hard-swish). These commands used to end in ``KeyError: 'add'``.
"""

import json

import keras
import numpy as np
import pytest

from cnnstudio.cli import main


def ops_model() -> keras.Model:
    inp = keras.Input((8, 8, 3), name="image")
    a = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    b = keras.ops.relu(1.0 - (a + 3.0) * 0.5)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(keras.layers.Conv2D(4, 1, name="conv2")(b) + a)
    return keras.Model(inp, keras.layers.Dense(2, name="out")(x), name="ops_net")


@pytest.fixture(scope="module", params=["ops.json", "ops.keras", "MobileNetV3Small.json"])
def model_file(request, tmp_path_factory):
    """(path, model) of a model file with operations."""
    if request.param.startswith("ops"):
        model = ops_model()
    else:
        model = keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), include_top=False)
    path = tmp_path_factory.mktemp("models") / request.param
    if path.suffix == ".json":
        path.write_text(model.to_json())
    else:
        model.save(path)
    return path, model


def test_summary_lists_operations_with_keras_shapes(model_file, capsys):
    path, model = model_file
    assert main(["summary", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_params"] == model.count_params()
    rows = {r["name"]: r for r in report["layers"]}
    for op in model.operations:
        assert rows[op.name]["output_shape"] == list(op.output.shape), op.name
    assert main(["summary", str(path)]) == 0
    assert " (Add (op)) " in capsys.readouterr().out


def test_summary_table_says_why_a_receptive_field_is_undefined(capsys, tmp_path):
    path = tmp_path / "ops.json"
    path.write_text(ops_model().to_json())
    assert main(["summary", str(path)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "- (no spatial axes after global pooling)" in rows["gap"]
    assert "- (no spatial axes)" in rows["out"]


def test_exports_rebuild_the_operations(model_file, tmp_path):
    path, model = model_file
    script, saved = tmp_path / "net.py", tmp_path / "net.keras"
    assert main(["export", str(path), "--format", "python", "-o", str(script)]) == 0
    assert main(["export", str(path), "--format", "keras", "-o", str(saved)]) == 0
    namespace = {"__name__": "net"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
    for rebuilt in (namespace["model"], keras.saving.load_model(saved, compile=False)):
        assert sorted(op.name for op in rebuilt.operations) == sorted(op.name for op in model.operations)
        for layer in model.layers:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
        assert np.abs(np.asarray(model(x)) - np.asarray(rebuilt(x))).max() < 1e-6
