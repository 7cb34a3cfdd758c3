"""The layer catalog: well-formed entries, rules that run on a sample input, and parameter
counts equal to the published ones (LeNet-5's are in test_inference.py)."""

import pytest

from cnnstudio.core.catalog import CATALOG, GROUPS, MANY, by_group, spec
from cnnstudio.core.rules import IDENTITY, AxisStep, LayerMath

MERGES = ("Add", "Multiply", "Concatenate")


def sample_inputs(kind: str) -> list:
    """Per-sample input shapes the kind's default parameters fit."""
    if kind == "InputLayer":
        return []
    if kind in MERGES:
        return [(8, 8, 4), (8, 8, 4)]
    if kind.endswith("1D"):
        return [(20, 3)]
    if kind == "Reshape":
        return [(7, 7, 1)]  # the default target_shape holds 49 values
    return [(28, 28, 3)]


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_every_entry_is_well_formed(kind):
    sp = CATALOG[kind]
    assert sp.kind == kind and sp.group in GROUPS and sp.doc
    names = sp.params.names()
    assert len(set(names)) == len(names)
    assert all(n.isidentifier() and n == n.lower() for n in names)  # Keras get_config() names are snake_case
    assert set(sp.key_params) <= set(names)
    for p in sp.params:
        assert p.doc, f"{kind}.{p.name} has no doc"
        assert p.coerce(p.default) == p.default, f"{kind}.{p.name}: the default is not canonical"
        if p.type == "choice":
            assert p.default in p.choices
    assert sp.coerce({}) == sp.defaults()
    assert sp.inputs == (0 if kind == "InputLayer" else MANY if kind in MERGES else 1)


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_every_rule_runs_on_a_sample_input(kind):
    sp = CATALOG[kind]
    math = sp.compute(sp.defaults(), sample_inputs(kind))
    assert isinstance(math, LayerMath)
    assert isinstance(math.output_shape, tuple) and all(d is None or d >= 1 for d in math.output_shape)
    assert math.trainable >= 0 and math.non_trainable >= 0 and math.flops >= 0
    if math.rf is None:
        assert math.rf_note, f"{kind} has no receptive-field step and does not say why"
    elif math.rf != IDENTITY:
        assert all(isinstance(s, AxisStep) for s in math.rf) and len(math.rf) == len(math.output_shape) - 1
    assert isinstance(sp.describe(sp.defaults()), str)


def test_palette_groups_aliases_and_unknown_kinds():
    groups = by_group()
    assert list(groups) == list(GROUPS)
    assert sorted(s.kind for entries in groups.values() for s in entries) == sorted(CATALOG)
    assert spec("Input") is spec("InputLayer") is CATALOG["InputLayer"]
    assert spec("Permute") is None  # generic: Keras infers it


def test_describe_shows_the_key_parameters():
    conv = spec("Conv2D")
    assert conv.describe(conv.defaults()) == "32, 3x3, s1x1, valid, linear"
    assert conv.describe(conv.coerce({"filters": 6, "kernel_size": 5, "dilation_rate": 2})) == "6, 5x5, s1x1, valid, d2x2, linear"
    pad = spec("ZeroPadding2D")
    assert pad.describe(pad.defaults()) == "1x1,1x1"


def params_of(kind: str, shape: tuple, **values) -> tuple[int, int]:
    """(trainable, non-trainable) of one layer of ``kind`` on a per-sample input ``shape``."""
    sp = spec(kind)
    math = sp.compute(sp.coerce(values), [shape])
    return math.trainable, math.non_trainable


@pytest.mark.parametrize("kind, shape, values, counts", [
    ("Conv2D", (224, 224, 3), dict(filters=64, kernel_size=3), (1_792, 0)),  # VGG16 block1_conv1
    ("Conv2D", (56, 56, 64), dict(filters=64, kernel_size=3, use_bias=False), (36_864, 0)),  # ResNet, before BN
    ("Conv2D", (8, 8, 16), dict(filters=32, kernel_size=3, groups=2), (3 * 3 * 8 * 32 + 32, 0)),
    ("Conv1D", (100, 3), dict(filters=16, kernel_size=5), (5 * 3 * 16 + 16, 0)),
    ("Conv2DTranspose", (7, 7, 16), dict(filters=8, kernel_size=3, strides=2), (3 * 3 * 16 * 8 + 8, 0)),
    ("DepthwiseConv2D", (112, 112, 32), dict(kernel_size=3, use_bias=False), (288, 0)),  # MobileNet conv_dw_1
    ("SeparableConv2D", (16, 16, 32), dict(filters=64, kernel_size=3), (288 + 32 * 64 + 64, 0)),
    ("Dense", (4096,), dict(units=1000), (4_097_000, 0)),  # VGG16 predictions
    ("BatchNormalization", (56, 56, 64), {}, (128, 128)),  # gamma, beta; moving mean, variance
    ("LayerNormalization", (10, 64), {}, (128, 0)),
    ("MaxPooling2D", (28, 28, 6), {}, (0, 0)),
])
def test_parameter_counts_of_known_layers(kind, shape, values, counts):
    assert params_of(kind, shape, **values) == counts


def test_vgg16_has_its_published_138_357_544_parameters():
    shape, total = (224, 224, 3), 0
    for convs, filters in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]:
        for _ in range(convs):
            math = spec("Conv2D").compute(spec("Conv2D").coerce({"filters": filters, "padding": "same"}), [shape])
            shape, total = math.output_shape, total + math.trainable
        shape = spec("MaxPooling2D").compute(spec("MaxPooling2D").defaults(), [shape]).output_shape
    assert shape == (7, 7, 512)
    shape = spec("Flatten").compute({}, [shape]).output_shape
    for units in (4096, 4096, 1000):
        math = spec("Dense").compute(spec("Dense").coerce({"units": units}), [shape])
        shape, total = math.output_shape, total + math.trainable
    assert total == 138_357_544
