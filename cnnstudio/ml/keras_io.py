"""Keras models <-> graphs: the shape fallback for layer kinds the catalog does not know.

(The importer for ``.keras``, ``.h5``, Keras JSON and ``keras.applications`` lives here too.)
"""

from __future__ import annotations

import keras

from cnnstudio.core.graph import Node

from .builder import make_layer


def keras_fallback(node: Node, input_shapes: list) -> tuple[tuple, int, int]:
    """Output shape and (trainable, non-trainable) parameters of a generic node, from Keras."""
    inputs = [keras.Input(shape=tuple(s)) for s in input_shapes]
    layer = make_layer(node)
    out = layer(inputs[0] if len(inputs) == 1 else inputs)
    trainable = sum(int(w.numpy().size) for w in layer.trainable_weights)
    non_trainable = sum(int(w.numpy().size) for w in layer.non_trainable_weights)
    return tuple(out.shape[1:]), trainable, non_trainable
