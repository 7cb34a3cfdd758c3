"""The autosave file, without Qt: what the main window writes every minute while there are
unsaved edits, and the reader its recovery uses (so both can be tested, and killed, headless).

The file is a project document plus ``autosave_of`` (the file it is a copy of, or "") and
``autosaved_at``; it is written with :func:`~cnnstudio.core.project.write_atomic`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cnnstudio.core.doc_schema import DocError, expect
from cnnstudio.core.project import Project, ProjectError, write_atomic

#: What :func:`read_autosave` raises for an autosave that cannot be recovered.
AUTOSAVE_ERRORS = (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, ProjectError, DocError)


def write_autosave(project: Project, path: Path) -> None:
    """Write ``project`` (and where it came from) to the autosave ``path``, atomically."""
    doc = project.to_dict()
    doc["autosave_of"] = str(project.path or "")
    doc["autosaved_at"] = time.time()
    write_atomic(Path(path), json.dumps(doc))


def read_autosave(path: Path) -> Project | None:
    """The project in the autosave ``path`` (its ``path`` the file it was a copy of), or None
    when there is no autosave; raises one of :data:`AUTOSAVE_ERRORS` when it cannot be read."""
    path = Path(path)
    if not path.exists():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))  # one read: a project document plus its origin
    project = Project.from_dict(doc, source=str(path))
    origin = expect(doc.get("autosave_of") or "", str, "autosave_of", "a file path")
    project.path = Path(origin) if origin else None
    return project
