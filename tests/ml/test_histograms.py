"""Histograms over training: per-epoch weight / activation histograms, dead ReLUs, TensorBoard, damaged files."""

import keras
import numpy as np
import pytest

from cnnstudio.core.settings import Training
from cnnstudio.core.templates import default_project
from cnnstudio.ml.training.histograms import BINS, HistogramRecorder, histogram_probe, is_relu, probe_batch
from cnnstudio.ml.training.runner import run_project
from cnnstudio.ml.training.runs import EpochHistograms, Histogram, HistogramLog, Run, dead_relu_report


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The default network on 160 shapes, two epochs, into a temporary runs folder."""
    p = default_project()
    p.set_settings("data", {"options": {**p.data.options, "count": 160}})
    p.set_settings("training", {"epochs": 2, "batch_size": 16})
    return run_project(p, runs_dir=tmp_path_factory.mktemp("runs"))


def test_every_epoch_has_histograms_that_match_the_checkpoint_and_a_keras_sub_model(trained):
    run = Run(trained.run.path)
    log = run.histograms()
    assert log.epochs() == [0, 1, 2]
    last = log.read(2)
    model = keras.saving.load_model(run.last_checkpoint)  # the model after epoch 2
    for layer in model.layers:
        for var in layer.trainable_weights:
            values = np.asarray(var.value)
            h = last.weights[f"{layer.name}/{var.name}"]
            counts, edges = np.histogram(values, bins=BINS)
            assert h.num == values.size and np.array_equal(h.counts, counts)
            np.testing.assert_allclose(h.edges, edges, rtol=1e-6)
            assert abs(h.total - values.astype(np.float64).sum()) < 1e-3 * max(1.0, np.abs(values).sum())
    assert set(last.activations) == {"conv1", "conv2", "conv3", "fc", "output"}
    probe = probe_batch(trained.dataset)
    assert last.probe_images == len(probe) == min(64, trained.dataset.size("val"))
    names = list(last.activations)
    sub = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])
    for name, values in zip(names, sub(probe, training=False)):
        values = np.asarray(values)
        h = last.activations[name]
        counts, edges = np.histogram(values, bins=BINS)
        assert h.num == values.size
        assert np.abs(h.counts - counts).sum() <= 2  # float rounding may move a value at a bin edge
        np.testing.assert_allclose(h.edges, edges, rtol=1e-5, atol=1e-6)
        if name != "output":  # every other layer has a ReLU
            dead = np.all(values.reshape(-1, values.shape[-1]) <= 0, axis=0)
            assert np.array_equal(last.dead[name], dead)
    assert "output" not in last.dead
    first = log.read(0)
    assert not np.array_equal(first.weights["conv1/kernel"].counts, last.weights["conv1/kernel"].counts) or \
        not np.allclose(first.weights["conv1/kernel"].edges, last.weights["conv1/kernel"].edges)


def test_tensorboard_event_file_has_the_histograms_at_each_epoch(trained):
    import tensorflow as tf

    run = Run(trained.run.path)
    (events,) = (run.tensorboard_dir / "train").glob("events.out.tfevents.*")
    histos, scalars = {}, {}
    for event in tf.compat.v1.train.summary_iterator(str(events)):
        for value in event.summary.value:
            if value.HasField("histo"):
                histos[event.step, value.tag] = value.histo
            elif value.tag.startswith("dead_relu/"):
                scalars[event.step, value.tag] = value.simple_value
    assert {s for s, _ in histos} == {0, 1, 2}
    tags = {t for _, t in histos}
    assert {"weights/conv1/kernel", "weights/conv1/bias", "weights/output/kernel", "activations/conv1",
            "activations/output"} <= tags
    stored = run.histograms().read(2)
    proto, h = histos[2, "weights/fc/kernel"], stored.weights["fc/kernel"]
    assert proto.num == h.num == sum(proto.bucket) and list(proto.bucket) == h.counts.tolist()
    np.testing.assert_allclose(proto.bucket_limit, h.edges[1:])
    assert proto.min == pytest.approx(h.edges[0]) and proto.max == pytest.approx(h.edges[-1])
    assert scalars[2, "dead_relu/fc"] == pytest.approx(stored.dead_fraction("fc"))


def test_a_unit_with_a_bias_of_minus_100_is_dead():
    inp = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    lin = keras.layers.Conv2D(2, 1, name="lin")(conv)
    relu = keras.layers.ReLU(name="relu")(lin)
    leaky = keras.layers.ReLU(negative_slope=0.1, name="leaky")(relu)
    out = keras.layers.Dense(3, activation="softmax", name="out")(keras.layers.Flatten()(leaky))
    model = keras.Model(inp, out)
    kernel, bias = model.get_layer("conv").get_weights()
    model.get_layer("conv").set_weights([np.abs(kernel) + 0.01, np.array([0.0, 0.0, -100.0, 0.0], np.float32)])
    model.get_layer("lin").set_weights([np.array([[[[1.0, -1.0]] * 4]], np.float32).reshape(1, 1, 4, 2),
                                        np.zeros(2, np.float32)])  # channel 1 = -sum of positive maps: dead
    probe = np.random.default_rng(0).uniform(0.1, 1.0, (5, 8, 8, 1)).astype(np.float32)
    h = HistogramRecorder(model, probe).record(3)
    assert h.epoch == 3 and h.probe_images == 5
    assert set(h.dead) == {"conv", "relu"}  # a leaky ReLU has no dead units; softmax is not a ReLU
    assert h.dead["conv"].tolist() == [False, False, True, False] and h.dead_fraction("conv") == 0.25
    assert h.dead["relu"].tolist() == [False, True]
    assert h.activations["conv"].num == 5 * 6 * 6 * 4
    assert [is_relu(model.get_layer(n)) for n in ("conv", "lin", "relu", "leaky", "out")] == \
        [True, False, True, False, False]


def test_histograms_are_off_when_switched_off_or_on_a_worker_that_writes_no_run(trained, tmp_path):
    on, off = Training.default(), Training.default().replace(histograms=False)
    run = Run.create(tmp_path, {})
    assert histogram_probe(trained.dataset, on, run).shape[0] == min(64, trained.dataset.size("val"))
    assert histogram_probe(trained.dataset, off, run) is None
    assert histogram_probe(trained.dataset, on, None) is None  # multi-worker: only the chief has a run


def _epoch(epoch: int, dead: dict[str, list[bool]]) -> EpochHistograms:
    h = Histogram(np.linspace(-1, 1, 5), np.array([1, 2, 3, 4]), 0.5, 3.0)
    return EpochHistograms(epoch, {"conv/kernel": h}, {"conv": h},
                           {k: np.array(v, bool) for k, v in dead.items()}, 8, 0.01)


def test_a_killed_or_damaged_file_does_not_break_reading(tmp_path):
    log = HistogramLog(tmp_path / "histograms")
    log.write(_epoch(0, {"conv": [False] * 4}))
    log.write(_epoch(1, {"conv": [True, False, False, False]}))
    good = log.path(1).read_bytes()
    log.path(2).write_bytes(good[: len(good) // 2])        # killed mid-write without the rename
    (log.folder / ".epoch-0003.tmp.npz").write_bytes(good[:10])  # a temporary file left behind
    log.path(4).write_bytes(b"not a zip file")
    assert log.epochs() == [0, 1, 2, 4]
    read = log.read_all()
    assert [h.epoch for h in read] == [0, 1] and len(log.problems) == 2 and "epoch-0002" in log.problems[0]
    assert read[1].dead_fraction("conv") == 0.25 and read[1].weights["conv/kernel"].num == 10
    assert read[1].weights["conv/kernel"].total == 0.5 and read[1].seconds == 0.01
    log.drop_after(1)
    assert log.epochs() == [0, 1]


def test_dead_relu_growth_is_flagged():
    history = [_epoch(0, {"a": [False] * 10, "b": [False] * 10}),
               _epoch(1, {"a": [True] * 1 + [False] * 9, "b": [True] * 3 + [False] * 7}),
               _epoch(2, {"a": [True] * 6 + [False] * 4, "b": [True] * 3 + [False] * 7})]
    rows = {r[0]: r for r in dead_relu_report(history, 1)}
    assert rows["a"][1:3] == (0.1, 0.1) and not rows["a"][3]           # +10 points: not more than the rise
    assert rows["b"][2] == pytest.approx(0.3) and "rose from 0% to 30%" in rows["b"][3]
    rows = {r[0]: r for r in dead_relu_report(history, 2)}
    assert "rose from 10% to 60%" in rows["a"][3] and not rows["b"][3]
    assert np.isnan(dead_relu_report(history, 0)[0][2])
    high = [_epoch(5, {"a": [True] * 6 + [False] * 4})]
    assert "60% of its ReLUs are dead" in dead_relu_report(high, 0)[0][3]


def test_a_histogram_of_hostile_values_counts_the_finite_ones():
    from cnnstudio.ml.training.histograms import histogram

    h = histogram(np.full(10, 1e38, np.float32))  # float32 alone cannot cut 64 bins around 1e38
    assert h.num == 10 and h.edges[0] < 1e38 < h.edges[-1]
    h = histogram(np.array([np.nan, np.inf, 1.0, 2.0], np.float32))
    assert h.num == 2 and h.total == 3.0 and h.squares == 5.0
    assert histogram(np.zeros(0, np.float32)).num == 0
