"""Transfer learning end to end: frozen layers in Keras, a new head on a trained backbone, fine-tuning."""

import json
import time

import keras
import numpy as np
import pytest

from cnnstudio.core.commands import SetFrozen
from cnnstudio.core.inference import infer
from cnnstudio.core.project import load_project, save_project
from cnnstudio.core.templates import simple_cnn
from cnnstudio.core.transfer import fine_tune_layers, unfreeze_top
from cnnstudio.ml.model.builder import build_model
from cnnstudio.ml.model.export import python_code
from cnnstudio.ml.model.weights import copy_weights
from cnnstudio.ml.model.keras_io import ModelImportError, graph_from_model, project_from_model
from cnnstudio.ml.model.transfer import (TransferError, check_cut, cut_points, default_cut, download_progress,
                                         load_backbone, transfer_project)
from cnnstudio.ml.training.fit import Reporter
from cnnstudio.ml.training.runner import run_project
from cnnstudio.ml.training.runs import Run

#: Easy poses, so that a tiny network learns the shapes in a few seconds.
EASY = {"rotation": 0.15, "position": 0.2, "scale": 0.2}


def shapes_project(classes, count, epochs, learning_rate=3e-3):
    p = simple_cnn(classes)
    p.set_settings("data", {"options": {**p.data.options, "count": count, **EASY}})
    p.set_settings("training", {"epochs": epochs, "batch_size": 32, "learning_rate": learning_rate})
    return p


@pytest.fixture(scope="module")
def tiny_model(trained_model_factory):
    """A trained 12x12 classifier with a BatchNormalization (see tests/conftest.py), built once."""
    return trained_model_factory()


class Statuses(Reporter):
    def __init__(self):
        super().__init__()
        self.lines = []

    def on_status(self, text):
        self.lines.append(text)


def test_builder_trains_only_what_the_graph_does_not_freeze():
    project = simple_cnn()
    SetFrozen(project.graph, [project.graph.by_name(n).id for n in ("conv1", "conv2")], True).do()
    model = build_model(project.graph)
    info = infer(project.graph)
    count = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    assert count(model.trainable_weights) == info.trainable_params
    assert count(model.non_trainable_weights) == info.total_params - info.trainable_params
    assert [layer.name for layer in model.layers if not layer.trainable] == ["conv1", "conv2"]
    code = python_code(project.graph)
    assert "trainable=False" in code.split("conv1 = ")[1].split("pool1 = ")[0]
    assert "trainable=False" not in code.split("conv3 = ")[1]
    namespace = {}
    exec(python_code(project.graph), namespace)  # the exported script rebuilds the same frozen layers
    assert [layer.name for layer in namespace["model"].layers if not layer.trainable] == ["conv1", "conv2"]


def test_importing_a_keras_model_reads_trainable_false_as_frozen(tiny_model):
    model = keras.models.clone_model(tiny_model)
    model.get_layer("conv").trainable = False
    model.get_layer("sep").trainable = False
    graph = graph_from_model(model)
    assert sorted(n.name for n in graph.nodes.values() if n.frozen) == ["conv", "sep"]
    assert "trainable" not in graph.by_name("conv").extra.get("config", {})
    info = infer(graph)
    assert info.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    SetFrozen(graph, [graph.by_name("conv").id], False).do()  # unfreezing counts its weights trainable again
    assert infer(graph)[graph.by_name("conv").id].trainable == model.get_layer("conv").count_params()


def test_frozen_batch_norm_keeps_its_moving_statistics_and_uses_them(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "backbone.keras")
    project = transfer_project(simple_cnn(["circle", "square"]), load_backbone(tmp_path / "backbone.keras"), cut="sep")
    assert project.graph.by_name("bn").frozen and not project.graph.by_name("head_classifier").frozen
    model = build_model(project.graph)
    copy_weights(tiny_model, model)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    model.fit(rng.random((32, 12, 12, 3)) * 3, rng.integers(0, 2, 32), epochs=2, batch_size=8, verbose=0)
    bn, want = model.get_layer("tiny").get_layer("bn"), tiny_model.get_layer("bn")  # the backbone nests, as Keras's guide builds it
    np.testing.assert_allclose(bn.moving_mean.numpy(), want.moving_mean.numpy())
    np.testing.assert_allclose(bn.moving_variance.numpy(), want.moving_variance.numpy())
    x = rng.random((4, 10, 10, 4), dtype=np.float32) * 3  # bn's input: conv's output
    np.testing.assert_allclose(bn(x, training=True), bn(x, training=False), rtol=1e-5, atol=1e-6)
    assert not np.allclose(bn(x, training=False), keras.layers.BatchNormalization()(x, training=True), atol=1e-3)


def test_a_cut_without_spatial_output_is_refused_with_the_reason(tiny_model):
    model = tiny_model
    points = {p.name: p for p in cut_points(model)}
    assert points["sep"].ok and not points["gap"].ok and "no spatial axes" in points["gap"].reason
    assert default_cut(model) == "sep"
    with pytest.raises(TransferError, match=r"cannot cut tiny at out: its output \(3\) has no spatial axes"):
        check_cut(model, "out")
    dense_only = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, name="d")], name="flat")
    with pytest.raises(TransferError, match="no layer with a spatial"):
        default_cut(dense_only)


def test_offline_download_leaves_the_project_untouched_and_says_so(monkeypatch):
    def offline(**kwargs):  # what keras.utils.get_file raises without a network
        raise Exception("URL fetch failure on https://storage.googleapis.com/tensorflow/keras-applications/"
                        "mobilenet_v2/x.h5: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    project = simple_cnn()
    before = json.dumps(project.to_dict(), sort_keys=True)
    with pytest.raises(ModelImportError) as caught:
        transfer_project(project, load_backbone("MobileNetV2", weights="imagenet", input_shape=(32, 32, 3)))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("cannot download the imagenet weights for MobileNetV2 (offline?)")
    assert json.dumps(project.to_dict(), sort_keys=True) == before


def test_downloads_report_their_progress(tmp_path):
    origin = tmp_path / "weights.bin"
    origin.write_bytes(b"x" * 50_000)
    (tmp_path / "cache").mkdir()  # Keras falls back to /tmp/.keras for a cache folder it cannot write
    seen = []
    with download_progress(lambda done, total: seen.append((done, total))):
        keras.utils.get_file("copy.bin", origin.as_uri(), cache_dir=str(tmp_path / "cache"))
    assert seen and seen[-1] == (50_000, 50_000)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_an_application_backbone_gets_its_family_scaling_and_a_head(tmp_path):
    backbone = load_backbone("MobileNetV2", weights=None, input_shape=(32, 32, 3))
    assert backbone.weights_file is None and backbone.scale == "tf"
    project = transfer_project(simple_cnn(["circle", "square", "star"]), backbone)
    assert project.preprocessing.scale == "tf" and project.preprocessing.size == (32, 32)
    assert project.graph.outputs()[0].name == "head_classifier"
    assert infer(project.graph)[project.graph.outputs()[0].id].output_shape == (3,)
    head = {n.name for n in project.graph.nodes.values() if not n.frozen}
    assert head == {project.graph.input_nodes()[0].name, "head_pool", "head_dropout", "head_classifier"}


def test_a_new_head_on_a_trained_backbone_learns_other_shapes_and_fine_tuning_goes_on_in_the_same_run(tmp_path):
    t0 = time.perf_counter()
    trained = run_project(shapes_project(["circle", "square", "triangle", "cross", "star", "ring"], 1200, 4),
                          Reporter(), runs_dir=tmp_path / "backbone")
    backbone = load_backbone(trained.run.best_checkpoint)  # a run this studio trained
    assert "trained it with '0-1' scaling" in backbone.scale_note
    task = shapes_project(["star", "ring", "heart", "arrow"], 600, 12, learning_rate=1e-2)  # heart, arrow: new
    project = transfer_project(task, backbone, head={"dropout": 0.1})
    assert project.classes == ["star", "ring", "heart", "arrow"]
    assert [n.name for n in project.graph.nodes.values() if n.frozen] == [
        "conv1", "pool1", "conv2", "pool2", "conv3", "pool3"]
    path = save_project(project, tmp_path / "transfer.cnnproj")
    project = load_project(path)  # what a user saves and opens again trains the same
    statuses = Statuses()
    result = run_project(project, statuses)
    assert "Starting from the weights of best.keras: 3 layer(s) copied, 1 new" in statuses.lines
    run = Run(result.run.path)
    assert run.settings["start_weights"]["fresh"] == ["head_classifier"]
    backbone = result.model.get_layer(trained.model.name)  # nested, as Keras's transfer guide builds it
    np.testing.assert_allclose(backbone.get_layer("conv3").kernel.numpy(),
                               trained.model.get_layer("conv3").kernel.numpy())  # frozen: as trained
    assert max(run.curves.epoch["val_accuracy"]) >= 0.9
    assert time.perf_counter() - t0 < 60

    unfreeze = unfreeze_top(project.graph, 1)
    assert [project.graph.nodes[i].name for i in fine_tune_layers(project.graph, 1)] == ["conv3", "pool3"]
    unfreeze.do()
    statuses = Statuses()
    again = run_project(project, statuses, resume=run.path, epochs=14, fine_tune=0.1)
    assert again.run.path == run.path
    run = Run(run.path)
    assert run.curves.epochs_done == 14 and len(run.curves.epoch["val_accuracy"]) == 14
    assert run.settings["training"]["learning_rate"] == pytest.approx(1e-3)
    assert run.settings["fine_tuned"] == [{"from_epoch": 13, "learning_rate": pytest.approx(1e-3), "changed": ["conv3", "pool3"]}]
    backbone = again.model.get_layer(trained.model.name)
    assert backbone.get_layer("conv3").trainable and not backbone.get_layer("conv2").trainable
    assert any(line.startswith("Fine-tuning from epoch 13") for line in statuses.lines)
    assert not np.allclose(backbone.get_layer("conv3").kernel.numpy(), trained.model.get_layer("conv3").kernel.numpy())
    np.testing.assert_allclose(backbone.get_layer("conv2").kernel.numpy(), trained.model.get_layer("conv2").kernel.numpy())


def test_a_project_from_a_model_keeps_its_frozen_layers_through_save_and_load(tiny_model, tmp_path):
    model = keras.models.clone_model(tiny_model)
    model.get_layer("bn").trainable = False
    project = project_from_model(model, "tiny")
    back = load_project(save_project(project, tmp_path / "t.cnnproj"))
    assert [n.name for n in back.graph.nodes.values() if n.frozen] == ["bn"]
    assert not build_model(back.graph).get_layer("bn").trainable
