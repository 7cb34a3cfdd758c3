"""State several pages share, each an evented model of its own, written on the GUI thread only.

The Training page publishes the newest trained model; the Live and Probe pages run it. The
compute device is found once TensorFlow loads (in the background) and shown by the Training
and Live pages. Each is a small ``QObject`` with a value and a past-tense signal, so a page is
given the state it shows instead of reading attributes off the studio.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal


def _on_gui_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"{what} is written on the GUI thread only")


class TrainedModel(QObject):
    """The open project's newest trained model file (``None`` before one is known)."""

    published = Signal(str)  # a new model to run: the Training page wrote a checkpoint

    def __init__(self, path: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path = path

    @property
    def path(self) -> str | None:
        """The ``.keras`` / ``.h5`` file, or ``None``."""
        return self._path

    def reset(self, path: str | None) -> None:
        """A new project: its own model file, if any, without announcing it as newly trained."""
        _on_gui_thread("the trained model")
        self._path = path

    def publish(self, path: str) -> None:
        """A model just trained: remember it and tell the pages that run it."""
        _on_gui_thread("the trained model")
        self._path = path
        self.published.emit(path)


class ComputeDevice(QObject):
    """What TensorFlow computes on, in words ("CPU", a GPU's name); empty until it is known."""

    found = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._description = ""

    @property
    def description(self) -> str:
        """The device in words, or ``""`` while TensorFlow has not said."""
        return self._description

    def set(self, description: str) -> None:
        """TensorFlow (or a training run) found the device; tells listeners when it changes."""
        _on_gui_thread("the compute device")
        if description and description != self._description:
            self._description = description
            self.found.emit(description)


__all__ = ["ComputeDevice", "TrainedModel"]
