"""Frozen layers: per node, undoable, saved with the project, counted non-trainable at once."""

import json

import pytest

from cnnstudio.core.commands import SetFrozen, UndoStack
from cnnstudio.core.graph import GraphError, LayerGraph
from cnnstudio.core.inference import infer
from cnnstudio.core.project import ProjectError, Project, load_project, save_project
from cnnstudio.core.templates import resnet_style


def weighted(graph):
    info = infer(graph)
    return [n for n in graph.nodes.values() if info[n.id].params]


def test_freezing_a_selection_moves_its_params_to_non_trainable_and_undo_restores_them():
    graph = resnet_style().graph
    before = infer(graph)
    total, trainable = before.total_params, before.trainable_params
    chosen = [n.id for n in weighted(graph)[:3]]
    frozen_params = sum(before[i].trainable for i in chosen)
    stack = UndoStack()
    cmd = stack.push(SetFrozen(graph, chosen, True))
    assert cmd.text == "freeze 3 layers"
    after = infer(graph)
    assert after.total_params == total
    assert after.trainable_params == trainable - frozen_params
    assert all(after[i].trainable == 0 and after[i].non_trainable == before[i].params for i in chosen)
    stack.undo()
    assert infer(graph).trainable_params == trainable
    assert not any(graph.nodes[i].frozen for i in chosen)
    stack.redo()
    assert all(graph.nodes[i].frozen for i in chosen)


def test_freeze_tells_listeners_once_per_changed_node_and_skips_inputs():
    graph = resnet_style().graph
    changed = []
    graph.node_changed.connect(changed.append)
    ids = [n.id for n in graph.nodes.values()]
    cmd = SetFrozen(graph, ids, True)
    cmd.do()
    assert len(changed) == len(ids) - 1  # the InputLayer has nothing to freeze
    assert not graph.input_nodes()[0].frozen
    changed.clear()
    SetFrozen(graph, ids, True).do()
    assert changed == []  # nothing changed, no one told


def test_frozen_state_round_trips_through_the_project_file(tmp_path):
    project = resnet_style()
    chosen = [n.id for n in weighted(project.graph)[:2]]
    SetFrozen(project.graph, chosen, True).do()
    path = save_project(project, tmp_path / "p.cnnproj")
    back = load_project(path)
    assert [n.id for n in back.graph.nodes.values() if n.frozen] == chosen
    assert infer(back.graph).trainable_params == infer(project.graph).trainable_params
    doc = json.loads(path.read_text())
    assert sum(1 for nd in doc["graph"]["nodes"] if nd.get("frozen")) == 2


def test_a_frozen_field_of_the_wrong_type_is_named():
    doc = resnet_style().to_dict()
    doc["graph"]["nodes"][1]["frozen"] = "yes"
    with pytest.raises(ProjectError, match=r"nodes\[1\].*frozen must be true/false"):
        Project.from_dict(doc)


def test_an_older_file_with_keras_trainable_false_reads_as_frozen():
    doc = resnet_style().graph.to_dict()
    doc["nodes"][1]["extra"] = {"config": {"trainable": False, "dtype": "float32"}}
    graph = LayerGraph.from_dict(doc)
    node = list(graph.nodes.values())[1]
    assert node.frozen and node.extra["config"] == {"dtype": "float32"}


def test_set_frozen_on_an_unknown_node_raises():
    with pytest.raises(GraphError):
        SetFrozen(resnet_style().graph, ["nope"], True)
