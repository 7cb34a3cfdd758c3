"""Probe speed: mosaic redraw rate, one probe of ResNet50 against plain Keras, the projector, maximisation.

1. A 64-channel 112x112 feature map becomes one mosaic (tile, scale to uint8) and is drawn
   into the probe page's :class:`MosaicView` (``setImage`` + a synchronous repaint), frame
   after frame with new activations; compared, in the same run, with the naive way: one
   ``ImageItem`` per map. Target: 30 frames per second or more.
2. One probe of ``keras.applications.ResNet50(weights=None)`` at 224x224 (the prediction plus
   the last convolution block's maps, from the :class:`Prober`'s one multi-output sub-model in
   a ``tf.function``) against the plain Keras way, ``keras.Model(inputs, layer.output)(x)``
   called directly on the same input. Target: ``ratio`` (probe / plain) at most 2.
3. The Projector on the default project's shipped run (:func:`bench_projector`): activations
   of the penultimate layer for the validation images against a plain batched Keras
   ``predict`` of the same sub-model (``projector_vs_keras``, plain / ours: 1 is as fast), PCA
   against NumPy's bare SVD, t-SNE's time, and the longest GUI-thread stall while the tab
   computes and draws (target: under 50 ms).
4. Activation maximisation steps per second (16 channels at once) on LeNet-5 and a ResNet-style
   net, against a plain eager ``tf.GradientTape`` loop doing the same ascent.
5. Top-9 patches (issue 14): the scan's images/s against a plain batched Keras sub-model call up to
   the layer plus NumPy max / top-k over the same preprocessed batches (target: ratio >= 0.8), and
   from the dataset as the Probe page scans it; the largest gap between a 10 ms QTimer's ticks on
   the GUI thread during a Top patches scan (target < 50 ms), beside the same timer idle.
6. Milliseconds per frame of Grad-CAM, guided backprop, guided Grad-CAM and integrated gradients
   (16 and 48 steps) on LeNet-5 and the ResNet-style net: what the Live page can afford.

Run: ``.venv/bin/python benchmarks/bench_probe.py [--frames N] [--repeats N] [--maximize-steps N]``. The last line
is JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from machine import describe, print_machine  # noqa: E402


def bench_mosaic(frames: int) -> dict:
    """Frames per second of the mosaic view and of one ImageItem per map, same activations."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from cnnstudio.ml.probing.mosaic import tile_mosaic, to_uint8
    from cnnstudio.ui.probe.views import MosaicView

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    acts = [np.maximum(rng.normal(size=(112, 112, 64)).astype(np.float32), 0) for _ in range(8)]

    view = MosaicView("bench")
    view.resize(1000, 1000)
    view.show()
    app.processEvents()

    def frame_ours(a):
        m = tile_mosaic(a, "per_map")
        view.set_picture(m, to_uint8(m.image))
        view.repaint()
        app.processEvents()

    draw_only = []
    ours = _rate(frame_ours, acts, frames)
    pictures = [(tile_mosaic(a, "per_map"),) for a in acts]
    pictures = [(m, to_uint8(m.image)) for (m,) in pictures]
    t0 = time.perf_counter()
    for i in range(frames):
        m, pic = pictures[i % len(pictures)]
        view.set_picture(m, pic)
        view.repaint()
        app.processEvents()
    draw_only.append(frames / (time.perf_counter() - t0))

    naive = pg.GraphicsLayoutWidget()
    naive.resize(1000, 1000)
    items = []
    for k in range(64):
        vb = naive.addViewBox(row=k // 8, col=k % 8, lockAspect=True, invertY=True, enableMouse=False)
        item = pg.ImageItem(axisOrder="row-major")
        item.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        vb.addItem(item)
        items.append(item)
    naive.show()
    app.processEvents()

    def frame_naive(a):
        for k, item in enumerate(items):
            item.setImage(a[:, :, k], autoLevels=True)
        naive.repaint()
        app.processEvents()

    plain = _rate(frame_naive, acts, max(5, frames // 4))
    view.close()
    naive.close()
    return {"mosaic_fps": round(ours, 1), "mosaic_draw_only_fps": round(draw_only[0], 1),
            "per_map_items_fps": round(plain, 1), "mosaic_vs_items": round(ours / plain, 2)}


def _rate(fn, inputs, frames: int) -> float:
    fn(inputs[0])  # first frame: allocations, first layout
    t0 = time.perf_counter()
    for i in range(frames):
        fn(inputs[i % len(inputs)])
    return frames / (time.perf_counter() - t0)


def bench_resnet(repeats: int) -> dict:
    """Seconds of one Prober probe and of the plain Keras sub-model call, median of ``repeats``."""
    import keras

    from cnnstudio.ml.probing.prober import Prober

    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    x = np.random.default_rng(0).uniform(0, 1, (224, 224, 3)).astype(np.float32)
    prober = Prober(model)
    layer = prober.last_conv_layer
    plain = keras.Model(model.inputs[0], model.get_layer(layer).output)
    batch = x[None]

    t0 = time.perf_counter()
    prober.run(x, [layer])
    first_probe = time.perf_counter() - t0
    np.asarray(plain(batch))  # builds the plain call's kernels the same way

    probe_times, plain_times = [], []
    for _ in range(repeats):  # interleaved, so a busy neighbour slows both alike
        t0 = time.perf_counter()
        result = prober.run(x, [layer])
        probe_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        expect = np.asarray(plain(batch))
        plain_times.append(time.perf_counter() - t0)
    assert np.allclose(result.activations[layer], expect[0], rtol=1e-4, atol=1e-4)
    probe_s, plain_s = statistics.median(probe_times), statistics.median(plain_times)
    return {"resnet_layer": layer, "probe_s": round(probe_s, 4), "keras_submodel_s": round(plain_s, 4),
            "probe_first_call_s": round(first_probe, 3), "ratio": round(probe_s / plain_s, 3)}


def bench_projector(points: int) -> dict:
    """The Projector on the default project's shipped run: activations of the penultimate layer
    for ``points`` validation images (our streamed :func:`~cnnstudio.ml.probing.projector.collect`
    against preprocessing them all and one plain batched Keras sub-model call over the same
    images), PCA (ours against NumPy's bare SVD), t-SNE, and the longest GUI-thread stall while
    the Projector tab computes and draws them."""
    import keras
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.project import load_project
    from cnnstudio.ml.data.datasets import load_dataset
    from cnnstudio.ml.data.preprocess import preprocess_batch
    from cnnstudio.ml.probing import projector
    from cnnstudio.ml.probing.prober import Prober
    from cnnstudio.ml.training.runs import Run, run_preprocessing
    from cnnstudio.ui.probe.panel import ProbePanel
    from cnnstudio.ui.studio import Studio

    path = os.path.join(os.path.dirname(__file__), "..", "resources", "projects", "default.cnnproj")
    project = load_project(path)
    run = Run(project.shipped_run)
    settings = run_preprocessing(run.settings, project.preprocessing)
    model = keras.models.load_model(run.best_checkpoint)
    dataset = load_dataset(project.data, settings)
    prober = Prober(model, class_names=project.classes)
    layer = projector.default_layer(prober)
    projector.collect(prober, dataset, layer, 64)  # traces the call
    t0 = time.perf_counter()
    acts = projector.collect(prober, dataset, layer, points)
    ours = time.perf_counter() - t0
    part = dataset.splits[acts.split]
    sub = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.outputs[0]])
    sub(preprocess_batch(part.images[acts.indices[:64]], settings))
    t0 = time.perf_counter()
    x = preprocess_batch(part.images[acts.indices], settings)
    plain = [np.asarray(o) for o in sub.predict(x, batch_size=projector.BATCH, verbose=0)]
    keras_s = time.perf_counter() - t0
    assert np.allclose(plain[0], acts.features, rtol=1e-4, atol=1e-4)

    def bare_svd(x):
        x = x.astype(np.float64)
        return np.linalg.svd(x - x.mean(axis=0), full_matrices=False)

    pca_s, svd_s = _best_of(lambda: projector.pca(acts.features), lambda: bare_svd(acts.features))
    tsne = projector.reduce(acts, "tsne", project.classes)

    app = QApplication.instance() or QApplication([])
    panel = ProbePanel(Studio(project))
    panel.resize(1400, 900)
    panel.show()
    while panel.image is None or panel.jobs.busy:
        app.processEvents()
        time.sleep(0.005)
    tab = panel.projector_tab
    tab.points.setValue(points)
    panel.tabs.setCurrentWidget(tab)  # shown: it lays out and projects by PCA by itself (not timed)
    while tab.result is None or panel.jobs.busy:
        app.processEvents()
        time.sleep(0.005)
    clock, gaps = QElapsedTimer(), []
    ticker = QTimer()
    ticker.timeout.connect(lambda: (gaps.append(clock.restart())))
    stall = {}
    for method in ("pca", "tsne"):
        tab.method.setCurrentIndex(tab.method.findData(method))
        gaps.clear()
        clock.start()
        ticker.start(5)
        tab.compute()
        while tab.result is None or tab.result.method != method or panel.jobs.busy:
            app.processEvents()
            time.sleep(0.002)
        ticker.stop()
        stall[method] = max(gaps, default=0)
    panel.shutdown()
    n = len(acts.indices)
    return {"projector_points": n, "projector_layer": layer, "projector_activations_s": round(ours, 3),
            "projector_images_per_s": round(n / ours, 1), "keras_predict_s": round(keras_s, 3),
            "projector_vs_keras": round(keras_s / ours, 2), "pca_s": round(pca_s, 4), "numpy_svd_s": round(svd_s, 4),
            "tsne_s": round(tsne.seconds["tsne"], 2), "gui_stall_pca_ms": stall["pca"],
            "gui_stall_tsne_ms": stall["tsne"]}


def _best_of(*calls, repeats: int = 7) -> list[float]:
    """The fastest of ``repeats`` timed calls of each of ``calls``, interleaved, in seconds (a busy
    neighbour only ever slows a call down, and slows them alike)."""
    times = [[] for _ in calls]
    for _ in range(repeats):
        for call, spent in zip(calls, times):
            t0 = time.perf_counter()
            call()
            spent.append(time.perf_counter() - t0)
    return [min(t) for t in times]
def bench_maximize(steps: int) -> dict:
    """Activation maximisation steps per second, 16 channels of the last convolution in one batch, on
    LeNet-5 and the ResNet-style template (random weights), against a plain eager ``tf.GradientTape``
    loop doing the same ascent (same picture, transforms, penalties; Keras's Adam on a variable)."""
    import keras
    import tensorflow as tf

    from cnnstudio.core.templates import lenet5, resnet_style
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.probing.maximize import Maximizer, _l2, _tv
    from cnnstudio.ml.probing.maximize_spec import Goal, MaximizeSettings
    from cnnstudio.ml.probing.prober import Prober

    figures = {}
    for name, template in (("lenet5", lenet5), ("resnet_style", resnet_style)):
        project = template()
        model = build_model(project.graph, name)
        prober = Prober(model, project.graph)
        mx = Maximizer(prober, project.preprocessing.replace(size=prober.input_shape[:2]))
        layer = prober.conv_layer_names[-1]
        goal = Goal(layer, tuple(range(min(16, mx.layers[layer]))))
        settings = MaximizeSettings.default().replace(steps=steps)
        mx.run(goal, settings.replace(steps=2))  # traces the step
        t0 = time.perf_counter()
        mx.run(goal, settings)
        ours = steps / (time.perf_counter() - t0)

        sub = keras.Model(model.inputs[0], prober.layer_tensor(layer))
        weights = tf.constant(mx.weights(goal))
        params = tf.Variable(mx.initial(len(goal.channels), settings.parametrization, 0))
        knobs = tf.constant([float(getattr(settings, k)) for k in
                             ("learning_rate", "jitter", "scale", "rotation", "blur", "l2", "tv")])
        adam = keras.optimizers.Adam(settings.learning_rate)

        def plain_step(i):
            with tf.GradientTape() as tape:
                p = mx.render(params, settings.parametrization, knobs[4])
                t = sub(mx.to_model(mx.transform(p, knobs, tf.constant([0, i]))), training=False)
                values = tf.reduce_sum(tf.reshape(t * weights, [len(goal.channels), -1]), axis=1)
                penalty = tf.stop_gradient(tf.abs(values)) * (knobs[5] * _l2(p) + knobs[6] * _tv(p))
                loss = -tf.reduce_sum(values - penalty)
            adam.apply_gradients([(tape.gradient(loss, params), params)])

        plain_step(0)
        n = max(8, steps // 4)  # the eager loop is slow: fewer steps give its rate
        t0 = time.perf_counter()
        for i in range(n):
            plain_step(i + 1)
        plain = n / (time.perf_counter() - t0)
        figures[name] = {"layer": layer, "channels": len(goal.channels), "input": list(prober.input_shape),
                         "steps_per_s": round(ours, 1), "plain_tape_steps_per_s": round(plain, 1),
                         "ratio": round(ours / plain, 2)}
    return {"maximize": figures}


# -- top-activating patches and attributions (issue 14) ---------------------------------------------

def _template_model(name: str):
    """A template's model (random weights) and its project: ``lenet5`` or ``resnet_style``."""
    from cnnstudio.core import templates
    from cnnstudio.ml.model.builder import build_model

    project = getattr(templates, name)()
    return build_model(project.graph), project


def _shapes_inputs(project, count: int) -> np.ndarray:
    """``count`` images of the default shapes dataset, preprocessed for ``project``'s model, in memory."""
    from cnnstudio.core.templates import default_project
    from cnnstudio.ml.data.preprocess import preprocess
    from cnnstudio.ml.probing.inputs import DatasetSamples

    data = default_project().data
    samples = DatasetSamples(data.replace(options={**data.options, "count": max(count, 60)}))
    return np.stack([preprocess(samples.item(i)[0], project.preprocessing) for i in range(count)])


def bench_top_patches(count: int = 2000, repeats: int = 3) -> dict:
    """Top-9 scan images/s (one per image) against a plain batched Keras sub-model call + NumPy
    max / top-k over the same preprocessed batches, for LeNet-5 and the ResNet-style net; then the
    whole scan as the Probe page runs it (reading and preprocessing the dataset too)."""
    import keras

    from cnnstudio.core.templates import default_project
    from cnnstudio.ml.probing.inputs import DatasetSamples
    from cnnstudio.ml.probing.prober import Prober
    from cnnstudio.ml.probing.session import ProbeSession
    from cnnstudio.ml.probing.top_patches import batch_size_for, scan

    out = {}
    for name in ("lenet5", "resnet_style"):
        model, project = _template_model(name)
        prober = Prober(model, project.graph)
        layer = prober.conv_layer_names[-1] if name == "lenet5" else "block3_out"
        n = count if name == "lenet5" else count // 4
        x = _shapes_inputs(project, n)
        bs = batch_size_for(prober.input_shape)
        batches = [(np.arange(i, min(n, i + bs)), x[i:i + bs], np.zeros(len(x[i:i + bs]), np.int64))
                   for i in range(0, n, bs)]
        sub = keras.Model(model.inputs[0], prober.layer_tensor(layer))

        def plain(k=9, ch=0):
            best = np.zeros(0, np.float32)
            for _, xb, _ in batches:
                maps = np.asarray(sub(xb, training=False))[..., ch]
                best = np.concatenate([best, maps.reshape(len(xb), -1).max(axis=1)])
                best = best[np.argsort(-best)[:k]]
            return best

        def ours():
            return scan(prober, batches, layer, 0, k=9, total=n)
        plain(), ours()  # trace both
        t_ours, t_plain = [], []
        for _ in range(repeats):  # interleaved
            t0 = time.perf_counter()
            found = ours()
            t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            expect = plain()
            t_plain.append(time.perf_counter() - t0)
        assert np.allclose([p.value for p in found.patches], expect, rtol=1e-4, atol=1e-5)
        ours_ips, plain_ips = n / statistics.median(t_ours), n / statistics.median(t_plain)
        out[name] = {"layer": layer, "images": n, "batch": bs, "scan_images_per_s": round(ours_ips),
                     "keras_images_per_s": round(plain_ips), "ratio": round(ours_ips / plain_ips, 3)}
        data = default_project().data
        samples = DatasetSamples(data.replace(options={**data.options, "count": n}))
        session = ProbeSession(model, project.preprocessing, project.classes, project.graph)
        t0 = time.perf_counter()
        session.top_patches(samples, layer, 0, 9)
        out[name]["end_to_end_images_per_s"] = round(n / (time.perf_counter() - t0))
    return out


def bench_scan_stall(timeout_s: float = 300.0) -> dict:
    """The largest gap between the ticks of a 10 ms QTimer on the GUI thread while the Probe page's
    Top patches tab scans the default project's dataset (the shipped run), and how long the scan took."""
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.templates import open_default_project
    from cnnstudio.ui.probe.panel import ProbePanel
    from cnnstudio.ui.studio import Studio

    app = QApplication.instance() or QApplication([])
    panel = ProbePanel(Studio(open_default_project()))
    panel.resize(1400, 900)
    panel.show()

    def wait(cond):
        end = time.perf_counter() + timeout_s
        while not cond() and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)
    wait(lambda: panel.image is not None and not panel.jobs.busy)
    tab = panel.patches_tab
    panel.tabs.setCurrentWidget(tab)
    wait(lambda: not panel.jobs.busy)
    tab.layer.setCurrentIndex(tab.layer.findData(panel.info.cam_layer))
    gaps, clock = [], QElapsedTimer()
    timer = QTimer()
    timer.timeout.connect(lambda: (gaps.append(clock.restart())))
    clock.start()
    timer.start(10)
    idle_end = time.perf_counter() + 3.0  # the same timer with nothing running: what the machine alone costs
    wait(lambda: time.perf_counter() > idle_end)
    idle, gaps[:] = gaps[1:] or [0], []
    t0 = time.perf_counter()
    tab.scan()
    wait(lambda: not tab.scanning)
    seconds = time.perf_counter() - t0
    timer.stop()
    result = tab.result
    panel.shutdown()
    gaps = gaps[1:] or [0]
    return {"scan_images": result.scanned, "scan_s": round(seconds, 2), "ticks": len(gaps),
            "max_gap_ms": max(gaps), "p99_gap_ms": float(np.percentile(gaps, 99)), "layer": result.layer,
            "idle_max_gap_ms": max(idle), "idle_p99_gap_ms": float(np.percentile(idle, 99)),
            "load_average_1min": round(os.getloadavg()[0], 2)}  # other processes on the machine stall it too


def bench_attribution_costs(repeats: int = 10) -> dict:
    """Milliseconds per frame of each attribution on LeNet-5 and the ResNet-style net (one image), beside
    the plain forward call: what the Live page can afford per frame."""
    from cnnstudio.ml.probing import attribution
    from cnnstudio.ml.probing.outputs import AttributionUndefined
    from cnnstudio.ml.probing.prober import Prober

    out = {}
    for name in ("lenet5", "resnet_style"):
        model, project = _template_model(name)
        prober = Prober(model, project.graph)
        x = _shapes_inputs(project, 1)[0]
        calls = {"forward": lambda: prober.run(x),
                 "gradcam": lambda: attribution.grad_cam(prober, x, 0),
                 "guided": lambda: attribution.guided_backprop(prober, x, 0),
                 "guided_gradcam": lambda: attribution.guided_grad_cam(prober, x, 0),
                 "integrated_16": lambda: attribution.integrated_gradients(prober, x, 0, steps=16),
                 "integrated_48": lambda: attribution.integrated_gradients(prober, x, 0, steps=48)}
        row = {}
        for method, call in calls.items():
            try:
                call(), call()
            except AttributionUndefined:  # LeNet-5's tanh: no ReLU to guide
                row[method + "_ms"] = None
                continue
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            row[method + "_ms"] = round(1e3 * statistics.median(times), 2)
        out[name] = row
    return out


def main() -> int:
    """Run the benchmarks and print the figures, JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="mosaic frames to draw (default 120)")
    parser.add_argument("--repeats", type=int, default=10, help="ResNet50 calls to time (default 10)")
    parser.add_argument("--projector-points", type=int, default=2000, help="validation images to project (default 2000)")
    parser.add_argument("--maximize-steps", type=int, default=128, help="maximisation steps to time (default 128)")
    args = parser.parse_args()
    info = describe()
    print_machine(info)
    figures = bench_mosaic(args.frames)
    print(f"mosaic 64x112x112: {figures['mosaic_fps']} fps (tile + draw), {figures['mosaic_draw_only_fps']} fps "
          f"(draw only); one ImageItem per map: {figures['per_map_items_fps']} fps")
    resnet = bench_resnet(args.repeats)
    print(f"ResNet50 224x224, {resnet['resnet_layer']}: probe {resnet['probe_s'] * 1000:.1f} ms, plain Keras "
          f"sub-model call {resnet['keras_submodel_s'] * 1000:.1f} ms, ratio {resnet['ratio']} "
          f"(first probe with tracing {resnet['probe_first_call_s']} s)")
    figures.update(resnet)
    proj = bench_projector(args.projector_points)
    print(f"projector, {proj['projector_points']} images of {proj['projector_layer']}: activations "
          f"{proj['projector_activations_s']} s ({proj['projector_images_per_s']} images/s), plain Keras predict "
          f"{proj['keras_predict_s']} s (ratio {proj['projector_vs_keras']}); PCA {proj['pca_s']} s (NumPy SVD "
          f"{proj['numpy_svd_s']} s); t-SNE {proj['tsne_s']} s; GUI stall {proj['gui_stall_pca_ms']} ms (PCA), "
          f"{proj['gui_stall_tsne_ms']} ms (t-SNE)")
    figures.update(proj)
    figures.update(bench_maximize(args.maximize_steps))
    for net, f in figures["maximize"].items():
        print(f"maximise {net} {f['layer']}, {f['channels']} channels at once: {f['steps_per_s']} steps/s, plain "
              f"tf.GradientTape loop {f['plain_tape_steps_per_s']} steps/s, ratio {f['ratio']}")
    figures["top_patches"] = bench_top_patches()
    for name, f in figures["top_patches"].items():
        print(f"top-9 scan {name} {f['layer']}: {f['scan_images_per_s']} images/s, plain Keras sub-model + NumPy "
              f"{f['keras_images_per_s']} images/s, ratio {f['ratio']}; from the dataset {f['end_to_end_images_per_s']} images/s")
    figures["scan_stall"] = stall = bench_scan_stall()
    print(f"GUI during a Top patches scan of {stall['scan_images']} images ({stall['scan_s']} s): largest gap "
          f"between 10 ms ticks {stall['max_gap_ms']} ms, 99th percentile {stall['p99_gap_ms']} ms "
          f"(idle, no scan: {stall['idle_max_gap_ms']} / {stall['idle_p99_gap_ms']} ms; load average "
          f"{stall['load_average_1min']})")
    figures["attribution_ms"] = bench_attribution_costs()
    for name, row in figures["attribution_ms"].items():
        print(f"per frame, {name}: " + ", ".join(f"{k[:-3]} {'n/a (no ReLU)' if v is None else f'{v} ms'}"
                                                 for k, v in row.items()))
    figures.update(info)
    figures["frames"], figures["repeats"] = args.frames, args.repeats
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
