"""Editor responsiveness on a ResNet50-sized graph: full re-inference after one edit vs Keras.

Imports ``keras.applications.ResNet50(weights=None)`` once into a graph (177 nodes), then in
the same run times
  * one edit (``SetParams`` on a convolution's filters) followed by a full re-inference of
    every node (shapes, parameters, receptive fields, FLOPs) by the core, target < 20 ms;
  * the plain Keras way of learning the same: building the ``keras.Model`` from the graph
    (``cnnstudio.ml.builder.build_model``).
Each measurement is one function returning its figures, so more (e.g. a canvas edit) can be
added to ``main``. Ends with one JSON line; ``"ratio"`` = Keras build time / re-inference time.

    .venv/bin/python benchmarks/bench_editor.py [--repeat 50] [--keras-repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the editor never needs a GPU

from machine import describe, print_machine  # noqa: E402 - after the environment is set

TARGET_MS = 20.0


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

    from cnnstudio.ml.keras_io import graph_from_model

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

    from cnnstudio.ml.builder import build_model

    def build():
        build_model(graph, "resnet50")
        keras.backend.clear_session()  # do not let layer-name counters and graphs pile up

    build()  # warm-up
    return _figures("keras_build", _times_ms(build, repeat))


def main() -> int:
    """Run the measurements and print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="edits + re-inferences to time (median)")
    parser.add_argument("--keras-repeat", type=int, default=5, help="Keras model builds to time (median)")
    args = parser.parse_args()
    machine = describe()
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
    print(json.dumps({"benchmark": "editor_reinference", "model": "ResNet50", "nodes": len(graph.nodes),
                      "target_ms": TARGET_MS, "target_met": ok, **fig, **machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
