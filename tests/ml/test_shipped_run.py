"""The default project's shipped run: small, made from the project as it is, its recorded validation
accuracy reproduced; a project's own runs go elsewhere and take over from it."""

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnstudio import RESOURCES
from cnnstudio.core.project import load_project
from cnnstudio.core.settings import SECTIONS, DataSource, Preprocessing
from cnnstudio.ml.data.datasets import load_dataset
from cnnstudio.ml.model.keras_io import load_model_file
from cnnstudio.ml.training.runner import run_project
from cnnstudio.ml.training.runs import newest_checkpoint, project_runs

PROJECTS = RESOURCES / "projects"
RERUN = "rerun examples/train_shipped_run.py"


def test_the_shipped_run_is_small_finished_and_made_from_the_default_project():
    project = load_project(PROJECTS / "default.cnnproj")
    (run,) = project_runs(project)
    assert run.shipped and not run.can_resume()
    size = sum(p.stat().st_size for p in run.path.rglob("*") if p.is_file())
    assert size < 600_000, f"the shipped run takes {size} bytes"
    assert run.metrics["status"] == "finished" and run.curves.epochs_done == project.training.epochs
    for key in ("training", "data", "preprocessing"):  # read as a run is read: settings added since take their defaults
        recorded, unknown = SECTIONS[key].from_dict(run.settings[key])
        assert recorded == project.settings(key) and not unknown, f"default.cnnproj's {key} changed: {RERUN}"
    assert run.settings["graph"] == project.graph.to_dict(), f"default.cnnproj's graph changed: {RERUN}"
    assert run.filters().epochs == list(range(project.training.epochs + 1))
    assert (run.path / "evaluation.npz").is_file()


def test_the_shipped_model_reproduces_its_recorded_validation_accuracy():
    (run,) = project_runs(load_project(PROJECTS / "default.cnnproj"))
    path, _ = newest_checkpoint(load_project(PROJECTS / "default.cnnproj"))
    model = load_model_file(path)  # as Live and Probe load it
    data = DataSource.from_dict(run.settings["data"])[0]
    dataset = load_dataset(data, Preprocessing.from_dict(run.settings["preprocessing"])[0])  # the split training used
    x, y = dataset.arrays("val")
    accuracy = float(np.mean(model.predict(x, verbose=0).argmax(axis=-1) == y))
    recorded = run.curves.epoch["val_accuracy"][run.metrics["best_epoch"] - 1]  # best.keras is that epoch's
    assert recorded > 0.9
    assert accuracy == pytest.approx(recorded, abs=0.02)


def test_the_shipped_model_names_the_live_demo_shapes():
    from cnnstudio.core.graph import LayerGraph
    from cnnstudio.ml.live.frame_sources import DemoSource
    from cnnstudio.ml.live.grabber import Frame
    from cnnstudio.ml.live.pipeline import LivePipeline

    path, run = newest_checkpoint(load_project(PROJECTS / "default.cnnproj"))
    pipe = LivePipeline(load_model_file(path), Preprocessing.from_dict(run.settings["preprocessing"])[0],
                        LayerGraph.from_dict(run.settings["graph"]), run.settings["classes"])
    demo = DemoSource(classes=run.settings["classes"], seconds_per_shape=0.2)  # the size Live opens it at
    hits = 0
    for i in range(240):  # 40 shapes, each in 6 poses
        truth = demo.current_class
        hits += pipe.process(Frame(demo.read()[1], i, 0.0, "demo")).top[0].label == truth
    assert hits >= 192  # 80 %; the demo moves, turns and breathes, unlike the dataset


def _copy_default(folder: Path) -> Path:
    """default.cnnproj and its shipped run in ``folder``, trained on 96 images for one epoch."""
    folder.mkdir()
    shutil.copytree(PROJECTS / "default.shipped", folder / "default.shipped")
    path = shutil.copy(PROJECTS / "default.cnnproj", folder / "default.cnnproj")
    return Path(path)


def _tiny(project):
    project.set_settings("data", {"options": {**project.data.options, "count": 96}})
    project.set_settings("training", {"epochs": 1, "batch_size": 32})
    return project


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_new_run_leaves_the_shipped_run_alone_and_becomes_the_newest(tmp_path):
    project = _tiny(load_project(_copy_default(tmp_path / "p")))
    before = _digest(project.shipped_run)
    result = run_project(project)
    assert result.run.path.parent == tmp_path / "p" / "default.runs"
    assert _digest(project.shipped_run) == before
    assert [r.shipped for r in project_runs(project)] == [True, False]
    path, run = newest_checkpoint(project)
    assert run.path == result.run.path and path.parent == result.run.path


def test_a_project_in_a_read_only_folder_trains_into_the_user_data_folder(tmp_path, read_only):
    path = _copy_default(tmp_path / "install")
    read_only(path.parent)
    project = _tiny(load_project(path))
    result = run_project(project)
    assert result.run.path.parent == Path(os.environ["XDG_DATA_HOME"]) / "cnnstudio" / "runs" / "default"
    assert sorted(p.name for p in path.parent.iterdir()) == ["default.cnnproj", "default.shipped"]
    assert newest_checkpoint(project)[1].path == result.run.path
