"""Every edit command undoes exactly what it did, and redoes it again."""

import pytest

from cnnstudio.core.commands import (AddNode, Connect, Disconnect, Macro, MoveNodes, Paste, RemoveNodes, Rename,
                                     SetParams, UndoStack, copy_subgraph)
from cnnstudio.core.graph import CycleError, GraphError
from cnnstudio.core.params import ParamError
from cnnstudio.core.templates import resnet_style


def snapshot(g):
    """Everything a command may change, node order included (edge order carries no meaning)."""
    doc = g.to_dict()
    doc["edges"] = sorted(doc["edges"])
    return doc, list(g.nodes)


@pytest.fixture
def graph():
    return resnet_style().graph


def assert_undo_redo(graph, cmd):
    """Push ``cmd``, undo it (graph as before), redo it (graph as after)."""
    stack = UndoStack()
    before = snapshot(graph)
    stack.push(cmd)
    after = snapshot(graph)
    assert after != before
    assert stack.undo()
    assert snapshot(graph) == before
    assert stack.redo()
    assert snapshot(graph) == after
    return stack


def test_add_node_wired_after_a_layer(graph):
    out = graph.by_name("output")
    cmd = AddNode(graph, "Dropout", {"rate": 0.2}, pos=(5, 5), after=out.id)
    assert_undo_redo(graph, cmd)
    assert graph.inputs_of(cmd.node.id) == [out.id] and graph.node(cmd.node.id).params["rate"] == 0.2
    assert cmd.text == "add Dropout"


def test_add_node_that_cannot_be_wired_leaves_nothing_behind(graph):
    before = snapshot(graph)
    with pytest.raises(GraphError):
        UndoStack().push(AddNode(graph, "InputLayer", after=graph.by_name("stem_conv").id))
    assert snapshot(graph) == before


def test_remove_nodes_restores_edges_and_order(graph):
    ids = [graph.by_name("block2_conv1").id, graph.by_name("block2_add").id]
    assert_undo_redo(graph, RemoveNodes(graph, ids))


def test_connect_and_disconnect(graph):
    gap, out = graph.by_name("avg_pool").id, graph.by_name("output").id
    edge = graph.in_edges(out)[0]
    stack = assert_undo_redo(graph, Disconnect(graph, [edge]))
    assert graph.inputs_of(out) == []
    assert_undo_redo(graph, Connect(graph, gap, out))
    assert graph.inputs_of(out) == [gap]
    with pytest.raises(CycleError):
        stack.push(Connect(graph, out, graph.by_name("block3_add").id))


def test_set_params_and_a_refused_value(graph):
    conv = graph.by_name("block1_conv1").id
    assert_undo_redo(graph, SetParams(graph, conv, {"filters": 48, "kernel_size": 5}))
    assert graph.node(conv).params["kernel_size"] == (5, 5)
    before = snapshot(graph)
    with pytest.raises(ParamError, match="filters must be at least 1"):
        UndoStack().push(SetParams(graph, conv, {"filters": 0}))
    with pytest.raises(ParamError, match="no parameter 'units'"):
        UndoStack().push(SetParams(graph, conv, {"units": 3}))
    assert snapshot(graph) == before


def test_rename_and_move(graph):
    conv = graph.by_name("stem_conv").id
    assert_undo_redo(graph, Rename(graph, conv, "first_conv"))
    assert graph.node(conv).name == "first_conv"
    other = graph.by_name("stem_bn").id
    assert_undo_redo(graph, MoveNodes(graph, {conv: (1.0, 2.0), other: (3.0, 4.0)}))
    assert graph.node(other).pos == (3.0, 4.0)


def test_paste_gives_fresh_ids_names_and_inner_edges(graph):
    ids = [graph.by_name(n).id for n in ("block1_conv1", "block1_bn1", "block1_relu1")]
    clip = copy_subgraph(graph, ids)
    assert len(clip["edges"]) == 2  # only the edges among the copied nodes
    cmd = Paste(graph, clip)
    assert_undo_redo(graph, cmd)
    pasted = [graph.node(i) for i in cmd.new_ids]
    assert [n.name for n in pasted] == ["block1_conv1_1", "block1_bn1_1", "block1_relu1_1"]
    assert graph.inputs_of(pasted[1].id) == [pasted[0].id]
    assert pasted[0].pos == (graph.node(ids[0]).pos[0] + 40, graph.node(ids[0]).pos[1] + 40)


def test_macro_is_one_step_and_rolls_back_on_failure(graph):
    conv = graph.by_name("stem_conv").id
    macro = Macro(graph, "tweak", [SetParams(graph, conv, {"filters": 8}), Rename(graph, conv, "c0")])
    assert_undo_redo(graph, macro)
    before = snapshot(graph)
    bad = Macro(graph, "bad", [SetParams(graph, conv, {"filters": 16}), Rename(graph, conv, "not valid")])
    with pytest.raises(GraphError):
        UndoStack().push(bad)
    assert snapshot(graph) == before


def test_undo_stack_limits():
    stack = UndoStack()
    assert not stack.undo() and not stack.redo()
