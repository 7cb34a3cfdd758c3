"""One edit on the ResNet50 canvas, end to end: command, re-inference, repaint of the changed items.

Compared with the plain way of mirroring a model in a view (rebuild every item, then
repaint) in the same run. Also times opening (building the scene) and the automatic layout.
Target: an edit under 50 ms. Ends with one JSON line of figures.

    .venv/bin/python benchmarks/bench_canvas.py [--edits 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ms(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def time_canvas(project, edits: int = 30) -> dict:
    """Figures for ``project`` on a shown canvas (a QApplication must exist)."""
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.commands import SetParams
    from cnnstudio.ui.editor.canvas import CanvasView
    from cnnstudio.ui.studio import Studio

    app = QApplication.instance()
    studio = Studio()
    canvas = CanvasView(studio)
    canvas.resize(1400, 900)
    canvas.show()
    app.processEvents()
    t0 = time.perf_counter()
    studio.set_project(project)
    canvas.viewport().repaint()
    open_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    canvas.auto_layout()
    app.processEvents()
    canvas.viewport().repaint()
    layout_ms = (time.perf_counter() - t0) * 1000
    # edit a convolution: its card, the next layer's parameter count and the edge labels change
    convs = [n for n in studio.graph.nodes.values() if n.kind == "Conv2D"]
    target = convs[len(convs) // 3]
    base = target.params["filters"]
    count = [0]

    def edit():
        count[0] += 1
        studio.push(SetParams(studio.graph, target.id, {"filters": base + count[0] % 2}))
        app.processEvents()  # the studio's zero-delay re-inference, then the scene's item updates
        canvas.viewport().repaint()  # a full repaint of the view, not only the changed items

    canvas.fit()  # the whole network in view (every item painted)
    canvas.viewport().repaint()
    edit()  # warm-up
    edit_fit_ms = _ms(edit, edits)
    canvas.reset_zoom()  # working zoom, centred on the edited layer
    canvas.centerOn(canvas.graph_scene.nodes[target.id])
    canvas.viewport().repaint()
    edit()
    edit_ms = _ms(edit, edits)

    def infer_only():
        studio.reinfer()

    infer_ms = _ms(infer_only, edits)

    def rebuild():
        canvas.graph_scene.rebuild()
        canvas.viewport().repaint()

    rebuild_ms = _ms(rebuild, max(3, edits // 5))
    canvas.close()
    return {
        "layers": len(studio.graph.nodes), "edges": len(studio.graph.edges), "edited": target.name,
        "open_ms": round(open_ms, 1), "layout_ms": round(layout_ms, 1),
        "edit_ms_median": round(statistics.median(edit_ms), 2), "edit_ms_max": round(max(edit_ms), 2),
        "edit_fit_ms_median": round(statistics.median(edit_fit_ms), 2),
        "reinfer_ms_median": round(statistics.median(infer_ms), 2),
        "rebuild_ms_median": round(statistics.median(rebuild_ms), 2),
        "ratio": round(statistics.median(rebuild_ms) / statistics.median(edit_ms), 2),
    }


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30, help="edits to time (median reported)")
    args = parser.parse_args()
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    import keras
    import tensorflow as tf

    from cnnstudio.ml.keras_io import project_from_application

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"PySide6 {pyside_version}, Qt platform {app.platformName()}")
    project = project_from_application("ResNet50")
    fig = time_canvas(project, args.edits)
    print(f"ResNet50: {fig['layers']} layers, {fig['edges']} edges")
    print(f"open (scene build + paint)       {fig['open_ms']:8.1f} ms")
    print(f"automatic layout (one command)   {fig['layout_ms']:8.1f} ms")
    print(f"edit {fig['edited']} filters, end to end (command + re-inference + repaint of the view), "
          f"target < 50 ms:")
    print(f"  at 100% zoom                   {fig['edit_ms_median']:8.2f} ms median, {fig['edit_ms_max']:.2f} ms max")
    print(f"  whole network in view          {fig['edit_fit_ms_median']:8.2f} ms median")
    print(f"  of which re-inference          {fig['reinfer_ms_median']:8.2f} ms")
    print(f"plain way: rebuild every item + repaint: {fig['rebuild_ms_median']:.2f} ms "
          f"({fig['ratio']:.1f}x the incremental edit)")
    print(json.dumps({"benchmark": "canvas_edit", "model": "ResNet50", **fig}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
