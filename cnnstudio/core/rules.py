"""Per-family layer arithmetic: output shape, parameters, FLOPs, receptive-field step, formulas.

Shapes are per sample (no batch axis), channels last, ``None`` for an unknown size.
Every rule takes the layer's coerced parameters and its input shapes and returns a
:class:`LayerMath`, or raises :class:`ShapeError` with a message that says what does not fit.

FLOPs count 2 per multiply-add for convolutions and dense layers; pooling counts one
operation per window element read, element-wise layers one per output element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

Shape = tuple  # tuple[int | None, ...]


class ShapeError(ValueError):
    """The layer cannot be applied to its input; the message says why, for a person."""


@dataclass(frozen=True)
class AxisStep:
    """One layer's receptive-field step on one spatial axis (Araujo et al. 2019).

    ``kernel`` is the effective (dilated) kernel size, ``stride`` the stride and
    ``padding`` the padding before the first input element (negative for a crop).
    """

    kernel: int
    stride: int
    padding: int


IDENTITY = "identity"  # the layer keeps every unit's field as it is


@dataclass
class LayerMath:
    """What a rule computes for one layer."""

    output_shape: Shape
    trainable: int = 0
    non_trainable: int = 0
    flops: int = 0
    #: ``IDENTITY``, a list of :class:`AxisStep` (one per spatial axis), or ``None``.
    rf: Any = IDENTITY
    rf_note: str = ""  # why ``rf`` is ``None``
    formula: list[str] = field(default_factory=list)


def prod(xs: Sequence[int | None]) -> int | None:
    """Product of ``xs``, or ``None`` if any is unknown."""
    out = 1
    for x in xs:
        if x is None:
            return None
        out *= x
    return out


def dims(shape: Sequence[int | None]) -> str:
    """``(28, 28)`` -> ``'28x28'`` (``?`` for unknown)."""
    return "x".join("?" if d is None else str(d) for d in shape)


def _one(shapes: list[Shape], kind: str) -> Shape:
    if len(shapes) != 1:
        raise ShapeError(f"{kind} takes exactly one input, got {len(shapes)}")
    return shapes[0]


def _spatial_input(shapes: list[Shape], kind: str, rank: int) -> Shape:
    s = _one(shapes, kind)
    if len(s) != rank + 1:
        what = {1: "(steps, channels)", 2: "(height, width, channels)"}[rank]
        raise ShapeError(f"{kind} expects a {rank + 1}-D input {what} per sample, got shape {dims(s)}")
    return s


def _channels(s: Shape, kind: str) -> int:
    if s[-1] is None:
        raise ShapeError(f"{kind} needs a known channel count, got shape {dims(s)}")
    return s[-1]


def window_axis(n: int | None, k: int, s: int, d: int, padding: str | int) -> tuple[int | None, AxisStep | None, str]:
    """Output length, receptive-field step and formula for a sliding window on one axis.

    Follows TensorFlow's padding: ``valid`` pads nothing; ``same`` pads
    ``max((ceil(n/s)-1)*s + f - n, 0)`` in total, the smaller half before;
    ``causal`` pads ``f-1`` before; an int ``p`` pads ``p`` at both ends.
    """
    f = d * (k - 1) + 1
    fdesc = f"f = {f}" if d == 1 else f"f = d(k-1)+1 = {d}*({k}-1)+1 = {f}"
    if isinstance(padding, int):
        if n is None:
            return None, AxisStep(f, s, padding), f"out = floor((n + 2p - f)/s) + 1 with n unknown ({fdesc})"
        if n + 2 * padding < f:
            raise ShapeError("")  # the caller words the message
        out = (n + 2 * padding - f) // s + 1
        return out, AxisStep(f, s, padding), f"out = floor((n + 2p - f)/s) + 1 = floor(({n} + 2*{padding} - {f})/{s}) + 1 = {out}"
    if padding == "valid":
        if n is None:
            return None, AxisStep(f, s, 0), f"out = floor((n - f)/s) + 1 with n unknown ({fdesc})"
        if n < f:
            raise ShapeError("")  # the caller words the message with both axes
        out = (n - f) // s + 1
        return out, AxisStep(f, s, 0), f"out = floor((n + 2p - f)/s) + 1 = floor(({n} + 2*0 - {f})/{s}) + 1 = {out}"
    if padding == "causal":
        out = None if n is None else -(-n // s)
        txt = f"causal: p = f-1 = {f - 1} before, out = ceil(n/s)" + ("" if n is None else f" = ceil({n}/{s}) = {out}")
        return out, AxisStep(f, s, f - 1), txt
    # same
    if n is None:
        if s == 1:  # stride 1 pads f-1 in total whatever n is, so the field is still known
            return None, AxisStep(f, 1, (f - 1) // 2), f"padding='same', s = 1: out = n, p = {(f - 1) // 2} before"
        return None, None, "padding='same' with n unknown: out = ceil(n/s)"
    out = -(-n // s)
    total = max((out - 1) * s + f - n, 0)
    before, after = total // 2, total - total // 2
    if before == after:
        txt = f"out = floor((n + 2p - f)/s) + 1 = floor(({n} + 2*{before} - {f})/{s}) + 1 = {out}"
    else:
        txt = (f"out = floor((n + p1 + p2 - f)/s) + 1 = floor(({n} + {before} + {after} - {f})/{s}) + 1 = {out}"
               " (padding='same' pads unevenly here)")
    return out, AxisStep(f, s, before), txt


def _windows(kind: str, s_in: Shape, k: tuple, st: tuple, dil: tuple, padding: str):
    """Slide a window over the spatial axes of ``s_in``; returns (spatial out, steps, formulas)."""
    outs, steps, texts = [], [], []
    for axis, (n, kk, ss, dd) in enumerate(zip(s_in[:-1], k, st, dil)):
        try:
            o, step, txt = window_axis(n, kk, ss, dd, padding)
        except ShapeError:
            kd = dims(k) if all(x == 1 for x in dil) else f"{dims(k)} (dilation {dims(dil)}, spans {dims([d * (x - 1) + 1 for x, d in zip(k, dil)])})"
            raise ShapeError(f"{kind}: kernel {kd} does not fit input {dims(s_in[:-1])} with padding='{padding}'") from None
        outs.append(o)
        steps.append(step)
        texts.append(txt)
    rf = None if any(x is None for x in steps) else steps
    note = "" if rf is not None else "padding='same' with an unknown input size"
    if len(texts) > 1:
        names = ("height", "width", "depth")
        texts = [f"{names[i]}: {t}" for i, t in enumerate(texts)]
    return tuple(outs), rf, note, texts


def _check_stride_dilation(kind: str, st: tuple, dil: tuple) -> None:
    if any(x > 1 for x in st) and any(x > 1 for x in dil):
        raise ShapeError(f"{kind}: strides > 1 cannot be combined with dilation_rate > 1")


def conv(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Conv1D / Conv2D (with groups)."""
    s_in = _spatial_input(shapes, kind, rank)
    c_in = _channels(s_in, kind)
    k, st, dil = p["kernel_size"], p["strides"], p["dilation_rate"]
    _check_stride_dilation(kind, st, dil)
    groups = p.get("groups", 1)
    if c_in % groups or p["filters"] % groups:
        raise ShapeError(f"{kind}: groups={groups} must divide both the input channels ({c_in}) and filters ({p['filters']})")
    spatial, rf, note, texts = _windows(kind, s_in, k, st, dil, p["padding"])
    c_out = p["filters"]
    kp = prod(k)
    w = kp * (c_in // groups) * c_out
    b = c_out if p["use_bias"] else 0
    out = spatial + (c_out,)
    n_out = prod(spatial)
    flops = 0 if n_out is None else 2 * n_out * c_out * kp * (c_in // groups)
    kf = "*".join(str(x) for x in k)
    texts.append(f"params = C_in*{'*'.join('f' * rank)}*C_out + C_out = {c_in // groups}*{kf}*{c_out} + {b} = {w + b}")
    return LayerMath(out, w + b, 0, flops, rf, note, texts)


def conv_transpose(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Conv2DTranspose: the shape rule of keras' ``compute_conv_transpose_output_shape``."""
    s_in = _spatial_input(shapes, kind, rank)
    c_in = _channels(s_in, kind)
    k, st, dil, pad = p["kernel_size"], p["strides"], p["dilation_rate"], p["padding"]
    op = p.get("output_padding")
    if op is not None:
        for o, s in zip(op, st):
            if o >= s:
                raise ShapeError(f"{kind}: output_padding {dims(op)} must be smaller than strides {dims(st)}")
    outs, texts = [], []
    for i, (n, kk, s, d) in enumerate(zip(s_in[:-1], k, st, dil)):
        f = kk + (kk - 1) * (d - 1)
        if n is None:
            outs.append(None)
            continue
        if op is None:
            o = n * s + max(f - s, 0) if pad == "valid" else n * s
            txt = f"out = n*s + max(f - s, 0) = {n}*{s} + {max(f - s, 0)} = {o}" if pad == "valid" else f"out = n*s = {n}*{s} = {o}"
        else:
            pp = f // 2 if pad == "same" else 0
            o = (n - 1) * s + f - 2 * pp + op[i]
            txt = f"out = (n-1)*s + f - 2p + output_padding = ({n}-1)*{s} + {f} - 2*{pp} + {op[i]} = {o}"
        if o <= 0:
            raise ShapeError(f"{kind}: output size {o} is not positive for input {dims(s_in[:-1])}")
        outs.append(o)
        texts.append(txt)
    c_out = p["filters"]
    w = prod(k) * c_in * c_out
    b = c_out if p["use_bias"] else 0
    n_in = prod(s_in[:-1])
    flops = 0 if n_in is None else 2 * n_in * prod(k) * c_in * c_out
    texts.append(f"params = C_in*{'*'.join(str(x) for x in k)}*C_out + C_out = {c_in}*{prod(k)}*{c_out} + {b} = {w + b}")
    return LayerMath(tuple(outs) + (c_out,), w + b, 0, flops, None,
                     "transposed convolution: output units sit between input pixels (fractional stride)", texts)


def depthwise(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """DepthwiseConv2D and SeparableConv2D (depthwise then pointwise).

    Unlike Conv2D, Keras accepts strides > 1 together with dilation_rate > 1 here.
    """
    s_in = _spatial_input(shapes, kind, rank)
    c_in = _channels(s_in, kind)
    k, st, dil = p["kernel_size"], p["strides"], p["dilation_rate"]
    dm = p["depth_multiplier"]
    spatial, rf, note, texts = _windows(kind, s_in, k, st, dil, p["padding"])
    n_out = prod(spatial)
    dw = prod(k) * c_in * dm
    if kind == "DepthwiseConv2D":
        b = c_in * dm if p["use_bias"] else 0
        flops = 0 if n_out is None else 2 * n_out * c_in * dm * prod(k)
        texts.append(f"params = f*f*C_in*depth_multiplier + bias = {dw} + {b} = {dw + b}")
        return LayerMath(spatial + (c_in * dm,), dw + b, 0, flops, rf, note, texts)
    c_out = p["filters"]
    pw = c_in * dm * c_out
    b = c_out if p["use_bias"] else 0
    flops = 0 if n_out is None else 2 * n_out * (c_in * dm * prod(k) + c_in * dm * c_out)
    texts.append(f"params = depthwise {dw} + pointwise {pw} + bias {b} = {dw + pw + b}")
    return LayerMath(spatial + (c_out,), dw + pw + b, 0, flops, rf, note, texts)


def pool(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Max / average pooling, 1-D and 2-D."""
    s_in = _spatial_input(shapes, kind, rank)
    k = p["pool_size"]
    st = p["strides"] or k
    spatial, rf, note, texts = _windows(kind, s_in, k, st, (1,) * rank, p["padding"])
    out = spatial + (s_in[-1],)
    n = prod(out)
    return LayerMath(out, 0, 0, 0 if n is None else n * prod(k), rf, note, texts)


def global_pool(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Global average / max pooling: one value per channel."""
    s_in = _spatial_input(shapes, kind, rank)
    out = (1,) * rank + (s_in[-1],) if p.get("keepdims") else (s_in[-1],)
    n = prod(s_in)
    if p.get("keepdims"):
        return LayerMath(out, flops=n or 0, rf=None, rf_note="global pooling: every unit sees the whole input")
    return LayerMath(out, flops=n or 0, rf=None, rf_note="no spatial axes after global pooling")


def dense(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Dense on the last axis."""
    s_in = _one(shapes, kind)
    c_in = _channels(s_in, kind)
    u = p["units"]
    b = u if p["use_bias"] else 0
    lead = prod(s_in[:-1]) if len(s_in) > 1 else 1
    flops = 0 if lead is None else 2 * lead * c_in * u
    return LayerMath(s_in[:-1] + (u,), c_in * u + b, 0, flops, IDENTITY, "",
                     [f"params = inputs*units + units = {c_in}*{u} + {b} = {c_in * u + b}"])


def flatten(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Flatten all but the batch axis."""
    s_in = _one(shapes, kind)
    n = prod(s_in)
    txt = [f"{dims(s_in)} = {n} values" if len(s_in) > 1 else "already flat"]
    return LayerMath((n,), rf=None, rf_note="no spatial axes after Flatten", formula=txt)


def reshape(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Reshape to ``target_shape`` (one -1 allowed)."""
    s_in = _one(shapes, kind)
    target = list(p["target_shape"])
    n = prod(s_in)
    if target.count(-1) > 1:
        raise ShapeError(f"{kind}: target_shape may contain at most one -1")
    if -1 in target:
        known = prod([t for t in target if t != -1])
        if n is not None:
            if known == 0 or n % known:
                raise ShapeError(f"{kind}: cannot reshape {dims(s_in)} ({n} values) to {tuple(target)}")
            target[target.index(-1)] = n // known
        else:
            target[target.index(-1)] = None
    elif n is not None and prod(target) != n:
        raise ShapeError(f"{kind}: cannot reshape {dims(s_in)} ({n} values) to {dims(target)} ({prod(target)} values)")
    return LayerMath(tuple(target), rf=None, rf_note="Reshape moves units between axes")


def norm(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """BatchNormalization (2 trainable + 2 moving per channel) and LayerNormalization."""
    s_in = _one(shapes, kind)
    axis = p["axis"]
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    size = 1
    for a in axes:
        try:
            d = s_in[a if a < 0 else a - 1]  # Keras axes count the batch axis
        except IndexError:
            raise ShapeError(f"{kind}: axis {a} is out of range for shape {dims(s_in)}") from None
        if d is None:
            raise ShapeError(f"{kind}: axis {a} of shape {dims(s_in)} must be known")
        size *= d
    gamma_beta = size * (int(p["center"]) + int(p["scale"]))
    moving = 2 * size if kind == "BatchNormalization" else 0
    n = prod(s_in) or 0
    txt = []
    if kind == "BatchNormalization":
        txt = [f"params = gamma, beta ({gamma_beta} trainable) + moving mean, variance ({moving} non-trainable)"]
    return LayerMath(s_in, gamma_beta, moving, 2 * n, IDENTITY, "", txt)


def elementwise(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Activations, dropout, rescaling, augmentation: the shape passes through."""
    s_in = _one(shapes, kind)
    if kind == "SpatialDropout2D" and len(s_in) != 3:
        raise ShapeError(f"{kind} expects a 3-D input (height, width, channels) per sample, got shape {dims(s_in)}")
    if kind in ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast") and len(s_in) != 3:
        raise ShapeError(f"{kind} expects images (height, width, channels), got shape {dims(s_in)}")
    n = prod(s_in) or 0
    return LayerMath(s_in, flops=n)


def zero_padding(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """ZeroPadding2D: add rows/columns of zeros."""
    s_in = _spatial_input(shapes, kind, rank)
    pads = p["padding"]
    out = tuple(None if n is None else n + a + b for n, (a, b) in zip(s_in[:-1], pads)) + (s_in[-1],)
    return LayerMath(out, rf=[AxisStep(1, 1, a) for a, _ in pads])


def cropping(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Cropping2D: remove rows/columns at the borders."""
    s_in = _spatial_input(shapes, kind, rank)
    crops = p["cropping"]
    out = []
    for n, (a, b) in zip(s_in[:-1], crops):
        if n is not None and n - a - b <= 0:
            raise ShapeError(f"{kind}: cropping {a}+{b} leaves nothing of {dims(s_in[:-1])}")
        out.append(None if n is None else n - a - b)
    return LayerMath(tuple(out) + (s_in[-1],), rf=[AxisStep(1, 1, -a) for a, _ in crops])


def upsampling(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """UpSampling2D: repeat rows and columns."""
    s_in = _spatial_input(shapes, kind, rank)
    out = tuple(None if n is None else n * f for n, f in zip(s_in[:-1], p["size"])) + (s_in[-1],)
    return LayerMath(out, flops=prod(out) or 0, rf=None,
                     rf_note="upsampling: output units sit between input pixels (fractional stride)")


def resizing(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Resizing to a fixed height and width."""
    s_in = _spatial_input(shapes, kind, 2)
    out = (p["height"], p["width"], s_in[-1])
    if tuple(s_in[:-1]) == out[:-1]:
        return LayerMath(out)
    return LayerMath(out, flops=prod(out) or 0, rf=None, rf_note="resizing by a non-integer factor")


def merge(kind: str, rank: int, p: dict, shapes: list[Shape]) -> LayerMath:
    """Add / Multiply (equal shapes) and Concatenate (equal but on ``axis``)."""
    if len(shapes) < 2:
        raise ShapeError(f"{kind} needs at least 2 inputs, got {len(shapes)}")
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise ShapeError(f"{kind}: inputs have different ranks: {', '.join(dims(s) for s in shapes)}")
    if kind == "Concatenate":
        r = ranks.pop()
        ax = p["axis"]
        ax = ax + r if ax < 0 else ax - 1
        if not 0 <= ax < r:
            raise ShapeError(f"{kind}: axis {p['axis']} is out of range for {r}-D inputs")
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if i == ax:
                    continue
                if a is not None and b is not None and a != b:
                    raise ShapeError(f"{kind}: shapes {', '.join(dims(x) for x in shapes)} differ off the concatenation axis")
        out[ax] = None if any(s[ax] is None for s in shapes) else sum(s[ax] for s in shapes)
        if ax < r - 1:  # channels last: any other axis is spatial
            return LayerMath(tuple(out), rf=None,
                             rf_note="Concatenate along a spatial axis: each input's units keep their own fields, side by side")
        return LayerMath(tuple(out))
    out = []
    for axis_dims in zip(*shapes):
        known = {d for d in axis_dims if d is not None}
        if len(known) > 1:
            raise ShapeError(f"{kind}: input shapes {', '.join(dims(s) for s in shapes)} do not match")
        out.append(known.pop() if known else None)
    n = prod(out) or 0
    return LayerMath(tuple(out), flops=n * (len(shapes) - 1))


def activation_bytes(shape: Shape) -> int:
    """Activation memory of one sample in bytes (float32); 0 when a size is unknown."""
    n = prod(shape)
    return 0 if n is None else 4 * n
