"""Training speed: the studio's trainer against plain ``model.fit``, and how long the GUI stalls.

1. Plain Keras: ``model.fit`` on NumPy arrays of the default shapes dataset, the default
   project's network and settings, ``verbose=0``.
2. The studio: the Training page's :class:`TrainingWorker` on its QThread, the same model
   (same seed), data and settings, with everything the page does while it trains: per-batch
   signals into the history model, curves redrawn at ~15 Hz, the progress line, filter
   snapshots, checkpoints and curves written every epoch. A heartbeat ``QTimer`` (5 ms) on
   the GUI thread records the longest gap between its ticks: the worst stall a user would feel.

Images per second count the training images of epochs 2..N over the time between the end of
epoch 1 and the end of epoch N (so graph tracing in epoch 1 is left out, and every per-epoch
cost, validation, checkpoints, is in). ``ratio`` = studio / plain; target >= 0.95. Stall
target: under 50 ms.

3. Transfer training (:func:`bench_transfer`): a frozen MobileNetV2 backbone with the studio's
   head (:mod:`cnnstudio.ml.model.transfer`), trained by the studio's trainer (``run_project``,
   starting from the backbone file's weights) against plain ``model.fit`` of the same Keras model
   on the same arrays, alternately ``--repeat`` times, the best of each. Same images/s rule;
   target ratio >= 0.95.

Run: ``.venv/bin/python benchmarks/bench_training.py [--count N] [--epochs N] [--part all|default|transfer]``.
The last line is JSON with the figures.

``bench_training.py histograms [--count N] [--epochs N] [--project default|resnet] [--repeat N]``: the per-epoch
overhead of recording histograms over training, against the same training without it (a ratio),
and the recording time as a share of an epoch (target < 5%).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import describe, print_machine  # noqa: E402

HEARTBEAT_MS = 5


def project(count: int, epochs: int):
    """The default project with ``count`` images and ``epochs`` epochs, saved in a temporary folder."""
    from cnnstudio.core.templates import default_project

    p = default_project()
    p.set_settings("data", {"options": {**p.data.options, "count": count}})
    p.set_settings("training", {"epochs": epochs})
    p.path = Path(tempfile.mkdtemp(prefix="bench-training-")) / "bench.cnnproj"
    return p


def rate(end_times: list[float], images: int) -> float:
    """Training images per second over epochs 2..N from the epoch end times."""
    if len(end_times) < 2:
        return float("nan")
    return images * (len(end_times) - 1) / (end_times[-1] - end_times[0])


def plain_fit(p) -> tuple[float, float]:
    """Images/s and final validation accuracy of plain ``model.fit`` on NumPy arrays."""
    import keras

    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.data.datasets import load_dataset
    from cnnstudio.ml.training.fit import compile_model

    ds = load_dataset(p.data, p.preprocessing)
    keras.utils.set_random_seed(p.training.seed)
    model = build_model(p.graph)
    compile_model(model, p.training, ds, p.training.epochs)
    x, y = ds.arrays("train")
    xv, yv = ds.arrays("val")
    ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(time.perf_counter()))
    hist = model.fit(x, y, batch_size=p.training.batch_size, epochs=p.training.epochs,
                     validation_data=(xv, yv), verbose=0, callbacks=[timer])
    return rate(ends, len(y)), hist.history["val_accuracy"][-1]


def studio_fit(p) -> tuple[float, float, float]:
    """Images/s, final validation accuracy and the longest GUI stall (ms) of the Training page."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from cnnstudio.ui.studio import Studio
    from cnnstudio.ui.training.panel import TrainingPanel

    app = QApplication.instance() or QApplication([])
    panel = TrainingPanel(Studio(p))
    panel.resize(1400, 900)
    panel.show()
    ends: list[float] = []
    ticks = {"last": None, "max_gap": 0.0, "on": False}

    def beat() -> None:
        now = time.perf_counter()
        if ticks["on"] and ticks["last"] is not None:
            ticks["max_gap"] = max(ticks["max_gap"], now - ticks["last"])
        ticks["last"] = now

    heartbeat = QTimer(interval=HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    panel.start()
    panel.worker.epoch_ended.connect(lambda e, logs: ends.append(time.perf_counter()))
    # stalls count from the first batch on (before it, the worker imports TensorFlow and traces)
    panel.worker.batch_ended.connect(lambda *a: ticks.update(on=True) if not ticks["on"] else None)
    panel.worker.epoch_ended.connect(lambda e, logs: ticks.update(on=e < p.training.epochs))
    # the page runs in a real event loop, as in the studio (a processEvents() polling loop
    # would compete with the worker for the GIL and distort both figures)
    loop = QEventLoop()
    done = QTimer(interval=50)
    done.timeout.connect(lambda: loop.quit() if panel.state == "idle" else None)
    done.start()
    loop.exec()
    done.stop()
    heartbeat.stop()
    acc = panel.history.epochs.get("val_accuracy", [float("nan")])[-1]
    samples = panel.run_progress.samples
    panel.shutdown()
    return rate(ends, samples), acc, ticks["max_gap"] * 1000


def transfer_project(count: int, epochs: int):
    """A transfer project: Keras's MobileNetV2 (alpha 0.35, 32x32x3, random weights: no download)
    saved as a ``.keras`` file, cut at its default layer, frozen, with the studio's head, on
    ``count`` coloured shapes."""
    import keras

    from cnnstudio.core.templates import default_project
    from cnnstudio.ml.model.transfer import load_backbone, transfer_project as make

    folder = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    keras.utils.set_random_seed(0)
    keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                   include_top=False).save(folder / "backbone.keras")
    base = default_project()
    base.set_settings("data", {"options": {**base.data.options, "count": count, "color": True}})
    base.set_settings("training", {"epochs": epochs})
    p = make(base, load_backbone(folder / "backbone.keras"))
    p.path = folder / "transfer.cnnproj"
    return p


def plain_transfer_fit(p) -> float:
    """Images/s of plain ``model.fit`` on NumPy arrays of the same frozen-backbone model, starting
    from the same backbone weights."""
    import keras

    from cnnstudio.ml.data.datasets import load_dataset
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.model.keras_io import load_model_file
    from cnnstudio.ml.model.weights import copy_weights
    from cnnstudio.ml.training.fit import compile_model

    ds = load_dataset(p.data, p.preprocessing)
    keras.utils.set_random_seed(p.training.seed)
    model = build_model(p.graph)
    copy_weights(load_model_file(p.weights_file), model)
    compile_model(model, p.training, ds, p.training.epochs)
    x, y = ds.arrays("train")
    ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(time.perf_counter()))
    model.fit(x, y, batch_size=p.training.batch_size, epochs=p.training.epochs,
              validation_data=ds.arrays("val"), verbose=0, callbacks=[timer])
    return rate(ends, len(y))


def studio_transfer_fit(p) -> tuple[float, int, int]:
    """Images/s of the studio's trainer (:func:`run_project`, as the Training page and the Live page
    run it) on the transfer project, and the model's trainable / non-trainable parameter counts."""
    from cnnstudio.ml.training.fit import Reporter
    from cnnstudio.ml.training.runner import run_project

    ends: list[float] = []

    class Timer(Reporter):
        def on_epoch(self, epoch, logs):
            ends.append(time.perf_counter())

    result = run_project(p, Timer(), runs_dir=p.path.parent / "runs")
    count = lambda ws: sum(int(w.numpy().size) for w in ws)  # noqa: E731
    return (rate(ends, result.dataset.size("train")), count(result.model.trainable_weights),
            count(result.model.non_trainable_weights))


def bench_transfer(count: int, epochs: int, repeat: int = 3) -> dict:
    """Transfer training (frozen backbone + head): the studio's trainer against plain ``model.fit``,
    each measured ``repeat`` times, alternately, and its best taken (a shared machine's other load
    only ever slows a measurement down)."""
    p = transfer_project(count, epochs)
    frozen = sum(1 for n in p.graph.nodes.values() if n.frozen)
    cut = p.graph.nodes[p.graph.inputs_of(p.graph.by_name("head_pool").id)[0]].name
    print(f"transfer: MobileNetV2 (alpha 0.35, 32x32x3) cut after {cut}, "
          f"{frozen} frozen layers + head; {count} shapes, {epochs} epochs, batch {p.training.batch_size}")
    plains, studios = [], []
    for _ in range(repeat):
        plains.append(plain_transfer_fit(p))
        rate_, trainable, non_trainable = studio_transfer_fit(p)
        studios.append(rate_)
    plain, studio = max(plains), max(studios)
    print(f"plain model.fit (transfer):   {plain:8.0f} images/s   (best of {', '.join(f'{r:.0f}' for r in plains)})")
    print(f"studio trainer (transfer):    {studio:8.0f} images/s   (best of {', '.join(f'{r:.0f}' for r in studios)}; "
          f"{trainable:,} trainable, {non_trainable:,} non-trainable params)")
    ratio = studio / plain
    print(f"transfer ratio (studio / plain): {ratio:.3f}   (target >= 0.95)")
    return {"transfer_plain_images_per_s": round(plain, 1), "transfer_studio_images_per_s": round(studio, 1),
            "transfer_ratio": round(ratio, 3), "transfer_trainable_params": trainable,
            "transfer_non_trainable_params": non_trainable}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6000, help="images in the shapes dataset (default 6000)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs (default 8)")
    parser.add_argument("--part", choices=("all", "default", "transfer"), default="all",
                        help="the default project, transfer training (frozen backbone), or both")
    parser.add_argument("--repeat", type=int, default=3, help="transfer: measurements of each, best taken (default 3)")
    args = parser.parse_args()
    info = describe()
    print_machine(info)
    if args.part == "transfer":
        print(json.dumps({"benchmark": "training", **info, "count": args.count, "epochs": args.epochs,
                          **bench_transfer(args.count, args.epochs, args.repeat)}))
        return
    p = project(args.count, args.epochs)
    print(f"default project: {args.count} shapes, {args.epochs} epochs, batch {p.training.batch_size}")
    plain_rate, plain_acc = plain_fit(p)
    print(f"plain model.fit:   {plain_rate:8.0f} images/s   val accuracy {plain_acc:.4f}")
    studio_rate, studio_acc, stall_ms = studio_fit(p)
    print(f"studio trainer:    {studio_rate:8.0f} images/s   val accuracy {studio_acc:.4f}   "
          f"longest GUI stall {stall_ms:.1f} ms")
    ratio = studio_rate / plain_rate
    print(f"ratio (studio / plain): {ratio:.3f}   (target >= 0.95; stall target < 50 ms)")
    transfer = bench_transfer(args.count, args.epochs, args.repeat) if args.part == "all" else {}
    print(json.dumps({"benchmark": "training", **info, "count": args.count, "epochs": args.epochs, **transfer,
                      "plain_images_per_s": round(plain_rate, 1), "studio_images_per_s": round(studio_rate, 1),
                      "ratio": round(ratio, 3), "max_gui_stall_ms": round(stall_ms, 1),
                      "plain_val_accuracy": round(plain_acc, 4), "studio_val_accuracy": round(studio_acc, 4)}))


def histogram_run(p, record: bool) -> tuple[float, float, float]:
    """Images/s over epochs 2..N of the real trainer (``run_project``) on project ``p``, with the
    Training setting ``histograms`` ``record``; then the mean seconds per epoch spent recording
    (from the run's histogram files, epochs 1..N) and the mean epoch time."""
    from cnnstudio.core.project import Project
    from cnnstudio.ml.training.fit import Reporter
    from cnnstudio.ml.training.runner import run_project

    class Timer(Reporter):
        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_epoch(self, epoch, logs):  # called after the epoch's histograms are written
            self.ends.append(time.perf_counter())

    q = Project.from_dict(p.to_dict())
    q.set_settings("training", {"histograms": record})
    timer = Timer()
    result = run_project(q, timer, runs_dir=Path(tempfile.mkdtemp(prefix="bench-histograms-")))
    recorded = [h.seconds for h in result.run.histograms().read_all() if h.epoch > 0]
    epoch_s = (timer.ends[-1] - timer.ends[0]) / max(1, len(timer.ends) - 1)
    return rate(timer.ends, result.dataset.size("train")), (sum(recorded) / len(recorded) if recorded else 0.0), epoch_s


def histogram_overhead() -> None:
    """``bench_training.py histograms [--count N] [--epochs N] [--project default|resnet] [--repeat N]``: the per-epoch
    cost of recording histograms (weights, activations on 64 validation images, dead ReLUs, files and
    TensorBoard) against the same training without it, in one process, same seed and data."""
    from cnnstudio.core.templates import resnet_style

    parser = argparse.ArgumentParser(description=histogram_overhead.__doc__.splitlines()[0])
    parser.add_argument("what", choices=["histograms"])
    parser.add_argument("--count", type=int, default=6000, help="images in the shapes dataset (default 6000)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs (default 4)")
    parser.add_argument("--project", choices=["default", "resnet"], default="default")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, alternated; the best counts (default 2)")
    args = parser.parse_args()
    info = describe()
    print_machine(info)
    p = project(args.count, args.epochs)
    if args.project == "resnet":
        r = resnet_style()
        r.set_settings("data", {"options": {**r.data.options, "count": args.count}})
        r.set_settings("training", {"epochs": args.epochs})
        r.path = p.path
        p = r
    print(f"{p.name}: {args.count} shapes, {args.epochs} epochs, batch {p.training.batch_size}, "
          f"best of {args.repeat} alternated runs each")
    offs, ons = [], []
    for _ in range(args.repeat):  # alternated, best of each: other work on the machine slows one run, not both
        offs.append(histogram_run(p, False))
        ons.append(histogram_run(p, True))
    off_rate, _, off_epoch = max(offs)
    on_rate, _, on_epoch = max(ons)
    recording_s = min(r for _, r, _ in ons)
    ratio = on_rate / off_rate
    share = recording_s / off_epoch
    print(f"without histograms: {off_rate:8.0f} images/s   {off_epoch:.2f} s an epoch")
    print(f"with histograms:    {on_rate:8.0f} images/s   {on_epoch:.2f} s an epoch, "
          f"{1000 * recording_s:.0f} ms of it recording")
    print(f"ratio (with / without): {ratio:.3f}   recording = {100 * share:.1f}% of an epoch (target < 5%)")
    print(json.dumps({"benchmark": "training_histograms", **info, "project": p.name, "count": args.count,
                      "epochs": args.epochs, "repeat": args.repeat, "images_per_s_without": round(off_rate, 1),
                      "images_per_s_with": round(on_rate, 1), "ratio": round(ratio, 3),
                      "recording_ms_per_epoch": round(1000 * recording_s, 1),
                      "recording_share_of_epoch": round(share, 4)}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["histograms"]:
        histogram_overhead()
    else:
        main()
