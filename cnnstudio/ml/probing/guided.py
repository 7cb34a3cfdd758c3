"""Guided backpropagation's model: a clone of the user's model whose ReLUs pass back only positive gradients.

Guided backpropagation (Springenberg et al. 2015) changes how a ReLU sends the gradient back:
it passes ``dy`` only where BOTH the forward input was positive (the ordinary ReLU gradient)
AND ``dy`` itself is positive. :func:`guided_relu` is that rule as a ``tf.custom_gradient``.
:func:`guided_clone` rebuilds the model with every ReLU (``ReLU`` and ``Activation('relu')``
layers, and ``activation='relu'`` inside Conv / Dense layers) forwarding through it; the forward
pass is unchanged and the weights are copied, so the user's own model is never touched.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from cnnstudio.ml.probing.outputs import AttributionUndefined


@tf.custom_gradient
def guided_relu(x):
    """ReLU whose gradient is gated by the forward input AND by the incoming gradient being positive."""
    y = tf.nn.relu(x)

    def grad(dy):
        return dy * tf.cast(x > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)
    return y, grad


def _is_relu(fn) -> bool:
    return fn is keras.activations.relu or getattr(fn, "__name__", "") == "relu"


def _plain_relu_layer(layer) -> bool:
    """A ``ReLU`` layer that is exactly max(x, 0) (no cap, slope or threshold)."""
    c = layer.get_config()
    return c.get("max_value") is None and not c.get("negative_slope") and not c.get("threshold")


def _guided_layer(layer):
    """A fresh copy of ``layer`` (no weights yet) whose ReLU, if any, is guided; and whether it had one."""
    if isinstance(layer, keras.layers.ReLU) and _plain_relu_layer(layer):
        return keras.layers.Activation(guided_relu, name=layer.name), True
    copy = layer.__class__.from_config(layer.get_config())
    if _is_relu(getattr(layer, "activation", None)):
        copy.activation = guided_relu
        return copy, True
    return copy, False


def guided_clone(model: keras.Model) -> keras.Model:
    """``model`` rebuilt with guided ReLUs (same layer names, same weights); raises
    :class:`AttributionUndefined` for a model with no ReLU, where guided backprop is just the gradient."""
    found = []

    def clone_layer(layer):
        copy, guided = _guided_layer(layer)
        found.append(guided)
        return copy
    try:
        clone = keras.models.clone_model(model, clone_function=clone_layer)
    except Exception as exc:  # a layer that cannot be rebuilt from its config alone
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AttributionUndefined(f"{model.name} cannot be copied for guided backprop: {why}") from None
    if not any(found):
        raise AttributionUndefined(f"{model.name} has no ReLU: guided backprop changes only how ReLUs pass "
                                   "gradients back, so here it would be the plain gradient (see Saliency)")
    for layer in model.layers:
        if layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    return clone
