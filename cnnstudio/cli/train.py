"""``cnnstudio train PROJECT [--epochs N] [--out DIR] [--strategy S] [--loop L] [--resume RUN]``: train without the window.

The same trainer as the studio's Training page, with a progress bar in the terminal.
Writes ``model.keras`` and ``history.json`` (Keras's ``history.history`` keys) into DIR,
and the run folder (checkpoints, curves, filter snapshots, TensorBoard logs, evaluation)
into ``DIR/runs`` (without ``--out``: the run folder beside the project holds everything).

Several machines: start the same command on every worker with ``--strategy multiworker``
and either ``TF_CONFIG`` or ``--workers HOST:PORT,HOST:PORT --index I`` (I = this worker's
place in the list). Worker 0 (the chief) writes the run folder; the others write only
``model.keras`` and ``history.json`` into their own ``--out``.
:func:`cnnstudio.ml.training.cluster.worker_command` is the line the Training page shows.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from cnnstudio.core.project import ProjectError, load_project

from . import CLIError
from .quiet import tensorflow_chatter_hidden

BAR_WIDTH = 28


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser("train", help="train a project headless, with a terminal progress bar",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("project", help="project file (.cnnproj)")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the project's setting)")
    p.add_argument("--out", help="folder for model.keras, history.json and the run folder")
    p.add_argument("--strategy", choices=["mirrored", "multiworker"],
                   help="mirrored: tf.distribute.MirroredStrategy over all local GPUs; multiworker: "
                        "MultiWorkerMirroredStrategy over the workers of TF_CONFIG or --workers")
    p.add_argument("--loop", choices=["fit", "custom"],
                   help="fit: model.fit (the default); custom: the strategy.run loop (always used by multiworker)")
    p.add_argument("--workers", help="HOST:PORT,HOST:PORT,... of every worker (builds TF_CONFIG)")
    p.add_argument("--index", type=int, help="this worker's place in --workers (0 is the chief)")
    p.add_argument("--join-timeout", type=float, default=60.0, metavar="S",
                   help="multiworker: seconds to wait for every worker to start (then exit 2); default 60")
    p.add_argument("--resume", help="continue this run folder from its last checkpoint")
    p.set_defaults(run=run)


def _cluster(args) -> None:
    """Check the multi-worker arguments; ``--workers`` becomes this process's ``TF_CONFIG``."""
    if (args.workers is None) != (args.index is None):
        raise CLIError("--workers and --index go together")
    if args.workers is not None:
        if args.strategy != "multiworker":
            raise CLIError("--workers needs --strategy multiworker")
        from cnnstudio.ml.training.cluster import ClusterError, cluster_config

        try:
            os.environ["TF_CONFIG"] = json.dumps(cluster_config(args.workers, args.index))
        except ClusterError as exc:
            raise CLIError(str(exc)) from None


def _reporter_class():
    """The terminal reporter (defined late: it subclasses the TensorFlow-side Reporter)."""
    from cnnstudio.ml.training.progress import TrainingProgress, format_duration
    from cnnstudio.ml.training.fit import Reporter

    class TerminalReporter(Reporter):
        """A one-line progress bar per epoch, then the epoch's figures."""

        def __init__(self, stream=None) -> None:
            super().__init__()
            self.stream = stream or sys.stdout
            self.tty = self.stream.isatty()
            self.progress = TrainingProgress()
            self._last_draw = 0.0

        def on_status(self, text: str) -> None:
            print(text, file=self.stream, flush=True)

        def on_start(self, info: dict[str, Any]) -> None:
            self.progress.start(info)
            print(f"training {info['samples']} images, batch {info['batch_size']}, "
                  f"epochs {info['initial_epoch'] + 1}..{info['epochs']}  ->  {info['run']}", file=self.stream)

        def on_batch(self, step: int, epoch: int, logs: dict[str, float]) -> None:
            p = self.progress
            p.batch(step, epoch)
            now = time.perf_counter()
            done, spe = p.epoch_step, p.steps_per_epoch
            if not self.tty or (now - self._last_draw < 0.1 and done < spe):
                return
            self._last_draw = now
            fill = int(BAR_WIDTH * done / spe)
            self.stream.write(f"\repoch {epoch}/{p.epochs} [{'#' * fill}{'.' * (BAR_WIDTH - fill)}] "
                              f"{done}/{spe}  loss {logs.get('loss', float('nan')):.4f}  {p.rate:,.0f} img/s  "
                              f"{format_duration(p.epoch_eta_s)} left ")
            self.stream.flush()

        def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
            figures = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "seconds")
            prefix = "\r" if self.tty else ""
            print(f"{prefix}epoch {epoch}/{self.progress.epochs}  {figures}  "
                  f"({logs.get('seconds', 0):.1f} s)".ljust(BAR_WIDTH + 60), file=self.stream, flush=True)

    return TerminalReporter


def run(args) -> int:
    """Train ``args.project``; write the model and history."""
    try:
        project = load_project(args.project)
    except ProjectError as exc:
        raise CLIError(str(exc)) from None
    if args.epochs is not None and args.epochs < 1:
        raise CLIError(f"--epochs must be at least 1 (got {args.epochs})")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    _cluster(args)
    t0 = time.perf_counter()
    with tensorflow_chatter_hidden():
        from cnnstudio.ml.training.runner import bad_input_message, run_project

        try:
            result = run_project(project, _reporter_class()(), epochs=args.epochs,
                                 runs_dir=out / "runs" if out else None, strategy=args.strategy,
                                 loop=args.loop, resume=args.resume, join_timeout_s=args.join_timeout)
        except Exception as exc:
            message = bad_input_message(exc)
            if message is None:
                raise
            raise CLIError(message) from None
    if out is None and result.run is None:
        out = Path("worker")  # a worker that is not the chief has no run folder to write into
    target = out or result.run.path
    target.mkdir(parents=True, exist_ok=True)
    model_path = target / "model.keras"
    if result.run is not None and result.run.last_checkpoint.exists() and result.outcome.status != "nan":
        shutil.copyfile(result.run.last_checkpoint, model_path)
    else:
        result.model.save(model_path)
    (target / "history.json").write_text(json.dumps(result.outcome.history, indent=1), encoding="utf-8")
    ev = result.evaluation
    test = f", test accuracy {ev.accuracy:.4f} on {ev.total} images" if ev is not None and ev.total else ""
    print(f"{result.outcome.message}{test}; {time.perf_counter() - t0:.1f} s. "
          f"Model: {model_path}  history: {target / 'history.json'}")
    if result.outcome.status == "nan":
        print(f"cnnstudio train: {result.outcome.message}", file=sys.stderr)
        return 1
    return 0
