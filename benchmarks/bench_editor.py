"""Editor responsiveness on a ResNet50-sized graph: re-inference and canvas edits vs the plain way.

Imports ``keras.applications.ResNet50(weights=None)`` once into a graph (177 nodes), then in
the same run times
  * one edit (``SetParams`` on a convolution's filters) followed by a full re-inference of
    every node (shapes, parameters, receptive fields, FLOPs) by the core, target < 20 ms;
  * the plain Keras way of learning the same: building the ``keras.Model`` from the graph
    (``cnnstudio.ml.model.builder.build_model``); ``"ratio"`` = Keras build time / re-inference time;
  * one edit on the ResNet50 canvas end to end (command, re-inference, repaint), target
    < 50 ms, against rebuilding every scene item (``"canvas_ratio"``);
  * expanding and collapsing a ResNet50 backbone imported as a nested model (a group) under a
    small head, end to end (command, items shown and re-routed, repaint), target < 1 s, against
    rebuilding every item of the expanded scene (``"group_ratio"``).
Ends with one JSON line of figures.

    .venv/bin/python benchmarks/bench_editor.py [--repeat 50] [--keras-repeat 5] [--edits 30] [--toggles 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the editor never needs a GPU

from machine import describe, print_machine  # noqa: E402 - after the environment is set

TARGET_MS = 20.0
CANVAS_TARGET_MS = 50.0


def _times_ms(fn, repeat: int) -> list[float]:
    """Wall times of ``repeat`` calls of ``fn``, in milliseconds."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _figures(prefix: str, times: list[float]) -> dict:
    return {f"{prefix}_ms_median": round(statistics.median(times), 3), f"{prefix}_ms_min": round(min(times), 3),
            f"{prefix}_ms_max": round(max(times), 3), f"{prefix}_runs": len(times)}


def resnet50_graph():
    """The graph of ``keras.applications.ResNet50(weights=None)`` and the import time."""
    import keras

    from cnnstudio.ml.model.keras_io import graph_from_model

    t0 = time.perf_counter()
    graph = graph_from_model(keras.applications.ResNet50(weights=None))
    return graph, time.perf_counter() - t0


def time_edit_and_reinference(graph, repeat: int) -> dict:
    """One ``SetParams`` on a convolution, then a full core re-inference; median of ``repeat``."""
    from cnnstudio.core.commands import SetParams
    from cnnstudio.core.inference import infer

    # a bottleneck's middle 3x3 convolution: its width can change without breaking a skip connection
    convs = [n for n in graph.nodes.values() if n.kind == "Conv2D" and n.name.endswith("_2_conv")]
    target = convs[len(convs) // 3]
    base = target.params["filters"]
    count = [0]

    def edit():
        count[0] += 1
        SetParams(graph, target.id, {"filters": base + count[0] % 2}).do()
        inference = infer(graph)
        assert not inference.errors

    edit()  # warm-up
    return {"edited": target.name, **_figures("reinference", _times_ms(edit, repeat))}


def time_keras_build(graph, repeat: int) -> dict:
    """Building the ``keras.Model`` of ``graph`` (the plain way to get shapes and parameters)."""
    import keras

    from cnnstudio.ml.model.builder import build_model

    def build():
        build_model(graph, "resnet50")
        keras.backend.clear_session()  # do not let layer-name counters and graphs pile up

    build()  # warm-up
    return _figures("keras_build", _times_ms(build, repeat))


def time_canvas(project, edits: int = 30) -> dict:
    """One edit on a shown canvas of ``project``, end to end (command, re-inference, repaint).

    Compared with the plain way of mirroring a model in a view: rebuild every item, then
    repaint. Also times opening (building the scene) and the automatic layout. Target < 50 ms.
    A QApplication must exist.
    """
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
    edit_fit_ms = _times_ms(edit, edits)
    canvas.reset_zoom()  # working zoom, centred on the edited layer
    canvas.centerOn(canvas.graph_scene.nodes[target.id])
    canvas.viewport().repaint()
    edit()
    edit_ms = _times_ms(edit, edits)

    def infer_only():
        studio.reinfer()

    infer_ms = _times_ms(infer_only, edits)

    def rebuild():
        canvas.graph_scene.rebuild()
        canvas.viewport().repaint()

    rebuild_ms = _times_ms(rebuild, max(3, edits // 5))
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


GROUP_TARGET_MS = 1000.0


def transfer_project():
    """A ResNet50 backbone (weights=None) called as a layer under a pooling + dense head, imported."""
    import keras

    from cnnstudio.ml.model.keras_io import project_from_model

    base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(224, 224, 3))
    inp = keras.Input((224, 224, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(base(inp, training=False))
    out = keras.layers.Dense(5, activation="softmax", name="classes")(x)
    return project_from_model(keras.Model(inp, out, name="transfer"), "transfer")


def time_group_toggle(project, toggles: int = 5) -> dict:
    """Expand and collapse the project's backbone group on a shown canvas, end to end (command,
    items shown or hidden, edges re-attached and re-routed, repaint), against the plain way of
    showing the expanded network: rebuilding every scene item. A QApplication must exist."""
    from PySide6.QtWidgets import QApplication

    from cnnstudio.ui.editor.canvas import CanvasView
    from cnnstudio.ui.studio import Studio

    app = QApplication.instance()
    studio = Studio(project)
    canvas = CanvasView(studio)
    canvas.resize(1400, 900)
    canvas.show()
    app.processEvents()
    scene = canvas.graph_scene
    group = next(iter(studio.graph.groups))

    def toggle():
        scene.toggle_group(group)
        app.processEvents()
        canvas.viewport().repaint()

    expand, collapse = [], []
    for _ in range(toggles):
        expand += _times_ms(toggle, 1)
        collapse += _times_ms(toggle, 1)
    toggle()  # expanded: the plain way shows all of it

    def rebuild():
        scene.rebuild()
        canvas.viewport().repaint()

    rebuild_ms = _times_ms(rebuild, max(3, toggles))
    canvas.close()
    return {"group": group, "group_layers": sum(n.group == group for n in studio.graph.nodes.values()),
            "expand_ms_median": round(statistics.median(expand), 1), "expand_ms_max": round(max(expand), 1),
            "collapse_ms_median": round(statistics.median(collapse), 1), "collapse_ms_max": round(max(collapse), 1),
            "rebuild_ms_median": round(statistics.median(rebuild_ms), 1),
            "ratio": round(statistics.median(rebuild_ms) / statistics.median(expand), 2)}


def main() -> int:
    """Run the measurements and print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="edits + re-inferences to time (median)")
    parser.add_argument("--keras-repeat", type=int, default=5, help="Keras model builds to time (median)")
    parser.add_argument("--edits", type=int, default=30, help="canvas edits to time (median)")
    parser.add_argument("--toggles", type=int, default=5, help="expands and collapses of a nested backbone to time")
    args = parser.parse_args()
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    machine = {**describe(), "pyside6": pyside_version, "qt_platform": app.platformName()}
    print_machine(machine)
    graph, import_s = resnet50_graph()
    print(f"ResNet50 imported into a graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges ({import_s:.2f} s)")
    fig = {**time_edit_and_reinference(graph, args.repeat), **time_keras_build(graph, args.keras_repeat)}
    fig["ratio"] = round(fig["keras_build_ms_median"] / fig["reinference_ms_median"], 1)
    ok = fig["reinference_ms_median"] < TARGET_MS
    print(f"edit {fig['edited']} + full re-inference: {fig['reinference_ms_median']:.2f} ms median "
          f"(min {fig['reinference_ms_min']:.2f}, max {fig['reinference_ms_max']:.2f}, {args.repeat} runs); "
          f"target < {TARGET_MS:.0f} ms: {'met' if ok else 'NOT met'}")
    print(f"keras.Model construction of the same graph: {fig['keras_build_ms_median']:.1f} ms median "
          f"({args.keras_repeat} runs)")
    print(f"ratio (Keras build / re-inference): {fig['ratio']:.1f}x")
    from cnnstudio.core.project import Project

    canvas = time_canvas(Project(graph=graph, name="ResNet50"), args.edits)
    canvas_ok = canvas["edit_ms_median"] < CANVAS_TARGET_MS
    print(f"canvas: open (scene build + paint) {canvas['open_ms']:.1f} ms, automatic layout {canvas['layout_ms']:.1f} ms")
    print(f"canvas: edit {canvas['edited']} end to end (command + re-inference + repaint), target < "
          f"{CANVAS_TARGET_MS:.0f} ms: {canvas['edit_ms_median']:.2f} ms median at 100% zoom "
          f"({canvas['edit_ms_max']:.2f} max), {canvas['edit_fit_ms_median']:.2f} ms with the whole network in view: "
          f"{'met' if canvas_ok else 'NOT met'}")
    print(f"canvas: plain way, rebuild every item + repaint: {canvas['rebuild_ms_median']:.2f} ms "
          f"({canvas['ratio']:.1f}x the incremental edit)")
    fig.update({f"canvas_{k}": v for k, v in canvas.items() if k != "ratio"})
    fig.update(canvas_ratio=canvas["ratio"], canvas_target_ms=CANVAS_TARGET_MS, canvas_target_met=canvas_ok)
    groups = time_group_toggle(transfer_project(), args.toggles)
    groups_ok = max(groups["expand_ms_median"], groups["collapse_ms_median"]) < GROUP_TARGET_MS
    print(f"canvas: nested ResNet50 backbone ({groups['group_layers']} layers) under a head: expand "
          f"{groups['expand_ms_median']:.1f} ms median ({groups['expand_ms_max']:.1f} max), collapse "
          f"{groups['collapse_ms_median']:.1f} ms ({groups['collapse_ms_max']:.1f} max), target < "
          f"{GROUP_TARGET_MS:.0f} ms: {'met' if groups_ok else 'NOT met'}; plain way, rebuild every item of the "
          f"expanded scene: {groups['rebuild_ms_median']:.1f} ms ({groups['ratio']:.2f}x the expand)")
    fig.update({f"group_{k}": v for k, v in groups.items() if k not in ("ratio", "group")})
    fig.update(group_ratio=groups["ratio"], group_target_ms=GROUP_TARGET_MS, group_target_met=groups_ok)
    print(json.dumps({"benchmark": "editor", "model": "ResNet50", "nodes": len(graph.nodes),
                      "target_ms": TARGET_MS, "target_met": ok, **fig, **machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
