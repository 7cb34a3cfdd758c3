"""Typed layer parameters: what the inspector edits, the builder passes to Keras, the importer reads.

A :class:`Param` knows its Keras ``get_config()`` name, its type, default, valid range and
choices, and turns whatever arrives (an inspector edit, a JSON list, a Keras config value)
into one canonical Python value, or raises :class:`ParamError` with a message for a person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: The activation names offered for ``activation`` parameters (Keras names).
ACTIVATIONS = (
    "linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "selu", "softplus",
    "softsign", "swish", "silu", "relu6", "leaky_relu", "hard_sigmoid", "exponential", "mish",
)
PADDINGS = ("valid", "same")


class ParamError(ValueError):
    """A parameter value that cannot be used, with a message naming the parameter."""


@dataclass(frozen=True)
class Param:
    """One parameter of a layer kind.

    ``type`` is one of ``int``, ``float``, ``bool``, ``choice``, ``str``, ``ints`` (a tuple of
    ``length`` ints, a scalar is repeated; any length when ``length`` is None), ``pairs`` (``length`` pairs of ints, as in
    ``ZeroPadding2D``'s padding), ``shape`` (a tuple of positive ints or ``None``),
    ``floats`` (a float or a pair of floats, as augmentation factors are), ``names`` (a tuple
    of distinct strings, each one of ``choices``) and ``any``. ``titles`` are the words a form
    shows for ``choices``, in the same order. Typed text is read too: ``'3x3'``, ``'3, 3'`` or
    ``'(3, 3)'`` for ``ints`` and ``shape`` (``'None'`` for a free size), ``'-0.2, 0.3'`` for
    ``floats``, ``'true'``/``'no'`` for ``bool``, ``'a, b'`` for ``names``.
    """

    name: str
    type: str
    default: Any
    doc: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    titles: tuple[str, ...] = ()
    length: int | None = None
    optional: bool = False  # ``None`` is a valid value
    advanced: bool = False  # shown folded in the inspector

    def coerce(self, value: Any) -> Any:
        """Return ``value`` in canonical form, or raise :class:`ParamError`."""
        if value is None:
            if self.optional:
                return None
            raise ParamError(f"{self.name} needs a value")
        try:
            out = _COERCE[self.type](self, value)
        except ParamError:
            raise
        except (TypeError, ValueError) as exc:
            raise ParamError(f"{self.name}: {value!r} is not a valid {self.type} ({exc})") from None
        return out

    def title(self, choice: Any) -> str:
        """The words a form shows for ``choice`` (the choice itself where it has no title)."""
        if choice in self.choices and len(self.titles) == len(self.choices):
            return self.titles[self.choices.index(choice)]
        return str(choice)

    def check_range(self, x: float) -> None:
        """Raise :class:`ParamError` if ``x`` lies outside ``[min, max]``."""
        if self.min is not None and x < self.min:
            raise ParamError(f"{self.name} must be at least {_num(self.min)}, got {_num(x)}")
        if self.max is not None and x > self.max:
            raise ParamError(f"{self.name} must be at most {_num(self.max)}, got {_num(x)}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _as_int(p: Param, v: Any) -> int:
    if isinstance(v, bool):
        raise ParamError(f"{p.name} must be an integer, got {v!r}")
    if isinstance(v, float) and not v.is_integer():
        raise ParamError(f"{p.name} must be an integer, got {v!r}")
    out = int(v)
    p.check_range(out)
    return out


def _as_float(p: Param, v: Any) -> float:
    if isinstance(v, bool):
        raise ParamError(f"{p.name} must be a number, got {v!r}")
    out = float(v)
    if not math.isfinite(out):  # NaN would pass any range check
        raise ParamError(f"{p.name} must be a finite number, got {v!r}")
    p.check_range(out)
    return out


def _as_bool(p: Param, v: Any) -> bool:
    if isinstance(v, str):
        if v.lower() in ("true", "1", "yes"):
            return True
        if v.lower() in ("false", "0", "no"):
            return False
        raise ParamError(f"{p.name} must be true or false, got {v!r}")
    return bool(v)


def _as_choice(p: Param, v: Any) -> Any:
    if isinstance(v, str):
        v = v.strip()
    if v not in p.choices:
        raise ParamError(f"{p.name} must be one of {', '.join(map(str, p.choices))}; got {v!r}")
    return v


def _as_str(p: Param, v: Any) -> str:
    if isinstance(v, dict):  # a serialized Keras object (e.g. a custom activation): keep it
        return v  # type: ignore[return-value]
    return str(v)


def _split(text: str) -> list[str]:
    """The items of a typed tuple: ``'3x3'``, ``'3, 3'``, ``'3 3'`` and ``'(3, 3)'`` all give ``['3', '3']``."""
    for sep in "xX ()[]":
        text = text.replace(sep, ",")
    return [x for x in text.split(",") if x]


def _as_ints(p: Param, v: Any) -> tuple[int, ...]:
    n = p.length  # None: any length (e.g. Reshape's target_shape)
    if isinstance(v, str):
        v = _split(v)
    if isinstance(v, (int, float)):
        v = [v] * (n or 1)
    vals = tuple(_as_int(p, x) for x in v)
    if n is None:
        if not vals:
            raise ParamError(f"{p.name} needs at least one value")
        return vals
    if len(vals) == 1 and n > 1:
        vals = vals * n
    if len(vals) != n:
        raise ParamError(f"{p.name} needs {n} values, got {len(vals)}")
    return vals


def _as_pairs(p: Param, v: Any) -> tuple[tuple[int, int], ...]:
    n = p.length or 2
    if isinstance(v, (int, float)):
        v = [(v, v)] * n
    v = list(v)
    if len(v) == n and all(isinstance(x, (int, float)) for x in v):
        v = [(x, x) for x in v]
    if len(v) != n:
        raise ParamError(f"{p.name} needs {n} pairs, got {len(v)}")
    out = []
    for pair in v:
        a, b = pair
        out.append((_as_int(p, a), _as_int(p, b)))
    return tuple(out)


def _as_shape(p: Param, v: Any) -> tuple[int | None, ...]:
    if isinstance(v, str):
        v = [None if x.lower() == "none" else x for x in _split(v)]
    if isinstance(v, int):
        v = [v]
    out = tuple(None if x is None else _as_int(p, x) for x in v)
    if not out:
        raise ParamError(f"{p.name} needs at least one dimension")
    if any(x is not None and x < 1 for x in out):
        raise ParamError(f"{p.name}: every dimension must be at least 1, got {out}")
    return out


def _as_floats(p: Param, v: Any) -> float | tuple[float, float]:
    if isinstance(v, str) and "," in v:  # the text of a pair, as the inspector shows one
        parts = [x for x in v.split(",") if x.strip()]
        v = parts[0] if len(parts) == 1 else parts
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise ParamError(f"{p.name} needs one number or a pair, got {len(v)} values")
        return (_as_float(p, v[0]), _as_float(p, v[1]))
    return _as_float(p, v)


def _as_names(p: Param, v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [x for x in v.replace(" ", ",").split(",") if x]
    return tuple(dict.fromkeys(_as_choice(p, x) if p.choices else str(x) for x in v))  # each once, in order


def _as_any(p: Param, v: Any) -> Any:
    return v


_COERCE = {
    "int": _as_int, "float": _as_float, "bool": _as_bool, "choice": _as_choice,
    "str": _as_str, "ints": _as_ints, "pairs": _as_pairs, "shape": _as_shape,
    "floats": _as_floats, "names": _as_names, "any": _as_any,
}


@dataclass(frozen=True)
class ParamSet:
    """The ordered parameters of one layer kind."""

    params: tuple[Param, ...] = field(default_factory=tuple)

    def __iter__(self):
        return iter(self.params)

    def names(self) -> list[str]:
        """Parameter names in display order."""
        return [p.name for p in self.params]

    def get(self, name: str) -> Param | None:
        """The parameter called ``name``, or ``None``."""
        for p in self.params:
            if p.name == name:
                return p
        return None

    def defaults(self) -> dict[str, Any]:
        """A fresh dict of default values."""
        return {p.name: p.default for p in self.params}

    def coerce(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``values`` (known names only), each coerced."""
        out = self.defaults()
        for name, value in values.items():
            p = self.get(name)
            if p is None:
                raise ParamError(f"unknown parameter {name!r}")
            out[name] = p.coerce(value)
        return out
