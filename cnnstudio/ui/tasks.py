"""Run a function off the GUI thread and get its result back as a Qt signal.

Used for anything slow that is not training (which has its own worker): importing a
Keras model, building ``keras.applications`` architectures, probes. The callbacks run on
the GUI thread. A :class:`TaskRunner` keeps its tasks so a window can wait for them on close,
and ends its threads then (:meth:`TaskRunner.shutdown`): an idle pool thread would otherwise
live on until the runner is garbage-collected.

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


#: Prefix of the pool threads' names (``cnnstudio-task_0``...), so tests can find them.
THREAD_NAME_PREFIX = "cnnstudio-task"


class TaskRunner(QObject):
    """Starts tasks on a private thread pool (made on the first task, ended by :meth:`shutdown`)."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.max_threads = max_threads
        self._pool: ThreadPoolExecutor | None = None
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
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.max_threads, thread_name_prefix=THREAD_NAME_PREFIX)
        task.future = self._pool.submit(task.run)
        return task

    def busy(self) -> bool:
        """Some task has not reported back yet."""
        return bool(self._live)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every task has finished (used on close)."""
        _done, pending = wait_for([t.future for t in list(self._live)], timeout=msecs / 1000)
        return not pending

    def shutdown(self, msecs: int = 30000) -> bool:
        """Wait for the tasks as :meth:`wait` does, then end the pool's threads (on close).

        A task still running after ``msecs`` keeps its thread (Python cannot stop it); a later
        :meth:`run` starts a new pool. Returns whether every task had finished.
        """
        done = self.wait(msecs)
        if self._pool is not None:
            self._pool.shutdown(wait=done)
            self._pool = None
        return done


_THREADS: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def track(thread: QThread) -> QThread:
    """Register a ``QThread`` the studio starts, so tests can check none is left running."""
    _THREADS.add(thread)
    return thread


def running_threads() -> list[QThread]:
    """Tracked threads that are still running."""
    return [t for t in list(_THREADS) if shiboken6.isValid(t) and t.isRunning()]
