"""``cnnstudio summary`` and ``cnnstudio export`` as a user runs them, good input and bad."""

import json
import subprocess
import sys

import pytest

from cnnstudio import RESOURCES
from cnnstudio.cli import main
from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.project import Project, save_project

LENET = str(RESOURCES / "projects" / "lenet5.cnnproj")
LAYER_KEYS = {"name", "class", "output_shape", "params", "trainable_params", "receptive_field", "receptive_field_note",
              "flops", "error"}


def run_json(capsys, *argv):
    assert main(["summary", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_project_summary_json(capsys):
    report = run_json(capsys, LENET)
    assert report["total_params"] == 61_706 and report["trainable_params"] == 61_706
    assert all(set(layer) == LAYER_KEYS for layer in report["layers"])
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["C1"] == {"name": "C1", "class": "Conv2D", "output_shape": [None, 28, 28, 6], "params": 156,
                            "trainable_params": 156, "flops": 2 * 28 * 28 * 6 * 25,
                            "receptive_field": {"size": [5, 5], "stride": [1, 1], "padding": [0, 0]},
                            "receptive_field_note": None, "error": None}
    assert layers["C5"]["receptive_field"] == {"size": [32, 32], "stride": [4, 4], "padding": [0, 0]}
    assert layers["F6"]["receptive_field"] is None and layers["F6"]["output_shape"] == [None, 84]
    assert layers["F6"]["receptive_field_note"] == "no spatial axes"  # why it is undefined


def test_project_summary_table_is_aligned_with_totals(capsys):
    assert main(["summary", LENET]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("Layer (class)"))
    rows = [line for line in out if " (Conv2D) " in line or " (Dense) " in line]
    col = header.index("Output shape")
    assert all(row[col - 2:col] == "  " and row[col] == "(" for row in rows)
    assert "C1 (Conv2D)" in rows[0] and "156" in rows[0] and "5x5, s1, p0" in rows[0]
    assert "- (no spatial axes)" in rows[-1]  # an undefined field says why
    assert any(line.startswith("Total params: 61,706") for line in out)


def test_one_dimensional_receptive_field_has_one_value_per_axis(tmp_path, capsys):
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (100, 1)}, name="signal")
    conv = g.add_node("Conv1D", {"filters": 4, "kernel_size": 5, "strides": 2}, name="conv")
    g.add_edge(inp.id, conv.id)
    path = save_project(Project(graph=g, name="wave"), tmp_path / "wave.cnnproj")
    conv_row = run_json(capsys, str(path))["layers"][1]
    assert conv_row["receptive_field"] == {"size": [5], "stride": [2], "padding": [0]}
    assert conv_row["output_shape"] == [None, 48, 4]


def test_project_summary_loads_no_tensorflow():
    code = ("import sys; from cnnstudio.cli import main; rc = main(['summary', sys.argv[1], '--json']); "
            "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(heavy, file=sys.stderr); "
            "sys.exit(rc or (3 if heavy else 0))")
    out = subprocess.run([sys.executable, "-c", code, LENET], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["total_params"] == 61_706


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    import keras

    inp = keras.Input((32, 32, 3), name="img")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(inp)
    x = keras.layers.Permute((2, 1, 3), name="swap")(x)  # outside the catalog: shapes from the import
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="out")(x))
    path = tmp_path_factory.mktemp("models") / "small.keras"
    model.save(path)
    return path, model


def test_keras_file_summary(keras_file, capsys):
    path, model = keras_file
    report = run_json(capsys, str(path))
    assert report["name"] == "small" and report["total_params"] == model.count_params()
    assert [(r["name"], r["class"], r["output_shape"]) for r in report["layers"]] == [
        ("img", "InputLayer", [None, 32, 32, 3]), ("conv", "Conv2D", [None, 16, 16, 8]),
        ("swap", "Permute", [None, 16, 16, 8]), ("gmp", "GlobalMaxPooling2D", [None, 8]), ("out", "Dense", [None, 3])]


def _bad_inputs(tmp_path, keras_file):
    import keras

    seq = keras.Sequential([keras.Input((4,)), keras.layers.Flatten(name="f")])
    files = {
        "garbage.keras": b"\x00\x01 not a zip", "garbage.h5": b"nope", "cut.json": seq.to_json()[:30].encode(),
        "foo.json": seq.to_json().replace('"Flatten"', '"Foo"').encode(), "cut.cnnproj": b'{"format": "cnnst',
        "nodes.cnnproj": b'{"format": "cnnstudio-project", "version": 1, "graph": {"nodes": {"a": 1}}}',
        "classes.cnnproj": b'{"format": "cnnstudio-project", "version": 1, "classes": {"a": 1}}',
        "layers.json": b'{"class_name": "Sequential", "config": {"layers": {"a": 1}}}',
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {
        "missing.cnnproj": "no such file",
        "garbage.keras": "not a .keras file",
        "garbage.h5": "not an HDF5 file",
        "cut.json": "corrupt or truncated JSON",
        "foo.json": "unknown layer class 'Foo'",
        "cut.cnnproj": "corrupt or truncated",
        "nodes.cnnproj": "graph.nodes must be a list of layers, not an object",
        "classes.cnnproj": "classes must be a list of names, not an object",
        "layers.json": "config.layers must be a list of layers, not an object",
    }


def test_bad_input_gives_one_line_and_exit_2(tmp_path, keras_file, capfd):
    for name, message in _bad_inputs(tmp_path, keras_file).items():
        assert main(["summary", str(tmp_path / name)]) == 2, name
        out, err = capfd.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("cnnstudio summary: ") and message in err, (name, err)


def test_bad_keras_file_in_a_real_process_prints_one_line(tmp_path):
    (tmp_path / "foo.keras").write_bytes(b"garbage")
    out = subprocess.run([sys.executable, "-m", "cnnstudio", "summary", str(tmp_path / "foo.keras")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"cnnstudio summary: {tmp_path / 'foo.keras'}: not a .keras file (not a zip archive)"]


def test_export_python_and_keras(tmp_path, capsys):
    import keras

    script = tmp_path / "lenet.py"
    assert main(["export", LENET, "--format", "python", "-o", str(script)]) == 0
    namespace = {"__name__": "lenet"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    assert namespace["model"].count_params() == 61_706
    assert main(["export", LENET]) == 0
    assert capsys.readouterr().out == script.read_text()  # without -o the script goes to stdout
    saved = tmp_path / "lenet.keras"
    assert main(["export", LENET, "--format", "keras", "-o", str(saved)]) == 0
    assert keras.saving.load_model(saved).count_params() == 61_706
    assert main(["export", LENET, "--format", "keras"]) == 2
    assert main(["export", LENET, "--format", "keras", "-o", str(tmp_path / "x.txt")]) == 2
    assert "saved as .keras" in capsys.readouterr().err
