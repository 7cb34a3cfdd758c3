"""Probes: receptive fields against brute force, activations against Keras, Grad-CAM on the object,
mosaic layout, per-map statistics and filter pictures."""

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.core.graph import LayerGraph
from cnnstudio.ml import attribution
from cnnstudio.ml.builder import build_model
from cnnstudio.ml.filters import arrange_kernel, filter_mosaic, kernel_of
from cnnstudio.ml.mosaic import histogram, map_stats, tile_mosaic
from cnnstudio.ml.probes import Prober, top_k


def _chain(shape, layers):
    g = LayerGraph()
    last = g.add_node("InputLayer", {"shape": shape}, name="input").id
    for kind, name, params in layers:
        node = g.add_node(kind, params, name=name)
        g.add_edge(last, node.id)
        last = node.id
    return g


#: Linear networks (no activation, so every tap in the field changes the unit) with strides,
#: dilation, 'valid' and 'same' padding (even and uneven), explicit zero padding and pooling.
NETWORKS = {
    "stride_then_dilation": _chain((19, 19, 1), [
        ("Conv2D", "c1", dict(filters=2, kernel_size=3, strides=2, padding="valid")),
        ("Conv2D", "c2", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same")),
        ("AveragePooling2D", "p1", dict(pool_size=2)),
        ("Conv2D", "c3", dict(filters=2, kernel_size=3, padding="same"))]),
    "same_even_stride": _chain((16, 16, 1), [
        ("Conv2D", "c1", dict(filters=2, kernel_size=5, strides=2, padding="same")),
        ("Conv2D", "c2", dict(filters=2, kernel_size=4, strides=2, padding="same"))]),
    "dilated_valid_padded": _chain((17, 15, 1), [
        ("Conv2D", "c1", dict(filters=2, kernel_size=3, dilation_rate=3, padding="valid")),
        ("ZeroPadding2D", "z1", dict(padding=2)),
        ("Conv2D", "c2", dict(filters=2, kernel_size=(3, 2), strides=(2, 3), padding="valid"))]),
}


def _linear_model(graph):
    model = build_model(graph)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # positive weights: no tap can cancel another
        if layer.weights:
            layer.set_weights([rng.uniform(0.5, 1.0, w.shape).astype("float32") for w in layer.get_weights()])
    return model


@pytest.mark.parametrize("net", sorted(NETWORKS))
def test_receptive_field_boxes_match_the_pixels_that_change_each_unit(net):
    graph = NETWORKS[net]
    model = _linear_model(graph)
    prober = Prober(model, graph)
    h, w, _ = prober.input_shape
    # one image per input pixel set to 1, plus the blank image
    pokes = np.zeros((h * w + 1, h, w, 1), np.float32)
    pokes[np.arange(h * w), np.arange(h * w) // w, np.arange(h * w) % w, 0] = 1.0
    padded_units = 0
    for layer in [n.name for n in graph.nodes.values() if n.kind != "InputLayer"]:
        out = prober.run_batch(pokes, [layer])[1]
        # a real change is at least ~0.5**4 (positive weights >= 0.5); a batch's float rounding
        # (a few 1e-5 on values ~100, which differs between CPUs' kernels) is not a change
        changed = np.abs(out[:-1] - out[-1]).max(axis=-1) > 1e-3  # (pixels, oh, ow)
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                pix = np.flatnonzero(changed[:, i, j])
                field = prober.unit_field(layer, (i, j))
                if pix.size == 0:  # sees only explicit zero padding
                    assert field.inside is None or field.padding_pixels > 0, (layer, i, j)
                    padded_units += 1
                    continue
                seen = ((pix.min() // w, pix.max() // w), ((pix % w).min(), (pix % w).max()))
                if field.padding_pixels == 0:
                    assert seen == field.box, (layer, i, j)
                else:  # the part of the box on the image holds every pixel that matters
                    padded_units += 1
                    (t, b), (l, r) = field.inside
                    assert t <= seen[0][0] and seen[0][1] <= b and l <= seen[1][0] and seen[1][1] <= r
    assert padded_units > 0, "every network here pads, so some fields must reach into the padding"


def test_unit_field_reports_the_part_in_padding_and_its_text():
    graph = NETWORKS["same_even_stride"]
    prober = Prober(build_model(graph), graph)
    corner = prober.unit_field("c2", (0, 0))
    assert corner.field.size == (11, 11) and corner.field.stride == (4, 4)
    assert corner.box == ((-3, 7), (-3, 7)) and corner.inside == ((0, 7), (0, 7))
    assert corner.padding_pixels == 11 * 11 - 8 * 8
    assert "stride 4" in corner.text() and "57 of 121 px in padding" in corner.text()


def test_fields_come_from_the_imported_graph_when_none_is_given():
    graph = NETWORKS["stride_then_dilation"]
    model = build_model(graph)
    with_graph, without = Prober(model, graph), Prober(model)
    assert without.unit_field("c3", (2, 3)) == with_graph.unit_field("c3", (2, 3))


def test_effective_field_covers_exactly_the_theoretical_box():
    graph = NETWORKS["stride_then_dilation"]
    prober = Prober(_linear_model(graph), graph)
    x = np.random.default_rng(1).uniform(0, 1, prober.input_shape).astype(np.float32)
    erf = attribution.effective_field(prober, x, "c3", (1, 1))
    rows, cols = np.nonzero(erf > 0)
    assert ((rows.min(), rows.max()), (cols.min(), cols.max())) == prober.unit_field("c3", (1, 1)).inside


def test_activations_equal_keras_sub_model_output_and_prediction_equals_the_model():
    inp = keras.Input((20, 20, 3))
    a = keras.layers.Conv2D(6, 3, activation="relu", name="a")(inp)
    b = keras.layers.Conv2D(6, 3, padding="same", name="b")(a)
    c = keras.layers.Add(name="c")([a, b])
    d = keras.layers.MaxPooling2D(name="d")(c)
    out = keras.layers.Dense(4, activation="softmax", name="out")(keras.layers.GlobalAveragePooling2D()(d))
    model = keras.Model(inp, out)
    prober = Prober(model)
    x = np.random.default_rng(2).uniform(0, 1, (20, 20, 3)).astype(np.float32)
    result = prober.run(x, ["a", "c", "d"])
    for name in ("a", "c", "d"):
        expect = keras.Model(inp, model.get_layer(name).output)(x[None])[0]
        np.testing.assert_allclose(result.activations[name], np.asarray(expect), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.probabilities, np.asarray(model(x[None]))[0], rtol=1e-5, atol=1e-6)
    assert prober.layer_names == ["a", "b", "c", "d"]
    assert prober.last_conv_layer == "c"  # the add after the last conv, not the pooling that halves it
    with pytest.raises(ValueError, match="takes 20x20x3"):
        prober.run(np.zeros((10, 10, 3), np.float32))


def test_xla_compiled_forward_is_kept_only_when_faster_and_gives_the_same_outputs():
    inp = keras.Input((12, 12, 1))
    a = keras.layers.Conv2D(4, 3, activation="relu", name="a")(inp)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(a))
    prober = Prober(keras.Model(inp, out))
    x = np.random.default_rng(3).uniform(0, 1, (12, 12, 1)).astype(np.float32)
    plain = prober.run(x, ["a"])
    assert prober.tune_forward(x, ["a"], small_ms=0.0) is False and prober.jit is False  # "too large": not tried
    used = prober.tune_forward(x, ["a"])
    assert used == prober.jit  # whichever was faster here; both must give the model's answer
    tuned = prober.run(x, ["a"])
    np.testing.assert_allclose(tuned.probabilities, plain.probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tuned.activations["a"], plain.activations["a"], rtol=1e-5, atol=1e-6)
    prober.jit = True  # and a compiled call on a batch of another size still runs
    assert prober.run_batch(np.stack([x, x, x]), ["a"])[1].shape == (3, 10, 10, 4)


def test_top_k_is_sorted_and_labelled():
    preds = top_k(np.array([0.1, 0.6, 0.05, 0.25]), 3, ["a", "b", "c", "d"])
    assert [(p.index, p.label) for p in preds] == [(1, "b"), (3, "d"), (0, "a")]
    assert preds[0].probability == pytest.approx(0.6)


# -- Grad-CAM on a model trained for a few seconds -------------------------------------

SIZE, CLASSES = 32, ("square", "circle", "cross", "none")


def _shapes(n, seed):
    """Small shapes at random places on a noisy ground, with their bounding boxes (None for 'none')."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.1, 0.05, (n, SIZE, SIZE, 1)).astype(np.float32)
    y = rng.integers(0, len(CLASSES), n)
    boxes = []
    for i in range(n):
        r = int(rng.integers(4, 7))
        cy, cx = (int(v) for v in rng.integers(r + 1, SIZE - r - 1, 2))
        img = np.zeros((SIZE, SIZE), np.uint8)
        if CLASSES[y[i]] == "square":
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), 255, -1)
        elif CLASSES[y[i]] == "circle":
            cv2.circle(img, (cx, cy), r, 255, -1)
        elif CLASSES[y[i]] == "cross":
            cv2.line(img, (cx - r, cy - r), (cx + r, cy + r), 255, 2)
            cv2.line(img, (cx - r, cy + r), (cx + r, cy - r), 255, 2)
        x[i, :, :, 0] += img / 255.0 * 0.8
        rows, cols = np.nonzero(img)
        boxes.append(((rows.min(), rows.max()), (cols.min(), cols.max())) if rows.size else None)
    return np.clip(x, 0, 1), y, boxes


@pytest.fixture(scope="module")
def trained():
    x, y, _ = _shapes(800, 0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(len(CLASSES), activation="softmax", name="out")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    return Prober(model, class_names=CLASSES)


def test_grad_cam_peaks_on_the_object_for_a_trained_model(trained):
    x, y, boxes = _shapes(40, 1)
    probs = trained.predict(x)
    right = [i for i in range(len(x)) if boxes[i] is not None and probs[i].argmax() == y[i]]
    assert len(right) >= 20, "the model did not learn the shapes"
    for i in right:
        cam = attribution.grad_cam(trained, x[i])
        assert cam.layer == "conv3" and cam.class_index == y[i]
        assert cam.heat.shape == (SIZE, SIZE) and cam.heat.std() > 0.05
        peak = np.unravel_index(np.argmax(cam.heat), cam.heat.shape)
        (t, b), (l, r) = boxes[i]
        assert t <= peak[0] <= b and l <= peak[1] <= r, (CLASSES[y[i]], boxes[i], peak)


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "occlusion"])
def test_other_attributions_weigh_the_object_more_than_the_ground(trained, method):
    x, y, boxes = _shapes(12, 2)
    probs = trained.predict(x)
    for i in [i for i in range(len(x)) if boxes[i] is not None and probs[i].argmax() == y[i]][:4]:
        att = attribution.attribute(trained, x[i], method)
        assert att.heat.shape == (SIZE, SIZE) and 0 <= att.heat.min() and att.heat.max() == pytest.approx(1)
        (t, b), (l, r) = boxes[i]
        near = np.zeros((SIZE, SIZE), bool)
        near[max(t - 2, 0):b + 3, max(l - 2, 0):r + 3] = True
        assert att.heat[near].mean() > 2 * att.heat[~near].mean(), method


# -- pictures ------------------------------------------------------------------------

def test_mosaic_lays_out_maps_row_by_row_with_gaps_and_maps_clicks_back():
    maps = np.zeros((2, 3, 5), np.float32)
    for c in range(5):
        maps[:, :, c] = c + np.arange(3)[None, :]  # each map rises left to right
    m = tile_mosaic(maps, scaling="shared", cols=3, gap=1, gap_value=-1)
    assert (m.rows, m.cols) == (2, 3) and m.image.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert m.origin(4) == (3, 4)
    np.testing.assert_allclose(m.image[3:5, 4:7], maps[:, :, 4] / 6.0)  # shared range 0..6
    assert (m.image[2] == -1).all() and (m.image[:, 3] == -1).all()  # gap row and column
    assert (m.image[3:, 8:] == -1).all()  # the sixth cell is empty
    assert m.locate(4.5, 5.2) == (4, 1, 1)
    assert m.locate(2.0, 0.0) is None and m.locate(3.0, 8.0) is None
    per = tile_mosaic(maps, cols=3)
    np.testing.assert_allclose(per.image[3:5, 4:7], np.tile([0.0, 0.5, 1.0], (2, 1)))  # own range


def test_map_stats_flag_dead_maps_and_histogram_counts_every_value():
    maps = np.zeros((4, 4, 3), np.float32)
    maps[:, :, 0] = 1.0
    maps[:2, :, 1] = 2.0
    stats = map_stats(maps)
    assert stats.dead.tolist() == [False, False, True] and stats.dead_count == 1
    np.testing.assert_allclose(stats.zero_share, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(stats.mean, [1.0, 1.0, 0.0])
    counts, edges = histogram(maps, bins=4)
    assert counts.sum() == maps.size and edges[0] == 0.0 and edges[-1] == 2.0


def test_filters_are_colour_for_rgb_inputs_and_per_channel_otherwise():
    rgb = np.random.default_rng(3).normal(size=(3, 3, 3, 8)).astype(np.float32)
    colour = filter_mosaic(rgb)
    assert colour.image.ndim == 3 and colour.image.shape[2] == 3 and colour.count == 8
    assert 0.0 <= colour.image.min() and colour.image.max() <= 1.0
    one = filter_mosaic(rgb, channel=2, cols=4)
    y, x = one.origin(5)
    np.testing.assert_allclose(one.image[y:y + 3, x:x + 3], rgb[:, :, 2, 5])
    assert one.levels[0] == -one.levels[1] == -np.abs(rgb[:, :, 2, :]).max()
    with pytest.raises(ValueError, match="channel 3"):
        filter_mosaic(rgb, channel=3)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
    depthwise.build((None, 8, 8, 4))
    assert kernel_of(depthwise).shape == (3, 3, 1, 8)
    assert arrange_kernel("Conv2DTranspose", np.zeros((3, 3, 5, 7))).shape == (3, 3, 7, 5)
