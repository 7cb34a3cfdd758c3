"""Top-activating patches against brute force, their crops against a brute-force receptive field;
guided backprop against a hand-written backward pass; integrated gradients' completeness."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnstudio.core.settings import DataSource, Preprocessing
from cnnstudio.ml.probing import attribution
from cnnstudio.ml.probing.inputs import DatasetSamples
from cnnstudio.ml.probing.outputs import AttributionUndefined
from cnnstudio.ml.probing.prober import Prober
from cnnstudio.ml.probing.session import ProbeSession
from cnnstudio.ml.probing.top_patches import cut_field, scan


def _padded_net():
    """Two 'same'-padded convs, the second strided: fields of 5x5 px, corner units half in padding."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 12, 1))
    a = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="a")(inp)
    b = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="b")(a)
    out = keras.layers.Dense(2, activation="softmax", name="out")(keras.layers.GlobalAveragePooling2D()(b))
    return keras.Model(inp, out, name="padded")


def _batches(x, size=5):
    for s in range(0, len(x), size):
        yield np.arange(s, min(len(x), s + size)), x[s:s + size], np.arange(s, min(len(x), s + size)) % 2


@pytest.fixture(scope="module")
def padded():
    x = np.random.default_rng(0).uniform(0, 1, (23, 12, 12, 1)).astype(np.float32)
    return Prober(_padded_net()), x


def test_top_k_patches_are_the_brute_force_top_k_one_per_image_and_several(padded):
    prober, x = padded
    maps = np.asarray(keras.Model(prober.model.inputs[0], prober.model.get_layer("b").output)(x))[..., 2]
    best = maps.reshape(len(x), -1).max(axis=1)
    found = scan(prober, _batches(x), "b", 2, k=6, total=len(x))
    assert [p.index for p in found.patches] == list(np.argsort(-best, kind="stable")[:6])
    np.testing.assert_allclose([p.value for p in found.patches], np.sort(best)[::-1][:6], rtol=1e-5)
    for p in found.patches:
        assert maps[p.index][p.unit] == pytest.approx(p.value, rel=1e-5)
        assert p.label == p.index % 2
    assert found.scanned == len(x) and not found.cancelled
    # several per image: the k strongest units anywhere, at most 3 from one image
    flat = maps.reshape(len(x), -1)
    three = np.sort(flat, axis=1)[:, ::-1][:, :3].ravel()
    several = scan(prober, _batches(x), "b", 2, k=10, per_image=3)
    np.testing.assert_allclose([p.value for p in several.patches], np.sort(three)[::-1][:10], rtol=1e-5)
    assert max(np.bincount([p.index for p in several.patches])) <= 3


def test_each_crop_is_the_input_cut_by_the_pixels_that_change_its_unit(padded):
    prober, x = padded
    found = scan(prober, _batches(x), "b", 1, k=23)
    corner = [p for p in found.patches if p.field.padding_pixels]
    assert corner, "a 12x12 'same' net has units whose field reaches into the padding"
    sub = keras.Model(prober.model.inputs[0], prober.model.get_layer("b").output)
    for p in found.patches[:8] + corner[:4]:
        img = x[p.index]
        pokes = np.repeat(img[None], 144, axis=0)
        pokes[np.arange(144), np.arange(144) // 12, np.arange(144) % 12, 0] += 5.0
        moved = np.abs(np.asarray(sub(pokes))[:, p.unit[0], p.unit[1], 1] - p.value) > 1e-4
        rows, cols = np.arange(144)[moved] // 12, np.arange(144)[moved] % 12
        (t, b), (l, r) = p.field.box
        assert t <= rows.min() and rows.max() <= b and l <= cols.min() and cols.max() <= r
        assert p.crop.shape[:2] == (b - t + 1, r - l + 1) == p.field.field.size  # full size, padding included
        assert not p.inside[rows - t, cols - l].sum() < moved.sum()  # every pixel that matters is in the crop
        np.testing.assert_array_equal(p.crop[p.inside], img[max(t, 0):b + 1, max(l, 0):r + 1].reshape(-1, 1))
        assert (p.crop[~p.inside] == 0).all() and (~p.inside).sum() == p.field.padding_pixels


def test_cut_field_of_a_box_off_the_image_is_all_padding(padded):
    prober, _ = padded
    uf = prober.unit_field("b", (0, 0))
    crop, inside = cut_field(np.ones((12, 12, 1), np.float32), uf)
    assert crop.shape == (5, 5, 1) and inside.sum() == 16 and crop.sum() == 16


def test_scan_stops_when_cancelled_and_rejects_a_layer_without_maps(padded):
    prober, x = padded
    seen = []
    found = scan(prober, _batches(x), "b", 0, k=3, total=len(x), progress=lambda d, t: seen.append(d),
                 cancelled=lambda: len(seen) >= 2)
    assert found.cancelled and found.scanned == 10 and seen == [5, 10]
    with pytest.raises(ValueError, match="out has no receptive field"):
        scan(prober, _batches(x), "out", 0)


def test_session_scans_the_project_dataset_through_its_preprocessing():
    data = DataSource.default().replace(kind="shapes", options={**DataSource.default().options, "count": 24,
                                                                "image_size": 16})
    samples = DatasetSamples(data)
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    c = keras.layers.Conv2D(4, 5, padding="same", activation="relu", name="c")(inp)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(c)))
    session = ProbeSession(model, Preprocessing.default().replace(size=[16, 16], color="rgb"), ["a", "b", "c"])
    found = session.top_patches(samples, "c", 1, k=4)
    assert found.scanned == len(samples) == 24 and len(found.pictures) == 4
    top = found.patches[0]
    image, _ = samples.item(top.index)
    session.set_image(image)
    assert session.feature_maps("c").activations[top.unit][1] == pytest.approx(top.value, rel=1e-5)
    assert found.pictures[0].shape == (5, 5, 3) and found.pictures[0].dtype == np.uint8


# -- guided backprop --------------------------------------------------------------------------

def _tiny_relu_net():
    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 6, 1))
    c = keras.layers.Conv2D(3, 3, activation="relu", name="c")(inp)
    r = keras.layers.ReLU(name="r")(keras.layers.Dense(5, name="h")(keras.layers.Flatten(name="f")(c)))
    return keras.Model(inp, keras.layers.Dense(3, name="out")(r), name="tiny_relu")


def _reference_guided(model, x, cls):
    """Guided backprop by hand: NumPy forward, then backward with ReLU gates (x > 0) and (grad > 0)."""
    k, kb = model.get_layer("c").get_weights()
    w1, b1 = model.get_layer("h").get_weights()
    w2, _ = model.get_layer("out").get_weights()
    pre_c = np.zeros((4, 4, 3))
    for i in range(4):
        for j in range(4):
            pre_c[i, j] = np.tensordot(x[i:i + 3, j:j + 3], k, axes=3) + kb
    act_c = np.maximum(pre_c, 0)
    pre_h = act_c.reshape(-1) @ w1 + b1
    g = w2[:, cls]                                  # d out[cls] / d relu(h)
    g = g * (pre_h > 0) * (g > 0)                   # guided ReLU of h
    g = (w1 @ g).reshape(4, 4, 3)                   # d / d relu(c)
    g = g * (pre_c > 0) * (g > 0)                   # guided ReLU of the conv
    gx = np.zeros_like(x, dtype=np.float64)
    for i in range(4):
        for j in range(4):
            gx[i:i + 3, j:j + 3] += np.tensordot(k, g[i, j], axes=([3], [0]))
    return gx


def test_guided_backprop_equals_a_hand_written_backward_pass_and_leaves_the_model_alone():
    model = _tiny_relu_net()
    before = [w.copy() for w in model.get_weights()]
    prober = Prober(model)
    x = np.random.default_rng(2).normal(0, 1, (6, 6, 1)).astype(np.float32)
    for cls in range(3):
        got = attribution.guided_backprop(prober, x, cls).raw
        np.testing.assert_allclose(got, _reference_guided(model, x, cls), rtol=1e-4, atol=1e-6)
    # the user's model still has plain ReLUs: its gradient is not the guided one
    xt = tf.constant(x[None])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = model(xt)[0, 0]
    plain = np.asarray(tape.gradient(score, xt))[0]
    assert not np.allclose(plain, _reference_guided(model, x, 0))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.get_layer("c").activation is keras.activations.relu


def test_guided_grad_cam_is_guided_backprop_weighted_by_grad_cam():
    model = _tiny_relu_net()
    prober = Prober(model)
    x = np.random.default_rng(4).normal(0, 1, (6, 6, 1)).astype(np.float32)
    g, cam = attribution.guided_backprop(prober, x, 1), attribution.grad_cam(prober, x, 1)
    both = attribution.guided_grad_cam(prober, x, 1)
    from cnnstudio.ml.probing.mosaic import resize_map
    np.testing.assert_allclose(both.raw, g.raw * resize_map(cam.raw, (6, 6))[..., None], rtol=1e-5, atol=1e-7)
    assert both.layer == cam.layer == "c"


def test_guided_backprop_on_a_model_without_relu_says_so_in_one_line():
    inp = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(2, 3, activation="tanh")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="smooth")
    with pytest.raises(AttributionUndefined, match="no ReLU") as info:
        attribution.guided_backprop(Prober(model), np.zeros((6, 6, 1), np.float32), 0)
    assert "\n" not in str(info.value)


# -- integrated gradients ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def steep():
    """The padded net with a head 30x steeper: logits that move by whole units over a path."""
    model = _padded_net()
    kernel, bias = model.get_layer("out").get_weights()
    model.get_layer("out").set_weights([30 * kernel, bias])
    return Prober(model)


@pytest.mark.parametrize("baseline", ["black", "grey", "blur", "noise", "zero"])
def test_integrated_gradients_add_up_to_the_score_change_from_the_baseline(baseline, steep):
    prober = steep  # ReLUs and a softmax: the score is a logit, far from linear in the input
    x = np.random.default_rng(5).uniform(0, 1, (12, 12, 1)).astype(np.float32)
    x[2:7, 3:9] = 1.0  # a patch that blurring changes
    ig = attribution.integrated_gradients(prober, x, 1, baseline=baseline, steps=128, scale="0-1")
    base = attribution.baseline_image(x, baseline, "0-1")
    gap = float(np.diff(prober.scores(np.stack([base, x]), 1))[0])
    assert abs(gap) > 0.05
    assert ig.raw.sum() == pytest.approx(gap, rel=0.01)
    assert "% off" in ig.note and ig.heat.shape == (12, 12) and ig.heat.max() == pytest.approx(1.0)
    few = attribution.integrated_gradients(prober, x, 1, baseline=baseline, steps=2, scale="0-1")
    assert abs(few.raw.sum() - gap) >= abs(ig.raw.sum() - gap) - 1e-6  # more steps: closer


def test_integrated_gradients_baselines_live_in_the_preprocessing_space():
    x = np.zeros((4, 4, 3), np.float32)
    assert attribution.baseline_image(x, "black", "tf").max() == -1.0
    np.testing.assert_allclose(attribution.baseline_image(x, "grey", "0-1"), 128 / 255)
    with pytest.raises(ValueError, match="unknown baseline"):
        attribution.baseline_image(x, "pink", "0-1")
