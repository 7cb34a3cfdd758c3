"""Run a function off the GUI thread and get its result back as a Qt signal.

Used for anything slow that is not training (which has its own worker): importing a
Keras model, building ``keras.applications`` architectures, probes. The callbacks run on
the GUI thread. A :class:`TaskRunner` keeps its tasks so a window can wait for them on close.

Tasks run on Python threads (``concurrent.futures``), not a ``QThreadPool``: a pool worker
drops its Python thread state after every task, and TensorFlow keeps per-thread state
tied to it, so a second TensorFlow task on a worker that imported TensorFlow crashed.
"""

from __future__ import annotations

import traceback
import weakref

import shiboken6
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal


class _Signals(QObject):
    finished = Signal(object)
    failed = Signal(str, str)  # message, traceback


class _Task:
    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _Signals()
        self.future = None

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # reported to the GUI, never raised into Qt
            self.signals.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
            return
        self.signals.finished.emit(result)


class TaskRunner(QObject):
    """Starts tasks on a private thread pool."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="cnnstudio-task")
        self._live: set[_Task] = set()

    def run(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[str, str], None] | None = None, **kwargs: Any) -> _Task:
        """Call ``fn(*args, **kwargs)`` on the pool; then ``on_done(result)`` or ``on_error(msg, tb)``."""
        task = _Task(fn, args, kwargs)
        self._live.add(task)

        def _done(result: Any) -> None:
            self._live.discard(task)
            if on_done is not None:
                on_done(result)

        def _failed(msg: str, tb: str) -> None:
            self._live.discard(task)
            if on_error is not None:
                on_error(msg, tb)

        task.signals.finished.connect(_done)
        task.signals.failed.connect(_failed)
        task.future = self.pool.submit(task.run)
        return task

    def busy(self) -> bool:
        """Some task has not reported back yet."""
        return bool(self._live)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every task has finished (used on close)."""
        _done, pending = wait_for([t.future for t in list(self._live)], timeout=msecs / 1000)
        return not pending


_THREADS: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def track(thread: QThread) -> QThread:
    """Register a ``QThread`` the studio starts, so tests can check none is left running."""
    _THREADS.add(thread)
    return thread


def running_threads() -> list[QThread]:
    """Tracked threads that are still running."""
    return [t for t in list(_THREADS) if shiboken6.isValid(t) and t.isRunning()]
