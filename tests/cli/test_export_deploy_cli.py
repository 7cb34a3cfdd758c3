"""``cnnstudio export --format savedmodel|tflite|tflite-int8|onnx``: checked, table printed, bad input exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnstudio import RESOURCES
from cnnstudio.cli import main
from cnnstudio.core.project import save_project
from cnnstudio.core.templates import lenet5
from cnnstudio.ml.model.deploy_check import RUNTIMES
from cnnstudio.ml.model.deploy_formats import FORMATS, missing_packages

pytestmark = pytest.mark.skipif(any(missing_packages(f) for f in FORMATS.values()),
                                reason="the export extra (pip install 'cnnstudio[export]') is not installed")

DEFAULT = str(RESOURCES / "projects" / "default.cnnproj")
SHIPPED_MODEL = str(RESOURCES / "projects" / "default.shipped" / "best.keras")


def test_a_project_exports_to_tflite_and_prints_the_check(tmp_path, capsys):
    out = tmp_path / "shapes.tflite"
    assert main(["export", DEFAULT, "--format", "tflite", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    header, row = captured.out.strip().splitlines()
    assert header.split()[:3] == ["format", "size", "max"] and row.split()[0] == "tflite" and row.endswith("ok")
    assert "trained weights from" in captured.err and "validation images" in captured.err
    assert (tmp_path / "shapes.labels.txt").read_text(encoding="utf-8").split()[0] == "circle"
    # again: refused without --force, nothing touched; with --force replaced
    before = out.stat().st_mtime_ns
    assert main(["export", DEFAULT, "--format", "tflite", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exist" in err and "--force" in err and "\n" not in err
    assert out.stat().st_mtime_ns == before
    assert main(["export", DEFAULT, "--format", "tflite", "-o", str(out), "--force"]) == 0
    assert out.stat().st_mtime_ns != before


def test_a_bare_model_file_needs_calibration_for_int8(tmp_path, capsys):
    out = tmp_path / "net.tflite"
    assert main(["export", SHIPPED_MODEL, "--format", "tflite-int8", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs calibration data" in err and "--calibration" in err and "\n" not in err and not out.exists()
    from cnnstudio.core.project import load_project
    from cnnstudio.ml.data.datasets import load_dataset

    project = load_project(DEFAULT)  # its pictures, as a dataset .npz holds them (uint8)
    np.savez(tmp_path / "calib.npz", x=load_dataset(project.data, project.preprocessing).splits["val"].images[:40])
    assert main(["export", SHIPPED_MODEL, "--format", "tflite-int8", "-o", str(out),
                 "--calibration", str(tmp_path / "calib.npz")]) == 0
    meta = json.loads((tmp_path / "net.tflite.metadata.json").read_text(encoding="utf-8"))
    assert meta["input"]["dtype"] == "int8" and meta["samples"].startswith("40 samples of")


def test_no_trained_run_and_an_unwritable_path_are_one_line_exit_2(tmp_path, capsys):
    untrained = save_project(lenet5(), tmp_path / "lenet.cnnproj")
    assert main(["export", str(untrained), "--format", "onnx", "-o", str(tmp_path / "l.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no trained weights" in err and "\n" not in err
    (tmp_path / "file").write_text("x")
    assert main(["export", DEFAULT, "--format", "savedmodel", "-o", str(tmp_path / "file" / "sm")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write to" in err and "\n" not in err


def test_a_failed_check_exits_2_prints_the_table_and_writes_nothing(tmp_path, capsys, monkeypatch):
    real = RUNTIMES["savedmodel"]

    def broken(path):
        run = real(path)
        return type("Broken", (), {"name": "broken", "__call__": lambda self, x: run(x)[:, ::-1].copy()})()

    monkeypatch.setitem(RUNTIMES, "savedmodel", broken)
    assert main(["export", DEFAULT, "--format", "savedmodel", "-o", str(tmp_path / "sm")]) == 2
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "failed its check and was not written" in captured.err
    assert list(tmp_path.iterdir()) == []
