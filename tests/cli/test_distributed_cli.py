"""``cnnstudio train --strategy multiworker``: two worker processes on 127.0.0.1 (each its own process:
the strategy must come before any other TensorFlow op), against one process running the same loop."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnstudio.core.project import save_project
from cnnstudio.core.templates import default_project
from cnnstudio.ml.training.cluster import free_ports

ROOT = Path(__file__).resolve().parents[2]


def tiny_project(tmp_path) -> Path:
    """The default project, 96 images, batch 16, one epoch; no dropout (its masks are drawn per replica,
    so it alone would keep two workers' losses from matching one process's)."""
    p = default_project()
    p.set_settings("data", {"options": {**p.data.options, "count": 96}})
    p.set_settings("training", {"batch_size": 16, "epochs": 1})
    for node_id, node in p.graph.nodes.items():
        if node.kind == "Dropout":
            p.graph.set_params(node_id, {"rate": 0.0})
    return save_project(p, tmp_path / "tiny.cnnproj")


def train(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen([sys.executable, "-m", "cnnstudio", "train", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def workers(project, tmp_path, *extra):
    hosts = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
    return [train(project, "--strategy", "multiworker", "--workers", hosts, "--index", i,
                  "--out", tmp_path / f"w{i}", *extra) for i in (0, 1)]


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def weights(path):
    import keras

    return keras.saving.load_model(path).get_weights()


@pytest.mark.timeout(150)
def test_two_workers_end_identical_and_match_one_process(tmp_path):
    project = tiny_project(tmp_path)
    procs = workers(project, tmp_path) + [train(project, "--loop", "custom", "--out", tmp_path / "single")]
    results = [finish(p) for p in procs]
    for rc, out, err in results:
        assert rc == 0, out + err
    assert "(2 replicas)" in results[0][1]
    w0, w1, single = (weights(tmp_path / d / "model.keras") for d in ("w0", "w1", "single"))
    assert max(float(np.abs(a - b).max()) for a, b in zip(w0, w1)) < 1e-5
    assert max(float(np.abs(a - b).max()) for a, b in zip(w0, single)) < 1e-4
    h0, h1, hs = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("w0", "w1", "single"))
    assert h0 == h1 and set(h0) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    np.testing.assert_allclose(h0["loss"], hs["loss"], rtol=1e-5)
    np.testing.assert_allclose(h0["val_loss"], hs["val_loss"], rtol=1e-5)
    (run,) = (tmp_path / "w0" / "runs").iterdir()                # the chief's run folder, with its histograms
    assert sorted(f.name for f in (run / "histograms").iterdir()) == ["epoch-0000.npz", "epoch-0001.npz"]
    assert not (tmp_path / "w1" / "runs").exists()              # the other worker writes its model only


@pytest.mark.timeout(90)
def test_the_custom_loop_serves_mirrored_with_the_same_loss(tmp_path):
    project = tiny_project(tmp_path)
    code = ("import sys, tensorflow as tf\n"
            "cpu = tf.config.list_physical_devices('CPU')[0]\n"
            "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
            "from cnnstudio.cli import main\n"
            f"sys.exit(main(['train', {str(project)!r}, '--strategy', 'mirrored', '--loop', 'custom', "
            f"'--out', {str(tmp_path / 'mirrored')!r}]))\n")
    single = train(project, "--loop", "custom", "--out", tmp_path / "single")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(2 replicas)" in done.stdout
    assert finish(single)[0] == 0
    hm, hs = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("mirrored", "single"))
    np.testing.assert_allclose(hm["loss"], hs["loss"], rtol=1e-5)


@pytest.mark.timeout(60)
def test_unreachable_cluster_exits_2_with_one_line(tmp_path):
    project = tiny_project(tmp_path)
    port, absent = free_ports(2)
    t0 = time.perf_counter()
    rc, out, err = finish(train(project, "--strategy", "multiworker", "--workers",
                                f"127.0.0.1:{port},127.0.0.1:{absent}", "--index", 0, "--join-timeout", 2), 45)
    assert rc == 2
    assert time.perf_counter() - t0 < 40
    line = [e for e in err.splitlines() if e.startswith("cnnstudio train:")]
    assert line and "could not reach the cluster" in line[0] and "Traceback" not in err


@pytest.mark.timeout(180)
def test_killed_worker_stops_the_chief_and_its_checkpoint_resumes(tmp_path):
    project = tiny_project(tmp_path)
    chief, other = workers(project, tmp_path, "--epochs", 500)
    deadline = time.monotonic() + 90
    curves = None
    while time.monotonic() < deadline:  # until the chief has finished an epoch
        found = list((tmp_path / "w0" / "runs").glob("*/curves.json"))
        if found and json.loads(found[0].read_text())["epoch"].get("loss"):
            curves = found[0]
            break
        time.sleep(0.2)
    assert curves is not None, "the chief finished no epoch"
    other.kill()
    other.communicate()
    rc, out, err = finish(chief, 90)
    assert rc == 2 and "another worker stopped or cannot be reached" in err, out + err
    run = curves.parent
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "another worker" in metrics["message"]
    done = metrics["epochs_done"]
    assert done >= 1 and weights(run / "last.keras")
    rc, out, err = finish(train(project, "--loop", "custom", "--resume", run, "--epochs", done + 1,
                                "--out", tmp_path / "resumed"))
    assert rc == 0, out + err
    assert len(json.loads((run / "curves.json").read_text())["epoch"]["loss"]) == done + 1
