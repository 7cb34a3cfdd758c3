"""Probe speed: mosaic redraw rate in the pyqtgraph view, and one probe of ResNet50 against plain Keras.

1. A 64-channel 112x112 feature map becomes one mosaic (tile, scale to uint8) and is drawn
   into the probe page's :class:`MosaicView` (``setImage`` + a synchronous repaint), frame
   after frame with new activations; compared, in the same run, with the naive way: one
   ``ImageItem`` per map. Target: 30 frames per second or more.
2. One probe of ``keras.applications.ResNet50(weights=None)`` at 224x224 (the prediction plus
   the last convolution block's maps, from the :class:`Prober`'s one multi-output sub-model in
   a ``tf.function``) against the plain Keras way, ``keras.Model(inputs, layer.output)(x)``
   called directly on the same input. Target: ``ratio`` (probe / plain) at most 2.

3. Activation maximisation steps per second (16 channels at once) on LeNet-5 and a ResNet-style
   net, against a plain eager ``tf.GradientTape`` loop doing the same ascent.

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


def main() -> int:
    """Run both benchmarks and print the figures, JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="mosaic frames to draw (default 120)")
    parser.add_argument("--repeats", type=int, default=10, help="ResNet50 calls to time (default 10)")
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
    figures.update(bench_maximize(args.maximize_steps))
    for net, f in figures["maximize"].items():
        print(f"maximise {net} {f['layer']}, {f['channels']} channels at once: {f['steps_per_s']} steps/s, plain "
              f"tf.GradientTape loop {f['plain_tape_steps_per_s']} steps/s, ratio {f['ratio']}")
    figures.update(info)
    figures["frames"], figures["repeats"] = args.frames, args.repeats
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
