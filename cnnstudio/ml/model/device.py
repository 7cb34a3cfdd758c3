"""Which device TensorFlow computes on, in words for the status bar."""

from __future__ import annotations


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except (RuntimeError, ValueError):
            names.append(gpu.name)
    return names


def describe_device() -> str:
    """``'GPU: NVIDIA H100 80GB HBM3'`` or ``'CPU (no GPU found)'``."""
    names = gpu_names()
    if not names:
        return "CPU (no GPU found)"
    more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
    return f"GPU: {names[0]}{more}"
