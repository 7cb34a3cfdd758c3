"""``cnnstudio doctor``: what the studio finds on this machine, in one screen, each problem with its fix.

Python, Qt and its platform plugin, TensorFlow and the devices it computes on, OpenCV and the
cameras, the folders the studio writes to, the optional extras. Exit code 0 when nothing is
wrong, 1 when a problem was found.
"""

from __future__ import annotations

import glob
import importlib.metadata as metadata
import os
import platform
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cnnstudio.core.project import folder_writable, user_data_dir
from cnnstudio.ui.platform_check import (HEADLESS, check_plugin, install_hint, platform_candidates,
                                         platform_problem)

from .quiet import tensorflow_chatter_hidden

#: What each optional extra of the package is for.
EXTRAS = {"gpu": "training on an NVIDIA GPU", "test": "running the tests"}


@dataclass(frozen=True)
class Finding:
    """One line of the report: a topic, what was found and, when something is wrong, the fix."""

    topic: str
    text: str
    problem: str = ""


def register(subparsers) -> None:
    """Add the ``doctor`` subcommand."""
    p = subparsers.add_parser("doctor", help="what the studio finds on this machine, and how to fix problems",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.set_defaults(run=run)


def run(args) -> int:
    """Print the report; 1 when a problem was found."""
    findings = [*python_and_qt(), *tensorflow(), *opencv(), *folders(), *extras()]
    width = max(len(f.topic) for f in findings)
    for f in findings:
        print(f"{f.topic.ljust(width)}  {f.text}")
    problems = [f for f in findings if f.problem]
    print()
    if not problems:
        print("No problems found.")
        return 0
    print(f"{len(problems)} problem{'s' if len(problems) > 1 else ''}:")
    for f in problems:
        print(f"  - {f.topic}: {f.problem}")
    return 1


def python_and_qt() -> list[Finding]:
    """Python, PySide6/Qt (Qt Core loads no platform plugin) and the platform plugin's libraries."""
    out = [Finding("Python", f"{platform.python_version()} ({sys.executable})")]
    try:
        from PySide6 import __version__ as pyside, QtCore
        out.append(Finding("Qt", f"PySide6 {pyside}, Qt {QtCore.qVersion()}"))
    except ImportError as exc:
        out.append(Finding("Qt", "PySide6 does not import", _import_fix(exc, "PySide6-Essentials")))
    if sys.platform.startswith("linux"):
        out.append(Finding("Qt platform", _platform_text(), platform_problem()))
    return out


def _platform_text() -> str:
    names = platform_candidates()
    if any(n in HEADLESS for n in names):
        return f'"{";".join(names)}" (no window on screen: QT_QPA_PLATFORM)'
    display = ", ".join(f"{v}={os.environ[v]}" for v in ("DISPLAY", "WAYLAND_DISPLAY") if os.environ.get(v))
    checks = [check_plugin(n) for n in names]
    text = "; ".join(f'"{c.name}" {"libraries all found" if c.ok else "cannot load"}' for c in checks)
    return f"{text} ({display or 'no display'})"


def tensorflow() -> list[Finding]:
    """TensorFlow and Keras versions and the devices TensorFlow computes on."""
    with tensorflow_chatter_hidden():
        try:
            import keras
            import tensorflow as tf
        except ImportError as exc:
            return [Finding("TensorFlow", "does not import", _import_fix(exc, "tensorflow"))]
        from cnnstudio.ml.model.device import gpu_names

        gpus = gpu_names()
        versions = f"{tf.__version__}, Keras {keras.__version__}"
    devices = ", ".join([f"CPU ({os.cpu_count()} cores)"] + [f"GPU: {g}" for g in gpus])
    problem = ""
    if not gpus and glob.glob("/dev/nvidia[0-9]*"):
        problem = "an NVIDIA GPU is here but TensorFlow does not see it: pip install -e '.[gpu]'"
    return [Finding("TensorFlow", versions), Finding("Devices", devices + ("" if gpus else " (training runs on the CPU)"),
                                                      problem)]


def opencv() -> list[Finding]:
    """OpenCV's version and the cameras that open."""
    try:
        import cv2
    except ImportError as exc:
        return [Finding("OpenCV", "does not import", _import_fix(exc, "opencv-python-headless"))]
    from cnnstudio.ml.live.frame_sources import list_cameras

    cameras = list_cameras()
    nodes = sorted(glob.glob("/dev/video[0-9]*"))
    problem = ""
    if nodes and not cameras:
        problem = (f"{', '.join(nodes)} found but no camera opens: check it is not in use, and that you may "
                   "read it (sudo usermod -aG video $USER, then log in again)")
    text = ", ".join(c.label for c in cameras) or "no camera (Live plays a video, an image, a folder or the demo)"
    return [Finding("OpenCV", f"{cv2.__version__}"), Finding("Cameras", text, problem)]


def folders() -> list[Finding]:
    """The folders the studio writes: runs, settings, Keras downloads, temporary files."""
    places = [("runs", user_data_dir() / "runs", "XDG_DATA_HOME")]
    try:
        from PySide6.QtCore import QSettings
        places.append(("settings", Path(QSettings("cnnstudio", "cnnstudio").fileName()).parent, "XDG_CONFIG_HOME"))
    except ImportError:
        pass  # said under Qt
    # where keras.utils.get_file keeps datasets and weights (Keras 3 has no public call for it)
    places.append(("downloads", Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras"), "KERAS_HOME"))
    places.append(("temp", Path(tempfile.gettempdir()), "TMPDIR"))
    out = []
    for what, path, variable in places:
        ok = folder_writable(path)
        out.append(Finding(f"Folder ({what})", f"{path} {'writable' if ok else 'NOT writable'}",
                           "" if ok else f"make {path} writable, or point ${variable} elsewhere"))
    return out


def extras() -> list[Finding]:
    """Each optional extra of the package: installed or not, and what it is for."""
    try:
        requires = metadata.requires("cnnstudio") or []
    except metadata.PackageNotFoundError:
        return [Finding("Extras", "unknown: cnnstudio is not installed", "pip install -e . in the repository")]
    out = []
    for extra, purpose in EXTRAS.items():
        lacking = _lacking(requires, extra)
        text = "installed" if not lacking else f"not installed (for {purpose}: pip install -e '.[{extra}]')"
        out.append(Finding(f"Extra [{extra}]", text))
    return out


def _lacking(requires: list[str], extra: str) -> list[str]:
    """The distributions that ``requires`` (Requires-Dist lines) asks for with ``extra`` and that are
    not installed, following their own extras (``tensorflow[and-cuda]``)."""
    from packaging.requirements import Requirement  # a dependency of TensorFlow and of pip

    lacking = []
    for line in requires:
        req = Requirement(line)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        try:
            own = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            lacking.append(req.name)
            continue
        lacking += [name for sub in req.extras for name in _lacking(own, sub)]
    return lacking


def _import_fix(exc: ImportError, package: str) -> str:
    """The fix for a failed import: the system library it lacks, or the Python package."""
    lib = re.search(r"([\w.+-]+\.so[\w.]*): cannot open shared object file", str(exc))
    if lib:
        return f"{lib.group(1)} not found. {install_hint([lib.group(1)])}"
    return f"{str(exc).splitlines()[0]}: pip install '{package}'"
