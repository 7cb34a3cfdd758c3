"""Python's cyclic garbage collector, run on the GUI thread only.

Python collects cycles on whichever thread happens to allocate when its thresholds trip. A
cycle holding a Qt object (a widget or menu kept alive by a connected lambda) is then freed
off the GUI thread, and a QObject destroyed there while the GUI thread deletes another one
deadlocks: one thread holds Qt's object mutex and waits for the GIL, the other the reverse
(seen as a hung Probe page: its worker loading a model while a window closed). The usual cure
for Qt applications with Python threads: switch automatic collection off and collect from a
timer on the GUI thread, generation by generation as the thresholds say.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """Collects garbage on the GUI thread every ``interval_ms`` while started (automatic collection off)."""

    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.collect_due)

    def start(self) -> None:
        """Take over collecting from Python's automatic collector."""
        gc.disable()
        self.timer.start()

    def stop(self) -> None:
        """Collect everything now and hand collecting back to Python."""
        self.timer.stop()
        gc.collect()
        gc.enable()

    def collect_due(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as Python would."""
        counts = gc.get_count()
        if counts[0] <= self.thresholds[0]:
            return
        generation = 2 if counts[2] > self.thresholds[2] else 1 if counts[1] > self.thresholds[1] else 0
        gc.collect(generation)
