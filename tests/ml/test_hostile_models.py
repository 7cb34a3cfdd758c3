"""Hostile Keras files (JSON, .keras, .h5): each is refused with one ModelImportError line naming the
file and, where the architecture has the wrong form, the field."""

import json
import zipfile

import pytest

from cnnstudio.ml.model.keras_io import ModelImportError, project_from_file

SEQ = '{"class_name": "Sequential", "config": %s}'


@pytest.mark.parametrize("name, content, message", [
    ("a.json", SEQ % "5", r"config must be an object, not a number \(5\)"),
    ("a.json", SEQ % "[3]", r"config\[0\] must be an object \(one layer\)"),  # a Keras 2.2 Sequential's list
    ("a.json", SEQ % '{"layers": {"a": 1}}', "config.layers must be a list of layers, not an object"),
    ("a.json", SEQ % '{"layers": [1]}', r"config.layers\[0\] must be an object \(one layer\)"),
    ("a.json", SEQ % '{"layers": [{"config": {}}]}', r"config.layers\[0\].class_name must be a string, not null"),
    ("a.json", SEQ % '{"layers": [{"class_name": "Dense", "config": [1]}]}', r"config.layers\[0\].config must be an object"),
    ("a.json", '{"class_name": "Seq', "is corrupt or truncated JSON"),
    ("a.json", "[" * 100_000 + "]" * 100_000, "is nested too deeply"),
    ("a.json", "[1, 2]", "is JSON but not a Keras model architecture"),
    ("a.keras", ("config.json", "5"), r"the architecture must be an object, not a number \(5\)"),
    ("a.keras", ("config.json", SEQ % '{"layers": "x"}'), "config.layers must be a list of layers"),
    ("a.keras", b"PK\x03\x04garbage", r"not a .keras file \(not a zip archive\)"),
    ("a.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "not a readable HDF5 file"),
])
def test_a_hostile_model_file_is_one_line_naming_the_file_and_field(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, tuple):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(content[0], content[1])
            z.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = path.read_bytes()
    with pytest.raises(ModelImportError, match=message) as info:
        project_from_file(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("key, value, message", [
    ("filters", "many", r"config.layers\[1\] \(c\).config: filters: 'many' is not a valid int"),
    ("kernel_size", [3, "x"], r"config.layers\[1\] \(c\).config: kernel_size"),
    ("padding", 7, r"config.layers\[1\] \(c\).config: padding must be one of valid, same; got 7"),
])
def test_a_layer_value_keras_refuses_is_named_by_the_catalog(tmp_path, key, value, message):
    import keras

    doc = json.loads(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c")]).to_json())
    doc["config"]["layers"][1]["config"][key] = value
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelImportError, match=message):
        project_from_file(path)
