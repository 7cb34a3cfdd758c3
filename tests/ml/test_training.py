"""The trainer: reporting, pause / resume / stop, NaN, resume of a run, run folder, evaluation."""

import json
import threading
import time

import numpy as np
import pytest

from cnnstudio.core.templates import default_project
from cnnstudio.ml.training.evaluation import Evaluation
from cnnstudio.ml.training.runner import run_project
from cnnstudio.ml.training.runs import Run, list_runs
from cnnstudio.ml.training.fit import Reporter


def tiny_project(**training):
    """The default network on 120 shapes, batch 16 (about 6 batches an epoch)."""
    p = default_project()
    p.set_settings("data", {"options": {**p.data.options, "count": 120}})
    p.set_settings("training", {"epochs": 1, "batch_size": 16, **training})
    return p


class Recorder(Reporter):
    """Keeps what it is told; optional hooks per batch."""

    def __init__(self, on_step=None):
        super().__init__()
        self.batches, self.epochs, self.times, self.on_step = [], [], [], on_step

    def on_batch(self, step, epoch, logs):
        self.batches.append((step, epoch, logs))
        self.times.append(time.perf_counter())
        if self.on_step:
            self.on_step(self, step)

    def on_epoch(self, epoch, logs):
        self.epochs.append((epoch, logs))


def test_reports_plain_floats_and_writes_the_run_folder(tmp_path):
    rec = Recorder()
    result = run_project(tiny_project(epochs=2), rec, runs_dir=tmp_path)
    assert result.outcome.status == "finished"
    step, epoch, logs = rec.batches[-1]
    assert step == len(rec.batches) == 12 and epoch == 2
    assert all(type(v) is float for _, _, lg in rec.batches for v in lg.values())
    assert [e for e, _ in rec.epochs] == [1, 2] and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rec.epochs[0][1])
    run = Run(result.run.path)
    assert run.last_checkpoint.exists() and run.best_checkpoint.exists()
    assert run.metrics["status"] == "finished" and run.metrics["epochs_done"] == 2
    assert run.curves.history()["loss"] == result.outcome.history["loss"] and len(run.curves.batch["loss"]) == 12
    assert run.settings["training"]["batch_size"] == 16 and run.settings["classes"][0] == "circle"
    events = sorted(p.parent.name for p in run.tensorboard_dir.rglob("events.out.tfevents.*"))
    assert events == ["train", "validation"]
    filters = run.filters()
    assert filters.epochs == [0, 1, 2] and filters.kernels[0].shape == (3, 3, 1, 16) and filters.layer == "conv1"
    assert not np.allclose(filters.kernels[0], filters.kernels[2])
    assert [r.path for r in list_runs(tmp_path)] == [run.path]


def test_evaluation_confusion_matrix_counts_every_test_image(tmp_path):
    result = run_project(tiny_project(), Reporter(), runs_dir=tmp_path)
    ev = Evaluation.load(result.run.path)
    assert ev.total == result.dataset.size("test") == int(ev.confusion.sum())
    assert ev.confusion.sum(axis=1).tolist() == result.dataset.class_counts()["test"]
    assert len(ev.misclassified) == ev.total - int(np.trace(ev.confusion))
    assert np.all((ev.true != ev.predicted)) and len(ev.images) == min(64, len(ev.misclassified))
    assert set(ev.metrics) >= {"loss", "accuracy"} and abs(ev.metrics["accuracy"] - ev.accuracy) < 1e-6
    assert np.all(np.nan_to_num(ev.precision, nan=0) <= 1) and ev.recall.shape == (6,)


def test_stop_between_batches(tmp_path):
    rec = Recorder(on_step=lambda r, step: r.request_stop() if step == 3 else None)
    result = run_project(tiny_project(epochs=3), rec, runs_dir=tmp_path)
    assert result.outcome.status == "stopped" and len(rec.batches) == 3
    assert Run(result.run.path).metrics["status"] == "stopped"


def test_ctrl_c_writes_the_checkpoints_marks_the_run_stopped_and_reraises(tmp_path):
    def ctrl_c(rec, _step):
        if rec.epochs:  # in epoch 2: epoch 1 finished, its checkpoint not yet written (every 10 s)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_project(tiny_project(epochs=3), Recorder(on_step=ctrl_c), runs_dir=tmp_path)
    (run,) = list_runs(tmp_path)
    assert run.metrics["status"] == "stopped" and run.metrics["message"] == "interrupted"
    assert run.metrics["epochs_done"] == 1 and run.can_resume() and run.best_checkpoint.exists()


def test_pause_holds_training_until_resumed(tmp_path):
    def pause_once(r, step):
        if step == 2:
            r.pause()
            threading.Timer(0.6, r.resume).start()

    rec = Recorder(on_step=pause_once)
    run_project(tiny_project(), rec, runs_dir=tmp_path)
    gaps = np.diff(rec.times)
    assert gaps[1] >= 0.55 and len(rec.batches) == 6  # held after batch 2, then went on to the end


def test_nan_loss_stops_the_run_with_a_message(tmp_path):
    rec = Recorder()
    project = tiny_project(epochs=3)
    out = project.graph.outputs()[0]  # weights of 1e38: the logits overflow, the loss is NaN at once
    out.extra["config"] = {**out.extra.get("config", {}), "kernel_initializer": {
        "module": "keras.initializers", "class_name": "Constant", "config": {"value": 1e38}, "registered_name": None}}
    result = run_project(project, rec, runs_dir=tmp_path)
    assert result.outcome.status == "nan" and "nan" in result.outcome.message.lower()
    assert "learning rate" in result.outcome.message
    assert len(rec.epochs) == 1 and len(rec.batches) < 6 + 1
    assert Run(result.run.path).metrics["status"] == "nan"


def test_resume_continues_the_same_curves_from_the_last_checkpoint(tmp_path):
    first = run_project(tiny_project(), Reporter(), runs_dir=tmp_path)
    rec = Recorder()
    again = run_project(tiny_project(), rec, resume=first.run.path, epochs=2)
    assert again.run.path == first.run.path
    assert [s for s, _, _ in rec.batches] == list(range(7, 13)) and [e for e, _ in rec.epochs] == [2]
    run = Run(first.run.path)
    assert run.curves.epochs_done == 2 and run.curves.batch["step"] == list(range(1, 13))
    assert run.settings["epochs"] == 2 and run.filters().epochs == [0, 1, 2]
    assert run.histograms().epochs() == [0, 1, 2]
    assert json.loads((run.path / "metrics.json").read_text())["epochs_done"] == 2


@pytest.fixture(scope="module")
def tiny_data():
    from cnnstudio.ml.data.datasets import load_dataset
    p = tiny_project()
    return load_dataset(p.data, p.preprocessing)


@pytest.mark.parametrize("settings", [
    {"optimizer": "sgd", "schedule": "step", "loss": "categorical_crossentropy"},
    {"optimizer": "rmsprop", "schedule": "cosine", "loss": "focal", "metrics": ["accuracy", "top5_accuracy"]},
    {"optimizer": "adamw", "schedule": "exponential", "loss": "weighted_crossentropy"},
    {"optimizer": "adam", "loss": "huber", "class_weighted": True},
    {"loss": "mse"}, {"loss": "mae"}, {"loss": "binary_crossentropy"},
])
def test_every_optimizer_schedule_and_loss_trains(tiny_data, settings):
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.training.fit import compile_model, train

    p = tiny_project(**settings)
    model = build_model(p.graph)
    mode = compile_model(model, p.training, tiny_data, 1)
    outcome = train(model, tiny_data, Reporter(), p.training, 1, mode=mode)
    assert outcome.status == "finished" and np.isfinite(outcome.history["loss"][0])
    assert outcome.history["accuracy"]


def test_bad_input_is_told_in_words_and_anything_else_is_a_bug(tmp_path):
    import tensorflow as tf

    from cnnstudio.ml.training.runner import OUT_OF_MEMORY, bad_input_message
    from cnnstudio.ml.data.sources import DataError

    p = tiny_project()
    p.set_settings("data", {"kind": "folder", "path": str(tmp_path / "no-such-folder")})
    with pytest.raises(DataError) as bad:
        run_project(p, Reporter(), runs_dir=tmp_path)
    assert bad_input_message(bad.value) == str(bad.value) and str(bad.value).startswith("image folder")
    with pytest.raises(Exception) as unknown:  # a resumed run needs a checkpoint
        run_project(tiny_project(), Reporter(), resume=tmp_path)
    assert "no last checkpoint" in bad_input_message(unknown.value)
    assert bad_input_message(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")) == OUT_OF_MEMORY
    assert bad_input_message(KeyError("loss")) is None
