"""A project's settings as typed values: preprocessing, data source and training.

Each section is a frozen dataclass whose fields are described ONCE by a :class:`ParamSet`
(the machinery layer parameters use): default, range, choices with the words a form shows,
and a doc string. Forms, the project file, the trainer, the probe and the live view all
read these; nobody writes a default again at the point of use. A section is changed by
making a new one (:meth:`Settings.replace`), which coerces every value through its
:class:`Param` and raises :class:`ParamError` naming the setting.

In files a section is the same JSON object as before (same keys): :meth:`Settings.from_dict`
fills missing keys with their defaults and returns keys it does not know apart, so a file
written by a newer version keeps them (the project writes them back).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, TypeVar

from .params import Param, ParamError, ParamSet

S = TypeVar("S", bound="Settings")


class Settings:
    """Base of the settings sections: a frozen dataclass with the fields of :attr:`PARAMS`."""

    PARAMS: ClassVar[ParamSet]
    SECTION: ClassVar[str]  # its key in a project file
    #: ``{setting: {value older files wrote: today's value, or None for "unset: the default"}}``.
    LEGACY: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def default(cls: type[S]) -> S:
        """Every setting at its default."""
        return cls(**cls.PARAMS.defaults())

    @classmethod
    def from_dict(cls: type[S], doc: Mapping[str, Any] | None) -> tuple[S, dict[str, Any]]:
        """``(settings, unknown keys)`` from a file's JSON object; raises :class:`ParamError`."""
        if doc is not None and not isinstance(doc, Mapping):
            raise ParamError(f"{cls.SECTION} must be a JSON object, not {type(doc).__name__}")
        doc = dict(doc or {})
        for name, renamed in cls.LEGACY.items():
            if isinstance(doc.get(name), str) and doc[name] in renamed:
                if renamed[doc[name]] is None:
                    del doc[name]
                else:
                    doc[name] = renamed[doc[name]]
        known = {k: v for k, v in doc.items() if k in cls.PARAMS.names()}
        unknown = {k: v for k, v in doc.items() if k not in known}
        return cls(**_coerce(cls, known, cls.PARAMS.defaults())), unknown

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` coerced; raises :class:`ParamError` naming a bad setting."""
        return type(self)(**_coerce(type(self), changes, dataclasses.asdict(self)))

    def changes(self, other: "Settings") -> dict[str, Any]:
        """``{name: other's value}`` for every setting where ``other`` differs from this one."""
        return {k: v for k, v in dataclasses.asdict(other).items() if getattr(self, k) != v}

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of a project file (tuples as lists)."""
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items()}


def _coerce(cls: type[Settings], values: Mapping[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in values.items():
        p = cls.PARAMS.get(name)
        if p is None:
            raise ParamError(f"{cls.SECTION} has no setting {name!r}")
        try:
            out[name] = p.coerce(value)
        except ParamError as exc:
            raise ParamError(f"{cls.SECTION}.{exc}" if str(exc).startswith(name) else f"{cls.SECTION}.{name}: {exc}") from None
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


PREPROCESSING = ParamSet((
    Param("size", "ints", (32, 32), "height and width the model sees, in pixels", min=1, max=4096, length=2),
    Param("color", "choice", "grey", "grey (1 channel) or RGB (3 channels)", choices=("grey", "rgb"),
          titles=("Grey", "RGB")),
    Param("scale", "choice", "0-1", "how pixel values 0..255 are scaled for the model: 0..1, or the mode of "
          "keras.applications.imagenet_utils.preprocess_input a pretrained network was trained with (tf: -1..1; "
          "caffe: RGB to BGR, ImageNet mean subtracted; torch: 0..1, ImageNet mean and std), or raw 0..255 for a "
          "model that scales its input itself (EfficientNet, ConvNeXt). caffe and torch on grey images use the "
          "mean of the three channels' mean and std",
          choices=("0-1", "tf", "caffe", "torch", "raw"),
          titles=("0 … 1", "−1 … 1 (tf: MobileNet, Inception, Xception)", "caffe: BGR − ImageNet mean (ResNet, VGG)",
                  "torch: ImageNet mean / std (DenseNet)", "0 … 255 raw (EfficientNet, ConvNeXt)")),
    Param("fit", "choice", "stretch", "how a picture of another shape is fitted to the size",
          choices=("stretch", "crop", "pad"), titles=("Stretch", "Centre crop", "Pad")),
))

DATA = ParamSet((
    Param("kind", "choice", "shapes", "where the images come from", choices=("shapes", "folder", "keras", "npz"),
          titles=("Generated shapes", "Image folder (a sub-folder per class, or train/ val/ test/ of them)",
                  "Keras dataset (downloads once)", "NumPy .npz file")),
    Param("path", "str", "", "the image folder or .npz file"),
    Param("name", "choice", "mnist", "the keras.datasets dataset",
          choices=("mnist", "fashion_mnist", "cifar10", "cifar100"),
          titles=("MNIST", "Fashion-MNIST", "CIFAR-10", "CIFAR-100")),
    Param("options", "any", {}, "per-source options (the shapes generator's sliders)"),
    Param("validation_split", "float", 0.15, "share of each class kept for validation", min=0.0, max=0.9),
    Param("test_split", "float", 0.15, "share of each class kept for the final test", min=0.0, max=0.9),
    Param("seed", "int", 0, "the same seed gives the same images and split", min=0, max=2**31 - 1),
))

TRAINING = ParamSet((
    Param("optimizer", "choice", "adam", "how the weights follow the gradient",
          choices=("sgd", "rmsprop", "adam", "adamw"), titles=("SGD with momentum", "RMSprop", "Adam", "AdamW")),
    Param("learning_rate", "float", 1e-3, "step size of the optimizer", min=1e-6, max=10.0),
    Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.999),
    Param("weight_decay", "float", 1e-4, "AdamW decoupled weight decay", min=0.0, max=1.0),
    Param("schedule", "choice", "constant", "cosine: down to 1% over the run; step / exponential: times the "
          "decay rate every 'decay epochs'", choices=("constant", "cosine", "step", "exponential"),
          titles=("Constant", "Cosine decay", "Step decay", "Exponential decay")),
    Param("decay_rate", "float", 0.5, "learning-rate factor per decay period", min=0.01, max=1.0),
    Param("decay_epochs", "int", 3, "epochs per decay period", min=1, max=1000),
    Param("loss", "choice", "sparse_categorical_crossentropy", "what training minimises",
          choices=("sparse_categorical_crossentropy", "categorical_crossentropy", "weighted_crossentropy",
                   "binary_crossentropy", "focal", "mse", "mae", "huber"),
          titles=("Cross-entropy (integer labels)", "Cross-entropy (one-hot labels)", "Class-weighted cross-entropy",
                  "Binary cross-entropy", "Focal loss", "Mean squared error (L2)", "Mean absolute error (L1)",
                  "Huber loss")),
    Param("focal_gamma", "float", 2.0, "focal loss focusing parameter", min=0.0, max=10.0),
    Param("class_weighted", "bool", False, "counter class imbalance: rare classes count more in the loss"),
    Param("metrics", "names", ("accuracy",), "what is measured besides the loss",
          choices=("accuracy", "top5_accuracy"), titles=("Accuracy", "Top-5 accuracy")),
    Param("batch_size", "int", 32, "images per gradient step", min=1, max=8192),
    Param("epochs", "int", 10, "passes over the training images", min=1, max=10000),
    Param("early_stopping", "int", 0, "stop when the validation loss has not improved for this many epochs "
          "(0: off)", min=0, max=1000),
    Param("seed", "int", 0, "same seed, same initial weights", min=0, max=2**31 - 1),
    Param("mixed_precision", "bool", False, "float16 compute with float32 weights: faster on a GPU"),
    Param("histograms", "bool", True, "after every epoch, record each layer's weight and activation histograms "
          "(on 64 validation images) and its dead ReLUs: the Histograms tab and TensorBoard show them"),
))


@dataclasses.dataclass(frozen=True)
class Preprocessing(Settings):
    """How a picture becomes the model's input, at training, probe, live and export time alike."""

    size: tuple[int, int]
    color: str
    scale: str
    fit: str
    PARAMS: ClassVar[ParamSet] = PREPROCESSING
    SECTION: ClassVar[str] = "preprocessing"
    #: Files before the Keras modes wrote ``-1-1`` for ``tf`` and ``none`` for ``raw`` (the same scalings).
    LEGACY: ClassVar[dict] = {"scale": {"-1-1": "tf", "none": "raw"}}

    @property
    def channels(self) -> int:
        """1 for grey, 3 for RGB."""
        return 1 if self.color == "grey" else 3


@dataclasses.dataclass(frozen=True)
class DataSource(Settings):
    """Where the images and labels come from and how they are split."""

    kind: str
    path: str
    name: str
    options: dict
    validation_split: float
    test_split: float
    seed: int
    PARAMS: ClassVar[ParamSet] = DATA
    SECTION: ClassVar[str] = "data"
    #: Files before these settings were typed wrote ``"name": ""`` for no keras.datasets name.
    LEGACY: ClassVar[dict] = {"name": {"": None}}

    def __hash__(self) -> int:  # options is a dict: hash what identifies the source
        return hash((self.kind, self.path, self.name, self.seed))


@dataclasses.dataclass(frozen=True)
class Training(Settings):
    """How the network is trained."""

    optimizer: str
    learning_rate: float
    momentum: float
    weight_decay: float
    schedule: str
    decay_rate: float
    decay_epochs: int
    loss: str
    focal_gamma: float
    class_weighted: bool
    metrics: tuple[str, ...]
    batch_size: int
    epochs: int
    early_stopping: int
    seed: int
    mixed_precision: bool
    histograms: bool
    PARAMS: ClassVar[ParamSet] = TRAINING
    SECTION: ClassVar[str] = "training"


#: How an import's note ends when the model's input scaling could not be told (the form flags it).
GUESSED_SCALE = "0-1 is assumed (change the scaling if it was trained otherwise)"

#: The sections by their key in a project file.
SECTIONS: dict[str, type[Settings]] = {c.SECTION: c for c in (Training, DataSource, Preprocessing)}

__all__ = ["GUESSED_SCALE", "DataSource", "Preprocessing", "SECTIONS", "Settings", "Training"]
