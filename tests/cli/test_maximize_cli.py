"""``cnnstudio maximize``: the picture it writes excites the channel far more than noise or grey does,
read back from the PNG through the model's preprocessing; bad layers, channels and classes exit 2."""

import keras
import numpy as np
import pytest

from cnnstudio.cli import main
from cnnstudio.ml.data.preprocess import preprocess
from cnnstudio.ml.probing.inputs import preprocessing_for, read_rgb


@pytest.fixture(scope="module")
def pattern_model(tmp_path_factory):
    """A 16x16 RGB net whose conv channel 0 detects a 5x5 colour edge (red and blue rising to the right
    where green falls; zero mean in each colour, so grey gives exactly 0), channel 1 the opposite edge."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(2, 5, activation="relu", name="detect"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, activation="softmax", name="out")], name="pattern")
    k = (np.arange(5.0) - 2)[None, :, None, None] * np.array([1.0, -1.0, 0.5])[None, None, :, None] * np.ones((5, 1, 1, 1))
    model.get_layer("detect").set_weights([np.concatenate([k, -k], axis=3).astype(np.float32), np.zeros(2, np.float32)])
    path = tmp_path_factory.mktemp("model") / "pattern.keras"
    model.save(path)
    return path, model


@pytest.mark.parametrize("scale", ["0-1", "caffe"])
def test_the_maximised_png_excites_its_channel_far_above_noise_and_grey(pattern_model, tmp_path, capsys, scale):
    path, model = pattern_model
    out = tmp_path / "out"
    assert main(["maximize", str(path), "--layer", "detect", "--channel", "0", "--steps", "160",
                 "--preprocess", scale, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'maximize_detect_ch0.png'} and {out / 'maximize_detect_ch0.npy'}" in printed
    settings = preprocessing_for((16, 16, 3)).replace(scale=scale)
    picture = read_rgb(out / "maximize_detect_ch0.png")
    assert min(picture.shape[:2]) >= 256  # enlarged to be seen, pixels kept sharp

    def channel0(images):
        x = np.stack([preprocess(im, settings) for im in images])
        return keras.Model(model.inputs[0], model.get_layer("detect").output)(x).numpy()[..., 0].mean(axis=(1, 2))

    rng = np.random.default_rng(0)
    noise = channel0(rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8))
    grey = channel0([np.full((16, 16, 3), 128, np.uint8)])[0]
    read_back = channel0([picture])[0]
    assert read_back > 3 * noise.mean() and read_back > 1.5 * noise.max()
    assert read_back > 3 * grey and read_back > 0
    raw = np.load(out / "maximize_detect_ch0.npy")
    assert raw.shape == (16, 16, 3) and raw.dtype == np.float32
    direct = keras.Model(model.inputs[0], model.get_layer("detect").output)(raw[None]).numpy()[..., 0].mean()
    assert read_back == pytest.approx(direct, rel=0.05)  # the PNG is the input, to a pixel level
    assert f"-> {direct:.4g} after 160 steps" in printed


def test_class_maximisation_writes_its_files(pattern_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["maximize", str(pattern_model[0]), "--class", "1", "--steps", "8", "--seed", "3",
                 "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"maximize_class1.png", "maximize_class1.npy"}
    assert capsys.readouterr().out.startswith("class '1': ")


@pytest.mark.parametrize("args, message", [
    (["--layer", "conv9"], "pattern has no layer 'conv9' to maximise; choose one of detect, gap, out"),
    (["--layer", "detect", "--channel", "2"], "channel 2 is out of range: detect has 2 channels (0..1)"),
    (["--layer", "detect", "--unit", "12,0"], "unit (12, 0) is not in detect's 12x12 maps"),
    (["--class", "2"], "class 2 is out of range: output out has 2 classes (0..1)"),
    (["--layer", "detect", "--steps", "0"], "maximize.steps must be at least 1, got 0"),
    ([], "give --layer L (with --channel C) or --class K"),
    (["--layer", "detect", "--class", "1"], "give --layer L (with --channel C) or --class K"),
])
def test_bad_input_is_one_line_and_exit_2(pattern_model, tmp_path, capsys, args, message):
    assert main(["maximize", str(pattern_model[0]), *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == f"cnnstudio maximize: {message}\n"
    assert not (tmp_path / "o").exists()


def test_a_missing_model_or_a_project_without_a_run_is_one_line(tmp_path, capsys):
    assert main(["maximize", str(tmp_path / "none.keras"), "--layer", "x", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"cnnstudio maximize: {tmp_path / 'none.keras'}: no such file\n"
