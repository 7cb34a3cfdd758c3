"""``summary``, ``probe`` and both exports on model files shaped as real projects write them.

Each model is built and trained a few steps in the test (Sequential and functional, a U-Net,
residual skips, an Xception-style depthwise-separable block, a two-output model), saved as
``.h5`` (Keras 2-era files) or ``.keras``, and run through the commands' entry point,
``cnnstudio.cli.main`` (in this process: a traceback anywhere fails the test with Python's
words; tests/cli/test_summary_cli.py runs the real console process). Exports must keep the
trained weights bit for bit.
"""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.cli import main

L = keras.layers


def sequential():
    return keras.Sequential([keras.Input((16, 16, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                             L.Flatten(), L.Dense(3, activation="softmax")], name="seq")


def unet():
    inp = keras.Input((16, 16, 3))
    d1 = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    d2 = L.Conv2D(8, 3, padding="same", activation="relu")(L.MaxPooling2D()(d1))
    u1 = L.Conv2DTranspose(4, 2, strides=2, padding="same")(d2)
    u2 = L.UpSampling2D()(L.Conv2D(4, 1)(d2))
    x = L.Concatenate()([d1, u1, u2])
    return keras.Model(inp, L.Conv2D(2, 1, activation="softmax")(x), name="unet")


def residual():
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same")(inp)
    y = L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(x))
    x = L.Activation("relu")(L.Add()([x, y]))
    return keras.Model(inp, L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(x)), name="resnet_like")


def xception_block():
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same")(inp)
    y = L.SeparableConv2D(16, 3, padding="same", activation="relu")(x)
    y = L.BatchNormalization()(L.SeparableConv2D(16, 3, padding="same")(y))
    y = L.MaxPooling2D(3, strides=2, padding="same")(y)
    shortcut = L.BatchNormalization()(L.Conv2D(16, 1, strides=2, padding="same")(x))
    x = L.Add()([y, shortcut])
    return keras.Model(inp, L.Dense(7, activation="softmax")(L.GlobalAveragePooling2D()(x)), name="mini_xception")


def two_outputs():
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(4, 3, activation="relu")(inp)
    cls = L.Dense(3, activation="softmax", name="label")(L.Flatten()(x))
    box = L.Dense(4, name="box")(L.GlobalAveragePooling2D()(x))
    return keras.Model(inp, [cls, box], name="two_heads")


MODELS = {"seq": (sequential, ".h5"), "unet": (unet, ".h5"), "residual": (residual, ".keras"),
          "xception": (xception_block, ".h5"), "two_outputs": (two_outputs, ".keras")}


def _trained(build) -> keras.Model:
    model = build()
    rng = np.random.default_rng(0)
    x = rng.random((8, *model.input_shape[1:]), dtype=np.float32)
    ys = [rng.random((8, *o.shape[1:]), dtype=np.float32) for o in model.outputs]
    model.compile("adam", ["mse"] * len(ys))
    model.fit(x, ys if len(ys) > 1 else ys[0], epochs=2, batch_size=4, verbose=0)
    return model


def cnnstudio(*argv: str, capsys) -> SimpleNamespace:
    """Run ``cnnstudio ARGV`` as the console script does: its exit code and what it wrote on stderr."""
    capsys.readouterr()
    code = main(list(argv))
    return SimpleNamespace(returncode=code, stderr=capsys.readouterr().err)


@pytest.mark.parametrize("name", list(MODELS))
def test_summary_probe_and_exports_on_a_real_shaped_model_file(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build, suffix = MODELS[name]
    model = _trained(build)
    source = tmp_path / f"{name}{suffix}"
    model.save(source)
    image = tmp_path / "picture.png"
    cv2.imwrite(str(image), np.random.default_rng(2).integers(0, 255, (40, 30, 3), dtype=np.uint8))
    out = cnnstudio("summary", str(source), capsys=capsys)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    out = cnnstudio("probe", str(source), str(image), "--out", str(tmp_path / "probe"), capsys=capsys)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert (tmp_path / "probe" / "predictions.json").is_file()
    out = cnnstudio("export", str(source), "--format", "keras", "-o", str(tmp_path / "out.keras"), capsys=capsys)
    assert out.returncode == 0 and "trained weights from" in out.stderr, out.stderr
    out = cnnstudio("export", str(source), "--format", "python", "--weights", "-o", str(tmp_path / "net.py"),
                    capsys=capsys)
    assert out.returncode == 0 and (tmp_path / "net.weights.h5").is_file(), out.stderr
    x = np.random.default_rng(1).random((2, *model.input_shape[1:]), dtype=np.float32)
    for exported in (keras.saving.load_model(tmp_path / "out.keras", compile=False),
                     runpy.run_path(str(tmp_path / "net.py"))["model"]):
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), exported.get_weights()))
        for a, b in zip(keras.tree.flatten(model(x)), keras.tree.flatten(exported(x))):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-6)
