"""Where a training run stands: the one progress and time-left rule for the Training page and ``cnnstudio train``.

A :class:`TrainingProgress` is fed what a :class:`~cnnstudio.ml.training.fit.Reporter` hears
(``on_start``'s info, then each batch) and answers how far the run is, how fast it goes
(images per second over the last few seconds, so a pause or a slow first batch is soon
forgotten) and how long it has left. Plain Python, no TensorFlow: a GUI can own one on its
own thread, and tests drive it with a fake clock.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Any, Callable, Mapping

RATE_WINDOW_S = 3.0  # the rate is measured over the batches of the last few seconds


class TrainingProgress:
    """Progress of one training run, batch by batch.

    ``clock`` returns seconds (``time.perf_counter`` by default); the rate and the time left
    come from the batches that ended within ``window_s`` of the newest one.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter, window_s: float = RATE_WINDOW_S) -> None:
        self.clock, self.window_s = clock, window_s
        self.start({})

    def start(self, info: Mapping[str, Any]) -> None:
        """A run begins: ``info`` as the reporter's ``on_start`` gives it (``epochs``,
        ``initial_epoch``, ``steps_per_epoch``, ``batch_size``, ``samples``); forgets the last run."""
        self.epochs = int(info.get("epochs", 1))
        self.initial_epoch = int(info.get("initial_epoch", 0))
        self.steps_per_epoch = max(1, int(info.get("steps_per_epoch", 1)))
        self.batch_size = int(info.get("batch_size", 0))
        self.samples = int(info.get("samples", self.steps_per_epoch * self.batch_size))
        self.epoch = self.initial_epoch
        self.epoch_step = 0  # batches done in ``epoch``
        self._epoch_first_step: dict[int, int] = {}
        self._window: collections.deque[tuple[float, int]] = collections.deque()  # (time, images)

    def batch(self, step: int, epoch: int) -> None:
        """Batch ``step`` (global, from 1) of ``epoch`` (from 1) ended now."""
        # steps are counted from the epoch's first batch seen, not from ``step % steps_per_epoch``:
        # a resumed run's global steps go on from wherever the last run stopped, mid-epoch or not
        first = self._epoch_first_step.setdefault(epoch, step)
        self.epoch, self.epoch_step = epoch, min(self.steps_per_epoch, step - first + 1)
        now = self.clock()
        self._window.append((now, self._images_in(self.epoch_step)))
        while now - self._window[0][0] > self.window_s:
            self._window.popleft()

    def _images_in(self, epoch_step: int) -> int:
        """Images in the epoch's batch ``epoch_step``: the last one holds what is left over."""
        return max(0, min(self.batch_size, self.samples - (epoch_step - 1) * self.batch_size))

    @property
    def total(self) -> int:
        """Batches this run trains (from ``initial_epoch`` to ``epochs``)."""
        return max(1, (self.epochs - self.initial_epoch) * self.steps_per_epoch)

    @property
    def done(self) -> int:
        """Batches this run has trained."""
        if not self._epoch_first_step:
            return 0
        return min(self.total, (self.epoch - 1 - self.initial_epoch) * self.steps_per_epoch + self.epoch_step)

    @property
    def fraction(self) -> float:
        """Share of this run done, 0 to 1."""
        return self.done / self.total

    @property
    def epoch_position(self) -> float:
        """Epochs done, fractional (epoch 2 half done is 1.5): the x of a batch on the curves."""
        return self.epoch - 1 + self.epoch_step / self.steps_per_epoch

    def _span(self) -> float:
        return self._window[-1][0] - self._window[0][0] if len(self._window) > 1 else 0.0

    @property
    def rate(self) -> float:
        """Images per second over the recent window (0 until two batches are in it)."""
        span = self._span()
        # the oldest batch ended at the window's start: only the images after it took ``span``
        return sum(n for _, n in list(self._window)[1:]) / span if span > 0 else 0.0

    def _seconds_for(self, batches: int) -> float:
        span = self._span()
        return batches * span / (len(self._window) - 1) if span > 0 else math.nan

    @property
    def eta_s(self) -> float:
        """Seconds left in this run at the recent pace (NaN until it is known)."""
        return self._seconds_for(self.total - self.done)

    @property
    def epoch_eta_s(self) -> float:
        """Seconds left in the current epoch at the recent pace (NaN until it is known)."""
        return self._seconds_for(self.steps_per_epoch - self.epoch_step)

    def line(self) -> str:
        """One line for a person: ``epoch 2/10 · 1,234 samples/s · 1:05 left``."""
        return f"epoch {self.epoch}/{self.epochs} · {self.rate:,.0f} samples/s · {format_duration(self.eta_s)} left"


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3:07"`` (minutes:seconds from a minute up), or ``"–"`` when unknown."""
    if not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
