"""Project files: a versioned JSON document with the graph, training settings, data source
and preprocessing (typed: :mod:`cnnstudio.core.settings`). Writes are atomic (temporary file, then rename), so a crash or a bad
value never leaves a half-written project; reading a corrupt, truncated or newer file
raises :class:`ProjectError` with a message for a person.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .doc_schema import DocError, expect, expect_names
from .graph import GraphError, LayerGraph
from .params import ParamError
from .settings import SECTIONS, DataSource, Preprocessing, Settings, Training
from .signals import Signal

FORMAT = "cnnstudio-project"
FORMAT_VERSION = 1
SUFFIX = ".cnnproj"
#: Beside ``name.cnnproj``: ``name.runs/`` holds the runs it trained, ``name.shipped/`` the
#: trained run it came with (read-only; see :mod:`cnnstudio.ml.training.runs`).
RUNS_SUFFIX, SHIPPED_SUFFIX = ".runs", ".shipped"

class ProjectError(Exception):
    """A project file that cannot be read or written; the message is for a person."""


@dataclass(eq=False)
class Project:
    """A network and what is needed to train and probe it.

    The settings sections are immutable values; :meth:`set_settings` is the one way to change
    them, and :attr:`settings_changed` tells who listens.
    """

    graph: LayerGraph = field(default_factory=LayerGraph)
    name: str = "untitled"
    training: Training = field(default_factory=Training.default)
    data: DataSource = field(default_factory=DataSource.default)
    preprocessing: Preprocessing = field(default_factory=Preprocessing.default)
    classes: list[str] = field(default_factory=list)
    #: A ``.keras`` / ``.h5`` file with trained weights for this network (an imported model,
    #: or downloaded ImageNet weights): probing and live use it until the project trains its own.
    weights_file: str | None = None
    path: Path | None = None
    #: The run folder the project file came with (``name.shipped/``), never written to; it
    #: stays with the project when edits go to a new file (the studio's default project).
    shipped_run: Path | None = None
    #: Keys of each section this version does not know (from a newer file): written back as they were.
    unknown_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What an import decided that the model file does not say (the input scaling, and why), for a
    #: person: the data form shows it beside the scaling.
    import_note: str = ""

    def __post_init__(self) -> None:
        #: ``settings_changed(section, {name: new value})``, only for real changes.
        self.settings_changed = Signal()

    def settings(self, section: str) -> Settings:
        """The settings section called ``section`` (``training``, ``data`` or ``preprocessing``)."""
        if section not in SECTIONS:
            raise ValueError(f"unknown settings section {section!r}")
        return getattr(self, section)

    def set_settings(self, section: str, values: dict[str, Any]) -> dict[str, Any]:
        """Change settings of ``section``, coerced through its schema; returns the old values of
        those that changed. Raises :class:`ParamError` naming a bad setting (nothing changes)."""
        current = self.settings(section)
        new = current.replace(**values)
        changed = current.changes(new)
        if not changed:
            return {}
        old = {k: getattr(current, k) for k in changed}
        setattr(self, section, new)
        self.settings_changed.emit(section, changed)
        return old

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        sections = {name: {**self.unknown_settings.get(name, {}), **self.settings(name).to_dict()} for name in SECTIONS}
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "graph": self.graph.to_dict(),
            **sections,
            "classes": self.classes,
            "weights_file": self.weights_file,
            "import_note": self.import_note,
        }

    @classmethod
    def from_dict(cls, doc: Any, source: str = "project") -> "Project":
        """Build a project from its JSON document; raises :class:`ProjectError`."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProjectError(f"{source} is not a cnnstudio project")
        version = doc.get("version")
        if not isinstance(version, int):
            raise ProjectError(f"{source} has no format version")
        if version > FORMAT_VERSION:
            raise ProjectError(f"{source} was saved by a newer cnnstudio (format {version}; "
                               f"this version reads up to {FORMAT_VERSION}). Update cnnstudio to open it.")
        try:
            graph = LayerGraph.from_dict(doc.get("graph", {}))
        except GraphError as exc:  # its message names the field (graph.nodes[2] (conv1).params.filters)
            raise ProjectError(f"{source}: {exc}") from None
        sections, unknown = {}, {}
        for name, kind in SECTIONS.items():
            try:
                sections[name], extra = kind.from_dict(doc.get(name))
            except ParamError as exc:
                raise ProjectError(f"{source}: {exc}") from None
            if extra:
                unknown[name] = extra
        try:
            classes = expect_names(doc.get("classes", []), "classes")
            name = expect(doc.get("name", "untitled"), str, "name", "a string")
            weights_file = expect(doc.get("weights_file"), (str, type(None)), "weights_file", "a file path or null")
            import_note = expect(doc.get("import_note", ""), str, "import_note", "a string")
        except DocError as exc:
            raise ProjectError(f"{source}: {exc}") from None
        return cls(graph=graph, name=name, **sections, classes=list(classes), weights_file=weights_file or None,
                   unknown_settings=unknown, import_note=import_note)

    def runs_dir(self) -> Path:
        """Folder where this project's new training runs go (see :meth:`runs_place`)."""
        return self.runs_place()[0]

    def runs_place(self) -> tuple[Path, str]:
        """Where new runs go and why: ``name.runs`` beside the file (reason ``""``), or, when the
        project is unsaved or its folder cannot be written (an example in a read-only install),
        ``runs/<name>`` in the user's data folder, with the reason in words."""
        if self.path is None:
            return user_data_dir() / "runs" / self.name, "the project is not saved"
        beside = self.path.with_suffix(RUNS_SUFFIX)
        if folder_writable(beside):
            return beside, ""
        return user_data_dir() / "runs" / self.path.stem, f"{self.path.parent} is read-only"


def user_data_dir() -> Path:
    """cnnstudio's folder in the user's data: ``$XDG_DATA_HOME/cnnstudio`` (``~/.local/share``),
    ``%LOCALAPPDATA%\\cnnstudio`` on Windows, ``~/Library/Application Support/cnnstudio`` on macOS."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cnnstudio"


def folder_writable(folder: Path) -> bool:
    """``folder`` can be written, or created in its nearest existing parent.

    Asked with ``os.access``, which needs nothing created to answer, and which also sees a
    read-only file system (where root's writes fail too).
    """
    folder = Path(folder).absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def load_project(path: str | os.PathLike) -> Project:
    """Read a project file; raises :class:`ProjectError` for any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{p}: cannot read ({exc})") from None
    if not text.strip():
        raise ProjectError(f"{p} is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{p} is corrupt or truncated (JSON error at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ProjectError(f"{p} is nested too deeply to be a project") from None
    project = Project.from_dict(doc, source=str(p))
    project.path = p
    shipped = p.with_suffix(SHIPPED_SUFFIX)
    project.shipped_run = shipped if shipped.is_dir() else None
    return project


def save_project(project: Project, path: str | os.PathLike | None = None) -> Path:
    """Write ``project`` atomically to ``path`` (or its own path); returns the path.

    The document is serialised first, then written to a temporary file in the same
    folder and renamed over the target, so the old file survives any failure.
    """
    target = Path(path) if path is not None else project.path
    if target is None:
        raise ProjectError("the project has no file name yet")
    try:
        text = json.dumps(project.to_dict(), indent=1)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"cannot save {target}: {exc}") from None
    write_atomic(target, text)
    project.path = target
    return target


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` via a temporary file and ``os.replace``."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ProjectError(f"cannot write {target}: {exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ProjectError(f"cannot write {target}: {exc}") from None
