"""The layer graph: edits, names, signals, and the typed errors the canvas shows while wiring."""

import pytest

from cnnstudio.core.graph import (CycleError, GraphError, LayerGraph, MissingInputError, PortTakenError,
                                  ShapeMismatchError, UnknownNodeError, snake)
from cnnstudio.core.inference import infer
from cnnstudio.core.params import ParamError


def chain(*kinds_params):
    """A graph input -> layers..., returning (graph, [node ids])."""
    g = LayerGraph()
    ids = [g.add_node("InputLayer", {"shape": (28, 28, 1)}).id]
    for kind, params in kinds_params:
        node = g.add_node(kind, params)
        g.add_edge(ids[-1], node.id)
        ids.append(node.id)
    return g, ids


def shapes(g):
    inference = infer(g)
    return lambda nid: inference[nid].output_shape


def test_add_node_coerces_params_and_names_like_keras():
    g = LayerGraph()
    a = g.add_node("Conv2D", {"kernel_size": 5, "strides": "2x2"})
    b = g.add_node("Conv2D")
    c = g.add_node("Input", {"shape": "32x32x3"})
    assert a.params["kernel_size"] == (5, 5) and a.params["strides"] == (2, 2) and a.params["filters"] == 32
    assert (a.name, b.name, c.kind, c.name) == ("conv2d", "conv2d_1", "InputLayer", "input")
    assert c.params["shape"] == (32, 32, 3)
    assert snake("MaxPooling2D") == "max_pooling2d" and snake("Conv2DTranspose") == "conv2d_transpose"
    with pytest.raises(ParamError, match="kernel_size must be at least 1"):
        g.add_node("Conv2D", {"kernel_size": 0})
    with pytest.raises(ParamError, match="padding must be one of"):
        g.add_node("Conv2D", {"padding": "full"})
    with pytest.raises(GraphError, match="already exists"):
        g.add_node("Dense", name="conv2d")


def test_signals_report_every_edit():
    g = LayerGraph()
    seen = []
    for sig in ("node_added", "node_removed", "node_changed", "node_moved", "edge_added", "edge_removed"):
        getattr(g, sig).connect(lambda *a, sig=sig: seen.append(sig))
    inp = g.add_node("InputLayer")
    d = g.add_node("Flatten")
    e = g.add_edge(inp.id, d.id)
    g.set_params(inp.id, {"shape": (8, 8, 1)})
    g.rename(d.id, "flat")
    g.move(d.id, (10, 20))
    g.remove_edge(e)
    g.remove_node(d.id)
    assert seen == ["node_added", "node_added", "edge_added", "node_changed", "node_changed", "node_moved",
                    "edge_removed", "node_removed"]


def test_cycles_are_refused():
    g, (inp, a, b) = chain(("Dense", {}), ("Dense", {}))
    with pytest.raises(CycleError, match="cannot feed itself"):
        g.check_connect(a, a)
    merge = g.add_node("Add")
    g.add_edge(a, merge.id)
    after = g.add_node("Dense", name="after")
    g.add_edge(merge.id, after.id)
    with pytest.raises(CycleError, match="would make a cycle"):
        g.add_edge(after.id, merge.id)  # the merge's next port is free: only the loop is wrong
    assert g.can_connect(after.id, merge.id) == (False, "connecting after to add would make a cycle")


def test_taken_ports_are_refused_with_the_layer_already_there():
    g, (inp, a, b) = chain(("Flatten", {}), ("Dense", {}))
    with pytest.raises(PortTakenError, match="input layer and takes no inputs"):
        g.check_connect(a, inp)
    with pytest.raises(PortTakenError, match="the input of dense is already fed by flatten"):
        g.check_connect(inp, b)
    with pytest.raises(PortTakenError, match="single input"):
        g.check_connect(inp, b, port=1)
    merge = g.add_node("Concatenate")
    g.add_edge(a, merge.id)
    with pytest.raises(PortTakenError, match="already feeds"):
        g.check_connect(a, merge.id)
    assert g.add_edge(b, merge.id).port == 1  # merges take the next free port


def test_shape_mismatch_is_found_with_shape_of():
    g, (inp, conv) = chain(("Conv2D", {"kernel_size": 3}))
    dense = g.add_node("Conv2D", {"kernel_size": 30})
    ok, why = g.can_connect(conv, dense.id, shape_of=shapes(g))
    assert not ok and why.startswith("conv2d gives (26, 26, 32)") and "does not fit input 26x26" in why
    with pytest.raises(ShapeMismatchError):
        g.check_connect(conv, dense.id, shape_of=shapes(g))
    assert g.can_connect(conv, dense.id) == (True, "")  # without shapes only the wiring rules apply
    add = g.add_node("Add")
    g.add_edge(inp, add.id)
    with pytest.raises(ShapeMismatchError, match="do not match"):
        g.check_connect(conv, add.id, shape_of=shapes(g))


def test_missing_inputs_are_typed_errors():
    g, (inp, flat) = chain(("Flatten", {}))
    g.check_inputs()
    lone = g.add_node("Dense", name="head")
    with pytest.raises(MissingInputError, match="head has no input"):
        g.check_inputs()
    g.add_edge(flat, lone.id)
    add = g.add_node("Add")
    g.add_edge(lone.id, add.id)
    with pytest.raises(MissingInputError, match="add needs at least 2 inputs, has 1"):
        g.check_inputs()
    assert "add" in infer(g)[add.id].error


def test_queries_order_and_unknown_ids():
    g, (inp, a, b) = chain(("Dense", {}), ("Dense", {}))
    late = g.add_node("Dense")
    g.add_edge(b, late.id)
    skip = g.add_node("Add")
    g.add_edge(a, skip.id)
    g.add_edge(late.id, skip.id)
    order = g.topological_order()
    assert order.index(a) < order.index(b) < order.index(late.id) < order.index(skip.id)
    assert g.ancestors(skip.id) == {inp, a, b, late.id}
    assert g.descendants(a) == {b, late.id, skip.id}
    assert [n.id for n in g.outputs()] == [skip.id]
    g.set_outputs([b])
    assert [n.id for n in g.outputs()] == [b]
    with pytest.raises(UnknownNodeError, match="no node 'n99'"):
        g.node("n99")


def test_rename_keeps_names_unique_and_keras_safe():
    g, (inp, a) = chain(("Dense", {}))
    g.rename(a, "fc_1")
    with pytest.raises(GraphError, match="not a valid layer name"):
        g.rename(a, "fc 1")
    with pytest.raises(GraphError, match="already exists"):
        g.rename(a, g.node(inp).name)


def test_dict_round_trip_keeps_everything_and_rejects_cycles():
    g, (inp, a, b) = chain(("Conv2D", {"filters": 4}), ("Flatten", {}))
    g.node(a).extra = {"config": {"kernel_initializer": "he_normal"}}
    generic = g.add_node("Permute", {}, extra={"layer": {"class_name": "Permute"}})
    generic.known_shape, generic.known_params, generic.known_inputs = (1, 2), (0, 0), ((2, 1),)
    g.set_outputs([b])
    again = LayerGraph.from_dict(g.to_dict())
    assert again.to_dict() == g.to_dict()
    assert again.node(a).params["filters"] == 4 and again.node(generic.id).known_shape == (1, 2)
    assert again.node(generic.id).known_inputs == ((2, 1),)
    doc = g.to_dict()
    doc["edges"].append([b, a, 1])
    with pytest.raises(CycleError):
        LayerGraph.from_dict(doc)


def test_the_graph_is_sealed_and_a_change_that_changes_nothing_tells_no_one():
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (8, 8, 1)})
    conv = g.add_node("Conv2D", {"filters": 4})
    g.add_edge(inp.id, conv.id)
    with pytest.raises(TypeError):
        g.nodes["x"] = conv  # a read-only view
    assert isinstance(g.edges, tuple)
    heard = []
    for name in ("node_changed", "node_moved", "reset", "edge_added", "node_added"):
        getattr(g, name).connect(lambda *args, name=name: heard.append(name))
    assert g.set_params(conv.id, {"filters": "4", "kernel_size": 3}) == {}  # the same values, coerced
    assert g.rename(conv.id, conv.name) == conv.name
    g.move(conv.id, conv.pos)
    g.set_outputs(None)
    assert heard == []
    assert g.set_params(conv.id, {"filters": 6}) == {"filters": 4} and heard == ["node_changed"]
    with pytest.raises(PortTakenError):
        g.add_edge(inp.id, conv.id, 0, check=False)  # even an unchecked edge needs a free port
    heard.clear()
    with g.bulk_edit():
        dense = g.add_node("Dense", {"units": 2})
        g.add_edge(conv.id, dense.id, check=False)
        g.move(dense.id, (10, 20))
        with g.bulk_edit():
            g.set_outputs([dense.id])
    assert heard == ["reset"]  # one, for the whole bulk edit
