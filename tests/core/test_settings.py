"""Typed settings: one schema per section, coerced changes with clear errors, events only for real
changes, undo through the project, and project files of every age read the same."""

import dataclasses
import json

import pytest

from cnnstudio import RESOURCES
from cnnstudio.core.commands import SetSettings, UndoStack
from cnnstudio.core.params import ParamError
from cnnstudio.core.project import Project, load_project, save_project
from cnnstudio.core.settings import SECTIONS, DataSource, Preprocessing, Training

#: A project file as the release before typed settings wrote it (partial sections, "name": "").
OLD_FILE = {"format": "cnnstudio-project", "version": 1, "name": "old", "graph": {"nodes": [], "edges": []},
            "training": {"epochs": 4, "metrics": ["accuracy", "top5_accuracy"]},
            "data": {"kind": "shapes", "name": "", "options": {"count": 90}},
            "preprocessing": {"size": [28, 28]}, "classes": ["a", "b"], "weights_file": None}


def test_every_field_is_described_once_with_a_default_that_coerces_to_itself():
    for kind in SECTIONS.values():
        fields = [f.name for f in dataclasses.fields(kind)]
        assert fields == kind.PARAMS.names()
        for p in kind.PARAMS:
            assert p.doc, f"{kind.SECTION}.{p.name} has no doc"
            assert p.coerce(p.default) == p.default
            if p.type in ("choice", "names"):
                assert len(p.titles) == len(p.choices), f"{kind.SECTION}.{p.name}: a title per choice"
        assert kind.default().to_dict() == json.loads(json.dumps(kind.default().to_dict()))


def test_changes_are_coerced_and_bad_values_name_the_setting():
    p = Preprocessing.default()
    assert p.replace(size="64x48").size == (64, 48) and p.replace(size=[20, 20]).size == (20, 20)
    assert Training.default().replace(batch_size="64", metrics=["accuracy"]).batch_size == 64
    with pytest.raises(ParamError, match=r"training\.batch_size must be at least 1"):
        Training.default().replace(batch_size=0)
    with pytest.raises(ParamError, match=r"preprocessing\.color must be one of grey, rgb"):
        p.replace(color="blue")
    with pytest.raises(ParamError, match="no setting 'colour'"):
        p.replace(colour="rgb")


def test_project_changes_emit_only_real_changes_and_undo_restores(tmp_path):
    project, heard = Project(), []
    project.settings_changed.connect(lambda section, changes: heard.append((section, changes)))
    assert project.set_settings("training", {"epochs": 10}) == {}  # the default already: no event
    assert heard == []
    stack = UndoStack()
    stack.push(SetSettings(project, "training", {"epochs": "25", "learning_rate": 0.01}))
    assert project.training.epochs == 25 and heard == [("training", {"epochs": 25, "learning_rate": 0.01})]
    stack.undo()
    assert project.training == Training.default() and heard[-1] == ("training", {"epochs": 10, "learning_rate": 1e-3})
    with pytest.raises(ParamError, match="validation_split must be at most 0.9"):
        SetSettings(project, "data", {"validation_split": 2}).do()
    assert project.data == DataSource.default() and len(heard) == 2  # nothing changed, nothing heard


def test_a_file_from_the_release_before_typed_settings_reads_the_same_and_keeps_unknown_keys(tmp_path):
    doc = json.loads(json.dumps(OLD_FILE))
    doc["training"]["warmup"] = 3  # a setting of a newer release
    path = tmp_path / "old.cnnproj"
    path.write_text(json.dumps(doc))
    project = load_project(path)
    assert project.training.epochs == 4 and project.training.metrics == ("accuracy", "top5_accuracy")
    assert project.training.batch_size == 32 and project.preprocessing.size == (28, 28)
    assert project.preprocessing.color == "grey" and project.data.options == {"count": 90}
    assert project.unknown_settings == {"training": {"warmup": 3}}
    again = json.loads(save_project(project, tmp_path / "again.cnnproj").read_text())
    assert again["training"]["warmup"] == 3 and again["training"]["epochs"] == 4
    assert set(again["preprocessing"]) == {"size", "color", "scale", "fit"}  # same keys as before


def test_a_bad_value_in_a_file_is_one_clear_error(tmp_path):
    doc = json.loads(json.dumps(OLD_FILE))
    doc["preprocessing"] = {"size": [0, 28]}
    path = tmp_path / "bad.cnnproj"
    path.write_text(json.dumps(doc))
    from cnnstudio.core.project import ProjectError

    with pytest.raises(ProjectError, match=r"bad.cnnproj: preprocessing.size must be at least 1"):
        load_project(path)
    doc["training"] = ["not", "a", "mapping"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ProjectError, match="training must be a JSON object"):
        load_project(path)


def test_every_shipped_project_loads_and_round_trips():
    for path in sorted((RESOURCES / "projects").glob("*.cnnproj")):
        project = load_project(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
        for section in SECTIONS:
            assert project.settings(section).to_dict() == {**SECTIONS[section].default().to_dict(), **doc[section]}
