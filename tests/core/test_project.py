"""Project files: JSON round trip, atomic saves, and clear errors that overwrite nothing."""

import json
import os
from pathlib import Path

import pytest

from cnnstudio import RESOURCES
from cnnstudio.core.project import FORMAT_VERSION, Project, ProjectError, load_project, save_project
from cnnstudio.core.templates import TEMPLATES, lenet5, open_default_project, resnet_style


def test_round_trip_keeps_graph_settings_and_classes(tmp_path):
    project = resnet_style()
    project.set_settings("training", {"epochs": 3})
    project.set_settings("data", {"kind": "folder", "path": "/data/cats"})
    project.classes = ["cat", "dog"]
    project.import_note = "resnet50 is Keras's ResNet: it expects keras.applications' 'caffe' preprocessing"
    path = save_project(project, tmp_path / "net.cnnproj")
    again = load_project(path)
    assert again.to_dict() == project.to_dict()
    assert again.path == path and project.path == path
    doc = json.loads(path.read_text())
    assert doc["format"] == "cnnstudio-project" and doc["version"] == FORMAT_VERSION


def test_failed_save_leaves_the_old_file_intact(tmp_path):
    path = save_project(lenet5(), tmp_path / "lenet.cnnproj")
    old = path.read_bytes()
    broken = lenet5()
    broken.unknown_settings["training"] = {"callback": object()}  # cannot be serialised
    with pytest.raises(ProjectError, match="cannot save"):
        save_project(broken, path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["lenet.cnnproj"]  # no temporary file left


def test_save_needs_a_path():
    with pytest.raises(ProjectError, match="no file name"):
        save_project(Project())


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("", "is empty"),
    ('{"format": "cnnstudio-project", "version": 1, "graph": {"nodes": [', "corrupt or truncated"),
    ("[1, 2]", "is not a cnnstudio project"),
    ('{"format": "cnnstudio-project"}', "has no format version"),
    ('{"format": "cnnstudio-project", "version": 99}', "newer cnnstudio"),
    ('{"format": "cnnstudio-project", "version": 1, "graph": {"nodes": [{"id": "a", "kind": "Conv2D", "name": "c",'
     ' "params": {"kernel_size": -3}}]}}', r"p.cnnproj: graph.nodes\[0\] \(c\) params: kernel_size must be at least 1"),
])
def test_bad_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "p.cnnproj"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ProjectError, match=message):
        load_project(path)
    if content is not None:
        assert path.read_text() == content


def test_templates_equal_the_shipped_example_projects():
    for label, (stem, build) in TEMPLATES.items():
        shipped = load_project(RESOURCES / "projects" / f"{stem}.cnnproj")
        assert shipped.to_dict() == build().to_dict(), f"{stem}.cnnproj differs from the {label} template"


def test_new_runs_go_beside_the_file_or_to_the_user_data_folder(tmp_path, read_only):
    data = Path(os.environ["XDG_DATA_HOME"]) / "cnnstudio" / "runs"
    project = lenet5()
    assert project.runs_place() == (data / "LeNet-5", "the project is not saved")
    save_project(project, tmp_path / "net" / "lenet.cnnproj")
    assert project.runs_place() == (tmp_path / "net" / "lenet.runs", "")
    read_only(tmp_path / "net")  # an example in a read-only install
    assert project.runs_dir() == data / "lenet"
    assert "read-only" in project.runs_place()[1]


def test_the_default_project_opens_unsaved_with_its_shipped_run():
    project = open_default_project()
    assert project.path is None and project.shipped_run == RESOURCES / "projects" / "default.shipped"
    assert load_project(RESOURCES / "projects" / "default.cnnproj").shipped_run == project.shipped_run
    assert load_project(RESOURCES / "projects" / "lenet5.cnnproj").shipped_run is None
