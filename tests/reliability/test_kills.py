"""kill -9 at random moments while a project, an autosave or a checkpoint is saved or a run
folder written: each file is always a complete old or new version (temporary files renamed over
it), and the run folder opens. SIGINT during ``cnnstudio train`` leaves a usable checkpoint."""

from __future__ import annotations

import textwrap

from cnnstudio.core.project import load_project
from cnnstudio.core.templates import default_project, resnet_style

#: The child alternates two projects in the file, forever, and says when it has started.
SAVE_LOOP = textwrap.dedent("""
    from cnnstudio.core.project import save_project
    from cnnstudio.core.templates import default_project, resnet_style
    versions = [default_project(), resnet_style()]
    save_project(versions[0], "p.cnnproj")
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        save_project(versions[i % 2], "p.cnnproj")
""")


def test_a_killed_project_save_leaves_the_old_or_the_new_file(tmp_path, kill_at_random):
    versions = [default_project().to_dict(), resnet_style().to_dict()]

    def check(_i):
        assert load_project(tmp_path / "p.cnnproj").to_dict() in versions

    kill_at_random("project save", SAVE_LOOP, tmp_path, check, 0.0, 0.1)


#: The child writes a run folder as training does (settings, then curves, metrics and filter
#: snapshots after every epoch), forever.
RUN_LOOP = textwrap.dedent("""
    import numpy as np
    from cnnstudio.ml.training.runs import Run
    run = Run.create("runs", {"epochs": 1000})
    print("ready", flush=True)
    epoch = 0
    while True:
        epoch += 1
        run.curves.add_epoch({"loss": 1.0 / epoch, "seconds": 0.01})
        run.save_curves()
        run.save_metrics(epochs_done=epoch, status="running")
        run.filters().add(epoch, "conv", np.full((3, 3, 1, 8), epoch, np.float32), np.zeros(8, np.float32))
""")


def test_a_killed_run_folder_write_leaves_a_run_that_opens(tmp_path, kill_at_random):
    import json

    from cnnstudio.ml.training.runs import CURVES, METRICS, SETTINGS, Run

    def check(_i):
        for folder in (tmp_path / "runs").iterdir():
            run = Run(folder)
            for name in (SETTINGS, CURVES, METRICS):  # each file complete: valid JSON, not the default
                if (folder / name).exists():
                    json.loads((folder / name).read_text())
            snaps = run.filters()
            assert len(snaps.epochs) == len(snaps.kernels)
            assert run.curves.epochs_done >= run.metrics.get("epochs_done", 0)  # curves are written first

    kill_at_random("run folder write", RUN_LOOP, tmp_path, check, 0.0, 0.15)


#: The child writes the autosave as the main window does (``write_autosave``), alternating two
#: projects with different origins, forever; no Qt.
AUTOSAVE_LOOP = textwrap.dedent("""
    from pathlib import Path
    from cnnstudio.core.autosave import write_autosave
    from cnnstudio.core.templates import default_project, resnet_style
    versions = [default_project(), resnet_style()]
    for n, project in enumerate(versions):
        project.path = Path(f"origin{n}.cnnproj")
    write_autosave(versions[0], Path("autosave.cnnproj"))
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        write_autosave(versions[i % 2], Path("autosave.cnnproj"))
""")


def test_a_killed_autosave_is_recovered_whole(tmp_path, kill_at_random):
    from pathlib import Path

    from cnnstudio.core.autosave import read_autosave

    versions = [default_project().to_dict(), resnet_style().to_dict()]

    def check(_i):
        project = read_autosave(tmp_path / "autosave.cnnproj")  # what recover_autosave restores
        n = versions.index(project.to_dict())
        assert project.path == Path(f"origin{n}.cnnproj")

    kill_at_random("autosave write", AUTOSAVE_LOOP, tmp_path, check, 0.0, 0.1)


#: The child imports Keras once and builds a tiny model; for each line on its stdin it forks a
#: saver that writes best.keras and last.keras forever through the trainer's own
#: ``ReportingCallback._write_checkpoints`` (two weight versions, all ones and all twos,
#: swapped each time), prints the saver's pid, and reaps it once the test has killed it.
CHECKPOINT_LOOP = textwrap.dedent("""
    import os, sys
    import keras, numpy as np
    from cnnstudio.ml.training.fit import Reporter, ReportingCallback
    from cnnstudio.ml.training.runs import Run
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    versions = [[np.full(w.shape, v, w.dtype) for w in model.get_weights()] for v in (1.0, 2.0)]
    callback = ReportingCallback(Reporter(), Run.create("runs", {"epochs": 1}), 1, 1)
    callback.set_model(model)

    def write(i):
        model.set_weights(versions[(i + 1) % 2])  # last.keras: what training holds now
        callback._best_weights = versions[i % 2]  # best.keras: the best epoch's, kept in memory
        callback._unsaved_epochs = True
        callback._write_checkpoints()

    print("ready", flush=True)
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            i = 0
            while True:
                i += 1
                write(i)
        print(pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
""")


def test_a_killed_checkpoint_write_leaves_a_whole_model(tmp_path):
    import os
    import random
    import signal
    import time

    import keras

    from hostile import KILLED, KILLS, Child

    child = Child(CHECKPOINT_LOOP, tmp_path)
    rng = random.Random(16)
    whole = mid_write = 0
    try:
        child.wait_ready(timeout=120)
        (run,) = (tmp_path / "runs").iterdir()
        for _ in range(KILLS):
            child.proc.stdin.write("go\n")
            child.proc.stdin.flush()
            saver = int(child.proc.stdout.readline())
            time.sleep(rng.uniform(0.02, 0.3))  # the saver only saves: most kills land mid-write
            os.kill(saver, signal.SIGKILL)
            assert child.proc.stdout.readline().strip() == "reaped"  # the saver is gone
            partial = list(run.glob(".*.partial.keras"))
            mid_write += bool(partial)
            for path in partial:  # so the next kill's are its own
                path.unlink()
            for name in ("best.keras", "last.keras"):
                if (run / name).exists():  # absent only before the first save finished
                    model = keras.saving.load_model(run / name)
                    kernel = model.get_weights()[0]
                    assert kernel.min() == kernel.max() and kernel.flat[0] in (1.0, 2.0), name
                    whole += 1
            KILLED["checkpoint write"] += 1
        assert whole > 0 and mid_write > 0  # the check ran on real files, and kills hit saves
    finally:
        child.kill()


def test_ctrl_c_during_cnnstudio_train_keeps_a_usable_checkpoint(tmp_path):
    import signal
    import subprocess
    import sys

    import keras

    from cnnstudio.core.project import save_project
    from cnnstudio.ml.training.runs import Run
    from hostile import KILLED, child_env

    project = default_project()
    project.set_settings("data", {"options": {**project.data.options, "count": 120}})
    project.set_settings("training", {"batch_size": 16, "epochs": 3})
    path = save_project(project, tmp_path / "tiny.cnnproj")
    # more epochs than it will train: the SIGINT must land while training, not after it
    proc = subprocess.Popen([sys.executable, "-m", "cnnstudio", "train", str(path), "--epochs", "50",
                             "--out", str(tmp_path / "out")], cwd=tmp_path, env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = []
        for line in proc.stdout:  # progress: status lines, then one line per epoch
            seen.append(line)
            if line.startswith("epoch 1/"):
                break
        assert seen and seen[-1].startswith("epoch 1/"), "".join(seen) + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err, err
    (folder,) = (tmp_path / "out" / "runs").iterdir()
    run = Run(folder)
    assert not run.problems and run.curves.epochs_done >= 1
    assert run.metrics["status"] == "stopped" and run.metrics["message"] == "interrupted", run.metrics
    assert run.can_resume()  # last.keras: the run can go on from where Ctrl+C stopped it
    for checkpoint in (run.last_checkpoint, run.best_checkpoint):
        keras.saving.load_model(checkpoint)
    KILLED["SIGINT during cnnstudio train"] += 1
