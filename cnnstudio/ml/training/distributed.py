"""The custom training loop: ``strategy.run`` of one train step, for where ``model.fit`` cannot go.

Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585,
"unsupported type PerReplica"), so multi-worker training runs :func:`train_custom`; it also
serves the default and ``mirrored`` strategies on request (``--loop custom``) so the two loops
can be compared. One step, on every replica: the per-sample loss (class-weighted when the
settings ask) is averaged over the *global* batch with ``tf.nn.compute_average_loss`` (the
global count is all-reduced, so a short last batch is weighted right), the Keras optimizer
of the compiled model applies the gradients (it sums them across replicas), and the loss and
metric sums are all-reduced so every worker reports the same figures.

The data is sharded per worker with ``AutoShardPolicy.DATA``: every worker reads the same
seeded, shuffled pipeline, which the strategy cuts into per-replica batches and deals out in
turn, so one global batch holds exactly the images of a single-process batch.

Progress goes through the very :class:`~cnnstudio.ml.training.fit.ReportingCallback` that
``model.fit`` uses, called by hand (the same curves, checkpoints, filter snapshots, histograms, NaN rule
and pause/stop), and Keras's ``EarlyStopping`` the same way. Decisions that end the loop are
taken on all-reduced values, so all workers stop at the same step: the loss (NaN), the
validation loss (early stopping) and a stop flag summed across workers (a stop asked on any
worker stops them all one step later).
"""

from __future__ import annotations

import math
import time

import keras

from cnnstudio.core.settings import Training

from cnnstudio.ml.data.datasets import Dataset, check_fits
from cnnstudio.ml.training.fit import Reporter, TrainOutcome, ReportingCallback
from cnnstudio.ml.training.histograms import histogram_probe
from cnnstudio.ml.training.losses import class_weights
from cnnstudio.ml.training.runs import Run


def metric_functions(settings: Training, mode: str) -> dict:
    """``{log name: per-sample function(y, p)}`` for the settings' metrics (as ``make_metrics`` names them)."""
    m = keras.metrics
    table = {
        ("accuracy", "sparse"): m.sparse_categorical_accuracy, ("accuracy", "onehot"): m.categorical_accuracy,
        ("accuracy", "binary"): m.binary_accuracy,
        ("top5_accuracy", "sparse"): lambda y, p: m.sparse_top_k_categorical_accuracy(y, p, k=5),
        ("top5_accuracy", "onehot"): lambda y, p: m.top_k_categorical_accuracy(y, p, k=5),
    }
    return {name: table[name, mode] for name in settings.metrics if (name, mode) in table}


class StepFunctions:
    """The compiled train and evaluation steps of one model under one strategy."""

    def __init__(self, strategy, model, settings: Training, mode: str, weights: dict[int, float] | None) -> None:
        import tensorflow as tf

        self.strategy, self.model, self.mode = strategy, model, mode
        self.names = ["loss", *metric_functions(settings, mode)]
        metrics = list(metric_functions(settings, mode).values())
        loss = model.loss
        table = tf.constant([weights[i] for i in range(len(weights))], tf.float32) if weights else None
        if not model.optimizer.built:  # its slots now, not lazily in the traced step (MirroredStrategy fails there)
            with strategy.scope():
                model.optimizer.build(model.trainable_variables)

        def per_sample(x, y, training):
            p = tf.cast(model(x, training=training), tf.float32)
            values = loss.call(y, p)
            if table is not None:
                cls = {"sparse": lambda: tf.cast(y, tf.int32), "onehot": lambda: tf.argmax(y, -1, tf.int32),
                       "binary": lambda: tf.cast(y[:, 0], tf.int32)}[mode]()
                values = values * tf.gather(table, cls)
            return p, values

        def sums(ctx, y, p, values, count, extra):
            local = tf.stack([tf.reduce_sum(values)] + [tf.reduce_sum(tf.cast(f(y, p), tf.float32)) for f in metrics]
                             + [count, extra])
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)

        def train_replica(x, y, stop):
            ctx = tf.distribute.get_replica_context()
            global_count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.shape(x, tf.int64)[0])
            with tf.GradientTape() as tape:
                p, values = per_sample(x, y, True)
                step_loss = tf.nn.compute_average_loss(values, global_batch_size=tf.maximum(global_count, 1))
                if model.losses:  # weight decay / activity penalties, shared out between replicas
                    step_loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
                scaled = model.optimizer.scale_loss(step_loss)  # mixed precision's loss scale, if any
            grads = tape.gradient(scaled, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return sums(ctx, y, p, values, tf.cast(tf.shape(x)[0], tf.float32), stop)

        def eval_replica(x, y):
            ctx = tf.distribute.get_replica_context()
            p, values = per_sample(x, y, False)
            return sums(ctx, y, p, values, tf.cast(tf.shape(x)[0], tf.float32), tf.constant(0.0))

        self._train = tf.function(lambda x, y, stop: strategy.run(train_replica, args=(x, y, stop)))
        self._eval = tf.function(lambda x, y: strategy.run(eval_replica, args=(x, y)))

    def _local(self, per_replica) -> list[float]:
        # every replica holds the same all-reduced sums: read the first
        return [float(v) for v in self.strategy.experimental_local_results(per_replica)[0].numpy()]

    def train(self, batch, stop: bool) -> tuple[list[float], float, bool]:
        """One step: ``(loss and metric sums, images, any worker asked to stop)``, all global."""
        import tensorflow as tf

        *values, count, stops = self._local(self._train(*batch, tf.constant(float(stop))))
        return values, count, stops > 0

    def evaluate(self, dataset) -> dict[str, float]:
        """Mean loss and metrics over a distributed dataset."""
        totals, images = [0.0] * len(self.names), 0.0
        for batch in dataset:
            *values, count, _ = self._local(self._eval(*batch))
            totals, images = [t + v for t, v in zip(totals, values)], images + count
        return {name: t / max(images, 1.0) for name, t in zip(self.names, totals)}


def distribute(strategy, ds):
    """``ds`` dealt out to the replicas, sharded across workers by data (``AutoShardPolicy.DATA``)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(ds.with_options(options))


def _epochs(steps: StepFunctions, train_ds, val_ds, callbacks: list, reporting: ReportingCallback, model,
            initial_epoch: int, epochs: int, history: dict[str, list[float]]) -> bool:
    """The epoch loop of :func:`train_custom`; True when a worker asked to stop."""
    for epoch in range(initial_epoch, epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        totals, images = [0.0] * len(steps.names), 0.0
        for batch_index, batch in enumerate(train_ds):
            values, count, stop_asked = steps.train(batch, bool(model.stop_training and not reporting.nan_message))
            if stop_asked:
                return True
            totals, images = [t + v for t, v in zip(totals, values)], images + count
            # Keras-style running means: the callback turns them back into this batch's values
            reporting.on_train_batch_end(batch_index, dict(zip(steps.names, (t / max(images, 1.0) for t in totals))))
            if reporting.nan_message:  # the loss is global: every worker sees the NaN at the same step
                return False
        logs = {name: t / max(images, 1.0) for name, t in zip(steps.names, totals)}
        if val_ds is not None:
            logs.update({f"val_{k}": v for k, v in steps.evaluate(val_ds).items()})
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:  # early stopping, from global validation figures: the same on all workers
            return False
    return False


def train_custom(strategy, model, dataset: Dataset, reporter: Reporter, settings: Training, epochs: int,
                 initial_epoch: int = 0, run: Run | None = None, mode: str = "sparse") -> TrainOutcome:
    """Train the compiled ``model`` (built in ``strategy.scope()``) like :func:`~cnnstudio.ml.training.fit.train`,
    with the custom loop; ``run`` is None on workers that write no run folder."""
    check_fits(model, dataset, mode)
    batch_size = settings.batch_size
    steps = StepFunctions(strategy, model, settings, mode, class_weights(settings, dataset.class_counts()["train"]))
    train_ds = distribute(strategy, dataset.tf_dataset("train", batch_size, shuffle=True, seed=settings.seed,
                                                       label_mode=mode))
    val_ds = distribute(strategy, dataset.tf_dataset("val", batch_size, label_mode=mode)) if dataset.size("val") else None
    reporting = ReportingCallback(reporter, run, dataset.size("train"), batch_size,
                                  histogram_probe(dataset, settings, run))  # run is None off the chief: no histograms
    callbacks = [reporting]
    if settings.early_stopping > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss" if val_ds is not None else "loss",
                                                       patience=settings.early_stopping))
    for cb in callbacks:
        cb.set_model(model)
    model.stop_training = False
    reporter.on_start({"epochs": epochs, "initial_epoch": initial_epoch, "batch_size": batch_size,
                       "samples": dataset.size("train"), "run": str(run.path) if run else "",
                       "steps_per_epoch": math.ceil(dataset.size("train") / batch_size),
                       "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync})
    history: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for cb in callbacks:
        cb.on_train_begin()
    try:
        stop_asked = _epochs(steps, train_ds, val_ds, callbacks, reporting, model, initial_epoch, epochs, history)
    finally:  # a lost peer raises here: the chief still writes what its finished epochs earned
        for cb in callbacks:
            cb.on_train_end()
    seconds = time.perf_counter() - t0
    if run is not None:
        history = run.curves.history()
    rate = reporting.images / reporting.train_seconds if reporting.train_seconds else 0.0
    if reporting.nan_message:
        return TrainOutcome("nan", reporting.nan_message, history, seconds, rate)
    if stop_asked:
        return TrainOutcome("stopped", "training stopped", history, seconds, rate)
    early = callbacks[-1] if len(callbacks) > 1 else None
    if early is not None and early.stopped_epoch > 0:
        return TrainOutcome("early_stopped", f"early stopping after epoch {early.stopped_epoch + 1}: "
                            f"no better validation loss for {settings.early_stopping} epochs", history, seconds, rate)
    return TrainOutcome("finished", "training finished", history, seconds, rate)
