"""``.h5`` model files written by Keras 2 / tf.keras 2.x, as Keras 3's legacy loader needs them.

Keras 3 reads most of a Keras 2 file itself (``keras.src.legacy.saving``): ``Functional`` and
``Model`` configs with ``[[["layer", 0, 0, {}]]]`` inbound nodes, ``InputLayer`` with
``batch_input_shape``, initializers and regularizers by their old names (``glorot_uniform``,
``l2``, ``L1L2``), weights under ``model_weights/<layer>/<layer>/kernel:0``. Two shapes of
config it cannot read, and :func:`keras3_readable` rewrites:

* a Sequential model whose first layer carries ``batch_input_shape`` (Keras 2 wrote no
  ``InputLayer`` then): Keras 3 passes the shape *with* its batch dimension as ``input_shape``
  and the first layer fails to build. The shape becomes an ``InputLayer``, as tf.keras wrote it later;
* a Sequential config that is a bare list of layers (Keras 2.2 and older).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def keras3_readable(config: dict) -> dict:
    """``config`` (a file's ``model_config``) rewritten where Keras 3 cannot read it (a copy), or ``config`` itself."""
    fixed = copy.deepcopy(config)
    _fix(fixed)
    return config if fixed == config else fixed


def _fix(entry: Any) -> None:
    """Rewrite every Sequential config inside ``entry`` in place (nested models included)."""
    if isinstance(entry, list):
        for x in entry:
            _fix(x)
        return
    if not isinstance(entry, dict):
        return
    if entry.get("class_name") == "Sequential":
        if isinstance(entry.get("config"), list):
            entry["config"] = {"name": "sequential", "layers": entry["config"]}
        layers = entry.get("config", {}).get("layers", [])
        first = layers[0] if layers else {}
        shape = first.get("config", {}).get("batch_input_shape") if first.get("class_name") != "InputLayer" else None
        if shape is not None:
            layers.insert(0, {"class_name": "InputLayer", "config": {
                "batch_input_shape": shape, "dtype": first["config"].get("dtype", "float32"),
                "name": f"{first['config'].get('name', 'layer')}_input"}})
        for layer in layers:
            if layer.get("class_name") != "InputLayer":
                layer.get("config", {}).pop("batch_input_shape", None)  # Keras 3 would make it input_shape, batch and all
    for value in entry.values():
        _fix(value)


@contextmanager
def readable_copy(path: Path) -> Iterator[Path]:
    """``path`` itself when Keras 3 reads its ``model_config``, else a temporary copy with the
    config rewritten (weights untouched), removed afterwards."""
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
    config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    fixed = keras3_readable(config)
    if fixed is config:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cnnstudio-h5-") as tmp:
        copy_path = Path(tmp) / path.name
        shutil.copyfile(path, copy_path)
        with h5py.File(copy_path, "r+") as f:
            f.attrs["model_config"] = json.dumps(fixed)
        yield copy_path


__all__ = ["keras3_readable", "readable_copy"]
