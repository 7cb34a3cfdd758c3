"""Inference as the lecture teaches it: LeNet-5's numbers, the output-size formula, receptive fields."""

import pytest

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.inference import CachedFallback, infer
from cnnstudio.core.templates import lenet5, resnet_style

# LeNet-5 (the lecture's table): output shape and parameters per layer, by formula.
LENET = {
    "C1": ((28, 28, 6), 5 * 5 * 1 * 6 + 6),          # 156
    "S2": ((14, 14, 6), 0),
    "C3": ((10, 10, 16), 5 * 5 * 6 * 16 + 16),       # 2,416
    "S4": ((5, 5, 16), 0),
    "C5": ((1, 1, 120), 5 * 5 * 16 * 120 + 120),     # 48,120
    "flatten": ((120,), 0),
    "F6": ((84,), 120 * 84 + 84),                    # 10,164
    "output": ((10,), 84 * 10 + 10),                 # 850
}


def test_lenet5_shapes_and_parameters_per_layer():
    graph = lenet5().graph
    inference = infer(graph)
    for name, (shape, params) in LENET.items():
        info = inference[graph.by_name(name).id]
        assert (info.output_shape, info.params, info.trainable) == (shape, params, params), name
    assert inference.total_params == 61_706
    c1 = inference[graph.by_name("C1").id]
    assert c1.flops == 2 * 28 * 28 * 6 * 5 * 5 * 1
    assert c1.memory == 4 * 28 * 28 * 6


def test_the_lectures_output_size_formula_with_the_layers_own_numbers():
    graph = lenet5().graph
    inference = infer(graph)
    c1 = inference[graph.by_name("C1").id].formula
    assert "height: out = floor((n + 2p - f)/s) + 1 = floor((32 + 2*0 - 5)/1) + 1 = 28" in c1
    assert "params = C_in*f*f*C_out + C_out = 1*5*5*6 + 6 = 156" in c1
    s2 = inference[graph.by_name("S2").id].formula
    assert "width: out = floor((n + 2p - f)/s) + 1 = floor((28 + 2*0 - 2)/2) + 1 = 14" in s2
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (7, 7, 1)})
    conv = g.add_node("Conv2D", {"kernel_size": 3, "strides": 2, "padding": "same"})
    g.add_edge(inp.id, conv.id)
    text = infer(g)[conv.id].formula[0]
    assert text == "height: out = floor((n + 2p - f)/s) + 1 = floor((7 + 2*1 - 3)/2) + 1 = 4"


def test_receptive_fields_compose_per_layer():
    graph = lenet5().graph
    inference = infer(graph)
    rf = {n: inference[graph.by_name(n).id].receptive_field for n in ("C1", "S2", "C3", "S4", "C5")}
    assert [(r.size[0], r.stride[0], r.padding[0]) for r in rf.values()] == [
        (5, 1, 0), (6, 2, 0), (14, 2, 0), (16, 4, 0), (32, 4, 0)]
    assert rf["C3"].box((0, 0)) == ((0, 13), (0, 13))
    assert rf["C3"].center((1, 2)) == (8.5, 10.5)
    assert rf["S4"].text() == "16x16 px, stride 4, padding 0"
    assert inference[graph.by_name("F6").id].receptive_field is None  # no spatial axes left


def _joined(shape, branches, merge="Add", merge_params=None):
    """A graph: input -> each branch (a chain of (kind, params)) -> one merge node; returns (graph, merge)."""
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": shape})
    join = g.add_node(merge, merge_params or {})
    for chain in branches:
        last = inp
        for kind, params in chain:
            node = g.add_node(kind, params)
            g.add_edge(last.id, node.id)
            last = node
        g.add_edge(last.id, join.id)
    return g, join


def test_branches_join_by_the_union_of_their_fields_on_each_axis():
    graph = resnet_style().graph
    assert infer(graph)[graph.by_name("block1_add").id].receptive_field is not None
    row = [("Conv2D", {"filters": 1, "kernel_size": (1, 5), "padding": "same"})]
    col = [("Conv2D", {"filters": 1, "kernel_size": (5, 1), "padding": "same"})]
    for merge in ("Add", "Concatenate"):
        g, join = _joined((9, 9, 1), [row, col], merge)
        rf = infer(g)[join.id].receptive_field
        assert (rf.size, rf.stride, rf.padding) == ((5, 5), (1, 1), (2, 2)), merge
        assert rf.box((4, 4)) == ((2, 6), (2, 6))
    # a branch shifted one pixel up-left beside a 1x1 conv: the centres differ, the union is 2x2
    shifted = [("ZeroPadding2D", {"padding": ((1, 0), (1, 0))}), ("Cropping2D", {"cropping": ((0, 1), (0, 1))})]
    g, join = _joined((8, 8, 1), [[("Conv2D", {"filters": 1, "kernel_size": 1})], shifted])
    rf = infer(g)[join.id].receptive_field
    assert rf.box((3, 5)) == ((2, 3), (4, 5))
    assert rf.center((3, 5)) == (2.5, 4.5)


def test_joins_without_a_common_field_say_why():
    # 16 -> 8 both ways, but one branch steps by 2 and the other by 1
    g, join = _joined((16, 16, 1), [[("Conv2D", {"filters": 1, "kernel_size": 1, "strides": 2})],
                                    [("Conv2D", {"filters": 1, "kernel_size": 9})]])
    info = infer(g)[join.id]
    assert info.ok and info.receptive_field is None
    assert info.rf_note == "misaligned branches: their strides differ (2x2, 1x1)"
    g, join = _joined((6, 6, 1), [[("Conv2D", {"filters": 1, "kernel_size": 3, "padding": "same"})], []],
                      "Concatenate", {"axis": 2})
    info = infer(g)[join.id]
    assert info.ok and info.output_shape == (6, 12, 1) and info.receptive_field is None
    assert "Concatenate along a spatial axis" in info.rf_note


def test_same_padding_with_a_free_input_size():
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (None, None, 3)})
    same1 = g.add_node("Conv2D", {"kernel_size": 3, "padding": "same"})
    same2 = g.add_node("Conv2D", {"kernel_size": 3, "strides": 2, "padding": "same"})
    g.add_edge(inp.id, same1.id)
    g.add_edge(same1.id, same2.id)
    inference = infer(g)
    assert inference[same1.id].receptive_field.padding == (1, 1)  # stride 1 pads the same whatever the size
    assert inference[same2.id].output_shape == (None, None, 32)
    assert inference[same2.id].receptive_field is None
    assert "unknown input size" in inference[same2.id].rf_note


def test_an_error_names_the_layer_and_marks_those_downstream():
    graph = lenet5().graph
    c3 = graph.by_name("C3")
    graph.set_params(c3.id, {"kernel_size": 15})
    inference = infer(graph)
    assert inference[c3.id].error == "C3: Conv2D: kernel 15x15 does not fit input 14x14 with padding='valid'"
    assert inference[c3.id].root_error
    f6 = inference[graph.by_name("F6").id]
    assert not f6.ok and not f6.root_error and f6.culprit == "C3"
    assert inference.errors == {c3.id: inference[c3.id].error}


@pytest.mark.parametrize("kind, params, in_shape, out_shape", [
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (20, 2), (20, 4)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2}, (5, 5, 1), (11, 11, 2)),
    ("Reshape", {"target_shape": (-1, 4)}, (4, 4, 2), (8, 4)),
])
def test_a_few_shapes_by_hand(kind, params, in_shape, out_shape):
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": in_shape})
    node = g.add_node(kind, params)
    g.add_edge(inp.id, node.id)
    assert infer(g)[node.id].output_shape == out_shape


def _graph_with_a_generic_layer():
    """input 28x28x1 -> Conv2D -> a kind the catalog does not know (a Permute) -> Flatten."""
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (28, 28, 1)})
    conv = g.add_node("Conv2D", {"filters": 4, "kernel_size": 3})
    odd = g.add_node("Permute", {}, extra={"layer": {"class_name": "Permute",
                                                      "config": {"name": "odd", "dims": [3, 1, 2]}}})
    flat = g.add_node("Flatten", {})
    for a, b in ((inp, conv), (conv, odd), (odd, flat)):
        g.add_edge(a.id, b.id)
    return g, conv, odd


class CountingFallback:
    """A stand-in for the Keras fallback: a Permute's shape, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, node, shapes):
        self.calls += 1
        h, w, c = shapes[0]
        if c > 8:
            raise ValueError("too many channels for this test layer")
        return (c, h, w), 0, 0


def test_the_fallback_is_asked_once_per_layer_configuration_and_input_shapes():
    g, conv, odd = _graph_with_a_generic_layer()
    counting = CountingFallback()
    fallback = CachedFallback(counting)
    for i in range(20):  # edits that change nothing the layer depends on: renames, moves, reinfers
        g.rename(odd.id, f"odd_{i}")
        g.move(odd.id, (i, i))
        assert infer(g, fallback)[odd.id].output_shape == (4, 26, 26)
    assert counting.calls == 1
    g.set_params(conv.id, {"filters": 6})  # a new input shape: asked once more, then remembered
    for _ in range(5):
        assert infer(g, fallback)[odd.id].output_shape == (6, 26, 26)
    g.set_params(conv.id, {"filters": 4})  # back to the first: still remembered
    assert infer(g, fallback)[odd.id].output_shape == (4, 26, 26) and counting.calls == 2
    g.set_params(conv.id, {"filters": 16})  # a configuration that does not fit is remembered too
    for _ in range(5):
        assert "too many channels" in infer(g, fallback)[odd.id].error
    assert counting.calls == 3
    odd.extra["layer"]["config"]["dims"] = [2, 1, 3]  # another layer configuration: asked anew
    infer(g, fallback)
    assert counting.calls == 4


def test_an_imported_layer_s_recorded_shape_wins_while_its_inputs_are_as_imported():
    g, conv, odd = _graph_with_a_generic_layer()
    odd.known_shape, odd.known_params, odd.known_inputs = (4, 26, 26), (0, 0), ((26, 26, 4),)
    counting = CountingFallback()
    for _ in range(10):
        assert infer(g, counting)[odd.id].output_shape == (4, 26, 26)
    assert counting.calls == 0  # Keras is never asked what the import already said
    g.set_params(conv.id, {"filters": 6})  # the inputs changed since the import: the record no longer holds
    assert infer(g, counting)[odd.id].output_shape == (6, 26, 26) and counting.calls == 1
    assert infer(g)[odd.id].output_shape == (4, 26, 26)  # without Keras the record is the best guess
