"""Multi-worker training speed: plain ``model.fit`` vs the custom loop on 1 worker vs 2 local workers.

1. ``fit``: plain Keras ``model.fit`` on the default project's data and network (one process).
2. ``custom_1``: ``cnnstudio train --loop custom`` (the ``strategy.run`` loop, default strategy).
3. ``multiworker_2``: two ``cnnstudio train --strategy multiworker`` processes on 127.0.0.1,
   the same global batch (each worker computes half of it and all-reduces the gradients).
4. ``allreduce_ms``: the time of one all-reduce of a tensor the size of the model's weights
   between the two local workers: the communication each step pays.

Images per second count epochs 2..N (epoch 1 traces the graphs). Both workers share this
machine's cores, so on a small CPU box ``multiworker_2`` is expected to be at most 1x the
single worker: the figure shows the overhead per step, not a speed-up. Nothing here was
measured on separate machines.

Run: ``.venv/bin/python benchmarks/bench_distributed.py [--count N] [--epochs N] [--batch N]``.
The last line is JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import describe, print_machine  # noqa: E402

from cnnstudio.ml.training.cluster import free_ports  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALLREDUCE_STEPS = 30


def make_project(count: int, epochs: int, batch: int) -> Path:
    """The default project with ``count`` images, saved in a temporary folder."""
    from cnnstudio.core.project import save_project
    from cnnstudio.core.templates import default_project

    p = default_project()
    p.set_settings("data", {"options": {**p.data.options, "count": count}})
    p.set_settings("training", {"epochs": epochs, "batch_size": batch})
    return save_project(p, Path(tempfile.mkdtemp(prefix="bench-distributed-")) / "bench.cnnproj")


def epoch_rate(out: Path, images: int) -> float:
    """Training images/s over epochs 2..N of the one run folder under ``out/runs``."""
    (run,) = (out / "runs").iterdir()
    seconds = json.loads((run / "curves.json").read_text())["epoch"]["seconds"][1:]
    return images * len(seconds) / sum(seconds) if seconds else float("nan")


def cnnstudio(*args) -> subprocess.Popen:
    """``cnnstudio train ...`` in a process of its own (a multi-worker strategy needs a fresh one)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "cnnstudio", "train", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_all(procs: list[subprocess.Popen]) -> None:
    """Wait for every process; raise with its stderr if one failed."""
    for p in procs:
        _, err = p.communicate(timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"{p.args} failed:\n{err[-2000:]}")


def plain_fit(project: Path) -> float:
    """Images/s of plain ``model.fit`` on NumPy arrays over epochs 2..N."""
    import keras

    from cnnstudio.core.project import load_project
    from cnnstudio.ml.data.datasets import load_dataset
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.training.fit import compile_model

    p = load_project(project)
    ds = load_dataset(p.data, p.preprocessing)
    keras.utils.set_random_seed(p.training.seed)
    model = build_model(p.graph)
    compile_model(model, p.training, ds, p.training.epochs)
    x, y = ds.arrays("train")
    ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(time.perf_counter()))
    model.fit(x, y, batch_size=p.training.batch_size, epochs=p.training.epochs,
              validation_data=ds.arrays("val"), verbose=0, callbacks=[timer])
    return len(y) * (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 else float("nan")


def allreduce_worker(workers: str, index: int, values: int) -> None:
    """(Run as a worker process) time an all-reduce of ``values`` floats; print ms per step as JSON."""
    from cnnstudio.ml.training.cluster import cluster_config, join_cluster

    os.environ["TF_CONFIG"] = json.dumps(cluster_config(workers, index))
    strategy = join_cluster()
    import tensorflow as tf

    tensor = tf.ones([values])
    step = tf.function(lambda: strategy.run(
        lambda: tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tensor)))
    for _ in range(3):  # warm up: tracing and the first connections
        step()
    t0 = time.perf_counter()
    for _ in range(ALLREDUCE_STEPS):
        strategy.experimental_local_results(step())[0].numpy()
    print(json.dumps({"allreduce_ms": 1000 * (time.perf_counter() - t0) / ALLREDUCE_STEPS}))


def allreduce_ms(values: int) -> float:
    """Milliseconds per all-reduce of ``values`` floats between two local worker processes."""
    workers = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [subprocess.Popen([sys.executable, __file__, "--allreduce-worker", workers, str(i), str(values)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    return max(json.loads(o.strip().splitlines()[-1])["allreduce_ms"] for o in outs)


def parameter_count(project: Path) -> int:
    """Trainable values of the project's network (what each step all-reduces)."""
    from cnnstudio.core.project import load_project
    from cnnstudio.ml.model.builder import build_model

    return int(build_model(load_project(project).graph).count_params())


def main() -> None:
    """Run the comparison and print the figures (last line: JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1200, help="generated images")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--allreduce-worker", nargs=3, metavar=("WORKERS", "INDEX", "VALUES"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.allreduce_worker:
        workers, index, values = args.allreduce_worker
        allreduce_worker(workers, int(index), int(values))
        return
    info = describe()
    print_machine(info)
    project = make_project(args.count, args.epochs, args.batch)
    from cnnstudio.core.project import load_project
    from cnnstudio.ml.data.datasets import load_dataset

    p = load_project(project)
    images = load_dataset(p.data, p.preprocessing).size("train")
    tmp = project.parent
    fit = plain_fit(project)
    wait_all([cnnstudio(project, "--loop", "custom", "--out", tmp / "custom1")])
    custom1 = epoch_rate(tmp / "custom1", images)
    workers = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    wait_all([cnnstudio(project, "--strategy", "multiworker", "--workers", workers, "--index", i,
                        "--out", tmp / f"mw{i}") for i in (0, 1)])
    multi2 = epoch_rate(tmp / "mw0", images)
    params = parameter_count(project)
    comm = allreduce_ms(params)
    steps = -(-images // args.batch)
    figures = {"fit_images_per_s": round(fit, 1), "custom_1_worker_images_per_s": round(custom1, 1),
               "multiworker_2_images_per_s": round(multi2, 1), "speedup_2_vs_1": round(multi2 / custom1, 3),
               "custom_vs_fit": round(custom1 / fit, 3), "step_ms_1_worker": round(1000 * args.batch / custom1, 2),
               "step_ms_2_workers": round(1000 * args.batch / multi2, 2), "allreduce_ms": round(comm, 3),
               "parameters": params, "steps_per_epoch": steps, "images": images, "batch": args.batch,
               "epochs": args.epochs, "note": "2 workers share one machine's cores; not measured on separate machines",
               "machine": info}
    print(f"plain fit {fit:,.0f} img/s · custom loop, 1 worker {custom1:,.0f} img/s · 2 local workers "
          f"{multi2:,.0f} img/s ({multi2 / custom1:.2f}x) · all-reduce of {params:,} weights {comm:.2f} ms/step")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
