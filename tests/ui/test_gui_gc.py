"""Cycles are collected on the GUI thread, never by whichever thread allocates (a Qt object
freed off the GUI thread can deadlock it)."""

import gc
import threading
import weakref

from cnnstudio.ui.gui_gc import GuiThreadCollector


class Cycle:
    def __init__(self):
        self.me = self


def test_the_timer_collects_on_the_gui_thread_and_stop_hands_collecting_back(qtbot):
    collector = GuiThreadCollector(interval_ms=10)
    collector.start()  # the suite's fixture already started one: this one takes over the same way
    try:
        assert not gc.isenabled()
        where = []
        garbage = Cycle()
        dead = weakref.ref(garbage)
        Cycle.__del__ = lambda self: where.append(threading.current_thread() is threading.main_thread())
        del garbage

        def allocate():  # a worker making lots of objects: automatic collection would run here
            for _ in range(10 * gc.get_threshold()[0]):
                Cycle()
        t = threading.Thread(target=allocate)
        t.start()
        t.join()
        qtbot.waitUntil(lambda: dead() is None, timeout=5000)
        assert where and all(where)  # every cycle was freed on the GUI thread
    finally:
        del Cycle.__del__
        collector.stop()
    assert gc.isenabled()
    gc.disable()  # the suite's own collector is still running for this test
