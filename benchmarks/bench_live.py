"""The live pipeline's speed against its slowest stage alone, for a LeNet- and a MobileNetV2-size model.

A video file (written here, 640x480 MJPG of the demo source) stands in for the camera. For each
model, in the same run:

* the whole live pipeline, in the real Live page (offscreen): capture thread (read, and
  preprocessing when it has the time), inference worker (model call, moving average), GUI
  (mosaic, top-k, drawing at the video's 30 frames a second), for ``--frames`` frames (10,000
  by default; ``--quick`` runs 300) in segments of ``--segment`` seconds;
* the stages alone: the source read alone, and the compiled model call alone (the one call
  the live view makes: prediction + the probed layer's maps), timed with the pipeline paused
  before the first segment and after each one. "ratio" = a segment's frames per second / the
  slower stage alone just before and after it, the median over the segments, the lower of
  the two models; target >= 0.9. (Measured apart, minutes away, the two would compare the
  machine's drift: on the shared two-core machine here the call alone varies by +-15%
  between one 2-second window and the next);
* the largest GUI event-loop stall while the pipeline runs (how late a 10 ms timer fires, at
  worst), target < 50 ms;
* memory (RSS) after warm-up and at the end;
* then the video at its own frame rate (30 fps, as a camera sends it) for 6 seconds: frames
  drawn per second and the latency of each from its read to the end of its draw;
* for context, the plain Keras way, ``model.predict`` per frame, against the compiled direct
  call; the whole chain in one thread; and the capture and inference threads with no GUI at
  all (what two threads reach here before any drawing).

Ends with one JSON line of figures.

    .venv/bin/python benchmarks/bench_live.py [--quick] [--frames N] [--models lenet,mobilenetv2] [--cpu]
                                              [--seconds S] [--segment S] [--tf-threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "--cpu" in sys.argv:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""

from machine import cpu_model  # noqa: E402 - after the environment is set

FRAME_SIZE = (640, 480)


def rss_mb() -> float:
    """Resident memory of this process in MiB."""
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def write_video(path: str, frames: int = 150) -> str:
    """A 640x480 MJPG film of the demo source."""
    import cv2

    from cnnstudio.ml.live.frame_sources import DemoSource

    demo = DemoSource(*FRAME_SIZE)
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, FRAME_SIZE)
    for _ in range(frames):
        out.write(cv2.cvtColor(demo.read()[1], cv2.COLOR_RGB2BGR))
    out.release()
    return path


def make_model(name: str):
    """(model, graph, preprocessing, classes) for ``lenet`` or ``mobilenetv2``."""
    if name == "lenet":
        from cnnstudio.core.templates import lenet5
        from cnnstudio.ml.model.builder import build_model

        project = lenet5()
        return build_model(project.graph, name="lenet5"), project.graph, project.preprocessing, project.classes
    import keras

    model = keras.applications.MobileNetV2(weights=None)  # 224x224x3, 1000 classes, 3.5 M parameters
    from cnnstudio.core.settings import Preprocessing

    prep = Preprocessing.default().replace(size=(224, 224), color="rgb", scale="tf", fit="crop")
    return model, None, prep, [f"class {i}" for i in range(1000)]


def per_second(fn, seconds: float, at_least: int = 5) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while n < at_least or time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def reference_figures(video: str, pipe, model, seconds: float) -> dict:
    """Once per model, for context: ``model.predict`` per frame, and the plain way in one thread
    (read, preprocess, call, tile, one after the other)."""
    from cnnstudio.ml.live.frame_sources import Frame, VideoFileSource

    x = np.zeros(pipe.prober.input_shape, np.float32)
    batch = x[None]
    model.predict(batch, verbose=0)
    predict_fps = per_second(lambda: model.predict(batch, verbose=0), min(seconds, 3.0), at_least=3)
    src = VideoFileSource(video)

    def sequential():
        pipe.process(Frame(src.read()[1], 0, time.perf_counter(), "bench"))

    sequential_fps = per_second(sequential, seconds)
    src.release()
    return {"predict_fps": predict_fps, "sequential_fps": sequential_fps}


def without_gui(video: str, pipe, seconds: float) -> dict:
    """For context: the capture thread and one inference thread as the live page runs them, with
    no GUI (no drawing, no mosaic), for about ``seconds``, against the stages alone just before
    and after: what two threads alone reach on this machine."""
    import threading

    from cnnstudio.ml.live.frame_sources import FrameGrabber, VideoFileSource, preprocess_on_capture

    src = VideoFileSource(video)
    before = stages_alone(src, pipe, seconds / 3)
    grabber = FrameGrabber(VideoFileSource(video), pacing="demand")
    if preprocess_on_capture(1e3 / before["read_fps"], 1e3 / before["call_fps"], on_capture=True):
        grabber.transform = pipe.prepare  # where the live worker places it, starting on the capture thread
    count = {"n": 0}
    end = time.perf_counter() + seconds

    def infer_loop():
        last = -1
        while time.perf_counter() < end:
            frame = grabber.wait_frame(after=last, timeout=0.1)
            if frame is not None:
                pipe.infer(frame)
                last, count["n"] = frame.index, count["n"] + 1

    worker = threading.Thread(target=infer_loop)
    grabber.start()
    t0 = time.perf_counter()
    worker.start()
    worker.join()
    fps = count["n"] / (time.perf_counter() - t0)
    grabber.stop()
    after = stages_alone(src, pipe, seconds / 3)
    src.release()
    return {"no_gui_fps": fps, "no_gui_ratio": fps / slower_stage(before, after)}


def slower_stage(before: dict, after: dict) -> float:
    """The slower stage's rate alone, each stage averaged over two measurements (:func:`stages_alone`)."""
    return min((before["read_fps"] + after["read_fps"]) / 2, (before["call_fps"] + after["call_fps"]) / 2)


def stages_alone(src, pipe, seconds: float) -> dict:
    """The source read alone and the compiled call alone (the live view's one call: prediction +
    the probed layer's maps), each for about ``seconds``, on this thread with the pipeline paused."""
    read_fps = per_second(src.read, seconds)
    x = pipe.prepare(src.read()[1])
    layers = (pipe.layer,) if pipe.layer else ()
    call_fps = per_second(lambda: pipe.prober.run(x, layers), seconds)
    assert np.isfinite(call_fps)
    return {"read_fps": read_fps, "call_fps": call_fps}


def whole_pipeline(video: str, spec, pipe, frames: int, segment_s: float, alone_s: float) -> dict:
    """Run the real Live page on the video for ``frames`` frames, in Qt's own event loop, in
    segments of about ``segment_s`` seconds; before the first and after every segment the
    pipeline is paused and the stages are timed alone. Each segment's frames per second is
    compared with the stages alone just before and just after it: the machine's speed drifts
    (a shared two-core machine here varied by +-15% from one 2-second window to the next),
    and a comparison minutes apart would measure that drift rather than the pipeline."""
    from PySide6.QtCore import QEventLoop, QTimer

    from cnnstudio.core.templates import default_project
    from cnnstudio.ml.live.frame_sources import VideoFileSource
    from cnnstudio.ui.live.panel import LivePanel
    from cnnstudio.ui.live.requests import LoadModel
    from cnnstudio.ui.studio import Studio

    panel = LivePanel(Studio(default_project()))
    panel.grabber.pacing = "demand"  # as fast as the pipeline takes frames, no decoding thrown away
    panel.source_spec = ("video", video)
    panel.resize(1400, 900)
    panel.show()
    panel.worker.send(LoadModel(spec), panel._mosaic_layout(), panel.models.settings())
    src = VideoFileSource(video)  # the read alone: a second reader of the same file
    loop = QEventLoop()
    state = {"phase": "warm", "done": 0, "rss0": None, "gap": 0.0, "last": 0.0, "segments": [],
             "alone": [], "drawn": []}

    def pause_and_time_alone() -> None:
        panel.grabber.paused = True
        time.sleep(0.05)  # let the worker finish its frame
        state["alone"].append(stages_alone(src, pipe, alone_s))

    def resume() -> None:  # the stall probe starts again from now
        state.update(phase="run", p0=panel.worker.processed, t0=time.perf_counter(), last=time.perf_counter())
        panel.grabber.paused = False

    def watch():  # every 10 ms: the stall probe and the progress check, on the GUI thread
        now = time.perf_counter()
        if state["phase"] == "run":
            state["gap"] = max(state["gap"], now - state["last"] - 0.010)
            done = state["done"] + panel.worker.processed - state["p0"]
            if state["rss0"] is None and done >= max(30, frames // 10):
                state["rss0"] = rss_mb()  # after caches and arenas settled
            if done >= frames or now - state["t0"] >= segment_s:
                n = panel.worker.processed - state["p0"]
                state["segments"].append((n, now - state["t0"]))
                state["drawn"].append(panel.draw_rate.rate)
                state["done"] += n
                pause_and_time_alone()
                if state["done"] >= frames:
                    loop.quit()
                    return
                resume()
                return
        elif panel.worker.processed > 30 and type(panel.last_result).__name__ == "LiveResult":
            pause_and_time_alone()
            resume()
            return
        state["last"] = now

    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(10)
    panel.max_draw_ms = 0.0
    loop.exec()
    timer.stop()
    rss_end = rss_mb()
    drawn, dropped, max_draw = float(np.mean(state["drawn"])), panel.grabber.dropped, panel.max_draw_ms
    realtime = realtime_latency(panel, 6.0)
    panel.shutdown()
    panel.close()
    src.release()
    alone, segments = state["alone"], state["segments"]
    ratios = [n / dt / slower_stage(alone[i], alone[i + 1]) for i, (n, dt) in enumerate(segments)]
    n_all, t_all = sum(n for n, _ in segments), sum(dt for _, dt in segments)
    return {"pipeline_fps": n_all / t_all, "frames": n_all, "segments": len(segments),
            "read_fps": float(np.mean([a["read_fps"] for a in alone])),
            "call_fps": float(np.mean([a["call_fps"] for a in alone])),
            "ratio": float(np.median(ratios)), "ratio_low": float(min(ratios)), "ratio_high": float(max(ratios)),
            "drawn_fps": drawn, "max_stall_ms": 1e3 * state["gap"], "max_draw_ms": max_draw,
            "rss_start_mb": state["rss0"] or rss_end, "rss_end_mb": rss_end,
            "rss_growth_mb": rss_end - (state["rss0"] or rss_end), "dropped": dropped, **realtime}


def realtime_latency(panel, seconds: float) -> dict:
    """The video at its own frame rate (as a camera sends it) through the running Live page for
    about ``seconds``: draws per second, and each drawn frame's latency from its read to the end
    of its draw (median and 90th percentile)."""
    from PySide6.QtCore import QEventLoop, QTimer

    panel.grabber.pacing = "realtime"
    panel.grabber.paused = False  # the last stage-alone measurement left it paused
    loop, samples = QEventLoop(), []
    seen = {"drawn": panel.drawn, "t0": time.perf_counter() + 1.0}  # a second to settle first

    def watch():
        if panel.drawn != seen["drawn"]:
            seen["drawn"] = panel.drawn
            if time.perf_counter() > seen["t0"]:
                samples.append(panel.latency_ms)
        if time.perf_counter() > seen["t0"] + seconds:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(1)
    loop.exec()
    timer.stop()
    lat = np.array(samples or [np.nan])
    return {"realtime_drawn_fps": len(samples) / seconds, "realtime_latency_ms": float(np.median(lat)),
            "realtime_latency_p90_ms": float(np.percentile(lat, 90))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 frames per model instead of 10,000")
    ap.add_argument("--frames", type=int, default=None, help="frames per model through the whole pipeline")
    ap.add_argument("--models", default="lenet,mobilenetv2")
    ap.add_argument("--seconds", type=float, default=1.5, help="time per stage-alone measurement")
    ap.add_argument("--segment", type=float, default=5.0, help="seconds of pipeline between two stage-alone measurements")
    ap.add_argument("--cpu", action="store_true", help="hide the GPU from TensorFlow")
    ap.add_argument("--tf-threads", type=int, default=0,
                    help="TensorFlow's intra- and inter-op threads (0: its default, one per core)")
    args = ap.parse_args(argv)
    frames = args.frames or (300 if args.quick else 10_000)

    import keras
    import tensorflow as tf
    from PySide6.QtWidgets import QApplication

    from cnnstudio.ml.model.device import describe_device
    from cnnstudio.ml.live.pipeline import LivePipeline
    from cnnstudio.ui.shared.model_choice import ModelSpec

    if args.tf_threads:  # before any op runs; applies to the stages alone and the pipeline alike
        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.tf_threads)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    device = describe_device()
    print(f"cnnstudio live benchmark: {cpu_model()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}, {device}, TF threads {args.tf_threads or 'default'}, "
          f"load average {os.getloadavg()[0]:.2f}; video {FRAME_SIZE[0]}x{FRAME_SIZE[1]} MJPG; {frames} frames per model")
    tmp = tempfile.mkdtemp(prefix="cnnstudio-bench-live-")
    video = write_video(os.path.join(tmp, "camera.avi"))
    figures: dict = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model, graph, prep, classes = make_model(name)
        pipe = LivePipeline(model, prep, graph, classes)
        pipe.warm_up()
        ref = {**reference_figures(video, pipe, model, args.seconds), **without_gui(video, pipe, 3 * args.seconds)}
        spec = ModelSpec(name, lambda model=model, graph=graph: (model, graph), graph, tuple(classes), prep)
        whole = whole_pipeline(video, spec, pipe, frames, args.segment, args.seconds)
        slowest = "read" if whole["read_fps"] < whole["call_fps"] else "model call"
        fig = {**ref, **whole, "slowest_stage": slowest, "predict_slowdown": whole["call_fps"] / ref["predict_fps"],
               "layer": pipe.layer, "params": model.count_params(), "xla": pipe.prober.jit}
        figures[name] = fig
        print(f"\n{name} ({fig['params']:,} parameters, maps of {pipe.layer}, XLA {'on' if fig['xla'] else 'off'}):")
        print(f"  source read alone        {whole['read_fps']:9.1f} frames/s  (mean of {whole['segments'] + 1} measurements)")
        print(f"  compiled call alone      {whole['call_fps']:9.1f} calls/s   ({1e3 / whole['call_fps']:.2f} ms)")
        print(f"  model.predict per frame  {ref['predict_fps']:9.1f} calls/s   ({1e3 / ref['predict_fps']:.2f} ms): "
              f"{fig['predict_slowdown']:.1f}x slower than the compiled call")
        print(f"  one thread, in sequence  {ref['sequential_fps']:9.1f} frames/s  (read, preprocess, call, tile)")
        print(f"  capture + model threads  {ref['no_gui_fps']:9.1f} frames/s  (no GUI: ratio {ref['no_gui_ratio']:.3f} "
              f"against the stages alone just before and after)")
        print(f"  whole live pipeline      {whole['pipeline_fps']:9.1f} frames/s  (drawn {whole['drawn_fps']:.1f}/s)")
        print(f"  ratio to the {slowest} alone  {whole['ratio']:.3f}  (median of {whole['segments']} segments, each against "
              f"the stages alone just before and after it; {whole['ratio_low']:.3f} .. {whole['ratio_high']:.3f})")
        print(f"  at the video's own rate  {whole['realtime_drawn_fps']:9.1f} frames/s drawn, latency from read to drawn "
              f"{whole['realtime_latency_ms']:.1f} ms (90% within {whole['realtime_latency_p90_ms']:.1f} ms)")
        print(f"  largest GUI stall        {whole['max_stall_ms']:9.1f} ms   (longest draw {whole['max_draw_ms']:.1f} ms)")
        print(f"  memory over {whole['frames']} frames  {whole['rss_start_mb']:.0f} -> {whole['rss_end_mb']:.0f} MiB "
              f"({whole['rss_growth_mb']:+.1f} MiB)")
        del model, pipe
        keras.backend.clear_session()
    summary = {
        "bench": "live", "cpu": cpu_model(), "cores": os.cpu_count(), "tensorflow": tf.__version__, "device": device,
        "frames": frames, "tf_threads": args.tf_threads or "default", "loadavg": round(os.getloadavg()[0], 2),
        "ratio": round(min(f["ratio"] for f in figures.values()), 3),
        "max_stall_ms": round(max(f["max_stall_ms"] for f in figures.values()), 1),
        "rss_growth_mb": round(max(f["rss_growth_mb"] for f in figures.values()), 1),
        "models": {k: {kk: (round(v, 3) if isinstance(v, float) else v) for kk, v in f.items()}
                   for k, f in figures.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
