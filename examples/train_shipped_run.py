"""Train the run the default project ships with: ``resources/projects/default.shipped/``.

    python examples/train_shipped_run.py

Trains ``resources/projects/default.cnnproj`` with its own settings (seed 0, 8 epochs) exactly
as the Training page or ``cnnstudio train`` would, then keeps the parts of the run folder the
studio shows (settings, curves, metrics, filter snapshots, the test-split evaluation) and the
best model. That model is saved without its optimizer state, a third of the size: the shipped
run is only looked at and never resumed, so it has no ``last.keras`` (nor TensorBoard logs).
Op determinism is on, so a rerun with the same TensorFlow on the same kind of CPU writes the
same weights. About 15 s on two CPU cores.
"""

import shutil
import tempfile
import time

import keras
import tensorflow as tf

from cnnstudio import RESOURCES
from cnnstudio.core.project import SHIPPED_SUFFIX, SUFFIX, load_project
from cnnstudio.ml.training.evaluation import FILE as EVALUATION
from cnnstudio.ml.training.runner import run_project
from cnnstudio.ml.training.runs import BEST, CURVES, FILTERS, METRICS, SETTINGS, Run
from cnnstudio.ml.training.fit import Reporter

PROJECT = RESOURCES / "projects" / f"default{SUFFIX}"
TARGET = PROJECT.with_suffix(SHIPPED_SUFFIX)


class EpochPrinter(Reporter):
    """One line per epoch."""

    def on_epoch(self, epoch, logs):
        print(f"epoch {epoch}: " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()), flush=True)


def main() -> None:
    """Train, then replace ``TARGET`` with the new run in one rename."""
    t0 = time.perf_counter()
    tf.config.experimental.enable_op_determinism()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_project(load_project(PROJECT), EpochPrinter(), runs_dir=tmp)
        if result.outcome.status != "finished":
            raise SystemExit(f"training did not finish: {result.outcome.message}")
        staging = TARGET.with_name(f".{TARGET.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in (SETTINGS, CURVES, METRICS, FILTERS, EVALUATION):
            shutil.copy2(result.run.path / name, staging / name)
        keras.saving.load_model(result.run.best_checkpoint, compile=False).save(staging / BEST)
    shutil.rmtree(TARGET, ignore_errors=True)
    staging.rename(TARGET)
    run = Run(TARGET, shipped=True)
    best = run.metrics["best_epoch"]
    size = sum(p.stat().st_size for p in TARGET.iterdir())
    print(f"{TARGET}: {size / 1024:.0f} KiB, best epoch {best}, val accuracy "
          f"{run.curves.epoch['val_accuracy'][best - 1]:.4f}, test accuracy {result.evaluation.accuracy:.4f}; "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
