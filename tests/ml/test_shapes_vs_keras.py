"""The catalog's own arithmetic equals Keras's, on generated configurations.

For every layer kind, seeded random configurations (valid ones mostly, some that do not
fit) are run through the core rule and through the Keras layer built on a symbolic
``keras.Input``: output shapes and trainable / non-trainable parameter counts must agree,
and a configuration the core refuses must be one Keras refuses too. Receptive fields are
checked in ``test_receptive_fields.py``.
"""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest

from cnnstudio.core.catalog import CATALOG, spec
from cnnstudio.core.graph import Node
from cnnstudio.core.rules import ShapeError
from cnnstudio.ml.model.builder import make_layer
from cnnstudio.ml.model.keras_io import weight_counts

ACTS = ("linear", "relu", "tanh", "sigmoid", "gelu", "softmax")


def _size(r: random.Random, lo: int = 1, hi: int = 32, unknown: float = 0.0):
    return None if r.random() < unknown else r.randint(lo, hi)


def _divisor(r: random.Random, n: int) -> int:
    return r.choice([d for d in range(1, n + 1) if n % d == 0])


def _window(r: random.Random, rank: int):
    """Kernel, strides and dilation per axis; sometimes strides and dilation both > 1 (refused)."""
    k = tuple(r.randint(1, 7) for _ in range(rank))
    s = tuple(r.randint(1, 4) for _ in range(rank))
    d = (1,) * rank
    if r.random() < 0.3:
        d = tuple(r.randint(1, 3) for _ in range(rank))
        if r.random() < 0.85:
            s = (1,) * rank
    return k, s, d


def gen_conv(rank: int):
    def gen(r: random.Random):
        k, s, d = _window(r, rank)
        c_in = r.randint(1, 8)
        groups = _divisor(r, c_in) if r.random() < 0.3 else 1
        filters = groups * r.randint(1, 6)
        pads = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
        params = {"filters": filters, "kernel_size": k, "strides": s, "dilation_rate": d, "groups": groups,
                  "padding": r.choice(pads), "activation": r.choice(ACTS), "use_bias": r.random() < 0.7}
        return params, [tuple(_size(r, 1, 40, 0.1) for _ in range(rank)) + (c_in,)]
    return gen


def gen_conv_transpose(r: random.Random):
    k = tuple(r.randint(1, 5) for _ in range(2))
    s = tuple(r.randint(1, 3) for _ in range(2))
    params = {"filters": r.randint(1, 8), "kernel_size": k, "strides": s, "padding": r.choice(("valid", "same")),
              "use_bias": r.random() < 0.7}
    if r.random() < 0.4:
        params["output_padding"] = tuple(r.randint(0, x) for x in s)  # sometimes == stride: refused
    return params, [(r.randint(1, 16), r.randint(1, 16), r.randint(1, 6))]


def gen_depthwise(separable: bool):
    def gen(r: random.Random):
        k, s, d = _window(r, 2)
        params = {"kernel_size": k, "strides": s, "dilation_rate": d, "padding": r.choice(("valid", "same")),
                  "depth_multiplier": r.randint(1, 3), "use_bias": r.random() < 0.7}
        if separable:
            params["filters"] = r.randint(1, 12)
        return params, [(_size(r, 1, 32, 0.1), _size(r, 1, 32, 0.1), r.randint(1, 8))]
    return gen


def gen_pool(rank: int):
    def gen(r: random.Random):
        pool = tuple(r.randint(1, 4) for _ in range(rank))
        strides = None if r.random() < 0.4 else tuple(r.randint(1, 4) for _ in range(rank))
        params = {"pool_size": pool, "strides": strides, "padding": r.choice(("valid", "same"))}
        return params, [tuple(_size(r, 1, 30, 0.1) for _ in range(rank)) + (r.randint(1, 8),)]
    return gen


def gen_global(rank: int):
    def gen(r: random.Random):
        return {"keepdims": r.random() < 0.5}, [tuple(r.randint(1, 20) for _ in range(rank)) + (r.randint(1, 16),)]
    return gen


def gen_zero_padding(r: random.Random):
    pads = tuple((r.randint(0, 4), r.randint(0, 4)) for _ in range(2))
    return {"padding": pads}, [(r.randint(1, 20), r.randint(1, 20), r.randint(1, 4))]


def gen_cropping(r: random.Random):
    crops = tuple((r.randint(0, 4), r.randint(0, 4)) for _ in range(2))
    return {"cropping": crops}, [(r.randint(1, 20), r.randint(1, 20), r.randint(1, 4))]


def gen_upsampling(r: random.Random):
    params = {"size": (r.randint(1, 4), r.randint(1, 4)), "interpolation": r.choice(("nearest", "bilinear"))}
    return params, [(r.randint(1, 16), r.randint(1, 16), r.randint(1, 4))]


def gen_resizing(r: random.Random):
    params = {"height": r.randint(1, 64), "width": r.randint(1, 64), "crop_to_aspect_ratio": r.random() < 0.3}
    return params, [(r.randint(1, 40), r.randint(1, 40), r.randint(1, 4))]


def _any_shape(r: random.Random, max_rank: int = 3):
    return tuple(r.randint(1, 9) for _ in range(r.randint(1, max_rank)))


def gen_dense(r: random.Random):
    return {"units": r.randint(1, 64), "activation": r.choice(ACTS), "use_bias": r.random() < 0.7}, [_any_shape(r)]


def gen_flatten(r: random.Random):
    return {}, [_any_shape(r, 4)]


def gen_reshape(r: random.Random):
    shape = _any_shape(r, 3)
    n = int(np.prod(shape))
    target = []
    rest = n
    for _ in range(r.randint(1, 3)):
        d = _divisor(r, rest)
        target.append(d)
        rest //= d
    target[-1] *= rest
    if r.random() < 0.4:
        target[r.randrange(len(target))] = -1
    if r.random() < 0.1:
        target[0] += 1  # a size that does not match: refused
    return {"target_shape": tuple(target)}, [shape]


def gen_norm(batch: bool):
    def gen(r: random.Random):
        shape = _any_shape(r, 3)
        axis = -1 if r.random() < 0.7 else r.choice([-i for i in range(1, len(shape) + 1)] + list(range(1, len(shape) + 1)))
        params = {"axis": axis, "center": r.random() < 0.7, "scale": r.random() < 0.7, "epsilon": r.choice((1e-3, 1e-5))}
        if batch:
            params["momentum"] = r.choice((0.9, 0.99))
        return params, [shape]
    return gen


def gen_merge(kind: str):
    def gen(r: random.Random):
        base = _any_shape(r, 3)
        k = r.randint(2, 4)
        if kind != "Concatenate":
            shapes = [base] * k
            if r.random() < 0.15:
                shapes[-1] = base[:-1] + (base[-1] + 1,)  # unequal: refused
            return {}, shapes
        axis = r.choice([-1, -1, len(base)] + list(range(1, len(base) + 1)))
        ax = axis if axis > 0 else len(base) + 1 + axis
        shapes = [tuple(r.randint(1, 5) if i == ax - 1 else d for i, d in enumerate(base)) for _ in range(k)]
        return {"axis": axis}, shapes
    return gen


def gen_elementwise(kind: str):
    def gen(r: random.Random):
        images = kind.startswith("Random") or kind == "SpatialDropout2D"
        shape = (r.randint(1, 20), r.randint(1, 20), r.randint(1, 4)) if images else _any_shape(r, 3)
        params = {}
        if kind == "Activation":
            params["activation"] = r.choice(ACTS)
        elif kind in ("Dropout", "SpatialDropout2D"):
            params["rate"] = r.choice((0.1, 0.5))
        elif kind == "Rescaling":
            params = {"scale": r.choice((1 / 255, 2.0)), "offset": r.choice((0.0, -1.0))}
        return params, [shape]
    return gen


GENERATORS = {
    "Conv1D": (gen_conv(1), 70), "Conv2D": (gen_conv(2), 80), "Conv2DTranspose": (gen_conv_transpose, 60),
    "DepthwiseConv2D": (gen_depthwise(False), 50), "SeparableConv2D": (gen_depthwise(True), 50),
    "MaxPooling1D": (gen_pool(1), 40), "MaxPooling2D": (gen_pool(2), 50),
    "AveragePooling1D": (gen_pool(1), 40), "AveragePooling2D": (gen_pool(2), 50),
    "GlobalAveragePooling1D": (gen_global(1), 10), "GlobalAveragePooling2D": (gen_global(2), 10),
    "GlobalMaxPooling1D": (gen_global(1), 10), "GlobalMaxPooling2D": (gen_global(2), 10),
    "ZeroPadding2D": (gen_zero_padding, 40), "Cropping2D": (gen_cropping, 40), "UpSampling2D": (gen_upsampling, 40),
    "Resizing": (gen_resizing, 40), "Dense": (gen_dense, 50), "Flatten": (gen_flatten, 20), "Reshape": (gen_reshape, 50),
    "BatchNormalization": (gen_norm(True), 40), "LayerNormalization": (gen_norm(False), 30),
    "Add": (gen_merge("Add"), 20), "Multiply": (gen_merge("Multiply"), 15), "Concatenate": (gen_merge("Concatenate"), 30),
    **{k: (gen_elementwise(k), 6) for k in ("Activation", "ReLU", "LeakyReLU", "Dropout", "SpatialDropout2D", "Rescaling",
                                           "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast")},
}


def keras_result(kind: str, params: dict, shapes: list, run: bool = False) -> tuple | Exception:
    """(output shape, trainable, non-trainable) from the Keras layer, or the exception it raised.

    With ``run`` the layer is also called on zeros: some refusals (depthwise strides with
    dilation) only come from TensorFlow's kernels, not from Keras's shape arithmetic.
    """
    try:
        layer = make_layer(Node("n1", kind, "layer", params))
        ins = [keras.Input(shape=s) for s in shapes]
        out = layer(ins if spec(kind).inputs != 1 else ins[0])
        if run:
            zeros = [np.zeros((1,) + tuple(24 if d is None else d for d in s), "float32") for s in shapes]
            layer(zeros if spec(kind).inputs != 1 else zeros[0])
    except Exception as exc:  # any refusal counts as a refusal
        return exc
    return (tuple(out.shape[1:]),) + weight_counts(layer)


def test_every_catalog_kind_is_generated():
    assert set(CATALOG) - {"InputLayer"} == set(GENERATORS)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_core_shapes_and_params_equal_keras(kind):
    gen, n = GENERATORS[kind]
    rng = random.Random(f"shapes-{kind}")
    sp = spec(kind)
    mismatches, accepted = [], 0
    for _ in range(n):
        raw, shapes = gen(rng)
        params = sp.coerce(raw)
        try:
            math = sp.compute(params, shapes)
            core = (math.output_shape, math.trainable, math.non_trainable)
        except ShapeError as exc:
            core = exc
        ref = keras_result(kind, params, shapes, run=isinstance(core, Exception))
        if isinstance(core, Exception) and isinstance(ref, Exception):
            continue
        accepted += not isinstance(core, Exception)
        if isinstance(core, Exception) or isinstance(ref, Exception) or core != ref:
            mismatches.append(f"{raw} on {shapes}: core {core!r}, keras {ref!r}")
    assert not mismatches, f"{len(mismatches)} of {n} differ:\n" + "\n".join(mismatches[:10])
    assert accepted >= n * 0.6, "the generator made too few valid configurations to mean anything"
