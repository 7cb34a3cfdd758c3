"""Deploy formats: file size and latency per sample in each runtime, against the Keras direct call.

For each model, in one run: the Keras model's compiled direct call (``model(x, training=False)``
in a ``tf.function``, batch of one) and each export (SavedModel in TensorFlow, TFLite float32 and
int8 in the LiteRT interpreter, ONNX in ONNX Runtime), each called on one sample at a time
(median over ``--seconds`` of calls), plus the file size, the conversion time, the largest
difference from Keras and the top-1 agreement (the export's own check, :mod:`cnnstudio.ml.model.deploy_check`).

Models: ``default``, the default project's shipped trained CNN (32x32 grey, 6 shapes), checked on
its validation images and int8-calibrated on its training images; ``mobilenetv2``,
``keras.applications.MobileNetV2`` at 128x128x3 with random weights (no download; logits out; batch
norms set to the pictures' statistics, so values stay in a trained network's range), on random
pictures. Its int8 row fails the check, rightly: an untrained network's ten logits lie closer
together than int8's step, so its top-1 is near chance; size and latency are the figures there.

    .venv/bin/python benchmarks/bench_export.py [--models default,mobilenetv2] [--seconds S]

Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import describe, print_machine  # noqa: E402


def default_model():
    """(Keras model, Samples) of the default project's shipped run."""
    from cnnstudio import RESOURCES
    from cnnstudio.core.project import load_project
    from cnnstudio.ml.model.deploy_data import project_samples
    from cnnstudio.ml.model.weights import build_project

    project = load_project(RESOURCES / "projects" / "default.cnnproj")
    return build_project(project).model, project_samples(project.data, project.preprocessing)


def mobilenet_model():
    """(MobileNetV2 128x128x3, random weights with batch statistics set on the pictures; random
    pictures that also calibrate int8)."""
    import keras
    import numpy as np

    from cnnstudio.ml.model.deploy_data import Samples

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(128, 128, 3), weights=None, classes=10,
                                           classifier_activation=None)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 128, 128, 3)).astype(np.float32)
    normalise_batch_norms(model, x[:16])
    return model, Samples(x, x, "64 random pictures")


def normalise_batch_norms(model, x) -> None:
    """Give each BatchNormalization its input's mean and variance on ``x`` as moving statistics,
    in order. With fresh statistics (mean 0, variance 1) and random weights, MobileNetV2's
    activations shrink layer by layer to logits of 1e-11, where every runtime agrees exactly
    and int8 has nothing to quantize; normalised, they stay near 1 as in a trained network."""
    import keras
    import numpy as np

    for layer in [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]:
        a = np.asarray(keras.Model(model.inputs, layer.input)(x))
        layer.moving_mean.assign(a.mean(axis=(0, 1, 2)))
        layer.moving_variance.assign(a.var(axis=(0, 1, 2)))


MODELS = {"default": default_model, "mobilenetv2": mobilenet_model}


def bench(name: str, seconds: float, folder: Path) -> list[dict]:
    """Convert ``name`` to every format, then check and time them all in one go; one dict per format."""
    import tensorflow as tf

    from cnnstudio.ml.model.deploy import convert
    from cnnstudio.ml.model.deploy_check import table, verify
    from cnnstudio.ml.model.deploy_formats import FORMATS

    model, samples = MODELS[name]()
    signature = tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name=model.inputs[0].name)
    artefacts, convert_s = {}, {}
    for fmt in FORMATS.values():
        path = folder / f"{name}_{fmt.name}{fmt.suffix}"
        t0 = time.perf_counter()
        convert(fmt, model, path, signature, samples.calibration)
        convert_s[fmt.name] = time.perf_counter() - t0
        artefacts[fmt] = path
    rows = verify(model, artefacts, samples.check, seconds=seconds)
    print(f"\n{name} ({model.count_params():,} parameters; {samples.source}):")
    print(table(rows))
    out = []
    for row in rows:
        out.append({"model": name, "format": row.format, "size_bytes": row.size_bytes,
                    "latency_ms": round(row.latency_ms, 4), "keras_ms": round(row.keras_ms, 4),
                    "vs_keras": round(row.latency_ms / row.keras_ms, 3), "max_diff": row.max_diff,
                    "agreement": row.agreement, "passed": row.passed, "convert_s": round(convert_s[row.format], 2),
                    "runtime": row.runtime})
    return out


def main() -> int:
    """Benchmark the chosen models; JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,mobilenetv2", help="comma-separated: default, mobilenetv2")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per runtime and model (default 1 s)")
    args = parser.parse_args()
    info = describe()
    print_machine(info)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for name in args.models.split(","):
            figures += bench(name.strip(), args.seconds, Path(tmp))
    print(json.dumps({"rows": figures, **info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
