"""Numbers as the editor's panels show them: counts, FLOPs, bytes and shapes."""

from __future__ import annotations

from cnnstudio.core.rules import dims


def count(n: int) -> str:
    """``61706`` -> ``'61,706'``."""
    return f"{n:,}"


def flops(n: int) -> str:
    """FLOPs of one forward pass: ``235200`` -> ``'235.2 K'``, exact below a thousand."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return str(n)


def size_bytes(n: int) -> str:
    """``18816`` -> ``'18.4 KiB'``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def keras_shape(shape: tuple | None) -> str:
    """A per-sample shape with the batch axis, as ``model.summary()`` prints it: ``(None, 28, 28, 6)``."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in (None, *shape)) + ")"


def short_shape(shape: tuple | None) -> str:
    """``(28, 28, 6)`` -> ``'28x28x6'``."""
    return "?" if shape is None else dims(shape)
