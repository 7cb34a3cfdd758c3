"""Optimizer and learning-rate schedule from the project's training settings.

``optimizer``: ``sgd`` (with ``momentum``), ``rmsprop``, ``adam``, ``adamw`` (with
``weight_decay``). ``schedule``: ``constant``; ``cosine`` (decays to 1% over the whole
run); ``step`` (times ``decay_rate`` every ``decay_epochs`` epochs); ``exponential``
(the same decay, smoothly, every step). The choices and ranges are the settings schema's
(:data:`cnnstudio.core.settings.TRAINING`); this module only makes the Keras objects.
"""

from __future__ import annotations

from cnnstudio.core.settings import Training

#: Optimizer setting -> how to make it from the learning rate and the settings.
OPTIMIZER_MAKERS = {
    "sgd": lambda keras, lr, s: keras.optimizers.SGD(lr, momentum=s.momentum),
    "rmsprop": lambda keras, lr, s: keras.optimizers.RMSprop(lr),
    "adam": lambda keras, lr, s: keras.optimizers.Adam(lr),
    "adamw": lambda keras, lr, s: keras.optimizers.AdamW(lr, weight_decay=s.weight_decay),
}


def learning_rate(settings: Training, steps_per_epoch: int, epochs: int):
    """A float, or a Keras ``LearningRateSchedule`` counting optimizer steps."""
    import keras

    lr = settings.learning_rate
    steps_per_epoch = max(1, int(steps_per_epoch))
    if settings.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps_per_epoch * int(epochs)), alpha=0.01)
    if settings.schedule in ("step", "exponential"):
        return keras.optimizers.schedules.ExponentialDecay(lr, settings.decay_epochs * steps_per_epoch,
                                                           settings.decay_rate, staircase=settings.schedule == "step")
    return lr


def make_optimizer(settings: Training, steps_per_epoch: int, epochs: int):
    """The Keras optimizer for ``settings``."""
    import keras

    return OPTIMIZER_MAKERS[settings.optimizer](keras, learning_rate(settings, steps_per_epoch, epochs), settings)
