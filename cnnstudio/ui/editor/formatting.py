"""Numbers as the editor's panels show them: counts, FLOPs, bytes and shapes (and operation calls)."""

from __future__ import annotations

from cnnstudio.core.graph import CALL_INPUT
from cnnstudio.core.rules import dims


def count(n: int) -> str:
    """``61706`` -> ``'61,706'``."""
    return f"{n:,}"


def flops(n: int) -> str:
    """FLOPs of one forward pass: ``235200`` -> ``'235.2 K'``, exact below a thousand."""
    return compact(n)


def compact(n: int) -> str:
    """A large count in a few characters: ``23587712`` -> ``'23.6 M'``, exact below a thousand."""
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


def call_text(call: dict) -> str:
    """An operation node's call as its arguments, ``'x, 3.0'`` for ``x + 3.0`` (inputs x, y, z...)."""
    def arg(v) -> str:
        if isinstance(v, dict) and set(v) == {CALL_INPUT}:
            port = v[CALL_INPUT]
            return "xyz"[port] if port < 3 else f"x{port}"
        if isinstance(v, list):
            return f"[{', '.join(map(arg, v))}]"
        return "…" if isinstance(v, dict) else repr(v)  # a serialized constant (a slice, an array)
    return ", ".join([arg(v) for v in call.get("args", [])] + [f"{k}={arg(v)}" for k, v in call.get("kwargs", {}).items()])
