"""Deploy exports: every format holds the trained model, checked in its own runtime.

The default project's shipped run is a real trained CNN: it is exported once in every format,
and each artefact is loaded here with its runtime (independently of the export's own check)
and held against the Keras model on validation images of the project.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnnstudio import RESOURCES
from cnnstudio.core.project import load_project
from cnnstudio.ml.model.deploy import DeployError, OutputExists, VerificationFailed, export_deployment, inference_graph
from cnnstudio.ml.model.deploy_check import RUNTIMES, LiteRuntime, keras_direct_call
from cnnstudio.ml.model.deploy_data import DeployJob, file_samples, project_samples, random_samples
from cnnstudio.ml.model.deploy_formats import FORMATS, labels_path, metadata_path, missing_packages
from cnnstudio.ml.model.weights import build_trained, trained_weights_file

pytestmark = pytest.mark.skipif(any(missing_packages(f) for f in FORMATS.values()),
                                reason="the export extra (pip install 'cnnstudio[export]') is not installed")


@pytest.fixture(scope="module")
def default():
    project = load_project(RESOURCES / "projects" / "default.cnnproj")
    job = DeployJob.of(project, trained_weights_file(project))
    return project, job, project_samples(job.data, job.preprocessing)


@pytest.fixture(scope="module")
def exported(default, tmp_path_factory):
    """Every format of the shipped model: {format: DeployResult}."""
    _project, job, samples = default
    out = tmp_path_factory.mktemp("deploy")
    return {name: export_deployment(job, name, out / f"shapes_{name}", samples) for name in FORMATS}


@pytest.fixture(scope="module")
def keras_outputs(default):
    _project, job, samples = default
    model = build_trained(job.graph, job.name, job.weights).model
    return keras_direct_call(model)(samples.check)


@pytest.mark.parametrize("name", ["savedmodel", "tflite", "onnx"])
def test_each_float_runtime_gives_keras_outputs_within_1e_4(exported, default, keras_outputs, name):
    result = exported[name]
    samples = default[2]
    assert len(samples.check) >= 100 and "validation images" in samples.source
    out = RUNTIMES[name](result.paths[0])(samples.check)
    assert np.max(np.abs(out - keras_outputs)) <= 1e-4
    assert result.row.passed and result.row.max_diff <= 1e-4 and result.row.agreement == 1.0
    assert result.row.latency_ms > 0 and result.row.keras_ms > 0


def test_int8_agrees_with_the_float_model_on_95_percent_and_is_smaller(exported, default, keras_outputs):
    int8, float32 = exported["tflite-int8"], exported["tflite"]
    runtime = LiteRuntime(int8.paths[0])
    assert runtime.io()["input"]["dtype"] == "int8"  # full-integer: the input too
    out = runtime(default[2].check)
    agreement = np.mean(out.argmax(1) == keras_outputs.argmax(1))
    assert agreement >= 0.95 and int8.row.agreement == pytest.approx(agreement)
    assert int8.paths[0].stat().st_size < float32.paths[0].stat().st_size
    assert int8.row.size_bytes < float32.row.size_bytes


def test_metadata_says_how_to_use_the_model_and_tflite_has_labels(exported, default):
    project = default[0]
    for name, result in exported.items():
        meta = json.loads(metadata_path(result.paths[0]).read_text(encoding="utf-8"))
        assert meta["format"] == name and meta["input"]["shape"] == [None, 32, 32, 1]
        assert meta["preprocessing"] == project.preprocessing.to_dict()
        assert meta["classes"] == project.classes
        assert meta["weights"].endswith("best.keras") and meta["verification"]["passed"]
        assert (meta.get("opset") == 17) == (name == "onnx")
        assert labels_path(result.paths[0]).exists() == name.startswith("tflite")
    meta = json.loads(metadata_path(exported["tflite-int8"].paths[0]).read_text(encoding="utf-8"))
    assert meta["input"]["dtype"] == "int8" and set(meta["input"]["quantization"]) == {"scale", "zero_point"}
    labels = labels_path(exported["tflite"].paths[0]).read_text(encoding="utf-8").split()
    assert labels == project.classes


def test_a_bare_model_file_with_batch_norm_and_separable_convs(trained_model_factory, tmp_path):
    """A small trained CNN from a .keras file: float formats check on random pictures, int8 on an .npz."""
    from cnnstudio.ml.model.keras_io import project_from_file

    model = trained_model_factory()
    model.save(tmp_path / "tiny.keras")
    project = project_from_file(tmp_path / "tiny.keras")
    job = DeployJob.of(project, trained_weights_file(project), with_data=False)
    samples = random_samples(job.preprocessing)
    for name in ("savedmodel", "tflite", "onnx"):
        assert export_deployment(job, name, tmp_path / f"tiny_{name}", samples).row.max_diff <= 1e-4
    with pytest.raises(DeployError, match="int8 quantization needs calibration data .*no data given"):
        export_deployment(job, "tflite-int8", tmp_path / "tiny_int8", samples)
    # (int8 from an .npz: tests/cli, on the shipped model; this one learnt noise, and its top-1 too)
    pictures = np.random.default_rng(0).integers(0, 256, (64, 12, 12, 3), dtype=np.uint8)
    np.savez(tmp_path / "calib.npz", x=pictures)
    calibration = file_samples(tmp_path / "calib.npz", job.preprocessing)
    assert calibration.check.shape == (64, 12, 12, 3) and calibration.calibration is not None
    # all 64 picked (in another order), preprocessed as the project says: 0..255 -> 0..1
    np.testing.assert_allclose(np.sort(calibration.check, axis=None), np.sort(pictures / 255.0, axis=None), atol=1e-6)


def test_augmentation_layers_are_left_out_of_the_inference_graph(default):
    from cnnstudio.core.templates import default_project

    graph = default_project().graph
    conv = graph.by_name("conv1")
    (edge,) = graph.in_edges(conv.id)
    graph.remove_edge(edge)
    flip = graph.add_node("RandomFlip", name="flip")
    turn = graph.add_node("RandomRotation", name="turn")
    graph.add_edge(edge.src, flip.id)
    graph.add_edge(flip.id, turn.id)
    graph.add_edge(turn.id, conv.id)
    clean, dropped = inference_graph(graph)
    assert dropped == ["flip", "turn"] and "flip" in [n.name for n in graph.nodes.values()]  # the original keeps them
    assert clean.inputs_of(clean.by_name("conv1").id) == [edge.src]
    assert len(clean.nodes) == len(graph.nodes) - 2


def test_no_trained_weights_an_unwritable_path_and_an_existing_output_are_refused(default, exported, tmp_path):
    _project, job, samples = default
    untrained = DeployJob(job.graph, "Untrained", None, job.preprocessing, job.classes, job.data)
    with pytest.raises(DeployError, match="has no trained weights"):
        export_deployment(untrained, "tflite", tmp_path / "x.tflite", samples)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(DeployError, match="cannot write to .*a_file"):
        export_deployment(job, "onnx", blocker / "net.onnx", samples)
    target = exported["onnx"].paths[0]
    before = target.read_bytes()
    with pytest.raises(OutputExists, match="already exist"):
        export_deployment(job, "onnx", target, samples)
    assert target.read_bytes() == before


def test_a_failed_check_writes_nothing_and_replaces_nothing(default, tmp_path, monkeypatch):
    _project, job, samples = default
    real = RUNTIMES["onnx"]

    def off_by_a_bit(path):
        run = real(path)
        return type("Faulty", (), {"name": "faulty", "__call__": lambda self, x: run(x) + 1e-3})()

    monkeypatch.setitem(RUNTIMES, "onnx", off_by_a_bit)
    target = tmp_path / "net.onnx"
    target.write_bytes(b"an older export")
    with pytest.raises(VerificationFailed, match="differ from Keras's by up to") as failed:
        export_deployment(job, "onnx", target, samples, force=True)
    assert not failed.value.row.passed and failed.value.row.max_diff > 1e-4
    assert target.read_bytes() == b"an older export" and sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]


def test_a_layer_a_format_cannot_represent_is_named(tmp_path):
    """A custom layer with an op neither TFLite nor ONNX has (erfinv): the SavedModel holds it,
    the other two name the layer (ONNX's converter writes the op anyway: ONNX Runtime refuses it)."""
    import keras

    from cnnstudio.ml.model.keras_io import project_from_file

    @keras.saving.register_keras_serializable(package="test_deploy")
    class Warp(keras.layers.Layer):
        def call(self, x):
            return keras.ops.erfinv(keras.ops.clip(x, -0.9, 0.9))

    inp = keras.Input((8, 8, 1), name="image")
    x = Warp(name="warp")(keras.layers.Conv2D(2, 3, name="conv")(inp))
    keras.Model(inp, keras.layers.Dense(3, name="out")(keras.layers.Flatten(name="flat")(x))).save(tmp_path / "w.keras")
    project = project_from_file(tmp_path / "w.keras")
    job = DeployJob.of(project, trained_weights_file(project), with_data=False)
    samples = random_samples(job.preprocessing)
    assert export_deployment(job, "savedmodel", tmp_path / "sm", samples).row.passed
    for name, why in (("tflite", "'tf.Erfinv' op is neither a custom op nor a flex op"),
                      ("onnx", "No Op registered for Erfinv")):
        with pytest.raises(DeployError, match=r"cannot represent layer\(s\) warp \(Warp\): ") as refused:
            export_deployment(job, name, tmp_path / f"w_{name}", samples)
        assert why in str(refused.value) and "conv" not in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm", "sm.metadata.json", "w.keras"]


def test_the_example_classifies_a_picture_as_the_studio_does(exported, default):
    """examples/classify_tflite.py, from the metadata alone, gives the Keras model's answer on the
    studio's preprocessing of the same picture."""
    import runpy

    from cnnstudio.ml.data.datasets import load_dataset
    from cnnstudio.ml.data.preprocess import preprocess

    project, job, _samples = default
    classify = runpy.run_path(str(Path(__file__).parents[2] / "examples" / "classify_tflite.py"))["classify"]
    pictures = load_dataset(job.data, job.preprocessing).splits["val"].images[:8]
    model = build_trained(job.graph, job.name, job.weights).model
    expected = keras_direct_call(model)(np.stack([preprocess(p, job.preprocessing) for p in pictures]))
    for picture, want in zip(pictures, expected):
        ranked = dict(classify(exported["tflite"].paths[0], picture))
        assert max(abs(ranked[c] - want[i]) for i, c in enumerate(project.classes)) <= 1e-4
        assert classify(exported["tflite-int8"].paths[0], picture)[0][0] == project.classes[int(want.argmax())]
