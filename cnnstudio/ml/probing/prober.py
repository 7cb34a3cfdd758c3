"""Looking inside a Keras model: activations, filters, receptive fields, predictions.

A :class:`Prober` is built once per model. For the layers asked about it makes ONE
multi-output sub-model (the prediction plus those layers' outputs) and calls it directly
inside a ``tf.function`` (never ``model.predict``); sub-models and their traced functions are
cached, so asking again for the same layers costs one graph call. Gradient primitives
(a target's gradient w.r.t. the input or a layer, one unit's gradient w.r.t. the input)
are traced once the same way; :mod:`cnnstudio.ml.probing.attribution` turns them into saliency,
SmoothGrad, Grad-CAM and occlusion maps.

A Prober reads ONE of the model's outputs (:attr:`Prober.output`, chosen with
:meth:`Prober.choose_output`): a classifier's classes, a segmentation's per-pixel map, an
autoencoder's picture or a regression's values (:mod:`cnnstudio.ml.probing.outputs`). Attributions
explain a :class:`~cnnstudio.ml.probing.outputs.Target` of that output; where none is defined (a
layer that does not lead to it) they raise :class:`~cnnstudio.ml.probing.outputs.AttributionUndefined`.

Theoretical receptive fields come from core inference over the model's graph
(:class:`cnnstudio.core.inference.ReceptiveField`), so the probe draws exactly what the
editor reports. Inputs are preprocessed model inputs, (H, W, C) or (N, H, W, C) float32
(see :func:`cnnstudio.ml.data.preprocess.preprocess`). A Prober is not thread-safe: use it from
one worker at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from cnnstudio.core.graph import LayerGraph, safe_name
from cnnstudio.core.inference import ReceptiveField, group_info, infer

from cnnstudio.ml.probing.unit_fields import UnitField
from cnnstudio.ml.probing.filters import CONV_KINDS
from cnnstudio.ml.probing.outputs import AttributionUndefined, ProbedOutput, Target, as_target, read_output, resolve, target_weights


@dataclass(frozen=True)
class Prediction:
    """One class of a top-k list."""

    index: int
    label: str
    probability: float


@dataclass
class ProbeResult:
    """The outputs of one probe of one image."""

    output: np.ndarray  # the probed output for the image: (classes,) for a classifier, (H, W, K) for a map...
    activations: dict[str, np.ndarray]  # layer name -> its output for the image, batch axis dropped

    def top_k(self, k: int = 5, labels: Sequence[str] = ()) -> list[Prediction]:
        """The ``k`` most probable classes, most probable first."""
        return top_k(self.output, k, labels)


def top_k(probabilities: np.ndarray, k: int = 5, labels: Sequence[str] = ()) -> list[Prediction]:
    """The ``k`` largest entries of a probability vector as :class:`Prediction` s."""
    p = np.asarray(probabilities, np.float32).ravel()
    order = np.argsort(-p, kind="stable")[:max(0, k)]
    return [Prediction(int(i), labels[i] if i < len(labels) else str(int(i)), float(p[i])) for i in order]


def graph_tensors(model: keras.Model, ends: Sequence[keras.KerasTensor] = ()) -> dict[str, keras.KerasTensor]:
    """Layer name -> its output tensor in ``model``'s own graph, found by walking back from the
    outputs (or from the tensors ``ends``: then only the layers those depend on).

    ``layer.output`` is the layer's FIRST call, which need not be the model's: a Sequential
    model re-calls its layers each time it rebuilds (loading a ``.keras`` file does), and
    a sub-model mixing two calls would compute disconnected paths with no gradient between.
    """
    found: dict[str, keras.KerasTensor] = {}
    stack = list(ends or model.outputs)
    while stack:
        tensor = stack.pop()
        op, node_index, _ = tensor._keras_history
        if op.name in found:
            continue
        found[op.name] = tensor
        stack.extend(op._inbound_nodes[node_index].input_tensors)
    return found


def with_input_size(model: keras.Model, size: Sequence[int]) -> keras.Model:
    """``model`` with the height and width its input leaves open (``None``, as in a fully
    convolutional U-Net) set to ``size``: rebuilt from its config with the same layer names and
    weights, so every layer has a fixed shape to probe. A model of fixed size is returned as it is.
    """
    shape = tuple(model.inputs[0].shape)
    if None not in shape[1:3]:
        return model
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            b = list(layer["config"]["batch_shape"])
            hw = [int(s) if d is None else d for d, s in zip(b[1:3], size)]
            layer["config"]["batch_shape"] = [b[0], *hw, *b[3:]]
    try:
        fixed = type(model).from_config(config)
    except Exception as exc:  # a layer Keras cannot rebuild from its config alone
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{model.name} takes images of any size and cannot be rebuilt at {size[0]}x{size[1]}: "
                         f"{why}") from None
    fixed.set_weights(model.get_weights())
    return fixed


class Prober:
    """Probes one Keras model: one multi-output sub-model per set of layers, called in a ``tf.function``.

    ``graph`` (the studio project's graph) supplies the theoretical receptive fields; without
    one the model is read into a graph (:func:`cnnstudio.ml.model.keras_io.graph_from_model`) the
    first time a field is asked for. ``output`` is the index of the output probed; ``size``
    (height, width) fixes an input size the model leaves open (see :func:`with_input_size`).
    """

    def __init__(self, model: keras.Model, graph: LayerGraph | None = None,
                 class_names: Sequence[str] = (), output: int = 0, size: Sequence[int] | None = None) -> None:
        if len(model.inputs) != 1:
            raise ValueError(f"{model.name} has {len(model.inputs)} inputs; probing needs exactly one image input")
        if size is not None:
            model = with_input_size(model, size)
        self.model = model
        self.class_names = list(class_names)
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in model.inputs[0].shape[1:])
        self._spec = tf.TensorSpec((None,) + self.input_shape, tf.float32)
        self._tensors = graph_tensors(model)
        self._graph = graph
        self._fields: dict[str, ReceptiveField | None] | None = None  # computed on first use
        self._field_notes: dict[str, str] = {}
        self._forward: dict[tuple, tf.types.experimental.ConcreteFunction] = {}  # (layers, jit) -> call
        self.jit = False  # forward calls XLA-compiled (see tune_forward)
        self._grads: dict[tuple, tf.types.experimental.PolymorphicFunction] = {}
        self.outputs: list[ProbedOutput] = [read_output(model, i) for i in range(len(model.outputs))]
        self._guided: Prober | None = None  # the model with guided ReLUs (see guided), made on first use
        self.choose_output(output)

    def choose_output(self, index: int) -> ProbedOutput:
        """Probe output ``index`` from now on (predictions, targets, Grad-CAM's default layer)."""
        if not 0 <= index < len(self.outputs):
            raise ValueError(f"{self.model.name} has {len(self.outputs)} output(s): no output {index}")
        self.output = self.outputs[index]
        self._forward.clear()
        self._grads.clear()
        self._score_source, self._to_scores = self._scores()
        # the layers the scores depend on: elsewhere a gradient of them has no path to follow
        self._on_path = set(graph_tensors(self.model, [self._score_source]))
        return self.output

    # -- what can be probed ---------------------------------------------------------
    def _rank(self, name: str) -> int:
        tensor = self._tensors.get(name)
        return len(tensor.shape) if tensor is not None else 0

    @property
    def layer_names(self) -> list[str]:
        """Layers with spatial outputs (1-D or 2-D maps), in model order: those a mosaic can show."""
        return [l.name for l in self.model.layers
                if not isinstance(l, keras.layers.InputLayer) and self._rank(l.name) in (3, 4)]

    @property
    def conv_layer_names(self) -> list[str]:
        """Layers with 2-D convolution kernels, in model order."""
        return [l.name for l in self.model.layers if type(l).__name__ in CONV_KINDS and l.name in self._tensors]

    @property
    def last_conv_layer(self) -> str | None:
        """Grad-CAM's default target: the last 2-D map at the last convolution's resolution
        on the way to the probed output (the output layer itself excluded: its maps are the output).

        That is the last conv layer's activated output (e.g. ``conv5_block3_out`` in
        ResNet50, after its batch norm, add and ReLU), not a pooling that halves it.
        """
        def candidate(name):
            return name in self._on_path and name != self.output.name
        convs = [n for n in self.conv_layer_names if candidate(n)]
        if not convs:
            return None
        names = [l.name for l in self.model.layers]
        size = self.layer_shape(convs[-1])[:2]
        same = [n for n in names[names.index(convs[-1]):]
                if candidate(n) and self._rank(n) == 4 and self.layer_shape(n)[:2] == size]
        return same[-1]

    def layer_shape(self, name: str) -> tuple[int, ...]:
        """Output shape of layer ``name`` without the batch axis."""
        return tuple(self._tensors[name].shape[1:])

    def layer_tensor(self, name: str) -> keras.KerasTensor:
        """The symbolic output of layer ``name`` in the model's graph; raises ``ValueError`` if unknown."""
        if name not in self._tensors:
            raise ValueError(f"{self.model.name} has no layer {name!r} on its path from input to output")
        return self._tensors[name]

    # -- forward --------------------------------------------------------------------
    def batch(self, x: np.ndarray) -> np.ndarray:
        """(H, W, C) or (N, H, W, C) -> float32 (N, H, W, C); raises ``ValueError`` if it does not fit."""
        x = np.asarray(x, np.float32)
        if x.ndim == len(self.input_shape):
            x = x[None]
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"the image is {'x'.join(map(str, x.shape[1:]))} but {self.model.name} "
                             f"takes {'x'.join(map(str, self.input_shape))}")
        return x

    def _forward_fn(self, layers: tuple[str, ...]):
        """The traced call of the sub-model for ``layers``, as a concrete function (no per-call
        signature matching), XLA-compiled when :attr:`jit` is on."""
        key = (layers, self.jit)
        fn = self._forward.get(key)
        if fn is None:
            outs = [self.model.outputs[self.output.index]] + [self.layer_tensor(n) for n in layers]
            sub = keras.Model(self.model.inputs[0], outs, name=f"{safe_name(self.model.name, 'model')}_probe")
            fn = tf.function(lambda x: sub(x, training=False), input_signature=[self._spec],
                             jit_compile=True if self.jit else None).get_concrete_function()
            self._forward[key] = fn
        return fn

    def tune_forward(self, x: np.ndarray, layers: Sequence[str] = (), small_ms: float = 5.0) -> bool:
        """Compile the forward call with XLA if that makes it faster; True when it does.

        XLA fuses the whole model into one compiled program. That pays where TensorFlow's
        per-operation dispatch is most of the time, small models (LeNet's call goes from about
        0.6 to 0.3 ms on two CPU cores), and loses on large ones (MobileNetV2's depthwise
        convolutions are several times slower under XLA on a CPU), so only a model whose plain
        call takes under ``small_ms`` is tried, and XLA is kept only when it is clearly faster.
        A model XLA cannot compile stays as it is.
        """
        layers = tuple(layers)
        self.jit = False
        plain = _call_ms(lambda: self.run(x, layers))
        if plain >= small_ms:
            return False
        self.jit = True
        try:
            compiled = _call_ms(lambda: self.run(x, layers))
        except Exception:  # an operation XLA has no kernel for
            compiled = float("inf")
        if compiled > 0.8 * plain:
            self.jit = False
            self._forward.pop((layers, True), None)
        return self.jit

    def run_batch(self, x: np.ndarray, layers: Sequence[str] = ()) -> list[np.ndarray]:
        """[the probed output (N, ...), then each layer's output (N, ...)] for a batch."""
        outs = self._forward_fn(tuple(layers))(tf.constant(self.batch(x)))
        if not isinstance(outs, (list, tuple)):  # Keras unwraps a one-output list
            outs = [outs]
        return [np.asarray(o) for o in outs]

    def run(self, x: np.ndarray, layers: Sequence[str] = ()) -> ProbeResult:
        """The probed output for one image and ``layers``' activations for it, from one sub-model call."""
        outs = self.run_batch(x, layers)
        return ProbeResult(outs[0][0], {n: o[0] for n, o in zip(layers, outs[1:])})

    def activations(self, x: np.ndarray, layer: str) -> np.ndarray:
        """Layer ``layer``'s output for one image, without the batch axis."""
        return self.run(x, (layer,)).activations[layer]

    def predict(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """The probed output (N, ...) for a batch (a classifier's class probabilities), ``batch_size``
        images per call."""
        x = self.batch(x)
        return np.concatenate([self.run_batch(x[i:i + batch_size])[0] for i in range(0, len(x), batch_size)])

    def top_k(self, x: np.ndarray, k: int = 5) -> list[Prediction]:
        """The ``k`` most probable classes for one image."""
        return top_k(self.run(x).output, k, self.class_names)

    def channel_peaks(self, x: np.ndarray, layer: str, channel: int, per_image: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``per_image`` largest activations of map ``channel`` of 2-D ``layer`` in each image of a batch,
        largest first, and where they are: values (N, per_image) and flat unit indices row * width + col.

        Only the sub-model up to ``layer`` runs, and the maximum is taken in the graph, so a scan
        over a dataset moves one number per image back, not the layer's maps."""
        if self._rank(layer) != 4:
            raise ValueError(f"{layer} has no 2-D maps (its output is {'x'.join(map(str, self.layer_shape(layer)))})")
        channels = self.layer_shape(layer)[-1]
        if not 0 <= channel < channels:
            raise ValueError(f"{layer} has {channels} maps: no map {channel}")
        h, w = self.layer_shape(layer)[:2]
        per_image = max(1, min(int(per_image), h * w))

        def build():
            sub = keras.Model(self.model.inputs[0], self.layer_tensor(layer))

            @tf.function(input_signature=[self._spec, tf.TensorSpec((), tf.int32)])
            def peaks(xb, ch):
                maps = sub(xb, training=False)[..., ch]
                return tf.math.top_k(tf.reshape(maps, (tf.shape(maps)[0], h * w)), per_image)
            return peaks
        values, where = self._grad_fn(("peaks", layer, per_image), build)(self.batch(x), tf.constant(int(channel)))
        return np.asarray(values), np.asarray(where)

    def guided(self) -> "Prober":
        """This model with guided ReLUs (:func:`cnnstudio.ml.probing.guided.guided_clone`), probed through
        the same output; made once. Raises ``AttributionUndefined`` for a model with no ReLU."""
        if self._guided is None:
            from cnnstudio.ml.probing.guided import guided_clone

            self._guided = Prober(guided_clone(self.model), self._graph, self.class_names, self.output.index)
        elif self._guided.output.index != self.output.index:
            self._guided.choose_output(self.output.index)
        return self._guided

    # -- targets and gradients ------------------------------------------------------
    def _scores(self):
        """The tensor the probed output's scores are computed from, and how.

        Gradients of softmax probabilities vanish once the network is sure (Simonyan et al.
        2014), so where the output layer is a softmax Dense or a softmax activation the
        scores are its pre-softmax logits (per pixel too); otherwise the output itself.
        """
        out = self.model.outputs[self.output.index]
        layer, node_index, _ = out._keras_history
        source = layer._inbound_nodes[node_index].input_tensors[0]  # the input of the model's call
        act = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.Softmax) or (isinstance(layer, keras.layers.Activation) and act is keras.activations.softmax):
            return source, lambda t: t
        if isinstance(layer, keras.layers.Dense) and act is keras.activations.softmax:
            def logits(t, layer=layer):
                z = keras.ops.matmul(t, layer.kernel)
                return z + layer.bias if layer.use_bias else z
            return source, logits
        return out, lambda t: t

    def score_parts(self) -> tuple:
        """(the tensor the probed output's scores are computed from, the function making them of it):
        the pre-softmax logits where the output is a softmax (see :meth:`_scores`), else the output."""
        return self._score_source, self._to_scores

    def resolve_target(self, x: np.ndarray, target: Target | int | None = None) -> Target:
        """``target`` for one image, its class filled in where the output needs one (see
        :func:`cnnstudio.ml.probing.outputs.resolve`): by default a classifier's predicted class, a
        map's most common class, the mean of an image or of values. The model runs only
        when a class must be found (Live asks for a given class every frame)."""
        t = as_target(target)
        needed = t.index is None and self.output.kind in ("classes", "map")
        return resolve(self.output, self.run(x).output if needed else None, t)

    def _grad_fn(self, key: tuple, build):
        fn = self._grads.get(key)
        if fn is None:
            fn = self._grads[key] = build()
        return fn

    def _weights(self, target: Target | int) -> tf.Tensor:
        return tf.constant(target_weights(self.output, as_target(target)))

    def _undefined(self, what: str) -> AttributionUndefined:
        return AttributionUndefined(f"no gradient flows from output {self.output.name} back to {what}")

    def scores(self, x: np.ndarray, target: Target | int) -> np.ndarray:
        """The score :meth:`input_gradients` differentiates (a class's logit...), per image of a batch: (N,)."""
        def build():
            sub = keras.Model(self.model.inputs[0], self._score_source)

            @tf.function(input_signature=[self._spec, tf.TensorSpec(self.output.shape, tf.float32)])
            def scores(xb, w):
                s = self._to_scores(sub(xb, training=False)) * w
                return tf.reduce_sum(tf.reshape(s, (tf.shape(s)[0], -1)), axis=1)
            return scores
        return np.asarray(self._grad_fn(("scores",), build)(self.batch(x), self._weights(target)))

    def input_gradients(self, x: np.ndarray, target: Target | int) -> np.ndarray:
        """d score / d input for a batch: (N, H, W, C). ``target`` is taken as it is (an int: a
        class, a map's class over all pixels, a unit; see :meth:`resolve_target` for defaults)."""
        def build():
            sub = keras.Model(self.model.inputs[0], self._score_source)

            @tf.function(input_signature=[self._spec, tf.TensorSpec(self.output.shape, tf.float32)])
            def grads(xb, w):
                with tf.GradientTape() as tape:
                    tape.watch(xb)
                    score = tf.reduce_sum(self._to_scores(sub(xb, training=False)) * w)
                return tape.gradient(score, xb)
            return grads
        g = self._grad_fn(("input",), build)(self.batch(x), self._weights(target))
        if g is None:  # e.g. an argmax or a cast on the way: nothing flows back
            raise self._undefined("the input")
        return np.asarray(g)

    def layer_gradients(self, x: np.ndarray, layer: str, target: Target | int) -> tuple[np.ndarray, np.ndarray]:
        """One image's activations of ``layer`` and d score / d those activations.

        Raises :class:`AttributionUndefined` when the score does not depend on ``layer``
        (another output's branch, or the output layer past the logits).
        """
        if layer not in self._on_path:
            raise self._undefined(layer)

        def build():
            sub = keras.Model(self.model.inputs[0], [self.layer_tensor(layer), self._score_source])

            @tf.function(input_signature=[self._spec, tf.TensorSpec(self.output.shape, tf.float32)])
            def grads(xb, w):
                with tf.GradientTape() as tape:
                    acts, source = sub(xb, training=False)
                    score = tf.reduce_sum(self._to_scores(source) * w)
                return acts, tape.gradient(score, acts)
            return grads
        acts, g = self._grad_fn(("layer", layer), build)(self.batch(x), self._weights(target))
        if g is None:
            raise self._undefined(layer)
        return np.asarray(acts)[0], np.asarray(g)[0]

    def unit_gradient(self, x: np.ndarray, layer: str, unit: tuple[int, int], channel: int | None = None) -> np.ndarray:
        """d activation[unit, channel] / d input for one image: (H, W, C).

        ``channel=None`` sums the unit over all channels of the layer.
        """
        def build():
            sub = keras.Model(self.model.inputs[0], self.layer_tensor(layer))
            ints = tf.TensorSpec((), tf.int32)

            @tf.function(input_signature=[self._spec, ints, ints, ints])
            def grads(xb, row, col, ch):
                with tf.GradientTape() as tape:
                    tape.watch(xb)
                    acts = sub(xb, training=False)[0, row, col]
                    value = tf.reduce_sum(acts) if ch < 0 else acts[ch]
                return tape.gradient(value, xb)
            return grads
        row, col = unit
        g = self._grad_fn(("unit", layer), build)(self.batch(x), tf.constant(int(row)), tf.constant(int(col)),
                                                  tf.constant(-1 if channel is None else int(channel)))
        return np.asarray(g)[0]

    # -- receptive fields -------------------------------------------------------------
    def _receptive_fields(self) -> dict[str, ReceptiveField | None]:
        """Layer name -> receptive field, from core inference over the graph (imported if not given)."""
        if self._fields is not None:
            return self._fields
        graph = self._graph
        if graph is None:
            from cnnstudio.ml.model.keras_io import ModelImportError, graph_from_model
            try:
                graph = graph_from_model(self.model)
            except ModelImportError as exc:
                self._fields, self._field_notes = {}, {"": f"no receptive fields: {exc}"}
                return self._fields
        info = infer(graph)
        self._fields = {graph.nodes[nid].name: i.receptive_field for nid, i in info.items()}
        self._field_notes = {graph.nodes[nid].name: i.rf_note or i.error or "" for nid, i in info.items()}
        for name in graph.groups:  # a nested model is one layer of the model: its output's field
            group = group_info(graph, info, name)
            self._fields.setdefault(name, group.receptive_field)
            self._field_notes.setdefault(name, group.rf_note or group.error or "")
        return self._fields

    def field_note(self, layer: str) -> str:
        """Why ``layer`` has no theoretical receptive field (empty if it has one)."""
        if self._receptive_fields().get(layer) is not None:
            return ""
        return self._field_notes.get(layer) or self._field_notes.get("") or f"{layer} is not in the model's graph"

    def receptive_field(self, layer: str) -> ReceptiveField | None:
        """The theoretical receptive field of ``layer``'s units, from core inference."""
        return self._receptive_fields().get(layer)

    def unit_field(self, layer: str, unit: tuple[int, int]) -> UnitField | None:
        """Where unit ``(row, col)`` of ``layer`` looks in the input, or ``None`` (see :meth:`field_note`)."""
        rf = self.receptive_field(layer)
        if rf is None or len(rf.size) != 2:
            return None
        return UnitField.of(layer, rf, unit, self.input_shape[:2])


def _call_ms(call, warm: int = 3, seconds: float = 0.3, at_most: int = 200) -> float:
    """Milliseconds per call of ``call`` (after ``warm`` calls that trace and compile), the median
    of up to ``at_most`` calls over about ``seconds``."""
    for _ in range(warm):
        call()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < at_most and (len(times) < 3 or time.perf_counter() < end):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))
