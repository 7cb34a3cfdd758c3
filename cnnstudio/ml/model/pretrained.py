"""Pretrained networks as ``keras.applications`` builds them: the input scaling each expects and
ImageNet's class names.

:func:`preprocessing_mode` is the one place that decides how an imported or bare model's
pixels are scaled. It reads the model's name, which each ``keras.applications`` constructor
sets (``resnet50``, ``mobilenetv2_1.00_224``, ``densenet121``, ``efficientnetv2-b0``...; tf.keras
2.x used the same names), and, for the families that may or may not carry their own
preprocessing layers, whether they do. A model whose name it does not know, but whose first
layer is such a network (the usual transfer-learning shape: backbone, then a new head), gets
that network's mode. Anything else gets the studio's 0..1, with a reason a person can read.

The modes are those of ``keras.applications.<family>.preprocess_input`` (checked against
Keras 3's source): ``caffe``, ``tf``, ``torch``, or ``raw`` for a network whose first layers
rescale 0..255 input themselves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import keras

from cnnstudio import RESOURCES
from cnnstudio.core.project import Project
from cnnstudio.core.settings import GUESSED_SCALE


@dataclass(frozen=True)
class Family:
    """A ``keras.applications`` family: its name pattern and the scaling its weights were trained with.

    ``without_own`` is the mode for a model built with ``include_preprocessing=False``
    (``None``: the family always includes its own, or never does).
    """

    title: str
    pattern: str  # matches the whole model name, lower-cased
    mode: str
    without_own: str | None = None

    def matches(self, name: str) -> bool:
        """Whether a model called ``name`` is built by this family's constructors."""
        return re.fullmatch(self.pattern, name.lower()) is not None


#: Keras 3's ``keras.applications`` (RegNet from tf.keras 2.x), each checked against its
#: ``preprocess_input`` and, for ``raw``, against the layers its constructor puts first.
FAMILIES = (
    Family("ResNet", r"resnet(50|101|152)", "caffe"),
    Family("ResNetV2", r"resnet(50|101|152)v2", "tf"),
    Family("VGG", r"vgg(16|19)", "caffe"),
    Family("MobileNet", r"mobilenet_\d\.\d\d_\d+", "tf"),
    Family("MobileNetV2", r"mobilenetv2_\d\.\d\d_\d+", "tf"),
    Family("MobileNetV3", r"mobilenetv3(large|small)", "raw", without_own="tf"),  # Rescaling(1/127.5, -1)
    Family("Xception", r"xception", "tf"),
    Family("InceptionV3", r"inception_v3", "tf"),
    Family("InceptionResNetV2", r"inception_resnet_v2", "tf"),
    Family("NASNet", r"nasnet(_large|_mobile)?", "tf"),
    Family("DenseNet", r"densenet(121|169|201)", "torch"),
    Family("EfficientNet", r"efficientnetb[0-7]", "raw"),  # always Rescaling(1/255) + Normalization
    Family("EfficientNetV2", r"efficientnetv2-(b[0-3]|s|m|l)", "raw", without_own="tf"),
    # ConvNeXt's own Normalization is torch's mean/std, times 255
    Family("ConvNeXt", r"convnext_(tiny|small|base|large|xlarge)", "raw", without_own="torch"),
    Family("RegNet", r"regnet[xy]\d{3}", "raw", without_own="torch"),
)

#: The input scaling of a model nobody can tell: the studio's own default.
UNKNOWN_MODE = "0-1"
IMAGENET_CLASSES = 1000


def family_of(model: keras.Model) -> Family | None:
    """The ``keras.applications`` family that built ``model`` (by its name), or ``None``."""
    return next((f for f in FAMILIES if f.matches(model.name)), None)


def own_preprocessing(model: keras.Model) -> str | None:
    """The name of the Rescaling or Normalization layer that opens ``model`` (how MobileNetV3,
    EfficientNet, ConvNeXt and RegNet take 0..255 input), or ``None``."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization)):
            return layer.name
        return None
    return None


def preprocessing_mode(model: keras.Model) -> tuple[str, str]:
    """``(mode, reason)``: the Preprocessing ``scale`` that ``model`` expects, and why, in words."""
    found = _recognised(model)
    if found is None:
        return UNKNOWN_MODE, (f"{model.name!r} is not a keras.applications network the studio knows, so how it "
                              f"scales its input is unknown: {GUESSED_SCALE}")
    net, family = found
    own = own_preprocessing(net)
    mode = family.mode if family.without_own is None or own else family.without_own
    why = (f"{net.name} is Keras's {family.title}" if net is model
           else f"{model.name} starts with {net.name}, Keras's {family.title}")
    if mode == "raw":
        return mode, f"{why}; it scales its 0..255 input itself (layer {own})" if own else f"{why}: it takes 0..255"
    return mode, f"{why}: it expects keras.applications' {mode!r} preprocessing"


def _recognised(model: keras.Model) -> tuple[keras.Model, Family] | None:
    """``(network, family)`` for a keras.applications model, or one whose first layer is one."""
    family = family_of(model)
    if family is not None:
        return model, family
    first = next((layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)), None)
    family = family_of(first) if isinstance(first, keras.Model) else None
    return None if family is None else (first, family)


@lru_cache(maxsize=1)
def _imagenet_names() -> tuple[str, ...]:
    doc = json.loads((RESOURCES / "imagenet_class_index.json").read_text(encoding="utf-8"))
    return tuple(doc[str(i)][1] for i in range(len(doc)))


def imagenet_class_names() -> list[str]:
    """ImageNet's 1000 class names in the order of Keras's ``imagenet_class_index.json`` (shipped in resources/)."""
    return list(_imagenet_names())


def class_names_for(model: keras.Model) -> list[str]:
    """ImageNet's class names for an ImageNet classifier (a keras.applications family with one
    1000-unit output), else ``[]``."""
    shapes = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    if family_of(model) is None or len(shapes) != 1 or tuple(shapes[0][1:]) != (IMAGENET_CLASSES,):
        return []
    return imagenet_class_names()


def set_up(project: Project, model: keras.Model) -> None:
    """Give a project made from ``model`` the scaling its family expects (and the reason, as
    ``project.import_note``) and, for an ImageNet classifier, ImageNet's class names."""
    mode, project.import_note = preprocessing_mode(model)
    project.set_settings("preprocessing", {"scale": mode})
    project.classes = class_names_for(model) or project.classes


__all__ = ["FAMILIES", "Family", "UNKNOWN_MODE", "class_names_for", "family_of", "imagenet_class_names",
           "own_preprocessing", "preprocessing_mode", "set_up"]
