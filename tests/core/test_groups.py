"""Groups (nested models): membership two levels deep, totals, collapse/expand undo, save and load."""

import pytest

from cnnstudio.core.commands import Paste, Rename, ToggleGroup, UndoStack, copy_subgraph
from cnnstudio.core.graph import GraphError, LayerGraph
from cnnstudio.core.groups import FOOTROOM, HEADROOM, Group, boundary, card_of, card_pos, members, open_frames, scope_order
from cnnstudio.core.inference import group_info, infer
from cnnstudio.core.layout import ROW, apply_layout


@pytest.fixture
def graph():
    """image -> [backbone: conv1 -> [block: conv2 -> bn] -> relu] -> gap -> dense, laid out in rows."""
    g = LayerGraph()
    g.add_group(Group("backbone", collapsed=False))
    g.add_group(Group("block", parent="backbone", collapsed=False))
    last = g.add_node("InputLayer", {"shape": (16, 16, 3)}, name="image")
    for kind, params, name, group in [("Conv2D", {"filters": 4, "kernel_size": 3}, "conv1", "backbone"),
                                      ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2}, "conv2", "block"),
                                      ("BatchNormalization", {}, "bn", "block"),
                                      ("Activation", {"activation": "relu"}, "relu", "backbone"),
                                      ("GlobalAveragePooling2D", {}, "gap", None), ("Dense", {"units": 3}, "dense", None)]:
        node = g.add_node(kind, params, name=name)
        g.set_group(node.id, group)
        g.add_edge(last.id, node.id)
        last = node
    apply_layout(g)
    open_frames(g)
    return g


def ids(g, *names):
    return [g.by_name(n).id for n in names]


def test_membership_nests_two_levels(graph):
    assert members(graph, "backbone") == ids(graph, "conv1", "conv2", "bn", "relu")
    assert members(graph, "backbone", deep=False) == ids(graph, "conv1", "relu")
    assert members(graph, "block") == ids(graph, "conv2", "bn")
    assert boundary(graph, "backbone") == (ids(graph, "image"), ids(graph, "relu"))
    assert scope_order(graph, None) == [("node", graph.by_name("image").id), ("group", "backbone"),
                                        ("node", graph.by_name("gap").id), ("node", graph.by_name("dense").id)]
    assert scope_order(graph, "backbone") == [("node", graph.by_name("conv1").id), ("group", "block"),
                                              ("node", graph.by_name("relu").id)]


def test_group_totals_are_its_layers(graph):
    inference = infer(graph)
    info = group_info(graph, inference, "backbone")
    inner = [inference[i] for i in members(graph, "backbone")]
    assert info.params == sum(i.params for i in inner) == 4 * 27 + 4 + 8 * 36 + 8 + 4 * 8
    assert info.trainable == sum(i.trainable for i in inner) and info.non_trainable == 16  # bn's moving statistics
    assert info.output_shape == inference[graph.by_name("relu").id].output_shape == (6, 6, 8)
    assert info.receptive_field == inference[graph.by_name("relu").id].receptive_field
    assert info.receptive_field.size == (5, 5)
    assert group_info(graph, inference, "block").output_shape == (6, 6, 8)


def test_a_layer_error_inside_shows_on_the_group(graph):
    graph.set_params(graph.by_name("conv2").id, {"kernel_size": 20})  # larger than its 14x14 input
    info = group_info(graph, infer(graph), "backbone")
    assert info.root_error and info.culprit == "conv2"


def test_collapse_pulls_the_layers_below_up_and_undo_puts_them_back(graph):
    stack = UndoStack()
    before = graph.to_dict()
    gap, dense = graph.by_name("gap"), graph.by_name("dense")
    y0 = gap.pos[1]
    stack.push(ToggleGroup(graph, "block"))  # the inner group first: its card takes one row instead of two
    assert graph.groups["block"].collapsed and gap.pos[1] == y0 - ROW - HEADROOM - FOOTROOM
    assert card_of(graph, graph.by_name("bn").id) == "block" and card_of(graph, graph.by_name("relu").id) is None
    stack.push(ToggleGroup(graph, "backbone"))
    assert card_of(graph, graph.by_name("bn").id) == "backbone"
    top = card_pos(graph, "backbone")[1]
    assert gap.pos[1] == top + ROW and dense.pos[1] == top + 2 * ROW  # right below the card
    assert stack.undo() and stack.undo()
    assert graph.to_dict() == before
    assert stack.redo() and graph.groups["block"].collapsed and not graph.groups["backbone"].collapsed


def test_expand_makes_room_below_the_card(graph):
    gap_y = graph.by_name("gap").pos[1]
    ToggleGroup(graph, "backbone").do()
    ToggleGroup(graph, "backbone").do()
    assert not graph.groups["backbone"].collapsed and graph.by_name("gap").pos[1] == gap_y


def test_groups_are_saved_and_checked_on_load(graph):
    ToggleGroup(graph, "block").do()
    doc = graph.to_dict()
    assert doc["groups"] == [{"name": "backbone", "collapsed": False}, {"name": "block", "collapsed": True, "parent": "backbone"}]
    again = LayerGraph.from_dict(doc)
    assert again.to_dict() == doc and again.by_name("bn").group == "block"
    bad = dict(doc, groups=[doc["groups"][1], doc["groups"][0]])  # a child before its parent
    with pytest.raises(GraphError, match=r"graph.groups\[0\]: group 'block': its parent group 'backbone' does not exist"):
        LayerGraph.from_dict(bad)
    with pytest.raises(GraphError, match=r"graph.groups\[1\].collapsed must be true/false, not a string"):
        LayerGraph.from_dict(dict(doc, groups=[doc["groups"][0], {**doc["groups"][1], "collapsed": "yes"}]))
    nodes = [dict(n, group="nowhere") if n["name"] == "bn" else n for n in doc["nodes"]]
    with pytest.raises(GraphError, match=r"graph.nodes\[3\] \(bn\): group 'nowhere' does not exist"):
        LayerGraph.from_dict(dict(doc, nodes=nodes))
    with pytest.raises(GraphError, match="a group called 'block' already exists"):
        LayerGraph.from_dict(dict(doc, groups=doc["groups"] + [doc["groups"][1]]))


def test_a_graph_without_layers_in_a_group_saves_no_group():
    g = LayerGraph()
    g.add_group(Group("empty"))
    g.add_node("InputLayer", {"shape": (4,)})
    assert "groups" not in g.to_dict()


def test_a_group_fed_back_by_its_own_output_is_not_a_nested_model(graph):
    side = graph.add_node("Dense", {"units": 2}, name="side")
    graph.add_edge(graph.by_name("conv1").id, side.id)  # out of the backbone...
    merge = graph.add_node("Concatenate", name="cat")
    graph.add_edge(graph.by_name("bn").id, merge.id)
    graph.add_edge(side.id, merge.id)
    graph.set_group(merge.id, "backbone")  # ...and back into it
    with pytest.raises(GraphError, match="group backbone cannot be one nested model"):
        scope_order(graph, None)


def test_pasted_layers_join_only_an_open_group(graph):
    clip = copy_subgraph(graph, ids(graph, "bn"))
    stack = UndoStack()
    paste = stack.push(Paste(graph, clip))
    assert graph.nodes[paste.new_ids[0]].group == "block"  # block is open: the copy lands in it
    ToggleGroup(graph, "backbone").do()
    paste = stack.push(Paste(graph, clip))
    assert graph.nodes[paste.new_ids[0]].group is None  # never hidden in a collapsed card


def test_renaming_a_layer_gives_its_keras_name_up_and_undo_restores_it(graph):
    bn = graph.by_name("bn")
    bn.extra["keras_name"] = "batch_norm"  # as an import keeps a name another layer took
    stack = UndoStack()
    stack.push(Rename(graph, bn.id, "bn_renamed"))
    assert "keras_name" not in bn.extra
    stack.undo()
    assert bn.name == "bn" and bn.extra["keras_name"] == "batch_norm"


def test_a_sequential_group_stays_one_only_while_it_is_a_chain(graph):
    from cnnstudio.core.groups import as_chain

    assert as_chain(graph, "block") is None  # not imported from a keras.Sequential
    graph.groups["block"].sequential = True
    assert as_chain(graph, "block") == ids(graph, "conv2", "bn")
    assert LayerGraph.from_dict(graph.to_dict()).groups["block"].sequential
    add = graph.add_node("Add", name="skip")
    graph.add_edge(graph.by_name("conv2").id, add.id)
    graph.add_edge(graph.by_name("bn").id, add.id)
    graph.set_group(add.id, "block")  # a branch inside: built as a functional model from now on
    assert as_chain(graph, "block") is None
