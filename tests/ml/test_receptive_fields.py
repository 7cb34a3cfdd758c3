"""Receptive fields from core inference against VGG16's published values and against brute force.

Brute force: with all-positive weights and no bias, poking one input pixel of a blank image
changes exactly the units whose field holds that pixel, so the pixels that change a unit
must lie in its inferred box and, where the box lies on the image, reach both of its ends
on every axis. Checked on random chains and on random branching networks (asymmetric
kernels, strides and dilations) whose branches join by Add and Concatenate.
"""

from __future__ import annotations

import random

import keras
import numpy as np

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.inference import ReceptiveField, infer
from cnnstudio.ml.model.builder import build_model
from cnnstudio.ml.model.keras_io import graph_from_model

layers = keras.layers


def test_vgg16_receptive_field_matches_published_values():
    """Araujo et al. 2019, table 1: VGG16 block5_pool sees 212 px, stride 32, padding 90."""
    graph = graph_from_model(keras.applications.VGG16(weights=None, include_top=False))
    info = infer(graph)[graph.by_name("block5_pool").id]
    assert info.receptive_field.size == (212, 212)
    assert info.receptive_field.stride == (32, 32)
    assert info.receptive_field.padding == (90, 90)
    assert info.output_shape == (None, None, 512)  # include_top=False keeps the input size free


def _all_ones(model: keras.Model) -> keras.Model:
    for layer in model.layers:  # all-positive weights: a change can never cancel out
        layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    return model


def changed_units(model: keras.Model, h: int, w: int) -> np.ndarray:
    """``changed[y, x, i, j]``: setting input pixel (y, x) of a blank image to 1 changes unit (i, j)."""
    pokes = np.zeros((h * w + 1, h, w, 1), np.float32)  # one image per pixel, then the blank one
    pokes[np.arange(h * w), np.arange(h * w) // w, np.arange(h * w) % w, 0] = 1.0
    out = np.asarray(model(pokes))
    # with weights 1 and no bias a pixel outside the field leaves the unit as it was, and one inside
    # moves it by 1/9 at least in these seeded nets (an average pool divides by its window);
    # 1e-3 stays clear of a batch's float rounding (a few 1e-5 on values ~100 on some CPUs)
    return (np.abs(out[:-1] - out[-1]).max(axis=-1) > 1e-3).reshape(h, w, *out.shape[1:3])


def check_boxes(changed: np.ndarray, rf: ReceptiveField, exact: bool, where: str) -> int:
    """Assert every unit's changing pixels lie in its box and, if ``exact`` and the box lies on
    the image, span it; returns how many units were held to the exact span."""
    h, w = changed.shape[:2]
    spanned = 0
    for i in range(changed.shape[2]):
        for j in range(changed.shape[3]):
            ys, xs = np.nonzero(changed[:, :, i, j])
            (y0, y1), (x0, x1) = rf.box((i, j))
            seen = (int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())) if ys.size else None
            msg = f"{where}: unit {(i, j)} sees rows, cols {seen}; field {rf}, box {rf.box((i, j))}"
            if seen is not None:  # units over padding only see no pixel at all
                assert y0 <= seen[0] and seen[1] <= y1 and x0 <= seen[2] and seen[3] <= x1, msg
            if exact and 0 <= y0 and y1 < h and 0 <= x0 and x1 < w:
                assert seen == (y0, y1, x0, x1), msg
                spanned += 1
    return spanned


def random_conv_net(r: random.Random) -> LayerGraph:
    """A chain of 2-4 convolutions, pools, paddings and crops on a small grey image."""
    g = LayerGraph()
    size = r.randint(12, 20)
    last = g.add_node("InputLayer", {"shape": (size, size, 1)})
    for _ in range(r.randint(2, 4)):
        choice = r.random()
        if choice < 0.5:
            s = r.randint(1, 2)
            kind, params = "Conv2D", {"filters": 2, "kernel_size": r.randint(1, 4), "strides": s, "use_bias": False,
                                      "dilation_rate": r.randint(1, 2) if s == 1 else 1, "padding": r.choice(("valid", "same"))}
        elif choice < 0.8:
            kind = r.choice(("MaxPooling2D", "AveragePooling2D"))
            params = {"pool_size": r.randint(1, 3), "strides": r.randint(1, 3), "padding": r.choice(("valid", "same"))}
        elif choice < 0.9:
            kind, params = "ZeroPadding2D", {"padding": ((r.randint(0, 2), r.randint(0, 2)), (r.randint(0, 2), r.randint(0, 2)))}
        else:
            kind, params = "Cropping2D", {"cropping": ((r.randint(0, 2), r.randint(0, 2)), (r.randint(0, 2), r.randint(0, 2)))}
        node = g.add_node(kind, params)
        g.add_edge(last.id, node.id)
        last = node
    return g


def test_receptive_field_box_matches_brute_force_perturbation():
    """Perturb each input pixel in turn; the output units that change lie in their fields' boxes."""
    rng = random.Random("rf-brute-force")
    nets = spanned = 0
    while nets < 12:
        g = random_conv_net(rng)
        info = infer(g)[g.outputs()[0].id]
        if not info.ok or info.receptive_field is None:
            continue
        nets += 1
        h, w = g.input_nodes()[0].params["shape"][:2]
        changed = changed_units(_all_ones(build_model(g)), h, w)
        # A crop drops image pixels the field's span still covers; without one, a box that
        # lies wholly in the image is reached at both ends on every axis.
        exact = not any(n.kind == "Cropping2D" for n in g.nodes.values())
        spanned += check_boxes(changed, info.receptive_field, exact, str([n.kind + str(n.params) for n in g.nodes.values()]))
    assert spanned > 50


KERNELS = ((1, 3), (3, 1), (1, 5), (5, 1), (5, 2), (2, 5), (2, 2), (3, 3), (1, 1))
STRIDES = ((1, 1), (1, 2), (2, 1))
DILATIONS = ((1, 1), (1, 2), (2, 1), (2, 2))


def _window(r: random.Random, x, stride: tuple, padding: str = "same"):
    """A convolution (keeping the channel count) or a pooling with ``stride``, asymmetric most often."""
    if r.random() < 0.25:
        pool = r.choice((layers.MaxPooling2D, layers.AveragePooling2D))
        return pool(r.choice(((1, 2), (2, 1), (2, 2))), strides=stride, padding=padding)(x)
    dilation = r.choice(DILATIONS) if stride == (1, 1) else (1, 1)  # Conv2D refuses strides with dilation
    return layers.Conv2D(x.shape[-1], r.choice(KERNELS), strides=stride, dilation_rate=dilation,
                         padding=padding, use_bias=False)(x)


def _join(r: random.Random, x):
    """2-3 branches from ``x`` with one stride in all, joined by Add or Concatenate.

    With 'same' padding a stride s gives ceil(n/s) units however the branch reaches it, so
    the branches' outputs fit together; an empty branch is the skip connection.
    """
    stride = r.choice(STRIDES)
    branches = []
    for _ in range(r.randint(2, 3)):
        y, n = x, r.randint(0 if stride == (1, 1) else 1, 2)
        at = r.randrange(n) if n else -1  # which layer of the branch steps
        for k in range(n):
            y = _window(r, y, stride if k == at else (1, 1))
        branches.append(y)
    return r.choice((layers.Add, layers.Concatenate))()(branches)


def random_branching_net(r: random.Random) -> keras.Model:
    """2-3 joins, sometimes with a plain layer ('valid' where it fits) before or between them."""
    inp = keras.Input((r.randint(11, 17), r.randint(11, 17), 1))
    x = inp
    for _ in range(r.randint(2, 3)):
        if r.random() < 0.4:
            # the widest window here spans 9 pixels (5 taps, dilation 2)
            x = _window(r, x, r.choice(STRIDES), "valid" if min(x.shape[1:3]) >= 9 else "same")
        x = _join(r, x)
    return keras.Model(inp, x)


def test_fields_of_branching_networks_match_brute_force_perturbation():
    """Each join and the output of seeded random branching networks; the first net is a 1x5
    branch beside a 5x1 one, whose join sees 5x5 (one branch's field taken whole sees 1x5 or 5x1)."""
    inp = keras.Input((9, 10, 1))
    cross = layers.Add()([layers.Conv2D(1, (1, 5), padding="same", use_bias=False)(inp),
                          layers.Conv2D(1, (5, 1), padding="same", use_bias=False)(inp)])
    models = [keras.Model(inp, cross)]
    rng = random.Random("rf-branching")
    models += [random_branching_net(rng) for _ in range(16)]
    spanned = unions = 0
    for model in models:
        _all_ones(model)
        graph = graph_from_model(model)
        inference = infer(graph)
        h, w = model.input_shape[1:3]
        joins = [layer for layer in model.layers if isinstance(layer, (layers.Add, layers.Concatenate))]
        for layer in joins if model.layers[-1] in joins else joins + [model.layers[-1]]:
            node = graph.by_name(layer.name)
            rf = inference[node.id].receptive_field
            assert rf is not None, f"{layer.name}: {inference[node.id].rf_note}"
            branch_fields = [inference[src].receptive_field for src in graph.inputs_of(node.id)]
            unions += len(branch_fields) > 1 and rf not in branch_fields
            changed = changed_units(keras.Model(model.input, layer.output), h, w)
            spanned += check_boxes(changed, rf, True, f"{model.name} {layer.name}")
    assert unions >= 10, "too few joins whose field is no single branch's field to test the union"
    assert spanned > 400
