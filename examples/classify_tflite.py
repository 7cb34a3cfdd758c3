"""Classify a picture with an exported TFLite model, exactly as the studio does, without TensorFlow.

    cnnstudio export resources/projects/default.cnnproj --format tflite-int8 -o shapes.tflite
    python examples/classify_tflite.py shapes.tflite picture.png [--top 3]

The metadata written beside the model (``shapes.tflite.metadata.json``) says how a picture
becomes the model's input: its preprocessing (size, grey or RGB, scaling, fit) goes through
cnnstudio's own :func:`~cnnstudio.ml.data.preprocess.preprocess`, the function training, the probe and
the live view use, so the model sees what it saw in the studio. An int8 model takes integers:
the input is quantized with the scale and zero point in the metadata (``x / scale + zero_point``)
and the output dequantized back to probabilities. Only the LiteRT interpreter
(``pip install ai-edge-litert``), OpenCV and NumPy are needed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cnnstudio.core.settings import Preprocessing
from cnnstudio.ml.model.deploy_check import dequantize, quantize
from cnnstudio.ml.data.preprocess import preprocess
from cnnstudio.ml.data.sources import read_image


def classify(model_path: str | Path, picture: np.ndarray) -> list[tuple[str, float]]:
    """``(class, probability)`` for every class, most likely first, for a uint8 RGB or grey picture."""
    from ai_edge_litert.interpreter import Interpreter

    model_path = Path(model_path)
    meta = json.loads(model_path.with_name(model_path.name + ".metadata.json").read_text(encoding="utf-8"))
    settings, _unknown = Preprocessing.from_dict(meta["preprocessing"])
    x = preprocess(picture, settings)[None]  # one picture: a batch of one
    interpreter = Interpreter(model_path=str(model_path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    q_in, q_out = meta["input"].get("quantization"), meta["output"].get("quantization")
    interpreter.set_tensor(inp["index"], quantize(x, meta["input"]["dtype"], _pair(q_in)))
    interpreter.invoke()
    probabilities = dequantize(interpreter.get_tensor(out["index"]), _pair(q_out))[0]
    order = np.argsort(-probabilities)
    return [(meta["classes"][i], float(probabilities[i])) for i in order]


def _pair(quantization: dict | None) -> tuple[float, int]:
    """The metadata's quantization as (scale, zero point); (0, 0) for a float tensor."""
    return (quantization["scale"], quantization["zero_point"]) if quantization else (0.0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an exported .tflite file (its .metadata.json beside it)")
    parser.add_argument("picture", help="an image file")
    parser.add_argument("--top", type=int, default=3, help="how many classes to print")
    args = parser.parse_args()
    picture = read_image(args.picture)  # uint8 RGB (or grey), as the studio reads files
    if picture is None:
        raise SystemExit(f"{args.picture}: not an image this can read")
    for name, p in classify(args.model, picture)[:args.top]:
        print(f"{p:7.2%}  {name}")


if __name__ == "__main__":
    main()
