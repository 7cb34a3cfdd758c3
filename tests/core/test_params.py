"""The coercion grammar: what each parameter type accepts (typed text, JSON lists, Keras config
values), the one canonical value it turns them into, and the errors that name the parameter."""

import math

import pytest

from cnnstudio.core.params import Param, ParamError, ParamSet

KERNEL = Param("kernel_size", "ints", (3, 3), min=1, max=64, length=2)
TARGET = Param("target_shape", "ints", (7, 7, 1), min=-1)  # any length
SHAPE = Param("shape", "shape", (28, 28, 1))
PADDING = Param("padding", "pairs", ((1, 1), (1, 1)), min=0, length=2)
RATE = Param("rate", "float", 0.5, min=0.0, max=0.999)
FACTOR = Param("factor", "floats", 0.1, min=-1.0, max=1.0)
FILTERS = Param("filters", "int", 32, min=1, max=8192)
BIAS = Param("use_bias", "bool", True)
PAD_MODE = Param("padding", "choice", "valid", choices=("valid", "same"))
SEED = Param("seed", "int", None, min=0, optional=True)


@pytest.mark.parametrize("value, out", [
    ("3x3", (3, 3)), ("3x5", (3, 5)), ("3X5", (3, 5)), ("3 x 5", (3, 5)), ("3, 5", (3, 5)), ("3 5", (3, 5)),
    ("(3, 5)", (3, 5)), ("[3,5]", (3, 5)),
    (3, (3, 3)), ("3", (3, 3)), ([3], (3, 3)), (3.0, (3, 3)),  # one value is repeated on every axis
    ((2, 7), (2, 7)), ([2, 7], (2, 7)), ((2.0, 7.0), (2, 7)),
])
def test_ints_of_a_fixed_length(value, out):
    assert KERNEL.coerce(value) == out


@pytest.mark.parametrize("value, message", [
    ((1, 2, 3), "kernel_size needs 2 values, got 3"),
    ("3x3x3", "kernel_size needs 2 values, got 3"),
    (0, "kernel_size must be at least 1, got 0"),
    ((3, 65), "kernel_size must be at most 64, got 65"),
    (2.5, "kernel_size must be an integer, got 2.5"),
    (True, "kernel_size must be an integer, got True"),
    ("3xa", "kernel_size: '3xa' is not a valid ints"),
    ((3, None), "kernel_size: (3, None) is not a valid ints"),
    (None, "kernel_size needs a value"),
])
def test_ints_refused_with_the_parameters_name(value, message):
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KERNEL.coerce(value)


def test_ints_of_any_length():
    assert TARGET.coerce("7, 7, 1") == (7, 7, 1)
    assert TARGET.coerce("-1x4") == (-1, 4)
    assert TARGET.coerce([49]) == TARGET.coerce(49) == (49,)
    with pytest.raises(ParamError, match="target_shape needs at least one value"):
        TARGET.coerce("")
    with pytest.raises(ParamError, match="target_shape must be at least -1, got -2"):
        TARGET.coerce((-2, 4))


@pytest.mark.parametrize("value, out", [
    ("28x28x1", (28, 28, 1)), ("32, 32, 3", (32, 32, 3)), (28, (28,)), ([28, 28, 1], (28, 28, 1)),
    ((None, 32), (None, 32)), ([None, None, 3], (None, None, 3)),  # None: a free size
    ("None x None x 3", (None, None, 3)), ("none,32", (None, 32)), ("(None, 32)", (None, 32)),
])
def test_shapes_with_free_sizes(value, out):
    assert SHAPE.coerce(value) == out


@pytest.mark.parametrize("value, message", [
    ((28, 0, 1), r"shape: every dimension must be at least 1, got \(28, 0, 1\)"),
    ("", "shape needs at least one dimension"),
    ((), "shape needs at least one dimension"),
    ("28x?", "shape: '28x\\?' is not a valid shape"),
    ((28.5, 3), "shape must be an integer, got 28.5"),
])
def test_shapes_refused(value, message):
    with pytest.raises(ParamError, match=message):
        SHAPE.coerce(value)


@pytest.mark.parametrize("value, out", [
    (1, ((1, 1), (1, 1))),  # one value: every side
    ((1, 2), ((1, 1), (2, 2))),  # one value per axis: both sides of it, as Keras reads (1, 2)
    (((1, 0), (2, 3)), ((1, 0), (2, 3))),
    ([[1, 0], [2, 3]], ((1, 0), (2, 3))),  # as JSON stores it
])
def test_pairs(value, out):
    assert PADDING.coerce(value) == out


@pytest.mark.parametrize("value, message", [
    (((1, 2),), "padding needs 2 pairs, got 1"),
    ((1, 2, 3), "padding needs 2 pairs, got 3"),
    (-1, "padding must be at least 0, got -1"),
    (((1, 2, 3), (0, 0)), "padding: .* is not a valid pairs"),
])
def test_pairs_refused(value, message):
    with pytest.raises(ParamError, match=message):
        PADDING.coerce(value)


def test_ints_and_floats():
    assert FILTERS.coerce("16") == FILTERS.coerce(16.0) == 16
    assert isinstance(FILTERS.coerce(16.0), int)
    assert RATE.coerce("0.25") == RATE.coerce(0.25) == 0.25
    assert RATE.coerce(0) == 0.0 and isinstance(RATE.coerce(0), float)
    for value, message in [(0, "filters must be at least 1, got 0"), (9000, "filters must be at most 8192, got 9000"),
                           ("16.5", "filters: '16.5' is not a valid int"), (False, "filters must be an integer")]:
        with pytest.raises(ParamError, match=message):
            FILTERS.coerce(value)
    for value, message in [(1.0, "rate must be at most 0.999, got 1"), (-0.5, "rate must be at least 0, got -0.5"),
                           (math.nan, "rate must be a finite number"), ("nan", "rate must be a finite number"),
                           ("inf", "rate must be a finite number"), (True, "rate must be a number"),
                           ("half", "rate: 'half' is not a valid float")]:
        with pytest.raises(ParamError, match=message):
            RATE.coerce(value)


def test_floats_are_one_number_or_a_pair():
    assert FACTOR.coerce(0.1) == FACTOR.coerce("0.1") == 0.1
    assert FACTOR.coerce((-0.2, 0.3)) == FACTOR.coerce([-0.2, 0.3]) == (-0.2, 0.3)
    assert FACTOR.coerce("-0.2, 0.3") == FACTOR.coerce(["-0.2", "0.3"]) == (-0.2, 0.3)  # as the inspector shows it
    assert FACTOR.coerce("0.1,") == 0.1
    with pytest.raises(ParamError, match="factor needs one number or a pair, got 3 values"):
        FACTOR.coerce((0.1, 0.2, 0.3))
    with pytest.raises(ParamError, match="factor must be at most 1, got 2"):
        FACTOR.coerce((0.5, 2))


def test_bools_choices_strings_and_none():
    for text in ("true", "True", "YES", "1"):
        assert BIAS.coerce(text) is True
    for text in ("false", "no", "0"):
        assert BIAS.coerce(text) is False
    assert BIAS.coerce(1) is True and BIAS.coerce(0) is False
    with pytest.raises(ParamError, match="use_bias must be true or false, got 'maybe'"):
        BIAS.coerce("maybe")
    assert PAD_MODE.coerce(" same ") == "same"
    with pytest.raises(ParamError, match="padding must be one of valid, same; got 'full'"):
        PAD_MODE.coerce("full")
    custom = {"class_name": "MyActivation", "config": {}}
    assert Param("activation", "str", "linear").coerce(custom) is custom  # a serialized Keras object is kept
    assert Param("activation", "str", "linear").coerce(3) == "3"
    assert SEED.coerce(None) is None and SEED.coerce("7") == 7


@pytest.mark.parametrize("param, value", [
    (KERNEL, "3x5"), (KERNEL, 4), (TARGET, "-1, 4"), (SHAPE, "None x 32 x 3"), (PADDING, (1, 2)),
    (RATE, "0.25"), (FACTOR, "-0.2, 0.3"), (BIAS, "no"), (PAD_MODE, " same "),
])
def test_a_coerced_value_is_canonical(param, value):
    once = param.coerce(value)
    assert param.coerce(once) == once


def test_param_set_overlays_defaults_and_refuses_unknown_names():
    ps = ParamSet((FILTERS, KERNEL, BIAS))
    assert ps.names() == ["filters", "kernel_size", "use_bias"] and [p.name for p in ps] == ps.names()
    assert ps.get("kernel_size") is KERNEL and ps.get("units") is None
    assert ps.coerce({"kernel_size": "5x1"}) == {"filters": 32, "kernel_size": (5, 1), "use_bias": True}
    fresh = ps.defaults()
    fresh["filters"] = 1
    assert ps.defaults()["filters"] == 32  # a fresh dict each time
    with pytest.raises(ParamError, match="unknown parameter 'units'"):
        ps.coerce({"units": 10})
    with pytest.raises(ParamError, match="filters must be at least 1"):
        ps.coerce({"filters": 0})
    assert issubclass(ParamError, ValueError)
