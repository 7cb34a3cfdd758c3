"""The whole training job for a project, shared by the studio's worker and ``cnnstudio train``.

:func:`run_project` loads the data, builds (or, to resume, loads) the model under the
chosen distribution strategy and precision, compiles it, checks that the data fits it,
trains with :func:`cnnstudio.ml.training.fit.train`, evaluates on the test split and writes
everything into a run folder (:mod:`cnnstudio.ml.training.runs`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from cnnstudio.core.params import ParamError
from cnnstudio.core.project import Project, ProjectError

from cnnstudio.ml.model.builder import BuildError, build_model
from cnnstudio.ml.data.datasets import Dataset, check_fits, load_dataset
from cnnstudio.ml.training.evaluation import Evaluation, evaluate
from cnnstudio.ml.training.losses import SettingsError, label_mode
from cnnstudio.ml.training.runs import Run
from cnnstudio.ml.data.sources import DataError
from cnnstudio.ml.training.fit import Reporter, TrainOutcome, compile_model, train
from cnnstudio.ml.training.cluster import JOIN_TIMEOUT_S, ClusterLost, is_chief, join_cluster, peer_lost_message
from cnnstudio.ml.training.distributed import train_custom


#: Errors that mean the project's input is bad (its data, settings, graph, or a resumed run's
#: settings, or a cluster that fell apart): their message tells a person what to change, and a
#: traceback would only hide it.
BAD_INPUT = (DataError, SettingsError, BuildError, ParamError, ProjectError, ClusterLost)
OUT_OF_MEMORY = "Out of memory: lower the batch size, the image size or the network's size, then start again."


def bad_input_message(exc: BaseException) -> str | None:
    """What to tell a person when training stopped on ``exc`` because of what they asked for
    (bad input, or more than the device's memory holds); None for anything else (a bug: show it whole)."""
    if isinstance(exc, BAD_INPUT):
        return str(exc)
    if type(exc).__name__ == "ResourceExhaustedError":  # TensorFlow's, matched by name: no import here
        return OUT_OF_MEMORY
    return None


@dataclass
class RunResult:
    """What a finished (or stopped) job left: its run folder, model, outcome and evaluation."""

    run: Run | None  # None on a worker other than the chief: it writes no run folder
    model: Any
    outcome: TrainOutcome
    evaluation: Evaluation | None
    dataset: Dataset


def gpu_available() -> bool:
    """TensorFlow sees at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str | None, join_timeout_s: float = JOIN_TIMEOUT_S):
    """``None``/``"default"``: TensorFlow's default; ``"mirrored"``: all local GPUs, or all
    logical CPUs when there is no GPU (how tests run it); ``"multiworker"``: the cluster of
    ``TF_CONFIG`` (:func:`cnnstudio.ml.training.cluster.join_cluster`, which exits 2 when the
    other workers are not all up within ``join_timeout_s``)."""
    import tensorflow as tf

    if name in (None, "", "default"):
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return join_cluster(join_timeout_s)
    if name != "mirrored":
        raise SettingsError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
              [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


@contextlib.contextmanager
def _precision(mixed: bool):
    """Layers built inside take the mixed_float16 policy (GPU only); the global policy is restored."""
    if not mixed:
        yield
        return
    previous = keras.mixed_precision.dtype_policy().name
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def run_settings(project: Project, dataset: Dataset, epochs: int) -> dict[str, Any]:
    """What ``settings.json`` records about a new run."""
    return {"project": project.name, "epochs": epochs, "training": project.training.to_dict(),
            "data": project.data.to_dict(), "preprocessing": project.preprocessing.to_dict(),
            "classes": list(dataset.classes), "graph": project.graph.to_dict()}


def start_weights(model, project: Project) -> dict[str, Any] | None:
    """Copy the weights of ``project.weights_file`` (an imported model, a transfer backbone) into
    the freshly built ``model`` by layer name; returns what the run records (``file``, ``copied``
    and ``fresh`` layer names), or ``None`` when the project has no weights file to start from."""
    if not project.weights_file or not Path(project.weights_file).is_file():
        return None
    from cnnstudio.ml.model.keras_io import first_line, load_model_file
    from cnnstudio.ml.model.weights import copy_weights, leaf_layers

    try:
        source = load_model_file(project.weights_file)
    except (ValueError, OSError) as exc:
        raise BuildError(f"cannot read the starting weights {project.weights_file}: "
                         f"{first_line(str(exc)) or type(exc).__name__}") from None
    fresh = copy_weights(source, model)
    copied = [path for path, layer in leaf_layers(model) if layer.weights and path not in fresh]
    return {"file": str(project.weights_file), "copied": copied, "fresh": fresh}


def apply_frozen(model, project: Project) -> list[str]:
    """Set each layer of a loaded ``model`` (nested models opened) trainable as the graph's node
    at its path says (a resumed run after fine-tuning unfroze some); returns the graph names of
    the layers that changed."""
    from cnnstudio.core.groups import chain
    from cnnstudio.ml.model.builder import keras_name
    from cnnstudio.ml.model.weights import leaf_layers

    graph = project.graph
    nodes = {"/".join([*chain(graph, n.group)[::-1], keras_name(n)]): n for n in graph.nodes.values()}
    changed = []
    for path, layer in leaf_layers(model):
        node = nodes.get(path)
        if node is not None and node.kind != "InputLayer" and layer.trainable != (not node.frozen):
            layer.trainable = not node.frozen
            changed.append(node.name)
    return changed


def run_project(project: Project, reporter: Reporter | None = None, *, epochs: int | None = None,
                runs_dir: str | Path | None = None, resume: str | Path | None = None,
                strategy: str | None = None, loop: str | None = None,
                join_timeout_s: float = JOIN_TIMEOUT_S, fine_tune: float | None = None) -> RunResult:
    """Train ``project`` (or continue the run folder ``resume``); returns the :class:`RunResult`.

    A new run starts from the weights of ``project.weights_file`` where it has one
    (:func:`start_weights`; the run's ``settings.json`` records which layers). A resumed run
    takes the graph's frozen state; when that changed, or with ``fine_tune`` (a learning-rate
    factor, e.g. 0.1, after :func:`cnnstudio.core.transfer.unfreeze_top`), it is recompiled with
    a fresh optimizer at the run's learning rate times ``fine_tune``, and goes on in the same curves.

    ``loop``: ``"fit"`` (``model.fit``, the default where it works) or ``"custom"``
    (:func:`~cnnstudio.ml.training.distributed.train_custom`, always used for ``multiworker``:
    fit fails there). Under ``multiworker`` only the chief (task 0) writes the run folder and
    evaluates; a lost peer ends the job with status ``failed`` and a message, its last checkpoint kept.

    Raises one of :data:`BAD_INPUT` (with a message for a person) before training starts; a run that fails later is marked ``failed`` in its folder.
    """
    reporter = reporter or Reporter()
    dist = make_strategy(strategy, join_timeout_s)  # first: a multi-worker strategy must come before any other TensorFlow op
    chief = is_chief(dist)
    custom = loop == "custom" or strategy == "multiworker"
    if loop not in (None, "fit", "custom"):
        raise SettingsError(f"unknown training loop {loop!r}; choose fit or custom")
    run = Run(Path(resume)) if resume is not None else None
    if run is not None:
        if not run.can_resume():
            raise SettingsError(f"run {run.name} has no last checkpoint to resume from")
        project = Project.from_dict({**project.to_dict(), **{k: run.settings[k] for k in
                                     ("training", "data", "preprocessing") if k in run.settings}})
    training = project.training
    reporter.on_status("Loading data…")
    dataset = load_dataset(project.data, project.preprocessing)
    keras.utils.set_random_seed(training.seed)
    replicas = dist.num_replicas_in_sync
    reporter.on_status("Building the model…" + (f" ({replicas} replicas)" if replicas > 1 else ""))
    initial_epoch = run.curves.epochs_done if run is not None else 0
    target = int(epochs if epochs is not None else (run.target_epochs if run else training.epochs))
    if run is not None and target <= initial_epoch:
        target = initial_epoch + training.epochs
    started = None
    unfrozen: list[str] = []
    if fine_tune is not None:
        if run is None:
            raise SettingsError("fine-tuning continues a run: choose the run to resume")
        training = training.replace(learning_rate=training.learning_rate * fine_tune)
    with dist.scope(), _precision(training.mixed_precision and gpu_available()):
        if run is not None:
            model = keras.saving.load_model(run.last_checkpoint)
            unfrozen = apply_frozen(model, project)
        else:
            model = build_model(project.graph, name=project.name)
            started = start_weights(model, project)
        recompile = run is None or fine_tune is not None or bool(unfrozen)
        mode = compile_model(model, training, dataset, target) if recompile else None
    if mode is None:  # resumed: keep the saved optimizer state; only the label form is needed
        mode = label_mode(training, int(model.output_shape[-1]))
    if started is not None:
        reporter.on_status(f"Starting from the weights of {Path(started['file']).name}: {len(started['copied'])} "
                           f"layer(s) copied, {len(started['fresh'])} new")
    elif run is not None and recompile:
        reporter.on_status(f"Fine-tuning from epoch {initial_epoch + 1}: {len(unfrozen)} layer(s) changed "
                           f"trainable, learning rate {training.learning_rate:g} (a fresh optimizer)")
    check_fits(model, dataset, mode)
    if not chief:
        run = None  # the chief writes the run; this worker reads a resumed one only
    elif run is None:
        settings = run_settings(project, dataset, target)
        if started is not None:
            settings["start_weights"] = started
        run = Run.create(Path(runs_dir) if runs_dir is not None else project.runs_dir(), settings)
    else:
        run.settings["epochs"] = target
        if recompile:  # the run goes on with this graph and rate: record them, and when it changed
            run.settings["training"] = training.to_dict()
            run.settings["graph"] = project.graph.to_dict()
            run.settings.setdefault("fine_tuned", []).append(
                {"from_epoch": initial_epoch + 1, "learning_rate": training.learning_rate, "changed": unfrozen})
        run.save_settings()
    t0 = time.perf_counter()
    try:
        if custom:
            outcome = train_custom(dist, model, dataset, reporter, training, target, initial_epoch, run, mode)
        else:
            outcome = train(model, dataset, reporter, training, target, initial_epoch, run, mode)
        evaluation = None
        # a stop means "now"; model.evaluate / predict under a multi-worker strategy would need every worker
        if outcome.status not in ("nan", "stopped") and dataset.size("test") and strategy != "multiworker":
            reporter.on_status("Evaluating on the test split…")
            evaluation = evaluate(model, dataset, "test", label_mode=mode)
            evaluation.save(run.path)
    except KeyboardInterrupt:  # Ctrl+C: a stop, not a failure (train wrote the checkpoints)
        if run is not None:
            run.save_metrics(status="stopped", message="interrupted", epochs_done=run.curves.epochs_done,
                             elapsed_s=round(run.metrics.get("elapsed_s", 0.0) + time.perf_counter() - t0, 3))
        raise
    except BaseException as exc:
        lost = peer_lost_message(exc) if strategy == "multiworker" else None
        if run is not None:
            run.save_metrics(status="failed", message=lost or f"{type(exc).__name__}: {exc}")
        if lost:
            raise ClusterLost(lost) from None
        raise
    if run is None:
        return RunResult(None, model, outcome, None, dataset)
    final = {k: v[-1] for k, v in run.curves.epoch.items() if v}
    run.save_metrics(status=outcome.status, message=outcome.message, epochs_done=run.curves.epochs_done,
                     final=final, test=evaluation.metrics if evaluation else {},
                     elapsed_s=round(run.metrics.get("elapsed_s", 0.0) + time.perf_counter() - t0, 3),
                     images_per_s=round(outcome.images_per_s, 1))
    return RunResult(run, model, outcome, evaluation, dataset)


