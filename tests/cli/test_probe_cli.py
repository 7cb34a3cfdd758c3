"""``cnnstudio probe``: the files it writes, for a bare model and for a trained project; bad input exits 2."""

import json

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.cli import main
from cnnstudio.core.project import save_project
from cnnstudio.core.templates import simple_cnn
from cnnstudio.ml.model.builder import build_model
from cnnstudio.ml.data.preprocess import preprocess
from cnnstudio.ml.probing.inputs import preprocessing_for
from cnnstudio.ml.probing.prober import Prober
from cnnstudio.ml.training.runs import Run


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool"),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, activation="softmax", name="out")], name="tiny")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path, model


@pytest.fixture
def image(tmp_path):
    img = np.zeros((40, 50, 3), np.uint8)
    cv2.circle(img, (25, 20), 9, (40, 200, 255), -1)
    path = tmp_path / "in.png"
    cv2.imwrite(str(path), img)
    return path, img[:, :, ::-1]  # the file is BGR on disk; RGB in memory


def test_probe_of_a_keras_model_writes_activations_pictures_and_top_k(rgb_model, image, tmp_path, capsys):
    model_path, model = rgb_model
    out = tmp_path / "out"
    assert main(["probe", str(model_path), str(image[0]), "--out", str(out), "--top", "2"]) == 0
    assert {p.name for p in out.iterdir()} == {"activations_conv2.npy", "feature_maps.png", "gradcam.png",
                                              "saliency.png", "predictions.json"}
    x = preprocess(image[1], preprocessing_for((16, 16, 3)))
    expect = Prober(model).run(x, ["conv2"])
    np.testing.assert_allclose(np.load(out / "activations_conv2.npy"), expect.activations["conv2"], rtol=1e-5, atol=1e-6)
    report = json.loads((out / "predictions.json").read_text())
    assert report["layer"] == "conv2" and report["gradcam_layer"] == "conv2"
    assert [p["index"] for p in report["top_k"]] == list(np.argsort(-expect.output)[:2])
    for name in ("feature_maps.png", "gradcam.png", "saliency.png"):
        picture = cv2.imread(str(out / name))
        assert picture is not None and min(picture.shape[:2]) >= 256
    assert "wrote" in capsys.readouterr().out


def test_probe_of_a_project_uses_its_newest_checkpoint_preprocessing_and_class_names(image, tmp_path):
    project = simple_cnn(["ball", "box", "cone"])
    save_project(project, tmp_path / "shapes.cnnproj")
    run = Run.create(project.runs_dir(), {})
    build_model(project.graph).save(run.best_checkpoint)
    out = tmp_path / "out"
    assert main(["probe", str(project.path), str(image[0]), "--layer", "conv1", "--out", str(out)]) == 0
    assert np.load(out / "activations_conv1.npy").shape == (32, 32, 16)  # 32x32 grey, as the project says
    labels = [p["label"] for p in json.loads((out / "predictions.json").read_text())["top_k"]]
    assert sorted(labels) == ["ball", "box", "cone"]


@pytest.mark.parametrize("case, message", [
    ("no_model", "no such file"),
    ("bad_image", "cannot be read as an image"),
    ("bad_layer", "no such layer with feature maps; choose one of conv1, pool, conv2"),
    ("untrained_project", "has no trained run yet"),
])
def test_bad_input_is_one_line_and_exit_2(case, message, rgb_model, image, tmp_path, capsys):
    model, img, extra = str(rgb_model[0]), str(image[0]), []
    if case == "no_model":
        model = str(tmp_path / "missing.keras")
    elif case == "bad_image":
        img = tmp_path / "junk.png"
        img.write_bytes(b"not a picture")
    elif case == "bad_layer":
        extra = ["--layer", "out"]
    else:
        model = str(save_project(simple_cnn(), tmp_path / "fresh.cnnproj"))
    assert main(["probe", model, str(img), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnnstudio probe: ") and message in err and "\n" not in err


@pytest.mark.parametrize("name, suffix, kind", [("unet", ".h5", "map"), ("autoencoder", ".keras", "image"),
                                                ("regression", ".h5", "values"), ("two_outputs", ".keras", "classes")])
def test_probe_of_a_model_that_is_no_classifier_writes_everything_without_a_traceback(
        small_models, name, suffix, kind, image, tmp_path, capsys):
    path = tmp_path / f"{name}{suffix}"
    small_models[name].save(path)
    out = tmp_path / "out"
    assert main(["probe", str(path), str(image[0]), "--out", str(out)]) == 0
    report = json.loads((out / "predictions.json").read_text())
    assert report["output"]["kind"] == kind and "undefined" not in report
    written = {p.name for p in out.iterdir()}
    assert {"feature_maps.png", "gradcam.png", "saliency.png", "predictions.json"} <= written
    assert ("output.png" in written) == (kind in ("map", "image"))
    if kind == "map":
        assert len(report["class_shares"]) == 3 and "summed over the pixels" in report["explained"]
    if kind == "values":
        assert len(report["values"]) == 1 and report["explained"] == "the output's mean"
    text = capsys.readouterr()
    assert "wrote" in text.out and "Traceback" not in text.err


def test_probe_chooses_an_output_a_class_and_a_pixel(small_models, image, tmp_path, capsys):
    path = tmp_path / "two.keras"
    small_models["two_outputs"].save(path)
    assert main(["probe", str(path), str(image[0]), "--out", str(tmp_path / "a"), "--output", "1"]) == 0
    report = json.loads((tmp_path / "a" / "predictions.json").read_text())
    assert report["output"]["name"] == "mask" and report["gradcam_layer"] == "mask_conv"
    assert (tmp_path / "a" / "output.png").is_file()
    unet = tmp_path / "unet.h5"
    small_models["unet"].save(unet)
    assert main(["probe", str(unet), str(image[0]), "--out", str(tmp_path / "b"), "--class", "2",
                 "--pixel", "3,4"]) == 0
    assert json.loads((tmp_path / "b" / "predictions.json").read_text())["explained"] == "class '2' at pixel (3, 4)"
    capsys.readouterr()
    assert main(["probe", str(unet), str(image[0]), "--out", str(tmp_path / "c"), "--output", "1"]) == 2
    assert "unet has 1 output(s): no output 1" in capsys.readouterr().err
    assert main(["probe", str(unet), str(image[0]), "--out", str(tmp_path / "c"), "--class", "5"]) == 2
    assert "seg has 3 classes: no number 5" in capsys.readouterr().err


def test_an_attribution_that_is_not_defined_is_one_line_and_the_rest_is_written(image, tmp_path, capsys):
    inp = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    label = keras.layers.Dense(2, activation="softmax", name="label")(keras.layers.GlobalAveragePooling2D()(conv))
    smooth = keras.layers.AveragePooling2D(3, strides=1, padding="same", name="smooth")(inp)  # no convolution
    path = tmp_path / "branches.keras"
    keras.Model(inp, [label, smooth], name="branches").save(path)
    out = tmp_path / "out"
    assert main(["probe", str(path), str(image[0]), "--out", str(out), "--output", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1] == "gradcam: not defined here: branches has no convolution before output smooth for Grad-CAM"
    assert not (out / "gradcam.png").exists() and (out / "saliency.png").is_file() and (out / "output.png").is_file()
    assert "gradcam" in json.loads((out / "predictions.json").read_text())["undefined"]


def test_a_bare_model_that_takes_any_size_probes_the_image_at_its_own_size(image, tmp_path):
    inp = keras.Input((None, None, 3))
    c = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
    out = keras.layers.Conv2D(2, 1, activation="softmax", name="seg")(keras.layers.MaxPooling2D(1, name="p")(c))
    path = tmp_path / "fcn.h5"
    keras.Model(inp, out, name="fcn").save(path)
    assert main(["probe", str(path), str(image[0]), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert report["output"]["shape"] == [32, 32, 2]  # the 40x50 image, in whole steps of 32


def test_attribution_option_writes_the_chosen_methods_with_their_options(rgb_model, image, tmp_path, capsys):
    from cnnstudio.cli import probe as probe_cli
    from cnnstudio.ml.probing import attribution

    assert set(probe_cli.METHODS) == set(attribution.METHODS) and probe_cli.BASELINES == attribution.BASELINES
    out = tmp_path / "out"
    assert main(["probe", str(rgb_model[0]), str(image[0]), "--out", str(out), "--attribution",
                 "guided,guided_gradcam,integrated", "--baseline", "grey", "--steps", "64"]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"guided.png", "guided_gradcam.png", "integrated.png"} <= written
    assert not {"gradcam.png", "saliency.png"} & written
    for name in ("guided.png", "guided_gradcam.png", "integrated.png"):
        assert min(cv2.imread(str(out / name)).shape[:2]) >= 256
    note = json.loads((out / "predictions.json").read_text())["integrated_note"]
    assert "grey baseline" in note and float(note.split("(")[1].split("%")[0]) < 5
    assert main(["probe", str(rgb_model[0]), str(image[0]), "--out", str(out), "--steps", "0"]) == 2
    assert "--steps must be 1 to 4096" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: usage and exit 2
        main(["probe", str(rgb_model[0]), str(image[0]), "--out", str(out), "--attribution", "magic"])
    assert "magic: choose from gradcam" in capsys.readouterr().err
