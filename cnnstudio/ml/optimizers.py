"""Optimizer and learning-rate schedule from the project's training settings.

``optimizer``: ``sgd`` (with ``momentum``), ``rmsprop``, ``adam``, ``adamw`` (with
``weight_decay``). ``schedule``: ``constant``; ``cosine`` (decays to 1% over the whole
run); ``step`` (times ``decay_rate`` every ``decay_epochs`` epochs); ``exponential``
(the same decay, smoothly, every step).
"""

from __future__ import annotations

from typing import Any

from .losses import SettingsError

OPTIMIZERS = {"sgd": "SGD with momentum", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}
SCHEDULES = {"constant": "Constant", "cosine": "Cosine decay", "step": "Step decay", "exponential": "Exponential decay"}


def learning_rate(settings: dict[str, Any], steps_per_epoch: int, epochs: int):
    """A float, or a Keras ``LearningRateSchedule`` counting optimizer steps."""
    import keras

    lr = float(settings.get("learning_rate", 1e-3))
    if not lr > 0:
        raise SettingsError(f"the learning rate must be positive (got {lr:g})")
    kind = settings.get("schedule", "constant")
    steps_per_epoch = max(1, int(steps_per_epoch))
    if kind == "constant":
        return lr
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps_per_epoch * int(epochs)), alpha=0.01)
    if kind in ("step", "exponential"):
        every = max(1, int(settings.get("decay_epochs", 3))) * steps_per_epoch
        rate = float(settings.get("decay_rate", 0.5))
        if not 0 < rate <= 1:
            raise SettingsError(f"the decay rate must be in (0, 1] (got {rate:g})")
        return keras.optimizers.schedules.ExponentialDecay(lr, every, rate, staircase=kind == "step")
    raise SettingsError(f"unknown learning-rate schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")


def make_optimizer(settings: dict[str, Any], steps_per_epoch: int, epochs: int):
    """The Keras optimizer for ``settings``."""
    import keras

    lr = learning_rate(settings, steps_per_epoch, epochs)
    kind = settings.get("optimizer", "adam")
    if kind == "sgd":
        return keras.optimizers.SGD(lr, momentum=float(settings.get("momentum", 0.9)))
    if kind == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    if kind == "adam":
        return keras.optimizers.Adam(lr)
    if kind == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=float(settings.get("weight_decay", 1e-4)))
    raise SettingsError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
