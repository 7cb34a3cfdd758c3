"""Model files with Python code in them: refused by summary, export and probe in one line (exit 2),
run with ``--trust-code``."""

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.cli import main


@pytest.fixture
def lambda_file(tmp_path):
    """``lambda_file(suffix)``: an image model with a Lambda layer "scale" (distinct code each time:
    code trusted once stays trusted for the session)."""
    def make(suffix: str, factor: float):
        inp = keras.Input((8, 8, 3))
        x = keras.layers.Lambda(eval(f"lambda t: t * {factor}"), name="scale")(inp)
        x = keras.layers.Conv2D(2, 3, name="conv")(x)
        out = keras.layers.Dense(2, activation="softmax", name="out")(keras.layers.GlobalAveragePooling2D()(x))
        path = tmp_path / f"code{suffix}"
        model = keras.Model(inp, out)
        if suffix == ".json":
            path.write_text(model.to_json())
        else:
            model.save(path)
        return path
    return make


def refusal(path, command):
    return (f'cnnstudio {command}: {path} holds Python code (a Lambda layer "scale") that runs when the model is '
            "loaded: refused (add --trust-code if you trust the file)\n")


@pytest.mark.parametrize("suffix, factor", [(".keras", 1.5), (".h5", 2.5), (".json", 3.5)])
def test_summary_refuses_in_one_line_and_trusts_on_request(lambda_file, suffix, factor, capsys):
    path = lambda_file(suffix, factor)
    assert main(["summary", str(path)]) == 2
    assert capsys.readouterr().err == refusal(path, "summary")
    assert main(["summary", str(path), "--trust-code"]) == 0
    assert "scale (Lambda)" in capsys.readouterr().out


def test_export_refuses_and_trusts(lambda_file, tmp_path, capsys):
    path = lambda_file(".keras", 7.25)
    assert main(["export", str(path), "-o", str(tmp_path / "out.py")]) == 2
    assert capsys.readouterr().err == refusal(path, "export")
    assert not (tmp_path / "out.py").exists()
    assert main(["export", str(path), "-o", str(tmp_path / "out.py"), "--trust-code"]) == 0
    compile((tmp_path / "out.py").read_text(), "out.py", "exec")


def test_probe_refuses_and_trusts(lambda_file, tmp_path, capsys):
    path = lambda_file(".keras", 9.5)
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), np.full((8, 8, 3), 120, np.uint8))
    out = tmp_path / "probe"
    assert main(["probe", str(path), str(image), "--out", str(out)]) == 2
    assert capsys.readouterr().err == refusal(path, "probe")
    assert main(["probe", str(path), str(image), "--out", str(out), "--trust-code"]) == 0
    assert (out / "predictions.json").is_file()
