"""Reading a run folder's JSON files (``settings.json``, ``curves.json``, ``metrics.json``) from disk.

A run folder may be damaged (a crash before the atomic writes existed, a hand edit, a copy cut
short): it still opens. Each file that is corrupt, or each field of the wrong type, is left out
(the run then looks as if it had not written it) and noted as one line naming the file and the
field in :attr:`~cnnstudio.ml.training.runs.Run.problems`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnstudio.core.doc_schema import DocError, expect, expect_names, is_number

#: Fields a run's code reads, and the check each must pass; others are kept as they are.
_SETTINGS = {"epochs": (int, "a whole number"), "classes": (list, "a list of names"), "graph": (dict, "an object"),
             "training": (dict, "an object"), "data": (dict, "an object"), "preprocessing": (dict, "an object"),
             "created": (str, "a date")}
_METRICS = {"status": (str, "a string"), "message": (str, "a string"), "epochs_done": (int, "a whole number"),
            "best_epoch": (int, "a whole number"), "final": (dict, "an object"), "test": (dict, "an object"),
            "elapsed_s": ((int, float), "a number"), "images_per_s": ((int, float), "a number")}


def read_doc(path: Path, problems: list[str]) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when it is missing, and also, noted in ``problems``,
    when it is unreadable, corrupt or not an object."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot read ({exc}); ignored")
        return {}
    except json.JSONDecodeError as exc:
        problems.append(f"{path} is corrupt or truncated (JSON error at line {exc.lineno}); ignored")
        return {}
    except RecursionError:
        problems.append(f"{path} is nested too deeply; ignored")
        return {}
    if not isinstance(doc, dict):
        problems.append(f"{path} must hold an object, not {type(doc).__name__}; ignored")
        return {}
    return doc


def _checked(doc: dict[str, Any], fields: dict, path: Path, problems: list[str]) -> dict[str, Any]:
    """``doc`` without the fields of ``fields`` that have the wrong type (each noted)."""
    kept = dict(doc)
    for key, (kind, what) in fields.items():
        if key not in doc or doc[key] is None:
            continue
        try:
            expect(doc[key], kind, key, what)
            if key == "classes":
                expect_names(doc[key], key)
        except DocError as exc:
            problems.append(f"{path}: {exc}; ignored")
            del kept[key]
    return kept


def read_settings(path: Path, problems: list[str]) -> dict[str, Any]:
    """``settings.json``: what the run trained, its fields of the wrong type left out."""
    return _checked(read_doc(path, problems), _SETTINGS, path, problems)


def read_metrics(path: Path, problems: list[str]) -> dict[str, Any]:
    """``metrics.json``: how the run went, its fields of the wrong type left out."""
    return _checked(read_doc(path, problems), _METRICS, path, problems)


def read_curves(path: Path, problems: list[str]) -> dict[str, dict[str, list]]:
    """``curves.json`` as ``{"batch": {name: values}, "epoch": {...}}``: only lists of numbers
    (or null, a NaN written to JSON) are kept."""
    doc = read_doc(path, problems)
    curves: dict[str, dict[str, list]] = {"batch": {}, "epoch": {}}
    for part in curves:
        columns = doc.get(part, {})
        if not isinstance(columns, dict):
            problems.append(f"{path}: {part} must be an object of value lists, not {type(columns).__name__}; ignored")
            continue
        for name, values in columns.items():
            if isinstance(values, list) and all(v is None or is_number(v) for v in values):
                curves[part][name] = values
            else:
                problems.append(f"{path}: {part}.{name} must be a list of numbers; ignored")
    return curves
