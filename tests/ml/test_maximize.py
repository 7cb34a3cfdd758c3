"""Activation maximisation: the preprocessing's affine map and its inverse for every scaling, class
logits that rise, a goal per picture in one batch, progress with previews, cancel, bad goals."""

import itertools

import keras
import numpy as np
import pytest

from cnnstudio.core.settings import PREPROCESSING, Preprocessing
from cnnstudio.ml.data.preprocess import display_image, preprocess, scale_values
from cnnstudio.ml.probing.maximize import Maximizer, pixel_affine
from cnnstudio.ml.probing.maximize_spec import Goal, MaximizeSettings
from cnnstudio.ml.probing.prober import Prober

FAST = MaximizeSettings.default().replace(steps=48)


@pytest.mark.parametrize("scale, color", list(itertools.product(PREPROCESSING.get("scale").choices, ("grey", "rgb"))))
def test_the_ascent_scales_pixels_as_the_preprocessing_and_display_undoes_it(scale, color):
    settings = Preprocessing.default().replace(size=(6, 5), color=color, scale=scale)
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (6, 5, settings.channels), dtype=np.uint8)
    m, b = pixel_affine(settings)
    x = pixels.astype(np.float32) @ m + b
    np.testing.assert_allclose(x, scale_values(pixels, scale), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(x, preprocess(pixels, settings), rtol=1e-5, atol=1e-4)
    shown = display_image(x + 0.2 * m.sum(0), settings)  # a fifth of a pixel level above: back to the same pixel
    expect = np.repeat(pixels, 3, axis=2) if color == "grey" else pixels
    np.testing.assert_array_equal(shown, expect)
    np.testing.assert_array_equal(display_image(x + 300 * m.sum(0), settings), 255)  # clipped to the pixel range
    np.testing.assert_array_equal(display_image(x - 300 * m.sum(0), settings), 0)


@pytest.fixture(scope="module")
def classifier(trained_model_factory):
    model = trained_model_factory()
    return model, Maximizer(Prober(model), Preprocessing.default().replace(size=(12, 12), color="rgb", scale="tf"))


def test_class_maximisation_raises_the_pre_softmax_logit(classifier):
    model, mx = classifier
    result = mx.run(Goal(None, (0, 1, 2)), FAST)
    dense = model.get_layer("out")
    features = keras.Model(model.inputs[0], model.get_layer("gap").output)(result.inputs).numpy()
    logits = features @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(result.activations, np.diag(logits), rtol=1e-4, atol=1e-4)
    noise = np.random.default_rng(0).uniform(-1, 1, (32, 12, 12, 3)).astype(np.float32)
    noise_logits = keras.Model(model.inputs[0], model.get_layer("gap").output)(noise).numpy() @ dense.kernel.numpy()
    assert (result.activations > result.start).all()
    assert (result.activations > noise_logits.max(axis=0) + dense.bias.numpy()).all()  # above any of 32 noise pictures
    assert result.pictures.shape == (3, 12, 12, 3) and result.pictures.dtype == np.uint8
    assert result.inputs.min() >= -1 and result.inputs.max() <= 1  # valid model inputs of the tf scaling


def test_a_batch_is_one_picture_per_channel_each_best_for_its_own(classifier):
    _model, mx = classifier
    goal = Goal("conv", (0, 1, 2, 3))
    result = mx.run(goal, FAST)
    assert result.steps == 48 and not result.cancelled
    acts = Prober(mx.prober.model).run_batch(result.inputs, ["conv"])[1].mean(axis=(1, 2))  # (picture, channel)
    np.testing.assert_allclose(result.activations, np.diag(acts), rtol=1e-4, atol=1e-5)
    live = acts.max(axis=0) > 0
    assert (np.argmax(acts, axis=0)[live] == np.arange(4)[live]).all()


def test_progress_every_step_previews_every_few_and_cancel_between_steps(classifier):
    _model, mx = classifier
    seen = []
    result = mx.run(Goal("sep", (1,), unit=(3, 4)), MaximizeSettings.default().replace(steps=40, preview_every=5),
                    progress=seen.append, should_stop=lambda: len(seen) >= 12)
    assert result.cancelled and result.steps == 12
    assert [p.step for p in seen] == list(range(1, 13))
    previews = [p.step for p in seen if p.pictures is not None]
    assert previews == [5, 10] and seen[4].pictures.shape == (1, 12, 12, 3) and seen[4].activations.shape == (1,)
    again = mx.run(Goal("sep", (1,), unit=(3, 4)), MaximizeSettings.default().replace(steps=12))
    np.testing.assert_allclose(again.inputs, result.inputs, rtol=1e-5, atol=1e-6)  # same seed, same picture


def test_pixel_parametrisation_with_blur_climbs_too(classifier):
    _model, mx = classifier
    result = mx.run(Goal("gap", (5,)), FAST.replace(parametrization="pixel", blur=1.0))
    assert result.activations[0] > result.start[0]


@pytest.mark.parametrize("goal, message", [
    (Goal("nope", (0,)), "no layer 'nope' to maximise"),
    (Goal("conv", (4,)), "channel 4 is out of range: conv has 4 channels (0..3)"),
    (Goal("conv", (0,), unit=(10, 0)), "unit (10, 0) is not in conv's 10x10 maps"),
    (Goal(None, (3,)), "class 3 is out of range"),
    (Goal("conv", ()), "choose at least one channel"),
])
def test_bad_goals_are_one_line_errors(classifier, goal, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        classifier[1].run(goal, FAST)
