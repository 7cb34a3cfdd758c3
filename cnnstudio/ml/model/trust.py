"""Python code inside model files: found before Keras reads them, run only where the user agreed.

A Keras config can carry code: a ``Lambda`` layer (its function, marshalled bytecode or a named
function) or a serialized Python ``lambda`` anywhere (``"__lambda__"``). Loading such a config
without Keras's safe mode runs that code with the user's rights. :func:`code_in` lists what a
config carries, without deserialising anything; the loaders refuse a file whose code the user
has not agreed to (:func:`untrusted`), and :func:`allow` records the agreement for this
session, so the model built from the imported graph and the checkpoints trained from it load
again without asking, while the same code in another file is still refused if it differs.
"""

from __future__ import annotations

import json
import threading
from typing import Any, NamedTuple


class Code(NamedTuple):
    """One piece of code in a config: ``what`` for a person (``'a Lambda layer "x"'``), ``payload``
    the serialized code itself."""

    what: str
    payload: str


_allowed: set[str] = set()
_lock = threading.Lock()  # importers and builders run on worker threads


def code_in(doc: Any) -> list[Code]:
    """Every piece of Python code in a (JSON-like) Keras config, in document order."""
    found: list[Code] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            kind = v.get("class_name")
            cfg = v.get("config") if isinstance(v.get("config"), dict) else {}
            if kind == "Lambda":
                name = cfg.get("name")
                what = f'a Lambda layer "{name}"' if isinstance(name, str) else "a Lambda layer"
                found.append(Code(what, json.dumps(cfg.get("function"), sort_keys=True, default=str)))
                return  # its function is the code just listed
            if kind == "__lambda__":
                found.append(Code("a Python lambda function", json.dumps(cfg.get("code"), default=str)))
                return
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
    walk(doc)
    return found


def untrusted(codes: list[Code]) -> list[Code]:
    """The pieces of ``codes`` the user has not agreed to run in this session."""
    with _lock:
        return [c for c in codes if c.payload not in _allowed]


def allow(codes: list[Code]) -> None:
    """Record that the user agreed to run ``codes`` (for the rest of this session)."""
    with _lock:
        _allowed.update(c.payload for c in codes)


def describe(codes: list[Code]) -> str:
    """``'a Lambda layer "x"'``, or ``'a Lambda layer "x" and 2 more'``."""
    more = f" and {len(codes) - 1} more" if len(codes) > 1 else ""
    return f"{codes[0].what}{more}"


__all__ = ["Code", "allow", "code_in", "describe", "untrusted"]
