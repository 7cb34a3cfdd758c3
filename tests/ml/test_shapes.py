"""The generated shapes dataset: deterministic from its seed, balanced, fast, sliders that matter."""

import time

import numpy as np
import pytest

from cnnstudio.ml.data.generated_shapes import CHALLENGES, SHAPE_NAMES, ShapesError, ShapesGenerator, generate, shape_options


def test_same_seed_gives_the_same_images_and_another_seed_does_not():
    x1, y1, classes = generate({"count": 60}, seed=7)
    x2, y2, _ = generate({"count": 60}, seed=7)
    x3, _, _ = generate({"count": 60}, seed=8)
    assert classes == ["circle", "square", "triangle", "cross", "star", "ring"]
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_any_image_can_be_regenerated_on_its_own():
    gen = ShapesGenerator({"count": 50, "clutter": 0.5, "occlusion": 0.5}, seed=3)
    whole, labels = gen.images()
    part, part_labels = gen.images(start=20, count=5)
    assert np.array_equal(whole[20:25], part) and np.array_equal(labels[20:25], part_labels)
    assert np.array_equal(gen.render(33), whole[33])


def test_classes_are_balanced_and_images_have_the_asked_size_and_colour():
    x, y, classes = generate({"classes": list(SHAPE_NAMES), "count": 100, "image_size": 48, "color": True})
    assert x.shape == (100, 48, 48, 3) and x.dtype == np.uint8
    assert np.bincount(y, minlength=len(classes)).tolist() == [10] * 10
    grey, _, _ = generate({"count": 12, "image_size": 24})
    assert grey.shape == (12, 24, 24, 1)


@pytest.mark.parametrize("challenge", CHALLENGES + ("noise", "position", "scale"))
def test_every_slider_changes_the_images(challenge):
    base = generate({"count": 12, "noise": 0.0, "position": 0.0, "scale": 0.0, "rotation": 0.0}, seed=1)[0]
    opts = {"count": 12, "noise": 0.0, "position": 0.0, "scale": 0.0, "rotation": 0.0, challenge: 1.0}
    hard = generate(opts, seed=1)[0]
    assert np.abs(base.astype(int) - hard.astype(int)).mean() > 1.0


def test_a_ring_has_a_hole_and_a_circle_does_not():
    gen = ShapesGenerator({"classes": ["circle", "ring"], "count": 2, "noise": 0, "position": 0, "scale": 0,
                           "rotation": 0}, seed=0)
    images, labels = gen.images()
    centre = {int(lab): int(img[16, 16, 0]) for img, lab in zip(images, labels)}
    assert centre[0] > 150 > centre[1]


def test_bad_options_are_refused_with_a_message_and_sliders_are_clamped():
    with pytest.raises(ShapesError, match="unknown shape"):
        shape_options({"classes": ["circle", "blob"]})
    with pytest.raises(ShapesError, match="at least two"):
        shape_options({"classes": ["circle"]})
    assert shape_options({"noise": 7, "clutter": -1})["noise"] == 1.0
    assert shape_options({"clutter": -1})["clutter"] == 0.0


def test_thousands_of_images_per_second():
    gen = ShapesGenerator({"count": 3000, "clutter": 0.5, "viewpoint": 0.5}, seed=0)
    t0 = time.perf_counter()
    gen.images()
    assert 3000 / (time.perf_counter() - t0) > 2000
