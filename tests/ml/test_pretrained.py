"""Pretrained networks: Keras's preprocessing modes, the family a model belongs to, ImageNet's class names.

The scalings are compared with ``keras.applications.imagenet_utils.preprocess_input`` itself;
the families are real ``keras.applications`` models (weights=None, 32x32 where the family
allows, built once per module); ``cnnstudio probe`` on a saved one must give what Keras's own
``preprocess_input`` followed by the model gives.
"""

from __future__ import annotations

import json

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.cli import main
from cnnstudio.core.settings import PREPROCESSING, Preprocessing
from cnnstudio.ml.model.keras_io import project_from_file, project_from_model
from cnnstudio.ml.data.preprocess import display_image, preprocess, scale_values
from cnnstudio.ml.model.pretrained import class_names_for, imagenet_class_names, preprocessing_mode

A = keras.applications
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_keras_modes_are_kerass_preprocess_input(mode):
    want = A.imagenet_utils.preprocess_input(RGB.astype(np.float32), mode=mode)
    got = scale_values(RGB, mode)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


def test_raw_is_what_models_with_their_own_scaling_take():
    for fn in (A.efficientnet.preprocess_input, A.convnext.preprocess_input, A.mobilenet_v3.preprocess_input):
        np.testing.assert_array_equal(scale_values(RGB, "raw"), fn(RGB.astype(np.float32)))


@pytest.mark.parametrize("color", ["grey", "rgb"])
@pytest.mark.parametrize("scale", PREPROCESSING.get("scale").choices)
def test_display_undoes_every_scaling(scale, color):
    settings = Preprocessing.default().replace(size=(32, 32), color=color, scale=scale)
    shown = display_image(preprocess(RGB, settings), settings)
    want = RGB if color == "rgb" else np.repeat(cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    assert shown.shape == (32, 32, 3) and np.abs(shown.astype(int) - want).max() <= 1


def test_grey_caffe_and_torch_use_the_mean_over_the_channels():
    grey = RGB[:, :, :1]
    np.testing.assert_allclose(scale_values(grey, "caffe"), grey - np.mean([103.939, 116.779, 123.68]), atol=1e-4)
    torch = (grey / 255.0 - np.mean([0.485, 0.456, 0.406])) / np.mean([0.229, 0.224, 0.225])
    np.testing.assert_allclose(scale_values(grey, "torch"), torch, atol=1e-5)


def test_files_before_the_keras_modes_read_the_same_scaling():
    assert Preprocessing.from_dict({"scale": "-1-1"})[0].scale == "tf"
    assert Preprocessing.from_dict({"scale": "none"})[0].scale == "raw"


def test_imagenet_class_names_are_kerass_1000_in_order():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[417] == "balloon" and names[999] == "toilet_tissue"


#: constructor, keyword arguments, expected mode (from each family's keras.applications preprocess_input).
FAMILIES = {
    "resnet50": (A.ResNet50, {}, "caffe"),
    "vgg16": (A.VGG16, {}, "caffe"),
    "resnet50v2": (A.ResNet50V2, {}, "tf"),
    "mobilenet": (A.MobileNet, {}, "tf"),
    "mobilenetv2": (A.MobileNetV2, {}, "tf"),
    "mobilenetv3": (A.MobileNetV3Small, {}, "raw"),
    "mobilenetv3-bare": (A.MobileNetV3Small, {"include_preprocessing": False}, "tf"),
    "xception": (A.Xception, {"input_shape": (71, 71, 3)}, "tf"),
    "inception_v3": (A.InceptionV3, {"input_shape": (75, 75, 3)}, "tf"),
    "nasnet": (A.NASNetMobile, {"include_top": False}, "tf"),  # with its top it takes 224x224 only
    "densenet121": (A.DenseNet121, {}, "torch"),
    "efficientnetb0": (A.EfficientNetB0, {}, "raw"),
    "efficientnetv2-b0": (A.EfficientNetV2B0, {}, "raw"),
    "efficientnetv2-bare": (A.EfficientNetV2B0, {"include_preprocessing": False}, "tf"),
    "convnext": (A.ConvNeXtTiny, {}, "raw"),
    "convnext-bare": (A.ConvNeXtTiny, {"include_preprocessing": False}, "torch"),
}


def _build(key: str) -> keras.Model:
    build, kwargs, _ = FAMILIES[key]
    return build(weights=None, **{"input_shape": (32, 32, 3), **kwargs})


@pytest.mark.parametrize("key", list(FAMILIES))
def test_each_family_gets_its_keras_mode_and_imagenet_names(key):
    model = _build(key)
    mode, why = preprocessing_mode(model)
    assert mode == FAMILIES[key][2], why
    assert model.name in why
    assert len(class_names_for(model)) == (0 if key == "nasnet" else 1000)


def test_an_unknown_model_gets_0_1_and_says_why():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)], name="mine")
    mode, why = preprocessing_mode(model)
    assert mode == "0-1" and "'mine' is not a keras.applications network" in why and "0-1 is assumed" in why
    project = project_from_model(model, "mine")
    assert project.preprocessing.scale == "0-1" and project.import_note == why and project.classes == []


def test_a_backbone_with_a_new_head_gets_the_backbones_mode_but_not_its_names():
    backbone = A.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    inp = keras.Input((32, 32, 3))
    head = keras.layers.Dense(1000, activation="softmax")(keras.layers.GlobalAveragePooling2D()(backbone(inp)))
    model = keras.Model(inp, head, name="flowers")
    mode, why = preprocessing_mode(model)
    assert mode == "tf" and "flowers starts with mobilenetv2_1.00_32" in why
    assert class_names_for(model) == []  # its 1000 classes are its own


#: keras.applications module of each family whose probe is checked against Keras's preprocess_input.
PROBED = {"resnet50": A.resnet50, "mobilenetv2": A.mobilenet_v2, "densenet121": A.densenet, "efficientnetb0": A.efficientnet}


@pytest.mark.parametrize("key", list(PROBED))
def test_probe_of_a_saved_application_is_kerass_preprocess_input_then_the_model(key, tmp_path, capsys):
    keras.utils.set_random_seed(0)
    model = _build(key)
    path = tmp_path / f"{key}.keras"
    model.save(path)
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), RGB[:, :, ::-1])  # files are BGR
    assert main(["probe", str(path), str(image), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "predictions.json").read_text())
    layer = report["layer"]
    probed = np.load(tmp_path / "out" / f"activations_{layer}.npy")
    x = PROBED[key].preprocess_input(RGB.astype(np.float32)[None])
    want = np.asarray(keras.Model(model.input, model.get_layer(layer).output)(x))[0]
    np.testing.assert_allclose(probed, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))
    assert report["preprocessing"] == FAMILIES[key][2]
    assert {p["label"] for p in report["top_k"]} <= set(imagenet_class_names())
    assert f"scaling {FAMILIES[key][2]}: {model.name} is Keras's" in capsys.readouterr().out
    project = project_from_file(path)
    assert project.preprocessing.scale == FAMILIES[key][2] and project.classes == imagenet_class_names()


def test_probe_preprocess_overrides_the_detected_mode(tmp_path):
    model = _build("mobilenetv2")
    path = tmp_path / "m.keras"
    model.save(path)
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), RGB)
    assert main(["probe", str(path), str(image), "--out", str(tmp_path / "out"), "--preprocess", "0-1"]) == 0
    assert json.loads((tmp_path / "out" / "predictions.json").read_text())["preprocessing"] == "0-1"
