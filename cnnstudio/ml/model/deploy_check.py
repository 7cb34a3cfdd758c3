"""Load an exported model in its own runtime and hold its outputs against Keras's.

Each format runs where it will be deployed: a SavedModel through ``tf.saved_model.load``,
TFLite through the LiteRT interpreter (``ai-edge-litert``; TensorFlow's bundled copy where
that package is absent), ONNX through ONNX Runtime. :func:`verify` runs the same inputs
through the Keras model and every artefact and returns one :class:`CheckRow` per format:
file size, largest difference, top-1 agreement and latency per sample against the Keras
direct call. A float format passes when its largest difference is within
:data:`FLOAT_TOLERANCE` (of the output's scale); int8 when its top-1 agrees with the float
model on :data:`INT8_MIN_AGREEMENT` of the inputs (or, for a one-unit output, within
:data:`INT8_TOLERANCE` of the output's span).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cnnstudio.ml.model.deploy_formats import DeployFormat

FLOAT_TOLERANCE = 1e-4
INT8_MIN_AGREEMENT = 0.95
INT8_TOLERANCE = 0.05


class SavedModelRuntime:
    """A SavedModel's ``serve`` endpoint, loaded by TensorFlow as a server would."""

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        self._tf, self._loaded = tf, tf.saved_model.load(str(path))  # keep the object: it owns the variables
        self.name = f"TensorFlow {tf.__version__} (tf.saved_model.load)"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._loaded.serve(self._tf.constant(x)))


class LiteRuntime:
    """A TFLite flatbuffer in the LiteRT interpreter; int8 inputs and outputs are (de)quantized
    with the scale and zero point the file holds, as a phone app would."""

    def __init__(self, path: Path) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
            from importlib.metadata import version
            self.name = f"LiteRT {version('ai-edge-litert')}"
        except ImportError:  # TensorFlow's own copy of the same interpreter
            import tensorflow as tf
            Interpreter, self.name = tf.lite.Interpreter, f"TensorFlow {tf.__version__} tf.lite.Interpreter"
        self._interpreter = Interpreter(model_path=str(path))
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None

    def io(self) -> dict:
        """The input's and output's dtype, with scale and zero point where they are integers (metadata)."""
        def one(detail: dict) -> dict:
            scale, zero = detail["quantization"]
            info = {"dtype": np.dtype(detail["dtype"]).name}
            return {**info, "quantization": {"scale": float(scale), "zero_point": int(zero)}} if scale else info
        return {"input": one(self._input), "output": one(self._output)}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        it, inp = self._interpreter, self._input
        if self._batch != len(x):
            it.resize_tensor_input(inp["index"], [len(x), *inp["shape"][1:]])
            it.allocate_tensors()
            self._batch = len(x)
        it.set_tensor(inp["index"], quantize(x, inp["dtype"], inp["quantization"]))
        it.invoke()
        out = self._output
        return dequantize(it.get_tensor(out["index"]), out["quantization"])


class OnnxRuntime:
    """An ONNX file in an ONNX Runtime CPU session."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.name = f"ONNX Runtime {ort.__version__}"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: x})[0]


#: The runtime that loads each format (a test swaps one for a faulty one).
RUNTIMES: dict[str, Callable[[Path], Callable[[np.ndarray], np.ndarray]]] = {
    "savedmodel": SavedModelRuntime, "tflite": LiteRuntime, "tflite-int8": LiteRuntime, "onnx": OnnxRuntime}


def quantize(x: np.ndarray, dtype, quantization: tuple[float, int]) -> np.ndarray:
    """Float inputs as an integer tensor expects them (``x / scale + zero_point``); floats as they are."""
    dtype = np.dtype(dtype)
    scale, zero = quantization
    if dtype.kind == "f" or not scale:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def dequantize(y: np.ndarray, quantization: tuple[float, int]) -> np.ndarray:
    """An integer output back to floats (``(y - zero_point) * scale``); floats as they are."""
    scale, zero = quantization
    if y.dtype.kind == "f" or not scale:
        return y.astype(np.float32)
    return (y.astype(np.float32) - zero) * np.float32(scale)


@dataclass
class CheckRow:
    """One format's verification: what was compared, how close, how fast, and the verdict."""

    format: str
    path: str
    runtime: str
    size_bytes: int
    samples: int
    max_diff: float
    tolerance: float | None  # None for int8 classifiers: judged by agreement
    agreement: float | None  # top-1 agreement with Keras; None for a one-unit output
    latency_ms: float  # per sample (batch of 1), in its runtime
    keras_ms: float  # per sample, the Keras model's compiled direct call
    passed: bool
    problem: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (a SavedModel)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def per_sample_ms(fn: Callable[[np.ndarray], object], x1: np.ndarray, seconds: float = 0.3, most: int = 200) -> float:
    """Median milliseconds of ``fn(x1)`` (one sample) over repeated calls after a warm-up."""
    for _ in range(3):
        fn(x1)
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < 5 or (time.perf_counter() < end and len(times) < most):
        t0 = time.perf_counter()
        fn(x1)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def keras_direct_call(model) -> Callable[[np.ndarray], np.ndarray]:
    """The Keras model's compiled direct call (``model(x, training=False)`` in a ``tf.function``),
    the fastest way to run it in Keras and the live view's way."""
    import tensorflow as tf

    call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    return lambda x: np.asarray(call(tf.constant(x)))


def verify(model, artefacts: dict[DeployFormat, Path], x: np.ndarray, seconds: float = 0.3) -> list[CheckRow]:
    """Run ``x`` through ``model`` and each artefact in its runtime; one row per artefact, in order."""
    keras_call = keras_direct_call(model)
    reference = keras_call(x)
    keras_ms = per_sample_ms(keras_call, x[:1], seconds)
    return [_check(fmt, path, reference, x, keras_ms, seconds) for fmt, path in artefacts.items()]


def _check(fmt: DeployFormat, path: Path, reference: np.ndarray, x: np.ndarray, keras_ms: float,
           seconds: float) -> CheckRow:
    runtime = RUNTIMES[fmt.name](path)
    out = np.asarray(runtime(x), np.float32)
    row = CheckRow(fmt.name, str(path), runtime.name, size_of(path), len(x), float("nan"), None, None,
                   per_sample_ms(runtime, x[:1], seconds), keras_ms, False)
    if out.shape != reference.shape:
        row.problem = f"its output has shape {out.shape}, Keras's {reference.shape}"
        return row
    row.max_diff = float(np.max(np.abs(out - reference))) if out.size else 0.0
    if reference.ndim >= 2 and reference.shape[-1] > 1:
        row.agreement = float(np.mean(out.argmax(-1) == reference.argmax(-1)))
    if fmt.quantized and row.agreement is not None:
        row.passed = row.agreement >= INT8_MIN_AGREEMENT
        if not row.passed:
            row.problem = (f"top-1 agrees with Keras on {row.agreement:.1%} of the inputs "
                           f"(needs {INT8_MIN_AGREEMENT:.0%})")
        return row
    scale = float(np.ptp(reference)) if fmt.quantized else max(1.0, float(np.max(np.abs(reference))))
    row.tolerance = (INT8_TOLERANCE if fmt.quantized else FLOAT_TOLERANCE) * max(scale, 1e-6)
    row.passed = bool(row.max_diff <= row.tolerance)
    if not row.passed:
        row.problem = f"its outputs differ from Keras's by up to {row.max_diff:.3g} (tolerance {row.tolerance:.3g})"
    return row


def table(rows: list[CheckRow]) -> str:
    """The rows as a fixed-width text table (the command line prints it; the studio shows the same)."""
    head = ("format", "size", "max |diff|", "top-1 agree", "per sample", "Keras call", "check")
    lines = [head] + [table_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def table_cells(row: CheckRow) -> tuple[str, ...]:
    """A row's cells as text: format, size, largest difference, agreement, latencies, verdict."""
    agree = "n/a" if row.agreement is None else f"{row.agreement:.1%}"
    return (row.format, human_size(row.size_bytes), f"{row.max_diff:.2e}", agree, f"{row.latency_ms:.3f} ms",
            f"{row.keras_ms:.3f} ms", "ok" if row.passed else "FAILED")


def human_size(n: int) -> str:
    """Bytes in B, KiB or MiB."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


__all__ = ["CheckRow", "FLOAT_TOLERANCE", "INT8_MIN_AGREEMENT", "INT8_TOLERANCE", "LiteRuntime", "OnnxRuntime",
           "RUNTIMES", "SavedModelRuntime", "dequantize", "human_size", "keras_direct_call", "per_sample_ms",
           "quantize", "size_of", "table", "table_cells", "verify"]
