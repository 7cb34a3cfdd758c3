"""What in a model file made Keras refuse it, in the catalog's words.

Keras says a model "could not be deserialized" and quotes the whole config; a person needs the
layer and the value. Asked only after Keras failed, so it never refuses a file Keras reads.
"""

from __future__ import annotations

from typing import Any

import keras

from cnnstudio.core.catalog import spec
from cnnstudio.core.params import ParamError


def catalog_culprit(config: Any) -> str | None:
    """After Keras refused ``config``: its first layer of a catalog kind that Keras cannot build
    alone either, with the catalog's word on its value, named by field (Keras only says the
    model "could not be deserialized").

    A layer Keras builds is never blamed: a valid file may hold values the catalog cannot
    express (a BatchNormalization ``axis`` list), which the importer keeps as generic layers.
    """
    layers = config.get("config") if isinstance(config, dict) else None
    layers = layers.get("layers") if isinstance(layers, dict) else layers
    for i, layer in enumerate(layers if isinstance(layers, list) else []):
        sp = spec(layer.get("class_name")) if isinstance(layer, dict) and isinstance(layer.get("class_name"), str) else None
        cfg = layer.get("config") if sp else None
        if isinstance(cfg, dict) and not _builds(layer):
            names = set(sp.params.names())
            try:
                sp.coerce({k: v for k, v in cfg.items() if k in names})
            except ParamError as exc:
                return f"config.layers[{i}] ({cfg.get('name', '?')}).config: {exc}"
    return None


def _builds(layer: dict) -> bool:
    """Keras can make this one layer from its config (code in it never runs: safe mode)."""
    try:
        keras.saving.deserialize_keras_object(layer, safe_mode=True)
    except Exception:  # noqa: BLE001 (whatever Keras raises means "it cannot")
        return False
    return True
