"""Fuzzing the loaders of other programs' files: images, image folders, ``.npz`` arrays, Keras JSON.

The property is the suite's: a loader either loads, or raises its documented person-facing error
(:class:`DataError` for data, :class:`ModelImportError` for models) with one line. Never another
exception, never a hang. Keras files are slow to load, so the Keras cases mutate one small
architecture and stop at the profile's example count like the rest.
"""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnstudio.core.settings import DataSource, Preprocessing
from cnnstudio.ml.data.datasets import load_dataset
from cnnstudio.ml.data.sources import DataError, read_image
from cnnstudio.ml.model.keras_io import ModelImportError, load_model_file

from hostile import LONG, check_loader, json_text, mutated_bytes, mutated_json

GREY = Preprocessing.default().replace(size=(8, 8))


def _png(height: int = 12, width: int = 10) -> bytes:
    ok, data = cv2.imencode(".png", np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3))
    assert ok
    return data.tobytes()


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


VALID_NPZ = _npz(x=np.zeros((6, 8, 8), np.uint8), y=np.array([0, 1, 0, 1, 0, 1]))


@given(data=st.sampled_from([_png(), _jpeg()]).flatmap(mutated_bytes), suffix=st.sampled_from([".png", ".jpg"]))
def test_damaged_image_files_read_or_come_back_empty(tmp_path_factory, data, suffix):
    """``read_image`` answers ``None`` (unreadable) or an image, or says why in one line."""
    path = tmp_path_factory.mktemp("img") / f"picture{suffix}"
    path.write_bytes(data)
    image = check_loader("image file (damaged bytes)", lambda: read_image(str(path)), (DataError,))
    assert image is None or (image.ndim in (2, 3) and image.size > 0)


@given(data=st.sampled_from([_png(), _jpeg(), b"not an image"]).flatmap(mutated_bytes))
def test_an_image_folder_with_damaged_files_loads_the_rest_or_says_why(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("folder")
    for cls in ("a", "b"):
        (root / cls).mkdir()
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(_png())
    (root / "a" / "damaged.png").write_bytes(data)
    source = DataSource.default().replace(kind="folder", path=str(root), validation_split=0.0, test_split=0.0)
    ds = check_loader("image folder (a damaged file)", lambda: load_dataset(source, GREY), (DataError,))
    if ds is not None:
        assert ds.classes == ["a", "b"]
        batches = list(ds.tf_dataset("train", 8).as_numpy_iterator())
        assert sum(len(y) for _, y in batches) >= 4  # the good pictures all come through


ARRAYS = st.sampled_from([
    np.zeros((4, 8, 8), np.uint8), np.zeros((4, 8, 8, 3), np.float32), np.zeros((4, 8), np.uint8),
    np.zeros((0, 8, 8), np.uint8), np.full((4, 8, 8), np.nan, np.float32), np.zeros((4, 8, 8, 2), np.uint8),
    np.array([0, 1, 0, 1]), np.array([0.5, 1.5, 0, 1]), np.array([-1, 0, 1, 2]), np.array(["a", "b", "a", "b"]),
    np.array([0, 1]), np.array(10 ** 12), np.zeros((4, 2), np.float32), np.array([True, False, True, False])])


@given(x=ARRAYS, y=ARRAYS, names=st.sampled_from(["x y", "x_train y_train", "images labels", "x"]))
def test_generated_npz_arrays_load_or_say_why(tmp_path_factory, x, y, names):
    keys = names.split()
    path = tmp_path_factory.mktemp("npz") / "d.npz"
    path.write_bytes(_npz(**dict(zip(keys, (x, y)))))
    source = DataSource.default().replace(kind="npz", path=str(path), validation_split=0.0, test_split=0.0)
    ds = check_loader("npz (generated arrays)", lambda: load_dataset(source, GREY), (DataError,))
    if ds is not None:
        assert ds.input_shape == (8, 8, 1) and len(ds.classes) >= 1


@given(data=mutated_bytes(VALID_NPZ))
def test_damaged_npz_bytes_load_or_say_why(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("npz") / "d.npz"
    path.write_bytes(data)
    source = DataSource.default().replace(kind="npz", path=str(path))
    check_loader("npz (damaged bytes)", lambda: load_dataset(source, GREY), (DataError,))


def _keras_json() -> dict:
    import keras

    inp = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    out = keras.layers.Dense(2, activation="softmax", name="out")(keras.layers.Flatten(name="flat")(x))
    return json.loads(keras.Model(inp, out, name="tiny").to_json())


KERAS_JSON = _keras_json()


@settings(max_examples=300 if LONG else 30)  # each load builds a Keras model: a few hundred ms
@given(doc=mutated_json(KERAS_JSON))
def test_mutated_keras_json_loads_or_says_why(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("keras") / "model.json"
    path.write_text(json_text(doc), encoding="utf-8", errors="surrogatepass")
    check_loader("Keras JSON (mutated architecture)", lambda: load_model_file(path), (ModelImportError,))


def _saved(suffix: str) -> bytes:
    """The tiny model saved as ``.keras`` (a zip) or legacy ``.h5``, as bytes to damage."""
    import tempfile
    from pathlib import Path

    import keras

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"m{suffix}"
        keras.Model.from_config(KERAS_JSON["config"]).save(path)
        return path.read_bytes()


@settings(max_examples=300 if LONG else 30)
@given(data=st.sampled_from([(".keras", _saved(".keras")), (".h5", _saved(".h5"))]).flatmap(
    lambda kind: st.tuples(st.just(kind[0]), mutated_bytes(kind[1]))))
def test_damaged_keras_and_h5_files_load_or_say_why(tmp_path_factory, data):
    suffix, content = data
    path = tmp_path_factory.mktemp("keras") / f"model{suffix}"
    path.write_bytes(content)
    check_loader(f"Keras {suffix} (damaged bytes)", lambda: load_model_file(path), (ModelImportError,))
