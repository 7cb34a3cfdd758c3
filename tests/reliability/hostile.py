"""Hostile inputs for the reliability suite: Hypothesis strategies that mutate and generate
files, the check every fuzzed loader goes through, the child processes the kill tests kill,
and the figures the run reports (see ``conftest.py``).
"""

from __future__ import annotations

import collections
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

LONG = os.environ.get("CNNSTUDIO_RELIABILITY", "") == "long"
#: The repository root: kill-test children import cnnstudio from it.
ROOT = Path(__file__).resolve().parents[2]
#: Kills per case (the issue asks for at least 20).
KILLS = 200 if LONG else 20

#: What the run tried: loader -> inputs fuzzed, case -> kills survived.
FUZZED: collections.Counter = collections.Counter()
KILLED: collections.Counter = collections.Counter()

# -- hostile inputs ---------------------------------------------------------------------

#: Numbers a schema must refuse or clamp, never crash on.
ABSURD_NUMBERS = st.sampled_from([0, -1, -(2 ** 63), 2 ** 63, 10 ** 400, 1e308, -1e308, 1e-320,
                                  math.nan, math.inf, -math.inf, 0.5, True, False])

#: Any JSON value, with unicode strings, absurd numbers and some nesting.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ABSURD_NUMBERS | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (a tuple of keys and indices) into a JSON document, the root included."""
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, prefix + (i,))
    return found


def _replace(doc: Any, path: tuple, make) -> Any:
    """A copy of ``doc`` whose value at ``path`` is ``make(old value)`` (``make`` may return
    :data:`_DROP` to remove it from its container)."""
    if not path:
        return make(doc)
    head, rest = path[0], path[1:]
    child = _replace(doc[head], rest, make)
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if k != head} if child is _DROP else {**doc, head: child}
    return doc[:head] + ([] if child is _DROP else [child]) + doc[head + 1:]


_DROP = object()
#: A deeply nested value (see :func:`mutated_json`, :func:`json_text`).
DEEP = "DEEP-NESTING"
#: Deeper than Python's recursion limit: what ``json.loads`` cannot parse (its RecursionError
#: is no ValueError); the fuzz tests nest less deep, to reach the code behind the parser.
TOO_DEEP = 100_000


@st.composite
def mutated_json(draw, doc: Any, mutations: int = 3) -> Any:
    """``doc`` with up to ``mutations`` changes at random places: a value replaced by any JSON
    value (a wrong type, an absurd number, NaN), a key or item removed, a key added, or a value
    nested deeply (:data:`DEEP`, expanded by :func:`json_text`)."""
    for _ in range(draw(st.integers(1, mutations))):
        path = draw(st.sampled_from(_paths(doc)))
        how = draw(st.sampled_from(["replace", "drop", "extra", "deep"]))
        if how == "replace" or (how == "drop" and not path):
            value = draw(json_values)
            doc = _replace(doc, path, lambda _old: value)
        elif how == "drop":
            doc = _replace(doc, path, lambda _old: _DROP)
        elif how == "extra":
            key, value = draw(st.text(max_size=8)), draw(json_values)
            doc = _replace(doc, path, lambda old: {**old, key: value} if isinstance(old, dict)
                           else old + [value] if isinstance(old, list) else [old, value])
        else:
            doc = _replace(doc, path, lambda _old: DEEP)
    return doc


def json_text(doc: Any, depth: int = 200) -> str:
    """``doc`` as JSON text (NaN and Infinity as Python writes them), each :data:`DEEP` as
    ``depth`` nested lists."""
    return json.dumps(doc).replace(json.dumps(DEEP), "[" * depth + "]" * depth)


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes overwritten, inserted or removed, or emptied."""
    how = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete", "empty"]))
    if how == "empty" or not data:
        return b""
    at = draw(st.integers(0, len(data) - 1))
    if how == "truncate":
        return data[:at]
    chunk = draw(st.binary(min_size=1, max_size=16))
    if how == "overwrite":
        return data[:at] + chunk + data[at + len(chunk):]
    if how == "insert":
        return data[:at] + chunk + data[at:]
    return data[:at] + data[at + draw(st.integers(1, 64)):]


#: File names a person's folder may hold: unicode, spaces, dots, a leading dash.
file_names = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\x00"),
                     min_size=1, max_size=24).filter(lambda s: s not in (".", "..") and len(s.encode()) < 200)


def fuzzed(loader: str) -> None:
    """Count one input tried on ``loader`` (see :func:`pytest_terminal_summary`)."""
    FUZZED[loader] += 1


def check_loader(loader: str, call, allowed: tuple[type[BaseException], ...]) -> Any:
    """``call()``, counted for ``loader``: its result, or ``None`` when it raised one of the
    person-facing ``allowed`` errors with a one-line message; any other exception fails the test."""
    fuzzed(loader)
    try:
        return call()
    except allowed as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message.strip(), f"{loader}: not one line: {message!r}"
        assert "Traceback" not in message
        return None


# -- kill tests ---------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    """The environment of a child process: this checkout first on its path, no GPU, quiet TF."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return env


class Child:
    """A Python child running ``code``, which prints a line when it is ready and then loops."""

    def __init__(self, code: str, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=child_env(), text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the child's first line (it has set up and entered its loop)."""
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"child did not start: {line!r} {self.proc.stderr.read()}"

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.stderr.close()
