"""A damaged run folder in the Training page's runs list: it opens, marked damaged, its tooltip naming each bad file and field."""

from cnnstudio.core.project import Project, save_project
from cnnstudio.ml.training.runs import METRICS, Run
from cnnstudio.ui.training.runs_view import RunsView


def test_the_runs_list_says_a_run_is_damaged_and_names_why(qtbot, tmp_path):
    project = Project(name="p")
    save_project(project, tmp_path / "p.cnnproj")
    run = Run.create(project.runs_dir(), {"epochs": 2})
    (run.path / METRICS).write_text('{"status": 3}')
    view = RunsView()
    qtbot.addWidget(view)
    view.refresh(project)
    item = view.list.item(0)
    assert item.text().endswith("damaged (see tooltip)")
    assert "metrics.json: status must be a string, not a number (3); ignored" in item.toolTip()
