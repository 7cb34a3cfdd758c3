"""The capture thread: reads one frame source and keeps only the newest frame.

Frames are never queued: a new frame replaces the one waiting, and a replaced frame that
nobody took counts as dropped, so a slow model always sees the newest picture and the
latency never grows. Mirror, pause and freeze-frame apply to every source. A source that
fails ``fail_limit`` reads in a row is reported as a ``disconnected`` :class:`CaptureEvent`
(never raised); the thread releases its source when it stops or switches to another.
Sources are in :mod:`cnnstudio.ml.live.frame_sources`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

if TYPE_CHECKING:
    from cnnstudio.ml.live.frame_sources import FrameSource

#: How :class:`FrameGrabber` paces sources that do not pace themselves (all but cameras):
#: ``realtime`` at the source's frame rate (the live view), ``free`` as fast as reads go,
#: ``demand`` as fast as the consumer takes frames, with the next one already read and waiting
#: to be published (a benchmark's throughput: no decoding thrown away, no waiting on a read).
PACINGS = ("realtime", "free", "demand")


@dataclass(frozen=True)
class Frame:
    """One captured picture."""

    image: np.ndarray  # RGB uint8 (H, W, 3), already mirrored when mirroring is on
    index: int         # rises by one per published frame, across source switches
    time: float        # time.perf_counter() when the read returned
    source: str
    model_input: np.ndarray | None = None  # the grabber's ``transform`` of the image, when it has one


@dataclass(frozen=True)
class CaptureEvent:
    """Something the user must hear about: ``disconnected``, ``ended`` or ``format`` (what a source gives)."""

    kind: str
    message: str
    source: str


class RateMeter:
    """Events per second over a sliding window of the last ``window`` events."""

    def __init__(self, window: int = 30) -> None:
        self.window = window
        self.times: list[float] = []

    def tick(self, t: float | None = None) -> None:
        """Count one event (now, or at ``t``)."""
        self.times.append(time.perf_counter() if t is None else t)
        del self.times[:-self.window]

    @property
    def rate(self) -> float:
        """Events per second (0 until two events were counted)."""
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return 0.0
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


def preprocess_on_capture(read_ms: float, model_ms: float, on_capture: bool) -> bool:
    """Whether the capture thread should preprocess (``FrameGrabber.transform``): while its read
    is quicker than the model call (a large model), yes; while the model is quicker (a small
    model: the read is then the slowest stage, and anything added to it slows every frame), the
    inference thread does it. A 10% margin either way keeps it from flipping back and forth."""
    if on_capture:
        return read_ms <= 1.1 * model_ms
    return read_ms < 0.9 * model_ms


_KEEP = object()  # no source switch pending


class FrameGrabber:
    """Reads a source on its own thread and keeps only the newest frame (see the module doc).

    ``on_event(CaptureEvent)`` is called from the capture thread. ``captured`` counts the
    frames published, ``dropped`` those replaced before anyone took them.
    """

    def __init__(self, source: FrameSource | None = None, on_event: Callable[[CaptureEvent], None] | None = None,
                 pacing: str = "realtime", fail_limit: int = 10, retry_s: float = 0.02) -> None:
        if pacing not in PACINGS:
            raise ValueError(f"pacing must be one of {', '.join(PACINGS)}")
        self._cond = threading.Condition()
        self._source, self._next_source = source, _KEEP
        self.on_event, self.pacing = on_event, pacing
        self.fail_limit, self.retry_s = fail_limit, retry_s
        self.mirror = False
        self.paused = False
        #: ``transform(image) -> array`` run on the capture thread for every published frame
        #: (the live pipeline's preprocessing, so it overlaps the model's work); None: none.
        self.transform: Callable[[np.ndarray], np.ndarray] | None = None
        self._frozen_image: np.ndarray | None = None
        self._frozen = False
        self._latest: Frame | None = None
        self._taken = True
        self._index = 0
        self.captured = self.dropped = 0
        self.read_rate = RateMeter()
        self.read_ms = 0.0  # how long a read takes (moving average; a camera's includes waiting for it)
        self._stopping = self._halted = False
        self._format: tuple | None = None
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------
    @property
    def source(self) -> FrameSource | None:
        """The source being read (or about to be, after a switch)."""
        with self._cond:
            return self._source if self._next_source is _KEEP else self._next_source

    @property
    def running(self) -> bool:
        """The capture thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def halted(self) -> bool:
        """The source disconnected or ended; nothing is read until a switch."""
        return self._halted

    def start(self) -> "FrameGrabber":
        """Start the capture thread."""
        if not self.running:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="cnnstudio-capture", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and release the source (and any source waiting to be switched to)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.running:  # a thread stuck in a device read releases on its way out
            self._release_all()

    def switch_source(self, source: FrameSource) -> None:
        """Read ``source`` from now on; the old one is released by the capture thread."""
        with self._cond:
            if self._next_source is not _KEEP and self._next_source is not None:
                self._next_source.release()  # switched again before the thread took it
            self._next_source = source
            self._cond.notify_all()
        if not self.running:
            self._take_switch()

    def request_format(self, width: int | None, height: int | None, fps: float | None) -> None:
        """Ask the source for a resolution and frame rate, between two reads on the capture thread
        (a device must not be reconfigured while another thread reads it); a ``format`` event
        tells what the source actually gives."""
        with self._cond:
            self._format = (width, height, fps)
            self._cond.notify_all()
        if not self.running and self._source is not None:
            self._apply_format(self._source)

    def _apply_format(self, src: FrameSource) -> None:
        with self._cond:
            request, self._format = self._format, None
        if request is None:
            return
        try:
            w, h, fps = src.set_format(*request)
        except Exception as exc:  # a driver that refuses: keep what it had
            self._emit("format", f"{src.name} kept its format: {exc}", src.name)
            return
        self._emit("format", f"{src.name}: {w}x{h} at {fps:g} fps", src.name)

    @property
    def frozen(self) -> bool:
        """The frame on screen is held while the source runs on underneath."""
        return self._frozen

    @frozen.setter
    def frozen(self, on: bool) -> None:
        with self._cond:
            self._frozen = bool(on)
            self._frozen_image = self._latest.image if on and self._latest is not None else None

    # -- consumers ----------------------------------------------------------------
    def latest(self) -> Frame | None:
        """The newest frame (or None), without waiting; marks it taken."""
        with self._cond:
            if self._latest is not None:
                self._taken = True
                self._cond.notify_all()
            return self._latest

    def wait_frame(self, after: int = -1, timeout: float = 0.1) -> Frame | None:
        """The newest frame with ``index > after``, waiting up to ``timeout`` seconds for one."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while self._latest is None or self._latest.index <= after:
                left = deadline - time.perf_counter()
                if left <= 0 or self._stopping:
                    return None
                self._cond.wait(left)
            self._taken = True
            self._cond.notify_all()
            return self._latest

    # -- the thread ---------------------------------------------------------------
    def _emit(self, kind: str, message: str, source: str) -> None:
        event = CaptureEvent(kind, message, source)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a listener's bug must not kill capture
                pass

    def _take_switch(self) -> None:
        with self._cond:
            if self._next_source is _KEEP:
                return
            old, self._source, self._next_source = self._source, self._next_source, _KEEP
            self._halted, self._frozen_image = False, None
        if old is not None and old is not self._source:
            old.release()

    def _release_all(self) -> None:
        with self._cond:
            sources = [self._source] + ([] if self._next_source is _KEEP else [self._next_source])
            self._source, self._next_source = None, _KEEP
        for s in sources:
            if s is not None:
                s.release()

    def _idle(self, src: FrameSource | None) -> bool:
        return src is None or self._halted or (self.paused and not src.live)

    def _slot_free(self) -> bool:
        """Under ``demand`` pacing, wait (the lock held) until the published frame is taken; False
        if a stop, a source switch or a pause came first (the frame in hand is then thrown away)."""
        while self.pacing == "demand" and not self._taken:
            if self._stopping or self._next_source is not _KEEP or self.paused:
                return False
            self._cond.wait(0.05)
        return not self._stopping and self._next_source is _KEEP and not self.paused

    def _run(self) -> None:
        fails, due = 0, time.perf_counter()
        while not self._stopping:
            if self._next_source is not _KEEP:
                self._take_switch()
                fails, due = 0, time.perf_counter()
            src = self._source
            if self._format is not None and src is not None:
                self._apply_format(src)
            with self._cond:
                if self._idle(src):
                    if not self._stopping and self._next_source is _KEEP:
                        self._cond.wait(0.05)
                    continue
                if self.pacing == "realtime" and not src.live:
                    now = time.perf_counter()
                    if due > now:
                        self._cond.wait(due - now)  # a stop or switch wakes it early
                        continue
                    due = max(due, now - 0.5 / src.fps) + 1.0 / src.fps
            if self._stopping or self._next_source is not _KEEP:
                continue
            fails = self._read_once(src, fails)
        self._release_all()

    def _read_once(self, src: FrameSource, fails: int) -> int:
        """Read and publish one frame; returns the count of failed reads in a row."""
        error = ""
        t0 = time.perf_counter()
        try:
            ok, image = src.read()
        except Exception as exc:  # a driver or decoder error is a failed read, not a crash
            ok, image, error = False, None, f": {type(exc).__name__}: {exc}"
        t = time.perf_counter()
        self.read_ms = 1e3 * (t - t0) if self.read_ms == 0 else 0.9 * self.read_ms + 100.0 * (t - t0)
        if not ok or image is None:
            if src.ended:
                self._halted = True
                self._emit("ended", f"{src.name} has ended.", src.name)
                return 0
            fails += 1
            if fails >= self.fail_limit:
                self._halted = True
                self._emit("disconnected", f"{src.name} stopped sending frames{error}. It may be unplugged "
                                           "or in use elsewhere: choose another source, or the demo.", src.name)
                return 0
            with self._cond:
                self._cond.wait(self.retry_s)
            return fails
        if self.paused:  # a camera is still drained while paused, so it resumes on a fresh frame
            return 0
        if self.mirror:
            image = cv2.flip(image, 1)
        if self._frozen and self._frozen_image is not None:
            image = self._frozen_image
        model_input = None
        transform = self.transform
        if transform is not None:
            try:
                model_input = transform(image)
            except Exception:  # the consumer preprocesses again and reports what is wrong
                model_input = None
        with self._cond:
            if not self._slot_free():
                return 0
            if self._frozen and self._frozen_image is None:
                self._frozen_image = image
            if self._latest is not None and not self._taken:
                self.dropped += 1
            self._latest = Frame(image, self._index, t, src.name, model_input)
            self._index += 1
            self._taken = False
            self.captured += 1
            self.read_rate.tick(t)
            self._cond.notify_all()
        return 0
