"""The live pipeline: the same preprocessing and the same numbers as a direct model call."""

import cv2
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnnstudio.core.settings import Preprocessing  # noqa: E402
from cnnstudio.core.templates import default_project  # noqa: E402
from cnnstudio.ml.model.builder import build_model  # noqa: E402
from cnnstudio.ml.live.frame_sources import DemoSource, Frame  # noqa: E402
from cnnstudio.ml.live.pipeline import (GAP_LEVEL, LiveError, LivePipeline, ProbabilitySmoother, as_probabilities,  # noqa: E402
                               fit_to_model, frame_rect, input_rect)
from cnnstudio.ml.probing.mosaic import tile_mosaic  # noqa: E402
from cnnstudio.ml.data.preprocess import display_rgba, fit_image, preprocess, to_color  # noqa: E402


@pytest.fixture(scope="module")
def project():
    return default_project()


@pytest.fixture(scope="module")
def model(project):
    keras.utils.set_random_seed(1)
    return build_model(project.graph)


def demo_frame(index=0, size=(96, 72)):
    demo = DemoSource(*size)
    demo.frame_number = index * 11
    return Frame(demo.read()[1], index, 0.0, demo.name)


def test_pipeline_equals_a_direct_model_call(project, model):
    pipe = LivePipeline(model, project.preprocessing, project.graph, project.classes, layer="conv2")
    frame = demo_frame(3)
    result = pipe.process(frame)
    x = preprocess(frame.image, project.preprocessing)
    direct = np.asarray(model(x[None], training=False))[0]
    np.testing.assert_allclose(result.probabilities, direct, rtol=1e-5, atol=1e-6)
    maps = np.asarray(keras.Model(model.inputs, model.get_layer("conv2").output)(x[None]))[0]
    cols = result.mosaic.cols
    np.testing.assert_allclose(result.mosaic.image, tile_mosaic(maps, cols=cols, gap_value=GAP_LEVEL).image,
                               rtol=1e-4, atol=1e-5)
    assert result.mosaic.count == 32 and result.mosaic_image.dtype == np.uint8
    # the model's input is kept as a picture: 32x32 grey shown as RGB
    assert result.model_input.shape == (32, 32, 3) and result.model_input.dtype == np.uint8
    assert [p.label for p in result.top][:1] == [project.classes[int(np.argmax(direct))]]
    assert len(result.top) == 5 and result.timings["model"] > 0 and result.input_rect == (0, 0, 96, 72)


def test_grey_models_convert_before_resizing_within_one_level_of_the_other_order():
    rng = np.random.default_rng(4)
    image = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (5, 5), 2)
    for fit in ("stretch", "crop", "pad"):
        x = preprocess(image, Preprocessing.default().replace(size=(24, 24), fit=fit))
        resize_first = to_color(fit_image(image, (24, 24), fit), 1).astype(np.float32) / 255.0
        assert x.shape == (24, 24, 1) and np.abs(x - resize_first).max() <= 1 / 255 + 1e-6


def test_pictures_for_the_screen_are_rgba_and_grey_goes_through_the_colour_map():
    rgb = np.random.default_rng(5).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    out = display_rgba(rgb)
    assert out.shape == (4, 5, 4) and np.array_equal(out[:, :, :3], rgb) and (out[:, :, 3] == 255).all()
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert np.array_equal(display_rgba(grey[:, :, None])[:, :, :3], np.dstack([grey] * 3))
    lut = np.zeros((256, 4), np.uint8)
    lut[:, 0], lut[:, 3] = np.arange(256)[::-1], 255
    assert np.array_equal(display_rgba(grey, lut)[:, :, 0], 255 - grey)


def test_smoothing_is_a_moving_average(project, model):
    smoother = ProbabilitySmoother(0.75)
    a, b = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    smoother.update(a)
    np.testing.assert_allclose(smoother.update(b), [0.75, 0.25])
    pipe = LivePipeline(model, project.preprocessing, project.graph, project.classes, smoothing=0.9)
    first, second = pipe.process(demo_frame(0)), pipe.process(demo_frame(40))
    np.testing.assert_allclose(second.smoothed, 0.9 * first.probabilities + 0.1 * second.probabilities, atol=1e-6)


def test_model_input_that_differs_from_the_project_is_fitted_and_explained(project):
    inputs = keras.Input((24, 20, 3))
    x = keras.layers.Conv2D(4, 3, name="c")(inputs)
    out = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    rgb_model = keras.Model(inputs, out)
    pipe = LivePipeline(rgb_model, project.preprocessing)
    assert "32x32 grey" in pipe.note and "24x20 rgb" in pipe.note
    result = pipe.process(demo_frame(1))
    assert result.model_input.shape == (24, 20, 3)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)  # logits went through a softmax
    assert pipe.layer == "c"
    with pytest.raises(LiveError, match="needs an image input"):
        fit_to_model(project.preprocessing, (100,))
    with pytest.raises(LiveError, match="4 channels"):
        fit_to_model(project.preprocessing, (8, 8, 4))


def test_probabilities_from_any_output():
    np.testing.assert_allclose(as_probabilities(np.array([0.2])), [0.8, 0.2])
    np.testing.assert_allclose(as_probabilities(np.array([0.1, 0.9])), [0.1, 0.9])
    p = as_probabilities(np.array([2.0, -1.0, 0.5]))
    assert p.sum() == pytest.approx(1.0) and np.argmax(p) == 0


@pytest.mark.parametrize("fit", ["stretch", "crop", "pad"])
def test_input_pixels_map_back_onto_the_frame(fit):
    """A bright dot in the frame lands on an input pixel whose frame rectangle holds the dot."""
    settings = Preprocessing.default().replace(size=(20, 16), fit=fit)
    frame = np.zeros((90, 160, 3), np.uint8)
    dot = (37, 101)  # (y, x) in the frame
    frame[dot[0] - 2:dot[0] + 3, dot[1] - 2:dot[1] + 3] = 255
    fitted = fit_image(frame, settings.size, fit)
    ys, xs = np.nonzero(fitted[..., 0] == fitted[..., 0].max())
    y, x = int(np.median(ys)), int(np.median(xs))
    x0, y0, x1, y1 = frame_rect(((y, y), (x, x)), (160, 90), settings)
    assert x0 - 2 <= dot[1] <= x1 + 2 and y0 - 2 <= dot[0] <= y1 + 2
    rx0, ry0, rx1, ry1 = input_rect((160, 90), settings)
    if fit == "stretch":
        assert (rx0, ry0, rx1, ry1) == (0, 0, 160, 90)
    elif fit == "crop":  # the input sees the middle of the frame, full height
        assert ry0 == pytest.approx(0) and ry1 == pytest.approx(90) and 0 < rx0 < rx1 < 160
    else:  # padded: the input reaches past the frame top and bottom
        assert rx0 == pytest.approx(0, abs=1) and ry0 < 0 and ry1 > 90


def test_receptive_field_of_a_clicked_unit_and_gradcam(project, model):
    pipe = LivePipeline(model, project.preprocessing, project.graph, project.classes, layer="conv2", gradcam=True)
    pipe.select_unit((8, 8))  # conv2 sees 16x16 after one pooling
    result = pipe.process(demo_frame(2, size=(64, 64)))
    assert result.unit_field is not None and result.unit_field.field.size == (8, 8)
    x0, y0, x1, y1 = result.field_rect
    assert (x1 - x0, y1 - y0) == (16, 16)  # 8 input pixels, the frame is twice the input size
    assert result.cam.shape == (32, 32) and 0 <= result.cam.min() and result.cam.max() <= 1
    assert result.cam_class == int(np.argmax(result.probabilities))
    pipe.set_layer("flatten")  # no spatial maps: nothing to tile, no field
    assert pipe.layer == ""


def test_live_overlays_guided_backprop_and_guided_grad_cam_and_says_when_undefined(project, model):
    import keras

    from cnnstudio.ml.live.pipeline import LIVE_METHODS
    from cnnstudio.ml.probing import attribution
    from cnnstudio.ui.live.requests import CAM_METHODS

    assert tuple(CAM_METHODS) == LIVE_METHODS
    pipe = LivePipeline(model, project.preprocessing, project.graph, project.classes, gradcam=True)
    for method in ("guided", "guided_gradcam"):
        pipe.cam_method = method
        result = pipe.process(demo_frame(2, size=(64, 64)))
        expect = attribution.attribute(pipe.prober, result.x, method, result.cam_class)
        np.testing.assert_allclose(result.cam, expect.heat, atol=1e-5)
        assert result.cam_note == ""
    inp = keras.Input((32, 32, 3))
    smooth = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(
        keras.layers.Conv2D(2, 3, activation="tanh")(inp))), name="smooth")
    pipe = LivePipeline(smooth, project.preprocessing, None, ["a", "b"], gradcam=True)
    pipe.cam_method = "guided"
    result = pipe.process(demo_frame(2, size=(64, 64)))
    assert result.cam is None and "no ReLU" in result.cam_note and result.probabilities.size == 2


def test_large_maps_are_shrunk_to_the_view_and_clicks_still_name_map_units(project, model):
    from cnnstudio.ml.live.pipeline import shrink_maps

    maps = np.arange(8 * 6 * 3, dtype=np.float32).reshape(8, 6, 3)
    small = shrink_maps(maps, pixels=40)  # 144 values -> 2x2 blocks: 4x3 per map, 36 in all
    assert small.shape == (4, 3, 3)
    np.testing.assert_allclose(small[0, 0], maps[:2, :2].mean(axis=(0, 1)))
    assert shrink_maps(maps, pixels=1000) is maps
    pipe = LivePipeline(model, project.preprocessing, project.graph, project.classes, layer="conv1")
    pipe.mosaic_pixels = 16 * 16 * 16  # conv1: 16 maps of 32x32 -> tiles of 16x16
    result = pipe.process(demo_frame(0))
    assert result.map_shape == (32, 32) and result.mosaic.tile == (16, 16)


def test_capture_train_classify_loop_with_a_network_of_ones_own(tmp_path):
    """Frames captured into class folders train the user's own small network, which then
    classifies the frames that follow: the loop the Live page's "Train on these" starts."""
    from cnnstudio.core.graph import LayerGraph
    from cnnstudio.core.project import Project
    from cnnstudio.ml.data.capture_folder import DatasetWriter
    from cnnstudio.ml.training.runner import run_project

    writer = DatasetWriter(tmp_path / "captures")
    camera = DemoSource(64, 64, classes=["circle", "cross"], seconds_per_shape=0.1, seed=1)
    for _ in range(240):
        label = camera.current_class  # the person holds up a circle or a cross and files it
        writer.save(camera.read()[1], label)
    assert writer.counts() == {"circle": 120, "cross": 120}
    g = LayerGraph()
    ids = [g.add_node("InputLayer", {"shape": (32, 32, 1)}).id,
           g.add_node("Conv2D", {"filters": 8, "kernel_size": 3, "activation": "relu"}).id,
           g.add_node("MaxPooling2D", {"pool_size": 4}).id,
           g.add_node("Flatten").id,
           g.add_node("Dense", {"units": 2, "activation": "softmax"}).id]
    for a, b in zip(ids, ids[1:]):
        g.add_edge(a, b)
    project = Project(graph=g, name="mine")
    project.set_settings("data", {**writer.data_source(), "validation_split": 0.1, "test_split": 0.1})
    project.set_settings("training", {"epochs": 30, "batch_size": 16, "learning_rate": 5e-3})
    result = run_project(project, runs_dir=tmp_path / "runs")
    pipe = LivePipeline(result.model, project.preprocessing, g, result.dataset.classes)
    hits = 0
    for i in range(60):  # the film goes on: shapes in places and turns not captured
        truth = camera.current_class
        hits += pipe.process(Frame(camera.read()[1], i, 0.0, "demo")).top[0].label == truth
    assert hits >= 48  # 80 %, where guessing gets 30


@pytest.mark.parametrize("name", ["unet", "regression"])
def test_a_model_that_is_no_classifier_runs_live_with_grad_cam_and_no_top_k(small_models, name):
    pipe = LivePipeline(small_models[name], Preprocessing.default().replace(size=(16, 16), color="rgb"),
                        gradcam=True)
    pipe.warm_up()
    result = pipe.process(demo_frame(2))
    assert not pipe.classifier and result.top == [] and result.probabilities.size == 0
    assert result.cam.shape == (16, 16) and result.mosaic is not None
    assert result.cam_class == (-1 if name == "regression" else int(np.bincount(
        pipe.prober.run(result.x).output.argmax(-1).ravel()).argmax()))
