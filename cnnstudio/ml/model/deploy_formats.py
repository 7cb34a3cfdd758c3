"""The deploy formats: what each writes, where, and which packages it needs. No TensorFlow here.

The studio's File > Export menu reads this table on the GUI thread to name a missing
converter in the menu item ("ONNX (install cnnstudio[export])"): :func:`missing_packages`
asks :func:`importlib.util.find_spec`, which finds a package without importing it (and so
without loading TensorFlow). The command line reads it to refuse an existing output
before anything is converted (:func:`outputs`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DeployFormat:
    """One deploy format: its name on the command line, its title in menus and tables."""

    name: str
    title: str
    suffix: str  # "" for a directory (SavedModel)
    runtime: str  # what loads it for the verification
    modules: tuple[str, ...] = ()  # import names of the packages it needs besides TensorFlow
    packages: tuple[str, ...] = ()  # their names on PyPI, in the same order
    labels: bool = False  # a labels.txt beside it (as Teachable Machine writes for TFLite)
    quantized: bool = False


FORMATS: dict[str, DeployFormat] = {f.name: f for f in (
    DeployFormat("savedmodel", "TensorFlow SavedModel", "", "TensorFlow (tf.saved_model.load)"),
    # TensorFlow converts to TFLite itself, and bundles an interpreter for the check should
    # the LiteRT package (ai-edge-litert, preferred) be absent: TFLite needs no extra package.
    DeployFormat("tflite", "TFLite float32", ".tflite", "LiteRT interpreter", labels=True),
    DeployFormat("tflite-int8", "TFLite int8", ".tflite", "LiteRT interpreter", labels=True, quantized=True),
    DeployFormat("onnx", "ONNX", ".onnx", "ONNX Runtime", ("tf2onnx", "onnx", "onnxruntime"),
                 ("tf2onnx", "onnx", "onnxruntime")),
)}

#: The extra that installs every converter and runtime (see pyproject.toml).
EXPORT_EXTRA = "cnnstudio[export]"
#: The ONNX operator set the ONNX export targets: ONNX Runtime has run it since 1.12 (2022).
ONNX_OPSET = 17


def deploy_format(name: str) -> DeployFormat:
    """The format called ``name``; raises ``ValueError`` naming the known ones."""
    if name not in FORMATS:
        raise ValueError(f"unknown deploy format {name!r} (known: {', '.join(FORMATS)})")
    return FORMATS[name]


def missing_packages(fmt: DeployFormat) -> list[str]:
    """The PyPI names of the packages ``fmt`` needs that are not installed."""
    return [pkg for mod, pkg in zip(fmt.modules, fmt.packages) if importlib.util.find_spec(mod) is None]


def install_hint(fmt: DeployFormat) -> str | None:
    """``"install cnnstudio[export]"`` (naming the packages) when ``fmt`` lacks any, else ``None``."""
    missing = missing_packages(fmt)
    if not missing:
        return None
    return f"{fmt.title} needs {', '.join(missing)}: pip install '{EXPORT_EXTRA}'"


def artefact_path(fmt: DeployFormat, out: str | Path) -> Path:
    """Where ``fmt`` writes for the output ``out``: ``out`` with the format's suffix added if it lacks it."""
    out = Path(out)
    if fmt.suffix and out.suffix.lower() != fmt.suffix:
        return out.with_name(out.name + fmt.suffix)
    return out


def metadata_path(artefact: Path) -> Path:
    """The metadata file beside an artefact: ``net.tflite`` -> ``net.tflite.metadata.json`` (the
    whole name, so a TFLite and an ONNX export of ``net`` in one folder keep their own)."""
    return artefact.with_name(f"{artefact.name}.metadata.json")


def labels_path(artefact: Path) -> Path:
    """The labels file beside an artefact: ``net.tflite`` -> ``net.labels.txt`` (one class per line)."""
    return artefact.with_name(f"{artefact.stem}.labels.txt")


def outputs(fmt: DeployFormat, out: str | Path) -> list[Path]:
    """Every path an export of ``fmt`` to ``out`` writes: the artefact, its metadata and labels."""
    artefact = artefact_path(fmt, out)
    return [artefact, metadata_path(artefact)] + ([labels_path(artefact)] if fmt.labels else [])


def existing_outputs(fmt: DeployFormat, out: str | Path) -> list[Path]:
    """Those of :func:`outputs` that are already there (an export asks before replacing them)."""
    return [p for p in outputs(fmt, out) if p.exists()]


__all__ = ["DeployFormat", "EXPORT_EXTRA", "FORMATS", "ONNX_OPSET", "artefact_path", "deploy_format",
           "existing_outputs", "install_hint", "labels_path", "metadata_path", "missing_packages", "outputs"]
