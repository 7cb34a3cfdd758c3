"""The probe panel's worker: typed requests answered one at a time, off the GUI thread, latest wins.

Probes share one model (a :class:`cnnstudio.ml.probing.session.ProbeSession`), which is not
thread-safe. The worker owns it: it is made by an :class:`.requests.OpenModel` request and
used by the others (:mod:`.requests`), one after another on a single pool thread, and never
leaves it; the GUI gets back only the plain data each request answers with. While one runs,
newer requests wait under a key ("features", "attribution"...); a request replaces any
waiting one with the same key, so dragging a slider or clicking quickly never builds a backlog.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from cnnstudio.ui.tasks import TaskRunner

from cnnstudio.ui.probe.requests import OpenModel, ProbeRequest


class ProbeJobs(QObject):
    """A serial queue of requests to the session it owns, with a busy state."""

    busy_changed = Signal(bool)
    job_started = Signal(str)      # what is being computed, for the busy indicator
    job_failed = Signal(str, str)  # message, traceback

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self, max_threads=1)
        self._waiting: dict[str, tuple] = {}
        self._running: str | None = None
        self._closed = False
        self._session = None  # the ProbeSession: made, used and replaced on the pool thread only

    @property
    def busy(self) -> bool:
        """A job runs or waits."""
        return self._running is not None or bool(self._waiting)

    def submit(self, key: str, text: str, request: OpenModel | ProbeRequest,
               on_done: Callable[[Any], None] | None = None) -> None:
        """Answer ``request`` in the background, then ``on_done(answer)`` on the GUI thread.

        A request still waiting under ``key`` is dropped in favour of this one.
        """
        if not isinstance(request, (OpenModel, ProbeRequest)):
            raise TypeError(f"the probe worker takes requests, not {type(request).__name__}")
        if self._closed:
            return
        self._waiting.pop(key, None)
        self._waiting[key] = (text, request, on_done)
        if self._running is None:
            self._start_next()

    def cancel(self, key: str) -> None:
        """Drop the job waiting under ``key`` (one already running finishes)."""
        self._waiting.pop(key, None)

    def _start_next(self) -> None:
        was_busy = self._running is not None
        if not self._waiting or self._closed:
            self._running = None
            if was_busy:
                self.busy_changed.emit(False)
            return
        key = next(iter(self._waiting))
        text, request, on_done = self._waiting.pop(key)
        self._running = key
        if not was_busy:
            self.busy_changed.emit(True)
        self.job_started.emit(text)
        self.runner.run(self._answer, request, on_done=lambda result: self._finish(on_done, result),
                        on_error=self._fail)

    def _answer(self, request: OpenModel | ProbeRequest) -> Any:
        """On the pool thread: a new session's ModelInfo, or the session's answer."""
        if isinstance(request, OpenModel):
            self._session = request.open()  # a model that fails to load leaves the old one in place
            return self._session.describe()
        if self._session is None:
            raise ValueError("no model is loaded")
        return request.run(self._session)

    def _finish(self, on_done, result) -> None:
        try:
            if on_done is not None and not self._closed:
                on_done(result)
        finally:
            self._start_next()

    def _fail(self, message: str, tb: str) -> None:
        try:
            if not self._closed:
                self.job_failed.emit(message, tb)
        finally:
            self._start_next()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the running job is done (tests and shutdown)."""
        return self.runner.wait(msecs)

    def shutdown(self) -> None:
        """Drop waiting jobs and wait for the running one; no callback runs after this."""
        self._closed = True
        self._waiting.clear()
        self.runner.shutdown()
