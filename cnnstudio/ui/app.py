"""Start the studio: the window first, TensorFlow in the background after it shows."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from cnnstudio.core.templates import open_default_project

from cnnstudio.ui.gui_gc import GuiThreadCollector
from cnnstudio.ui.mainwindow import MainWindow
from cnnstudio.ui.studio import Studio


def run(path: str | None = None, t0: float | None = None) -> int:
    """Open the studio on ``path`` (a project or Keras model) or the default project."""
    t0 = time.perf_counter() if t0 is None else t0
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("cnnstudio")
    app.setOrganizationName("cnnstudio")
    collector = GuiThreadCollector(parent=app)  # no cycle of Qt objects is freed off the GUI thread
    collector.start()
    studio = Studio(open_default_project())
    window = MainWindow(studio)
    window.show()
    if path:
        window.open_path(Path(path), confirmed=True)
    else:
        QTimer.singleShot(0, window.recover_autosave)
    if os.environ.get("CNNSTUDIO_STARTUP_BENCH"):
        # benchmarks/bench_startup.py: report when the first frame has been painted, then quit
        def _report() -> None:
            print(f"window_shown_s={time.perf_counter() - t0:.4f}", flush=True)
            app.quit()
        QTimer.singleShot(0, _report)
    else:
        QTimer.singleShot(0, studio.load_tensorflow)
    return app.exec()
