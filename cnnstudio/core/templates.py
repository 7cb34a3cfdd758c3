"""Ready-made networks: LeNet-5 as in the lecture, a simple CNN, VGG-, ResNet- and MobileNet-style.

Each template returns a :class:`~cnnstudio.core.project.Project` with a laid-out graph.
The example projects under ``resources/projects`` are these, written by
``examples/write_templates.py``; a test keeps the two equal.
"""

from __future__ import annotations

from typing import Callable

from cnnstudio import RESOURCES

from .graph import LayerGraph
from .layout import apply_layout
from .project import SUFFIX, Project, ProjectError, load_project

SHAPES = ["circle", "square", "triangle", "cross", "star", "ring"]
#: Every shape the generator draws: the ten classes of the ten-output templates, so each trains
#: offline on generated data as it opens (digits would need keras.datasets, online).
TEN_SHAPES = SHAPES + ["pentagon", "hexagon", "heart", "arrow"]


class _Chain:
    """Append layers one after another; ``branch`` / ``merge`` for skip connections."""

    def __init__(self, graph: LayerGraph, start: str) -> None:
        self.g, self.last = graph, start

    def add(self, kind: str, name: str | None = None, **params) -> str:
        node = self.g.add_node(kind, params, name=name)
        self.g.add_edge(self.last, node.id)
        self.last = node.id
        return node.id

    def merge(self, kind: str, others: list[str], name: str | None = None, **params) -> str:
        node = self.g.add_node(kind, params, name=name)
        for src in [self.last, *others]:
            self.g.add_edge(src, node.id)
        self.last = node.id
        return node.id


def _start(shape) -> tuple[LayerGraph, _Chain]:
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": shape}, name="input")
    return g, _Chain(g, inp.id)


def _project(name: str, g: LayerGraph, size, color: str, classes: list[str]) -> Project:
    apply_layout(g)
    p = Project(graph=g, name=name, classes=list(classes))
    p.set_settings("preprocessing", {"size": size, "color": color})
    p.set_settings("data", {"options": {"classes": list(classes), "image_size": int(size[0]), "color": color == "rgb"}})
    return p


def lenet5() -> Project:
    """LeNet-5 (LeCun et al. 1998) as the lecture draws it: 32x32 grey in, 10 classes, 61,706 parameters."""
    g, c = _start((32, 32, 1))
    c.add("Conv2D", "C1", filters=6, kernel_size=5, activation="tanh")
    c.add("AveragePooling2D", "S2", pool_size=2)
    c.add("Conv2D", "C3", filters=16, kernel_size=5, activation="tanh")
    c.add("AveragePooling2D", "S4", pool_size=2)
    c.add("Conv2D", "C5", filters=120, kernel_size=5, activation="tanh")
    c.add("Flatten", "flatten")
    c.add("Dense", "F6", units=84, activation="tanh")
    c.add("Dense", "output", units=10, activation="softmax")
    return _project("LeNet-5", g, (32, 32), "grey", TEN_SHAPES)


def simple_cnn(classes: list[str] | None = None) -> Project:
    """Three conv/pool stages and a small classifier: the default project's network."""
    classes = classes or SHAPES
    g, c = _start((32, 32, 1))
    for i, f in enumerate((16, 32, 64), 1):
        c.add("Conv2D", f"conv{i}", filters=f, kernel_size=3, padding="same", activation="relu")
        c.add("MaxPooling2D", f"pool{i}", pool_size=2)
    c.add("Flatten", "flatten")
    c.add("Dropout", "dropout", rate=0.3)
    c.add("Dense", "fc", units=64, activation="relu")
    c.add("Dense", "output", units=len(classes), activation="softmax")
    return _project("Simple CNN", g, (32, 32), "grey", classes)


def vgg_style() -> Project:
    """VGG-style: blocks of two 3x3 convolutions and a 2x2 max pool, doubling the filters."""
    g, c = _start((64, 64, 3))
    for b, f in enumerate((32, 64, 128), 1):
        for i in (1, 2):
            c.add("Conv2D", f"block{b}_conv{i}", filters=f, kernel_size=3, padding="same", activation="relu")
        c.add("MaxPooling2D", f"block{b}_pool", pool_size=2)
    c.add("Flatten", "flatten")
    c.add("Dense", "fc1", units=256, activation="relu")
    c.add("Dropout", "dropout", rate=0.5)
    c.add("Dense", "output", units=10, activation="softmax")
    return _project("VGG-style", g, (64, 64), "rgb", TEN_SHAPES)


def resnet_style() -> Project:
    """ResNet-style: residual blocks with identity and projection skip connections."""
    g, c = _start((64, 64, 3))
    c.add("Conv2D", "stem_conv", filters=32, kernel_size=3, padding="same", use_bias=False)
    c.add("BatchNormalization", "stem_bn")
    c.add("ReLU", "stem_relu")
    for b, (f, s) in enumerate(((32, 1), (64, 2), (128, 2)), 1):
        block_in = c.last
        c.add("Conv2D", f"block{b}_conv1", filters=f, kernel_size=3, strides=s, padding="same", use_bias=False)
        c.add("BatchNormalization", f"block{b}_bn1")
        c.add("ReLU", f"block{b}_relu1")
        c.add("Conv2D", f"block{b}_conv2", filters=f, kernel_size=3, padding="same", use_bias=False)
        c.add("BatchNormalization", f"block{b}_bn2")
        main = c.last
        skip = block_in
        if s != 1:
            c.last = block_in
            c.add("Conv2D", f"block{b}_proj", filters=f, kernel_size=1, strides=s, use_bias=False)
            skip = c.add("BatchNormalization", f"block{b}_proj_bn")
            c.last = main
        c.merge("Add", [skip], f"block{b}_add")
        c.add("ReLU", f"block{b}_out")
    c.add("GlobalAveragePooling2D", "avg_pool")
    c.add("Dense", "output", units=10, activation="softmax")
    return _project("ResNet-style", g, (64, 64), "rgb", TEN_SHAPES)


def mobilenet_style() -> Project:
    """MobileNet-style: depthwise separable blocks (depthwise 3x3, then pointwise 1x1) with ReLU6."""
    g, c = _start((96, 96, 3))
    c.add("Conv2D", "stem_conv", filters=32, kernel_size=3, strides=2, padding="same", use_bias=False)
    c.add("BatchNormalization", "stem_bn")
    c.add("ReLU", "stem_relu6", max_value=6.0)
    for b, (f, s) in enumerate(((64, 1), (128, 2), (128, 1), (256, 2)), 1):
        c.add("DepthwiseConv2D", f"block{b}_dw", kernel_size=3, strides=s, padding="same", use_bias=False)
        c.add("BatchNormalization", f"block{b}_dw_bn")
        c.add("ReLU", f"block{b}_dw_relu6", max_value=6.0)
        c.add("Conv2D", f"block{b}_pw", filters=f, kernel_size=1, use_bias=False)
        c.add("BatchNormalization", f"block{b}_pw_bn")
        c.add("ReLU", f"block{b}_pw_relu6", max_value=6.0)
    c.add("GlobalAveragePooling2D", "avg_pool")
    c.add("Dropout", "dropout", rate=0.2)
    c.add("Dense", "output", units=10, activation="softmax")
    return _project("MobileNet-style", g, (96, 96), "rgb", TEN_SHAPES)


def default_project() -> Project:
    """The project the studio opens with: the simple CNN on the generated shapes dataset."""
    p = simple_cnn()
    p.name = "Shapes (default)"
    p.set_settings("training", {"epochs": 8, "batch_size": 64, "learning_rate": 2e-3})
    return p


def open_default_project() -> Project:
    """The project the studio opens with: ``resources/projects/default.cnnproj`` and the trained run
    it ships with, unsaved (edits go to a new file, never over the example); the template alone
    if the file cannot be read."""
    try:
        project = load_project(RESOURCES / "projects" / f"default{SUFFIX}")
    except ProjectError:
        return default_project()
    project.path = None
    return project


#: Template name -> (file stem, builder), in menu order.
TEMPLATES: dict[str, tuple[str, Callable[[], Project]]] = {
    "LeNet-5": ("lenet5", lenet5),
    "Simple CNN": ("simple_cnn", simple_cnn),
    "VGG-style": ("vgg_style", vgg_style),
    "ResNet-style": ("resnet_style", resnet_style),
    "MobileNet-style": ("mobilenet_style", mobilenet_style),
    "Shapes (default)": ("default", default_project),
}
