"""``cnnstudio train``: headless training writes the model and Keras's history; bad input is one line."""

import json
import subprocess
import sys
import textwrap

from cnnstudio.cli import main
from cnnstudio.core.project import save_project
from cnnstudio.core.templates import default_project


def tiny_project_file(tmp_path, **data):
    p = default_project()
    p.set_settings("data", {"options": {**p.data.options, "count": 96}, **data})
    p.set_settings("training", {"batch_size": 16, "epochs": 3})
    return save_project(p, tmp_path / "tiny.cnnproj")


def test_train_writes_model_and_history_with_keras_keys(tmp_path, capsys):
    path = tiny_project_file(tmp_path)
    assert main(["train", str(path), "--epochs", "1", "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    history = json.loads((out / "history.json").read_text())
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(history["loss"]) == 1
    assert (out / "model.keras").stat().st_size > 0
    (run,) = (out / "runs").iterdir()
    assert (run / "last.keras").exists() and (run / "tensorboard").is_dir()
    text = capsys.readouterr().out
    assert "epoch 1/1" in text and "test accuracy" in text


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.cnnproj")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    path = tiny_project_file(tmp_path, kind="folder", path=str(tmp_path / "no-such-folder"))
    assert main(["train", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnnstudio train: image folder") and "\n" not in err
    assert main(["train", str(path), "--epochs", "0"]) == 2


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    path = tiny_project_file(tmp_path)
    code = textwrap.dedent(f"""
        import sys, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from cnnstudio.cli import main
        sys.exit(main(["train", {str(path)!r}, "--epochs", "1", "--out", {str(tmp_path / "m")!r},
                       "--strategy", "mirrored"]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(2 replicas)" in out.stdout
    assert (tmp_path / "m" / "model.keras").exists()
