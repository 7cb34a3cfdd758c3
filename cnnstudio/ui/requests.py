"""Typed requests from the GUI thread to a worker that owns its objects (DESIGN.md, "Views and
threads own what they show").

A request is a frozen dataclass deriving from :class:`TypedRequest`: making one with a field
of the wrong type raises ``TypeError`` on the GUI thread, where the mistake is, instead of
on the worker, where it would be ignored or stop the worker. The fields' annotations are the
check: plain classes, ``X | None``, ``tuple[int, int]``, ``Callable``; any integer passes for
``int`` and any real number for ``float``, but a bool is not taken for a number.
"""

from __future__ import annotations

import numbers
import types
import typing
from functools import cache
from typing import Any


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return isinstance(value, tuple) and all(fits(v, args[0]) for v in value)
        return isinstance(value, tuple) and len(value) == len(args) and all(map(fits, value, args))
    if isinstance(value, bool) and hint is not bool:
        return False  # True is an int to Python; as a number it is a slip
    if hint is int:  # NumPy's integers too: indices often come from arrays
        return isinstance(value, numbers.Integral)
    if hint is float:
        return isinstance(value, numbers.Real)
    return isinstance(value, origin or hint)


class TypedRequest:
    """Base of the request dataclasses: checks every field against its annotation when made."""

    def __post_init__(self) -> None:
        for name, hint in _hints(type(self)).items():
            value = getattr(self, name)
            if not fits(value, hint):
                raise TypeError(f"{type(self).__name__}.{name} cannot be {value!r} ({type(value).__name__})")
