"""The embedding projector: PCA against NumPy's SVD, activations against a Keras sub-model,
misclassified points, even sampling, stable axes between epochs, t-SNE on a small set."""

import time

import keras
import numpy as np
import pytest

from cnnstudio.core.settings import Preprocessing
from cnnstudio.ml.data.datasets import Dataset
from cnnstudio.ml.data.preprocess import preprocess_batch
from cnnstudio.ml.data.sources import Part
from cnnstudio.ml.probing import projector
from cnnstudio.ml.probing.prober import Prober

SETTINGS = Preprocessing(size=(12, 12), color="rgb", scale="0-1", fit="stretch")


@pytest.fixture(scope="module")
def model(trained_model_factory):
    return trained_model_factory()  # conv -> bn -> sep -> gap -> out (3-class softmax)


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (90, 12, 12, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 30)
    val = Part(labels, images)
    return Dataset(["a", "b", "c"], {"train": val.take(np.arange(3)), "val": val, "test": val.take(np.arange(0))},
                   SETTINGS, "random pictures")


def test_pca_equals_numpys_svd_of_the_same_activations_up_to_sign():
    x = np.random.default_rng(0).normal(size=(200, 12)) * np.linspace(5, 0.1, 12)
    points, explained, axes = projector.pca(x)
    c = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(c, full_matrices=False)
    for k in range(2):
        sign = np.sign(points[:, k] @ (u[:, k] * s[k]))
        np.testing.assert_allclose(points[:, k], sign * u[:, k] * s[k], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(axes[k], sign * vt[k], atol=1e-8)
    np.testing.assert_allclose(explained, s[:2] ** 2 / (s ** 2).sum())
    np.testing.assert_allclose(points, c @ axes.T, rtol=1e-4, atol=1e-4)  # the points are the centred data on the axes


def test_default_layer_is_the_classifiers_input_and_activations_match_a_keras_submodel(model, dataset):
    prober = Prober(model, class_names=["a", "b", "c"])
    assert projector.default_layer(prober) == "gap"
    assert projector.projectable_layers(prober) == ["conv", "bn", "sep", "gap"]
    acts = projector.collect(prober, dataset, "sep", cap=45, batch=16)
    x = preprocess_batch(dataset.splits["val"].images[acts.indices], SETTINGS)
    sub = keras.Model(model.inputs[0], [model.get_layer("sep").output, model.output])
    maps, out = (np.asarray(t) for t in sub(x, training=False))
    np.testing.assert_allclose(acts.features, maps.mean(axis=(1, 2)), rtol=1e-4, atol=1e-5)  # per-channel means
    assert acts.shape == (8, 8, 6) and acts.features.shape == (45, 6)
    np.testing.assert_array_equal(acts.predicted, out.argmax(axis=1))
    np.testing.assert_array_equal(acts.labels, dataset.splits["val"].labels[acts.indices])
    assert np.bincount(acts.labels).tolist() == [15, 15, 15]  # sampled evenly per class
    assert acts.images.shape == (45, 12, 12, 3) and acts.images.dtype == np.uint8


def test_projection_marks_exactly_the_misclassified_points(model, dataset):
    prober = Prober(model, class_names=["a", "b", "c"])
    result = projector.project(prober, dataset, method="pca", cap=60)
    out = prober.predict(preprocess_batch(dataset.splits["val"].images[result.indices], SETTINGS))
    np.testing.assert_array_equal(result.misclassified, out.argmax(axis=1) != result.labels)
    assert result.misclassified.any() and not result.misclassified.all()  # random pictures: some right, some wrong
    i = int(np.flatnonzero(result.misclassified)[0])
    assert result.describe(i).endswith("✗") and result.describe(i).startswith(f"true {'abc'[result.labels[i]]}")
    assert result.layer == "gap" and result.xy.shape == (60, 2) and result.explained.sum() <= 1 + 1e-9
    assert set(result.seconds) == {"activations", "pca"}


def test_sampling_is_even_per_class_and_small_classes_give_all_they_have():
    labels = np.array([0] * 100 + [1] * 5 + [2] * 50)
    pick = projector.sample_evenly(labels, 60)
    assert len(pick) == 60 and len(set(pick)) == 60
    assert np.bincount(labels[pick]).tolist() == [28, 5, 27] or np.bincount(labels[pick]).tolist() == [27, 5, 28]
    assert len(projector.sample_evenly(labels, 1000)) == len(labels)


def test_pca_axes_keep_their_orientation_when_recomputed(model, dataset):
    prober = Prober(model, class_names=["a", "b", "c"])
    acts = projector.collect(prober, dataset, "gap", cap=60)
    first = projector.reduce(acts, "pca", ["a", "b", "c"])
    flipped = projector.Projection(**{**first.__dict__, "components": -first.components})
    again = projector.reduce(acts, "pca", ["a", "b", "c"], previous=flipped)
    np.testing.assert_allclose(again.xy, -first.xy, atol=1e-5)  # turned to agree with the previous axes


def test_tsne_runs_on_a_small_set_and_starts_from_the_previous_layout():
    rng = np.random.default_rng(0)  # three clusters: a layout worth keeping
    labels = np.repeat(np.arange(3), 15)
    acts = projector.Activations("gap", "val", np.arange(45), (rng.normal(size=(45, 6)) + 3 * labels[:, None]),
                                 (6,), labels, labels, np.zeros((45, 2, 2, 3), np.uint8), 0.0)
    first = projector.reduce(acts, "tsne", ["a", "b", "c"])
    assert first.method == "tsne" and first.xy.shape == (45, 2) and np.isfinite(first.xy).all()
    assert set(first.seconds) == {"activations", "pca", "tsne"}
    again = projector.reduce(acts, "tsne", ["a", "b", "c"], previous=first)
    for k in range(2):
        assert np.corrcoef(again.xy[:, k], first.xy[:, k])[0, 1] > 0.9  # same points: the same layout, not a new one


def test_cancelling_tsne_ends_its_process_at_once():
    def report(done, total, what):
        raise projector.Cancelled

    x = np.random.default_rng(0).normal(size=(400, 20))
    t0 = time.perf_counter()
    with pytest.raises(projector.Cancelled):
        projector.tsne(x, report=report)
    assert time.perf_counter() - t0 < 1 + projector.POLL_S  # cancelled at the first poll, the child killed


def test_cancelling_stops_between_batches_and_bad_input_says_why(model, dataset):
    prober = Prober(model, class_names=["a", "b", "c"])
    seen = []

    def report(done, total, what):
        seen.append(done)
        raise projector.Cancelled

    with pytest.raises(projector.Cancelled):
        projector.collect(prober, dataset, "gap", cap=90, report=report, batch=16)
    assert seen == [16]
    with pytest.raises(ValueError, match="no layer 'nope'"):
        projector.collect(prober, dataset, "nope")
    with pytest.raises(ValueError, match="unknown projection"):
        projector.reduce(projector.collect(prober, dataset, "gap", cap=9), "umap", ["a", "b", "c"])


def test_missing_scikit_learn_is_one_clear_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(projector.ProjectorUnavailable, match=r"pip install 'cnnstudio\[projector\]'"):
        projector.tsne(np.zeros((10, 3)))
