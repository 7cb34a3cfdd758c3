"""Probes: receptive fields against brute force, activations against Keras, Grad-CAM on the object,
mosaic layout, per-map statistics and filter pictures."""

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.settings import Preprocessing
from cnnstudio.ml.probing import attribution
from cnnstudio.ml.model.builder import build_model
from cnnstudio.ml.probing.filters import arrange_kernel, filter_mosaic, kernel_of
from cnnstudio.ml.probing.mosaic import histogram, map_stats, tile_mosaic
from cnnstudio.ml.probing.outputs import AttributionUndefined, Target, output_picture, read_output, target_weights
from cnnstudio.ml.probing.session import ProbeSession
from cnnstudio.ml.probing.prober import Prober, top_k, with_input_size


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
    np.testing.assert_allclose(result.output, np.asarray(model(x[None]))[0], rtol=1e-5, atol=1e-6)
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
    np.testing.assert_allclose(tuned.output, plain.output, rtol=1e-5, atol=1e-6)
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


# -- models that are not classifiers (the ``small_models`` fixture, tests/conftest.py) ----

def _image(prober, seed=5):
    return np.random.default_rng(seed).uniform(0, 1, prober.input_shape).astype(np.float32)


def _direct_gradient(model, x, score, output=0):
    """d score(model output) / d input, straight from Keras and TensorFlow."""
    import tensorflow as tf

    xb = tf.constant(x[None])
    with tf.GradientTape() as tape:
        tape.watch(xb)
        outs = model(xb, training=False)
        value = score(outs[output] if isinstance(outs, (list, tuple)) else outs)
    return np.asarray(tape.gradient(value, xb))[0]


def test_output_kinds_come_from_the_output_shape_and_activation(small_models, trained):
    kinds = {name: [o.kind for o in Prober(m).outputs] for name, m in small_models.items()}
    assert kinds == {"unet": ["map"], "autoencoder": ["image"], "two_outputs": ["classes", "image"],
                     "regression": ["values"]}
    assert trained.output.kind == "classes" and trained.output.channels == len(CLASSES)
    assert read_output(small_models["unet"]).text() == "seg: 16x16x3 per-pixel classes"


def test_unet_attributions_explain_a_class_over_all_pixels_or_at_one_pixel(small_models):
    model = small_models["unet"]
    prober = Prober(model)
    x = _image(prober)
    seg = prober.run(x).output
    assert seg.shape == (16, 16, 3)
    common = int(np.bincount(seg.argmax(-1).ravel()).argmax())
    assert prober.resolve_target(x) == Target(common)  # the class covering most pixels
    np.testing.assert_allclose(prober.input_gradients(x, 1)[0],  # class 1 summed over the pixels
                               _direct_gradient(model, x, lambda o: keras.ops.sum(o[..., 1])), rtol=1e-4, atol=1e-6)
    at = prober.resolve_target(x, Target(pixel=(3, 12)))
    assert at == Target(int(seg[3, 12].argmax()), (3, 12))  # the class predicted at that pixel
    np.testing.assert_allclose(prober.input_gradients(x, at)[0],
                               _direct_gradient(model, x, lambda o: o[0, 3, 12, at.index]), rtol=1e-4, atol=1e-7)
    assert prober.last_conv_layer == "c4"  # the decoder's last maps, not the output layer
    for method in attribution.METHODS:
        att = attribution.attribute(prober, x, method)
        assert att.heat.shape == (16, 16) and np.isfinite(att.heat).all() and att.class_index == common
    cam = attribution.grad_cam(prober, x, Target(0, (8, 8)), layer="t1")  # a Conv2DTranspose's maps
    assert cam.layer == "t1" and cam.target == Target(0, (8, 8)) and cam.raw.shape == (16, 16)
    picture = output_picture(prober.output, seg)
    assert picture.shape == (16, 16, 3) and picture.dtype == np.uint8


def test_autoencoder_and_regression_explain_their_mean_or_a_chosen_unit(small_models):
    auto = Prober(small_models["autoencoder"])
    x = _image(auto)
    assert auto.resolve_target(x) == Target() and auto.last_conv_layer == "d2"
    np.testing.assert_allclose(auto.input_gradients(x, Target())[0],
                               _direct_gradient(auto.model, x, lambda o: keras.ops.mean(o)), rtol=1e-4, atol=1e-8)
    picture = output_picture(auto.output, auto.run(x).output)
    assert picture.shape == (16, 16, 3) and (picture[..., 0] == picture[..., 1]).all()  # grey, as RGB
    reg = Prober(small_models["regression"])
    x = _image(reg)
    assert reg.output.kind == "values" and reg.run(x).output.shape == (1,)
    np.testing.assert_allclose(reg.input_gradients(x, 0)[0], _direct_gradient(reg.model, x, lambda o: o[0, 0]),
                               rtol=1e-4, atol=1e-8)
    for method in attribution.METHODS:
        att = attribution.attribute(reg, x, method)
        assert att.heat.shape == (16, 16) and np.isfinite(att.raw).all() and att.class_index == -1
    with pytest.raises(ValueError, match="1 units: no number 3"):
        reg.resolve_target(x, 3)
    assert target_weights(reg.output, None).tolist() == [1.0]


def test_two_outputs_probe_the_chosen_one_and_a_layer_off_its_path_is_undefined(small_models):
    model = small_models["two_outputs"]
    prober = Prober(model, output=1)
    x = _image(prober)
    result = prober.run(x, ["cls_conv", "mask_conv"])  # feature maps of both branches still come
    np.testing.assert_allclose(result.output, np.asarray(model(x[None])[1])[0], rtol=1e-5, atol=1e-6)
    assert result.activations["cls_conv"].shape == (16, 16, 6)
    assert prober.output.kind == "image" and prober.last_conv_layer == "mask_conv"
    with pytest.raises(AttributionUndefined, match="^no gradient flows from output mask back to cls_conv$"):
        attribution.grad_cam(prober, x, layer="cls_conv")
    assert attribution.saliency(prober, x).heat.shape == (16, 16)  # the rest still runs
    assert prober.choose_output(0).kind == "classes" and prober.last_conv_layer == "cls_conv"
    assert prober.run(x).output.shape == (4,)
    with pytest.raises(AttributionUndefined, match="back to mask_conv"):
        attribution.grad_cam(prober, x, layer="mask_conv")
    with pytest.raises(ValueError, match="2 output"):
        prober.choose_output(2)


def test_a_gradient_that_does_not_flow_is_undefined_not_an_index_error():
    inp = keras.Input((8, 8, 1))
    c = keras.layers.Conv2D(2, 3, name="c")(inp)
    stopped = keras.layers.Lambda(lambda t: keras.ops.stop_gradient(t), name="stop")(c)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(stopped))
    prober = Prober(keras.Model(inp, out))
    x = np.zeros((8, 8, 1), np.float32)
    with pytest.raises(AttributionUndefined, match="back to c$"):
        attribution.grad_cam(prober, x, layer="c")
    with pytest.raises(AttributionUndefined, match="back to the input"):
        attribution.saliency(prober, x)


@pytest.mark.parametrize("name", ["unet", "autoencoder", "two_outputs", "regression"])
def test_feature_maps_filters_and_fields_work_for_every_kind_of_model(small_models, name):
    session = ProbeSession(small_models[name], Preprocessing.default().replace(size=(16, 16), color="rgb"))
    info = session.describe()
    probe = session.set_image(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8))
    assert (probe.predictions != []) == (info.output.kind == "classes")
    assert (probe.output_picture is not None) == (info.output.kind in ("map", "image"))
    assert probe.summary or probe.predictions
    for layer in info.layers:
        maps = session.feature_maps(layer)
        assert maps.picture.dtype == np.uint8 and (maps.field is not None or maps.field_note)
    for layer in info.conv_inputs:
        assert session.filters(layer).mosaic.count > 0
    unit = session.unit(info.layers[0], 0, (2, 3))
    assert unit.effective.shape == (16, 16) and (unit.field is not None or unit.note)
    assert session.attribution("gradcam").heat.shape == (16, 16)


def test_a_model_that_takes_any_size_is_probed_at_the_size_given():
    inp = keras.Input((None, None, 3))
    c = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
    up = keras.layers.UpSampling2D(name="up")(keras.layers.MaxPooling2D(name="pool")(c))
    out = keras.layers.Conv2D(2, 1, activation="softmax", name="seg")(keras.layers.Concatenate(name="cat")([up, c]))
    model = keras.Model(inp, out, name="fcn")
    fixed = with_input_size(model, (24, 32))
    assert fixed.inputs[0].shape[1:] == (24, 32, 3) and [l.name for l in fixed.layers] == [l.name for l in model.layers]
    x = np.random.default_rng(6).uniform(0, 1, (24, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fixed(x[None])), np.asarray(model(x[None])), rtol=1e-6, atol=1e-7)
    assert with_input_size(fixed, (8, 8)) is fixed  # a fixed size stays
    session = ProbeSession(model, Preprocessing.default().replace(size=(16, 16), color="rgb"))
    assert session.prober.input_shape == (16, 16, 3) and session.prober.output.shape == (16, 16, 2)
    assert session.set_image(np.zeros((30, 30, 3), np.uint8)).output_picture.shape == (16, 16, 3)
    assert session.attribution("gradcam").layer == "cat"
