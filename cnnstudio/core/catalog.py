"""The layer catalog: each layer kind described once.

The palette, the inspector form, shape inference, the Keras builder, the importer and the
code exporter all read these entries. Parameter names are those of Keras ``get_config()``.
Adding a layer kind means adding one :class:`LayerSpec` here (and its tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from . import rules
from .params import ACTIVATIONS, PADDINGS, Param, ParamError, ParamSet

GROUPS = ("Input", "Convolution", "Pooling", "Core", "Normalization", "Regularization",
          "Merge", "Reshape", "Augmentation")

#: ``inputs`` value of merge layers: two or more inputs.
MANY = -1


@dataclass(frozen=True)
class LayerSpec:
    """One layer kind: its Keras class, parameters, ports and arithmetic."""

    kind: str  # the Keras class name, e.g. "Conv2D"
    group: str
    doc: str
    params: ParamSet
    rule: Callable[[dict, list], rules.LayerMath]
    inputs: int = 1  # 0 for Input, MANY for merges
    key_params: tuple[str, ...] = ()  # shown on the canvas node

    def defaults(self) -> dict[str, Any]:
        """Default parameter values."""
        return self.params.defaults()

    def coerce(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``values``, each checked; raises ParamError."""
        return self.params.coerce(values)

    def compute(self, params: dict, input_shapes: list) -> rules.LayerMath:
        """Run this kind's arithmetic on coerced ``params`` and per-sample ``input_shapes``."""
        return self.rule(params, input_shapes)

    def describe(self, params: dict) -> str:
        """A short text of the key parameters, e.g. ``'32, 3x3, s1, same'``."""
        out = []
        for name in self.key_params:
            v = params.get(name)
            if v is None:
                continue
            if isinstance(v, tuple) and v and all(isinstance(x, int) for x in v):
                v = rules.dims(v)
            elif isinstance(v, tuple):
                v = ",".join(rules.dims(x) if isinstance(x, tuple) else str(x) for x in v)
            if name == "strides":
                v = f"s{v}"
            elif name == "dilation_rate":
                if v in ("1", "1x1"):
                    continue
                v = f"d{v}"
            out.append(str(v))
        return ", ".join(out)


def _r(fn, kind: str, rank: int = 2):
    return partial(fn, kind, rank)


# -- parameter factories --------------------------------------------------------------

def _ks(n: int, default: int = 3) -> Param:
    return Param("kernel_size", "ints", (default,) * n, "Size of the sliding window (f).", min=1, max=64, length=n)


def _st(n: int, default: int = 1, optional: bool = False, doc: str = "Step of the window (s).") -> Param:
    return Param("strides", "ints", None if optional else (default,) * n, doc, min=1, max=64, length=n, optional=optional)


def _dil(n: int) -> Param:
    return Param("dilation_rate", "ints", (1,) * n, "Spacing between kernel taps (d); f = d(k-1)+1.", min=1, max=32, length=n)


def _pad(choices: tuple = PADDINGS) -> Param:
    return Param("padding", "choice", "valid", "valid: no padding; same: pad so out = ceil(n/s).", choices=choices)


def _act(default: str = "linear") -> Param:
    return Param("activation", "choice", default, "Non-linearity applied to the output.", choices=ACTIVATIONS)


_BIAS = Param("use_bias", "bool", True, "Add a learned bias per output channel.")
_FILTERS = Param("filters", "int", 32, "Number of kernels (output channels).", min=1, max=8192)
_RATE = Param("rate", "float", 0.5, "Fraction of units dropped while training.", min=0.0, max=0.999)
_SEED = Param("seed", "int", None, "Random seed (empty: random).", min=0, optional=True, advanced=True)
_FILL = Param("fill_mode", "choice", "reflect", "How points outside the image are filled.",
              choices=("reflect", "wrap", "constant", "nearest"), advanced=True)
_INTERP = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")


def _spec(kind, group, doc, params, rule, inputs=1, key=()):
    return LayerSpec(kind, group, doc, ParamSet(tuple(params)), rule, inputs, tuple(key))


def _conv(n: int) -> LayerSpec:
    kind = f"Conv{n}D"
    pads = ("valid", "same", "causal") if n == 1 else PADDINGS
    return _spec(kind, "Convolution",
                 f"{n}-D convolution (cross-correlation): slides {'a window along the steps' if n == 1 else 'each kernel over the image'}, "
                 "a weighted sum plus bias per position, one output channel per kernel.",
                 [_FILTERS, _ks(n), _st(n), _pad(pads), _dil(n),
                  Param("groups", "int", 1, "Split channels into groups convolved separately.", min=1, advanced=True),
                  _act(), _BIAS],
                 _r(rules.conv, kind, n), key=("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation"))


def _pooling(kind: str, n: int, doc: str) -> LayerSpec:
    return _spec(kind, "Pooling", doc,
                 [Param("pool_size", "ints", (2,) * n, "Window size (f).", min=1, max=64, length=n),
                  _st(n, optional=True, doc="Step of the window (s); empty means pool_size."), _pad()],
                 _r(rules.pool, kind, n), key=("pool_size", "strides", "padding"))


def _global(kind: str, n: int, doc: str) -> LayerSpec:
    return _spec(kind, "Pooling", doc,
                 [Param("keepdims", "bool", False, "Keep the spatial axes with size 1.")],
                 _r(rules.global_pool, kind, n))


def _aug(kind, doc, params) -> LayerSpec:
    return _spec(kind, "Augmentation", doc + " Active only while training; at inference it passes the input through.",
                 params + [_SEED], _r(rules.elementwise, kind))


_FACTOR = partial(Param, type="floats", min=-1.0, max=1.0)

CATALOG: dict[str, LayerSpec] = {s.kind: s for s in [
    _spec("InputLayer", "Input", "The network's input: one sample's shape (height, width, channels), without the batch.",
          [Param("shape", "shape", (28, 28, 1), "Per-sample shape, e.g. 28x28x1 (None for a free size).")],
          lambda p, shapes: rules.LayerMath(tuple(p["shape"]), formula=[f"input {rules.dims(p['shape'])}"]),
          inputs=0, key=("shape",)),
    # Convolution
    _conv(1),
    _conv(2),
    _spec("Conv2DTranspose", "Convolution",
          "Transposed convolution: spreads each input value over a kernel-sized patch, upsampling by the stride.",
          [_FILTERS, _ks(2), _st(2), _pad(),
           Param("output_padding", "ints", None, "Extra rows/columns at the end (< strides).", min=0, length=2, optional=True, advanced=True),
           _dil(2), _act(), _BIAS],
          _r(rules.conv_transpose, "Conv2DTranspose"), key=("filters", "kernel_size", "strides", "padding")),
    _spec("DepthwiseConv2D", "Convolution",
          "Depthwise convolution: one kernel per input channel, no mixing between channels.",
          [_ks(2), _st(2), _pad(), Param("depth_multiplier", "int", 1, "Output channels per input channel.", min=1, max=64),
           _dil(2), _act(), _BIAS],
          _r(rules.depthwise, "DepthwiseConv2D"), key=("kernel_size", "strides", "padding", "depth_multiplier")),
    _spec("SeparableConv2D", "Convolution",
          "Separable convolution: a depthwise convolution then a 1x1 (pointwise) convolution mixing channels.",
          [_FILTERS, _ks(2), _st(2), _pad(), _dil(2),
           Param("depth_multiplier", "int", 1, "Depthwise outputs per input channel.", min=1, max=64), _act(), _BIAS],
          _r(rules.depthwise, "SeparableConv2D"), key=("filters", "kernel_size", "strides", "padding")),
    # Pooling
    _pooling("MaxPooling1D", 1, "Max pooling along the steps: keeps the largest value of each window."),
    _pooling("MaxPooling2D", 2, "Max pooling: keeps the largest value of each f x f window, per channel."),
    _pooling("AveragePooling1D", 1, "Average pooling along the steps: the mean of each window."),
    _pooling("AveragePooling2D", 2, "Average pooling: the mean of each f x f window, per channel."),
    _global("GlobalAveragePooling1D", 1, "The mean over all steps, per channel."),
    _global("GlobalAveragePooling2D", 2, "The mean over the whole feature map, per channel."),
    _global("GlobalMaxPooling1D", 1, "The maximum over all steps, per channel."),
    _global("GlobalMaxPooling2D", 2, "The maximum over the whole feature map, per channel."),
    # Core
    _spec("Dense", "Core", "Fully connected layer: every output unit is a weighted sum of all inputs (on the last axis).",
          [Param("units", "int", 10, "Number of output units.", min=1, max=1 << 20), _act(), _BIAS],
          _r(rules.dense, "Dense"), key=("units", "activation")),
    _spec("Activation", "Core", "Applies a non-linearity element by element.",
          [_act("relu")], _r(rules.elementwise, "Activation"), key=("activation",)),
    _spec("ReLU", "Core", "Rectified linear unit max(x, 0), optionally capped (ReLU6) or leaky.",
          [Param("max_value", "float", None, "Cap on the output (6 for ReLU6).", min=0, optional=True),
           Param("negative_slope", "float", 0.0, "Slope below the threshold.", min=0),
           Param("threshold", "float", 0.0, "Inputs below this are zeroed (or leaked).")],
          _r(rules.elementwise, "ReLU"), key=("max_value",)),
    _spec("LeakyReLU", "Core", "Leaky ReLU: x for x > 0, negative_slope * x otherwise.",
          [Param("negative_slope", "float", 0.3, "Slope for negative inputs.", min=0)],
          _r(rules.elementwise, "LeakyReLU"), key=("negative_slope",)),
    # Normalization
    _spec("BatchNormalization", "Normalization",
          "Normalises each channel with batch statistics while training, moving averages at inference; then scale and shift.",
          [Param("axis", "int", -1, "The feature axis.", advanced=True),
           Param("momentum", "float", 0.99, "Moving-average momentum.", min=0, max=1),
           Param("epsilon", "float", 0.001, "Added to the variance.", min=0),
           Param("center", "bool", True, "Learn a shift (beta)."), Param("scale", "bool", True, "Learn a scale (gamma).")],
          _r(rules.norm, "BatchNormalization")),
    _spec("LayerNormalization", "Normalization", "Normalises each sample over its features; then scale and shift.",
          [Param("axis", "int", -1, "The normalised axis.", advanced=True),
           Param("epsilon", "float", 0.001, "Added to the variance.", min=0),
           Param("center", "bool", True, "Learn a shift (beta)."), Param("scale", "bool", True, "Learn a scale (gamma).")],
          _r(rules.norm, "LayerNormalization")),
    # Regularization
    _spec("Dropout", "Regularization", "Drops a random fraction of units while training (scaling the rest); identity at inference.",
          [_RATE, _SEED], _r(rules.elementwise, "Dropout"), key=("rate",)),
    _spec("SpatialDropout2D", "Regularization", "Drops whole feature maps (channels) while training.",
          [_RATE, _SEED], _r(rules.elementwise, "SpatialDropout2D"), key=("rate",)),
    # Merge
    _spec("Add", "Merge", "Element-wise sum of inputs of equal shape (skip connections).", [],
          _r(rules.merge, "Add"), inputs=MANY),
    _spec("Multiply", "Merge", "Element-wise product of inputs of equal shape (gating).", [],
          _r(rules.merge, "Multiply"), inputs=MANY),
    _spec("Concatenate", "Merge", "Joins inputs along an axis (channels by default).",
          [Param("axis", "int", -1, "The joining axis (-1: channels).")], _r(rules.merge, "Concatenate"), inputs=MANY,
          key=("axis",)),
    # Reshape
    _spec("Flatten", "Reshape", "Flattens each sample to one vector (for the dense layers).", [], _r(rules.flatten, "Flatten")),
    _spec("Reshape", "Reshape", "Rearranges each sample to target_shape (one -1 is inferred).",
          [Param("target_shape", "ints", (7, 7, 1), "New per-sample shape; one -1 is inferred.", min=-1)],
          _r(rules.reshape, "Reshape"), key=("target_shape",)),
    _spec("ZeroPadding2D", "Reshape", "Adds rows and columns of zeros around each feature map.",
          [Param("padding", "pairs", ((1, 1), (1, 1)), "(top, bottom), (left, right).", min=0, length=2)],
          _r(rules.zero_padding, "ZeroPadding2D"), key=("padding",)),
    _spec("Cropping2D", "Reshape", "Removes rows and columns at the borders of each feature map.",
          [Param("cropping", "pairs", ((1, 1), (1, 1)), "(top, bottom), (left, right).", min=0, length=2)],
          _r(rules.cropping, "Cropping2D"), key=("cropping",)),
    _spec("UpSampling2D", "Reshape", "Repeats rows and columns (nearest) or interpolates to enlarge feature maps.",
          [Param("size", "ints", (2, 2), "Factor per axis.", min=1, max=64, length=2),
           Param("interpolation", "choice", "nearest", "How new values are made.", choices=_INTERP)],
          _r(rules.upsampling, "UpSampling2D"), key=("size", "interpolation")),
    _spec("Rescaling", "Reshape", "Multiplies by scale and adds offset (e.g. 1/255 to bring pixels to 0..1).",
          [Param("scale", "float", 1 / 255, "Multiplier."), Param("offset", "float", 0.0, "Added after scaling.")],
          _r(rules.elementwise, "Rescaling"), key=("scale",)),
    _spec("Resizing", "Reshape", "Resizes images to height x width.",
          [Param("height", "int", 32, "Output height.", min=1, max=8192), Param("width", "int", 32, "Output width.", min=1, max=8192),
           Param("interpolation", "choice", "bilinear", "Resampling method.", choices=_INTERP),
           Param("crop_to_aspect_ratio", "bool", False, "Crop instead of distorting the aspect ratio.")],
          _r(rules.resizing, "Resizing"), key=("height", "width")),
    # Augmentation
    _aug("RandomFlip", "Flips images at random.",
         [Param("mode", "choice", "horizontal", "Which flips.", choices=("horizontal", "vertical", "horizontal_and_vertical"))]),
    _aug("RandomRotation", "Rotates images by a random angle (factor x 360 degrees).",
         [_FACTOR("factor", default=0.1, doc="Fraction of a full turn, or a (low, high) pair."), _FILL]),
    _aug("RandomZoom", "Zooms in or out at random (negative factor: zoom in).",
         [_FACTOR("height_factor", default=0.1, doc="Vertical zoom range."),
          _FACTOR("width_factor", default=None, doc="Horizontal zoom range (empty: same as height).", optional=True), _FILL]),
    _aug("RandomTranslation", "Shifts images at random by a fraction of their size.",
         [_FACTOR("height_factor", default=0.1, doc="Vertical shift range."),
          _FACTOR("width_factor", default=0.1, doc="Horizontal shift range."), _FILL]),
    _aug("RandomContrast", "Scales contrast by a random factor in [1 - factor, 1 + factor].",
         [Param("factor", "floats", 0.2, "Contrast range.", min=0.0, max=1.0)]),
]}

#: Names users may type for a kind, mapped to the catalog kind.
ALIASES = {"Input": "InputLayer"}


def spec(kind: str) -> LayerSpec | None:
    """The catalog entry for ``kind`` (a Keras class name), or ``None`` for a generic layer."""
    return CATALOG.get(ALIASES.get(kind, kind))


def by_group() -> dict[str, list[LayerSpec]]:
    """Catalog entries grouped for the palette, in :data:`GROUPS` order."""
    out: dict[str, list[LayerSpec]] = {g: [] for g in GROUPS}
    for s in CATALOG.values():
        out[s.group].append(s)
    return out


__all__ = ["CATALOG", "GROUPS", "MANY", "LayerSpec", "ParamError", "by_group", "spec"]
