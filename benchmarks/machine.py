"""What a benchmark ran on, in one line and as JSON-ready fields (shared by the bench_* scripts)."""

from __future__ import annotations

import os
import platform
import sys


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe(with_tensorflow: bool = True) -> dict:
    """CPU, cores, Python and (when asked, importing it) TensorFlow / Keras versions."""
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()}
    if with_tensorflow:
        import keras
        import tensorflow as tf

        info.update(tensorflow=tf.__version__, keras=keras.__version__)
    return info


def print_machine(info: dict) -> None:
    """One readable line of :func:`describe`'s fields."""
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), file=sys.stdout)
