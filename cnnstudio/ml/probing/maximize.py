"""Activation maximisation: the picture a unit, a channel or a class of the user's model wants to see.

Gradient ascent on the model's input (Erhan et al. 2009; Simonyan et al. 2014; Olah et al.,
"Feature Visualization", Distill 2017), with what makes the result readable:

- the picture is made from parameters that keep it valid: ``255 * sigmoid(raw)`` pixel values,
  where ``raw`` is either one number per pixel or, by default, a decorrelated Fourier spectrum
  (scaled by 1 / frequency so low frequencies come first, colours through ImageNet's colour
  correlation, as Lucid does), optionally blurred;
- each step looks at a randomly shifted, zoomed and rotated copy (transformation robustness), so
  the picture cannot excite the unit with pixel-exact noise;
- L2 and total-variation penalties keep it near grey and smooth; they are weighed against the
  goal's current value (a weight of 0.5 with a penalty of 0.1 costs 5% of it), so the same
  weights suit a model whose activations are 0.01 and one whose are 100.

The pixel values go through the model's own preprocessing (the project's
:class:`~cnnstudio.core.settings.Preprocessing` scaling, an affine map read off
:func:`cnnstudio.ml.data.preprocess.scale_values`), so the model sees what it sees at training
time; the result is shown with the inverse (:func:`~cnnstudio.ml.data.preprocess.display_image`).

A :class:`Goal` names what is maximised: channels of a layer (their mean over the map, or one
unit of it) or classes of the probed output (the pre-softmax logit where the model ends in a
softmax, as :class:`~cnnstudio.ml.probing.prober.Prober` scores attributions). Many channels
are optimised at once, one picture each in one batch, by ONE traced ``tf.function`` step
(settings are tensors: changing them does not trace again). :meth:`Maximizer.run` stops between
steps when asked and reports progress with a preview every few steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from cnnstudio.core.settings import Preprocessing
from cnnstudio.ml.data.preprocess import display_image, scale_values
from cnnstudio.ml.probing.maximize_spec import Goal, MaximizeSettings
from cnnstudio.ml.probing.outputs import Target, target_weights
from cnnstudio.ml.probing.prober import Prober

#: ImageNet's colour correlation (square root of its covariance, from Lucid), columns normalised:
#: the Fourier parameters are decorrelated colours, this mixes them into RGB.
_COLOR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOR_MIX = _COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))
INITIAL_SD = 1.0  # of the starting parameters
BLUR_RADIUS = 7  # the blur kernel is (2r+1)^2 pixels: sigma up to ~r/2.5 is not cut short
_ADAM = (0.9, 0.999, 1e-8)
#: The knobs passed to the traced step as one tensor, in this order.
_KNOBS = ("learning_rate", "jitter", "scale", "rotation", "blur", "l2", "tv")


@dataclass(frozen=True)
class Maximized:
    """The pictures of a run: one per channel of the goal."""

    goal: Goal
    pictures: np.ndarray  # uint8 RGB (N, H, W, 3): as displayed, the preprocessing undone
    inputs: np.ndarray  # float32 (N, H, W, C): the model inputs themselves
    activations: np.ndarray  # (N,) the goal's value on each picture (untransformed)
    start: np.ndarray  # (N,) the same on the grey-ish start
    steps: int  # steps done
    cancelled: bool


@dataclass(frozen=True)
class Progress:
    """A run's state after ``step`` of ``steps``; ``pictures`` and ``activations`` every few steps (else None)."""

    step: int
    steps: int
    pictures: np.ndarray | None
    activations: np.ndarray | None


def pixel_affine(settings: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    """``(M, b)`` with ``scale_values(p) == p @ M + b`` for pixel values ``p`` (..., C) in 0..255:
    every scaling mode is affine (caffe also swaps RGB to BGR), read off the one function."""
    c = settings.channels
    b = scale_values(np.zeros((1, c), np.float32), settings.scale)[0]
    m = np.stack([scale_values(np.eye(c, dtype=np.float32)[i:i + 1], settings.scale)[0] - b for i in range(c)])
    return m.astype(np.float32), b.astype(np.float32)


def maximizable_layers(prober: Prober) -> dict[str, int]:
    """Layer -> its channels (units of a Dense layer), for every layer after the input on the way
    to the model's outputs, in model order."""
    out = {}
    for layer in prober.model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            shape = tuple(prober.layer_tensor(layer.name).shape[1:])
        except ValueError:  # not on the way from the input to an output
            continue
        if len(shape) >= 1 and shape[-1] is not None:
            out[layer.name] = int(shape[-1])
    return out


def _freqs(h: int, w: int) -> np.ndarray:
    """|frequency| of each coefficient of a real 2-D FFT of an h x w picture: (h, w // 2 + 1)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[: w // 2 + 1][None, :]
    return np.sqrt(fx * fx + fy * fy)


class Maximizer:
    """Activation maximisation on one model (through its :class:`Prober`) and its preprocessing.

    Not thread-safe, like the Prober: one worker uses it. Sub-models and traced steps are kept
    per layer, so a second run on the same layer starts at once.
    """

    def __init__(self, prober: Prober, preprocessing: Preprocessing) -> None:
        self.prober = prober
        self.preprocessing = preprocessing
        if len(prober.input_shape) != 3:
            raise ValueError(f"{prober.model.name} does not take pictures (input {prober.input_shape})")
        self.h, self.w, self.c = prober.input_shape
        if self.c != preprocessing.channels:
            raise ValueError(f"{prober.model.name} takes {self.c} channel(s) but the preprocessing makes "
                             f"{preprocessing.channels}")
        m, b = pixel_affine(preprocessing)
        self._m, self._b = tf.constant(255.0 * m), tf.constant(b)
        f = _freqs(self.h, self.w)
        self._spectrum_scale = tf.constant(
            (1.0 / np.maximum(f, 1.0 / max(self.h, self.w)) * math.sqrt(self.h * self.w)).astype(np.float32))
        self._steps: dict[tuple, Callable] = {}

    # -- what is maximised ----------------------------------------------------------
    @property
    def layers(self) -> dict[str, int]:
        """Layer -> channels, for the layers whose channels can be maximised."""
        return maximizable_layers(self.prober)

    def _target(self, layer: str | None):
        """The symbolic tensor a goal reads, and how it becomes scores."""
        if layer is None:
            return self.prober.score_parts()
        if layer not in self.layers:
            raise ValueError(f"{self.prober.model.name} has no layer {layer!r} to maximise; choose one of "
                             f"{', '.join(self.layers)}")
        return self.prober.layer_tensor(layer), (lambda t: t)

    def _weights_shape(self, layer: str | None) -> tuple[int, ...]:
        """The shape of a goal's scores, batch axis dropped: the output's, or the layer's."""
        return tuple(self.prober.output.shape) if layer is None else tuple(self.prober.layer_shape(layer))

    def weights(self, goal: Goal) -> np.ndarray:
        """(N, ...) weights over the goal's tensor whose sum with it is each picture's value
        (a channel's mean over its map, one unit, a class's score)."""
        if not goal.channels:
            raise ValueError("choose at least one channel to maximise")
        if goal.layer is None:
            out = self.prober.output
            if out.kind not in ("classes", "map"):
                raise ValueError(f"output {out.name} has no classes to maximise")
            n = out.channels
            bad = [c for c in goal.channels if not 0 <= c < n]
            if bad:
                raise ValueError(f"class {bad[0]} is out of range: output {out.name} has {n} classes (0..{n - 1})")
            return np.stack([target_weights(out, Target(int(c))) for c in goal.channels])
        self._target(goal.layer)
        shape = self._weights_shape(goal.layer)
        n = int(shape[-1])
        bad = [c for c in goal.channels if not 0 <= c < n]
        if bad:
            raise ValueError(f"channel {bad[0]} is out of range: {goal.layer} has {n} channels (0..{n - 1})")
        w = np.zeros((len(goal.channels),) + tuple(shape), np.float32)
        spatial = shape[:-1]
        if goal.unit is not None:
            if len(spatial) != 2 or not all(0 <= u < s for u, s in zip(goal.unit, spatial)):
                raise ValueError(f"unit {goal.unit} is not in {goal.layer}'s {'x'.join(map(str, spatial))} maps")
            for i, c in enumerate(goal.channels):
                w[i, goal.unit[0], goal.unit[1], c] = 1.0
        else:
            for i, c in enumerate(goal.channels):
                w[i, ..., c] = 1.0 / max(1, int(np.prod(spatial)))
        return w

    # -- the picture and its parameters ---------------------------------------------
    def initial(self, n: int, parametrization: str, seed: int) -> np.ndarray:
        """Random parameters: a picture of random (low-frequency, for Fourier) noise about grey.

        Not near-flat grey (Lucid starts at 0.01 of this): a ReLU unit that grey leaves silent
        everywhere has no gradient to climb, and an untrained or small model has many such units.
        """
        rng = np.random.default_rng(seed)
        if parametrization == "fourier":
            shape = (n, self.c, self.h, self.w // 2 + 1, 2)
        else:
            shape = (n, self.h, self.w, self.c)
        return rng.normal(0.0, INITIAL_SD, shape).astype(np.float32)

    def render(self, params: tf.Tensor, parametrization: str, blur: tf.Tensor) -> tf.Tensor:
        """Parameters -> pixel values 0..1 (N, H, W, C)."""
        if parametrization == "fourier":
            spectrum = tf.complex(params[..., 0], params[..., 1]) * tf.cast(self._spectrum_scale, tf.complex64)
            raw = tf.transpose(tf.signal.irfft2d(spectrum, fft_length=[self.h, self.w]), [0, 2, 3, 1]) / 4.0
            if self.c == 3:
                raw = tf.einsum("nhwc,dc->nhwd", raw, COLOR_MIX)
        else:
            raw = params
        return tf.sigmoid(_blur(raw, blur, min(BLUR_RADIUS, self.h - 1, self.w - 1)))

    def to_model(self, pixels01: tf.Tensor) -> tf.Tensor:
        """Pixel values 0..1 -> the model's input, through the preprocessing's scaling."""
        return tf.einsum("nhwc,cd->nhwd", pixels01, self._m) + self._b

    def transform(self, pixels01: tf.Tensor, knobs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """A random shift (up to ``jitter`` px), zoom (1 +- ``scale``) and rotation (+- ``rotation``
        degrees) of each picture, edges reflected."""
        n = tf.shape(pixels01)[0]
        u = tf.random.stateless_uniform((4, n), seed, -1.0, 1.0)
        jitter, scale, rotation = knobs[1], knobs[2], knobs[3]
        tx, ty = u[0] * jitter, u[1] * jitter
        zoom = 1.0 + u[2] * scale
        angle = u[3] * rotation * (math.pi / 180.0)
        # output point -> input point: A (out - centre - t) + centre, A = R(-angle) / zoom
        cx, cy = (self.w - 1) / 2.0, (self.h - 1) / 2.0
        cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
        ox, oy = cx + tx, cy + ty
        rows = tf.stack([cos, sin, cx - cos * ox - sin * oy, -sin, cos, cy + sin * ox - cos * oy,
                         tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=pixels01, transforms=rows, output_shape=[self.h, self.w], fill_value=0.0,
            interpolation="BILINEAR", fill_mode="REFLECT")

    # -- the ascent -----------------------------------------------------------------
    def _step_fn(self, layer: str | None, parametrization: str):
        """The traced step for ``layer``'s goals: (params, m, v, t, weights, knobs, seed) -> (params, m, v, values)."""
        key = (layer, parametrization)
        if key in self._steps:
            return self._steps[key]
        tensor, to_scores = self._target(layer)
        sub = keras.Model(self.prober.model.inputs[0], tensor)
        params_spec = tf.TensorSpec((None,) + self.initial(1, parametrization, 0).shape[1:], tf.float32)
        spec = [params_spec, params_spec, params_spec, tf.TensorSpec((), tf.float32),
                tf.TensorSpec((None,) + self._weights_shape(layer), tf.float32), tf.TensorSpec((len(_KNOBS),), tf.float32),
                tf.TensorSpec((2,), tf.int32)]
        b1, b2, eps = _ADAM

        def value(pixels01, weights):
            t = to_scores(sub(self.to_model(pixels01), training=False))
            return tf.reduce_sum(tf.reshape(t * weights, [tf.shape(t)[0], -1]), axis=1)

        @tf.function(input_signature=spec)
        def step(params, m, v, t, weights, knobs, seed):
            with tf.GradientTape() as tape:
                tape.watch(params)
                p = self.render(params, parametrization, knobs[4])
                values = value(self.transform(p, knobs, seed), weights)
                # penalties in proportion to the value: the same weights suit any model's scale
                penalty = tf.stop_gradient(tf.abs(values)) * (knobs[5] * _l2(p) + knobs[6] * _tv(p))
                loss = -tf.reduce_sum(values - penalty)
            g = tape.gradient(loss, params)
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * g * g
            lr = knobs[0] * tf.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
            return params - lr * m / (tf.sqrt(v) + eps), m, v, values

        @tf.function(input_signature=[params_spec, spec[4], tf.TensorSpec((), tf.float32)])
        def look(params, weights, blur):
            p = self.render(params, parametrization, blur)
            return self.to_model(p), value(p, weights)

        self._steps[key] = (step, look)
        return step, look

    def run(self, goal: Goal, settings: MaximizeSettings | None = None,
            progress: Callable[[Progress], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Maximized:
        """Maximise ``goal`` (one picture per channel, in one batch); ``progress`` after every step
        (with pictures every ``settings.preview_every`` steps), ``should_stop()`` checked between steps."""
        s = settings or MaximizeSettings.default()
        weights = tf.constant(self.weights(goal))
        step, look = self._step_fn(goal.layer, s.parametrization)
        params = tf.constant(self.initial(len(goal.channels), s.parametrization, s.seed))
        m = v = tf.zeros_like(params)
        knobs = tf.constant([float(getattr(s, k)) for k in _KNOBS], tf.float32)
        blur = knobs[4]
        start = np.asarray(look(params, weights, blur)[1])
        done, cancelled = 0, False
        for i in range(s.steps):
            if should_stop is not None and should_stop():
                cancelled = True
                break
            params, m, v, _ = step(params, m, v, tf.constant(i + 1, tf.float32), weights, knobs,
                                   tf.constant([s.seed % 2**31, i], tf.int32))
            done = i + 1
            if progress is not None:
                if done % s.preview_every == 0 and done < s.steps:
                    x, values = look(params, weights, blur)
                    progress(Progress(done, s.steps, self.pictures(np.asarray(x)), np.asarray(values)))
                else:
                    progress(Progress(done, s.steps, None, None))
        x, values = (np.asarray(a) for a in look(params, weights, blur))
        return Maximized(goal, self.pictures(x), x, values, start, done, cancelled)

    def pictures(self, x: np.ndarray) -> np.ndarray:
        """Model inputs (N, H, W, C) -> uint8 RGB pictures as displayed (the preprocessing undone, clipped)."""
        return np.stack([display_image(xi, self.preprocessing) for xi in x])

    def value(self, goal: Goal, x: np.ndarray) -> np.ndarray:
        """The goal's value (N,) on model inputs ``x`` (N, H, W, C), e.g. a picture read back from its PNG."""
        tensor, to_scores = self._target(goal.layer)
        t = to_scores(keras.Model(self.prober.model.inputs[0], tensor)(tf.constant(x, tf.float32), training=False))
        return np.asarray(tf.reduce_sum(tf.reshape(t * self.weights(goal), [len(x), -1]), axis=1))


def _l2(p: tf.Tensor) -> tf.Tensor:
    """Each picture's mean squared distance from grey, (N,)."""
    return tf.reduce_mean(tf.square(p - 0.5), axis=[1, 2, 3])


def _tv(p: tf.Tensor) -> tf.Tensor:
    """Each picture's mean absolute difference between neighbouring pixels, (N,)."""
    dy = tf.reduce_mean(tf.abs(p[:, 1:] - p[:, :-1]), axis=[1, 2, 3])
    dx = tf.reduce_mean(tf.abs(p[:, :, 1:] - p[:, :, :-1]), axis=[1, 2, 3])
    return dx + dy


def _blur(x: tf.Tensor, sigma: tf.Tensor, r: int) -> tf.Tensor:
    """A separable Gaussian blur of (N, H, W, C) with ``sigma`` px (0: none) over ``r`` pixels
    either way, edges reflected."""
    d = tf.range(-r, r + 1, dtype=tf.float32)
    k = tf.exp(-d * d / (2.0 * tf.maximum(sigma, 1e-3) ** 2))
    k = k / tf.reduce_sum(k)
    c = tf.shape(x)[-1]
    x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="SYMMETRIC")
    kh = tf.tile(tf.reshape(k, [2 * r + 1, 1, 1, 1]), [1, 1, c, 1])
    kw = tf.tile(tf.reshape(k, [1, 2 * r + 1, 1, 1]), [1, 1, c, 1])
    x = tf.nn.depthwise_conv2d(x, kh, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(x, kw, [1, 1, 1, 1], "VALID")
