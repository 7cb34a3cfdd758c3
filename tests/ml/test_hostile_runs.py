"""A damaged run folder still opens: each corrupt file or field of the wrong type is left out and
named in one line of ``Run.problems``."""

import json

import pytest

from cnnstudio.ml.training.runs import CURVES, METRICS, SETTINGS, Run


@pytest.mark.parametrize("name, text, problem", [
    (SETTINGS, '{"epochs": 3', "settings.json is corrupt or truncated (JSON error at line 1)"),
    (SETTINGS, "[1, 2]", "settings.json must hold an object, not list"),
    (SETTINGS, '{"epochs": "many"}', "settings.json: epochs must be a whole number, not a string ('many')"),
    (SETTINGS, '{"classes": [1, 2]}', "settings.json: classes[0] must be a name (a string), not a number (1)"),
    (SETTINGS, '{"graph": []}', "settings.json: graph must be an object, not a list ([])"),
    (CURVES, '{"batch": [], "epoch": {}}', "curves.json: batch must be an object of value lists, not list"),
    (CURVES, '{"epoch": {"loss": ["a"]}}', "curves.json: epoch.loss must be a list of numbers"),
    (CURVES, '{"epoch": {"loss": 3}}', "curves.json: epoch.loss must be a list of numbers"),
    (METRICS, '"finished"', "metrics.json must hold an object, not str"),
    (METRICS, '{"status": 3, "epochs_done": "2"}', "metrics.json: status must be a string, not a number (3)"),
    (METRICS, b"\xff\xfe", "metrics.json: cannot read"),
])
def test_a_damaged_run_file_is_left_out_and_named(tmp_path, name, text, problem):
    (tmp_path / SETTINGS).write_text(json.dumps({"epochs": 4, "classes": ["a", "b"]}))
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    run = Run(tmp_path)
    assert any(p.startswith(str(tmp_path)) and problem in p for p in run.problems), run.problems
    assert isinstance(run.settings, dict) and isinstance(run.metrics, dict)
    run.target_epochs, run.curves.epochs_done, run.curves.history()  # what the runs list reads still works
    assert path.read_bytes() == (text if isinstance(text, bytes) else text.encode())  # nothing rewritten


def test_a_healthy_run_has_no_problems_and_keeps_null_as_nan(tmp_path):
    (tmp_path / CURVES).write_text('{"batch": {"step": [1, 2]}, "epoch": {"loss": [0.5, null]}}')
    run = Run(tmp_path)
    assert run.problems == [] and run.curves.epochs_done == 2 and run.curves.epoch["loss"][1] != run.curves.epoch["loss"][1]

