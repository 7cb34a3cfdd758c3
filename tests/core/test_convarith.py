"""The convolution explorer's arithmetic against the lecture's own numbers (CONVOLUTION chapter)."""

import numpy as np
import pytest

from cnnstudio.core import convarith as ca
from cnnstudio.core.rules import ShapeError

# The lecture prints Filter 1's feature map (stride 1) as
#     3 -1 -3 -1 / -3 -1 0 -3 / -3 -2 0 1 / 3 -2 -2 -1
# Two cells are misprints: (1, 1) reads rows 1-3, columns 1-3 = [[1,0,0],[0,1,1],[0,0,0]], whose
# elementwise product with Filter 1 sums to 1 + 1 - 1 = 1 (printed -1); (2, 1) reads
# [[0,1,1],[0,0,0],[1,0,0]], summing to -1 - 1 - 1 = -3 (printed -2). The lecture's method gives:
FILTER_1_MAP = [[3, -1, -3, -1],
                [-3, 1, 0, -3],
                [-3, -3, 0, 1],
                [3, -2, -2, -1]]
# Filter 2's map is printed -1 -1 -1 -1 / -1 -1 -2 -1 / -1 -1 -2 1 / -1 0 -4 3; cell (1, 3) reads
# [[0,1,0],[1,0,0],[0,1,0]] and sums to 1 - 1 + 1 = 1 (printed -1). That misprint carries into the
# lecture's max-pooled map "-1 -1 / 0 3": the top-right 2x2 block is {-1, -1, -2, 1}, so its max is 1.
FILTER_2_MAP = [[-1, -1, -1, -1],
                [-1, -1, -2, 1],
                [-1, -1, -2, 1],
                [-1, 0, -4, 3]]


def test_filter_1_stride_1_feature_map():
    np.testing.assert_array_equal(ca.cross_correlate2d(ca.LECTURE_IMAGE, ca.LECTURE_FILTER_1), FILTER_1_MAP)


def test_filter_2_stride_1_feature_map():
    np.testing.assert_array_equal(ca.cross_correlate2d(ca.LECTURE_IMAGE, ca.LECTURE_FILTER_2), FILTER_2_MAP)


def test_filter_1_stride_3_gives_the_lectures_2x2_output():
    np.testing.assert_array_equal(ca.cross_correlate2d(ca.LECTURE_IMAGE, ca.LECTURE_FILTER_1, stride=3),
                                  [[3, -1], [3, -1]])


def test_convolution_then_max_pooling_2x2_stride_2():
    np.testing.assert_array_equal(ca.max_pool2d(np.array(FILTER_1_MAP)), [[3, 0], [3, 1]])  # as printed
    np.testing.assert_array_equal(ca.max_pool2d(np.array(FILTER_2_MAP)), [[-1, 1], [0, 3]])  # printed -1 -1 / 0 3


def test_pooling_example():
    np.testing.assert_array_equal(ca.max_pool2d(ca.LECTURE_POOL_INPUT, 2, 2), [[6, 9], [7, 8]])
    np.testing.assert_array_equal(ca.avg_pool2d(ca.LECTURE_POOL_INPUT, 2, 2), [[4.5, 7], [4.75, 5]])
    op = ca.compute(ca.MAX_POOL, ca.LECTURE_POOL_INPUT, pool_size=2, stride=2)
    assert op.expression(op.step(1)) == "out[0, 1] = max(7, 4, 9, 8) = 9"
    op = ca.compute(ca.AVERAGE_POOL, ca.LECTURE_POOL_INPUT, pool_size=2, stride=2)
    assert op.expression(op.step(2)) == "out[1, 0] = (3 + 4 + 7 + 5) / 4 = 4.75"


def test_one_d_smoothing_example():
    s = ca.convolve1d(ca.LECTURE_SERIES, ca.LECTURE_SMOOTHING_WEIGHTS)
    # s_t = sum_a x_{t-a} w_a with w_0 = 0.5 (the last printed weight) on the newest sample.
    np.testing.assert_allclose(s, [1.704, 1.815, 1.973, 2.118, 2.274, 2.417], atol=1e-9)
    # The lecture prints 1.80, 1.96, 2.11 for the windows ending at x_6, x_7, x_8: they agree to
    # within 0.015 (the lecture worked them with a slightly different weight row; see convarith).
    np.testing.assert_allclose(s[1:4], [1.80, 1.96, 2.11], atol=0.015)
    # The other alignment (w_0 = 0.01 on the newest sample) is nowhere near the printed values.
    flipped = ca.convolve1d(ca.LECTURE_SERIES, ca.LECTURE_SMOOTHING_WEIGHTS[::-1])
    assert np.all(np.abs(flipped[1:4] - [1.80, 1.96, 2.11]) > 0.5)
    op = ca.compute(ca.CONV_1D, ca.LECTURE_SERIES, ca.LECTURE_SMOOTHING_WEIGHTS)
    first = op.expression(op.step(0))
    assert first.startswith("s_5 = x_0·w_5 + x_1·w_4") and first.endswith("1.8×0.5 = 1.704")
    assert op.weight_labels() == ["w_5", "w_4", "w_3", "w_2", "w_1", "w_0"]


def test_one_d_causal_padding_gives_one_output_per_sample():
    s = ca.convolve1d(ca.LECTURE_SERIES, ca.LECTURE_SMOOTHING_WEIGHTS, padding="causal")
    assert s.shape == ca.LECTURE_SERIES.shape
    assert s[0] == pytest.approx(0.5)  # only x_0 w_0: the earlier samples are padding zeros
    np.testing.assert_allclose(s[5:], ca.convolve1d(ca.LECTURE_SERIES, ca.LECTURE_SMOOTHING_WEIGHTS))


def test_padding_p_1_builds_the_lectures_8x8_image():
    op = ca.compute(ca.CROSS_CORRELATION, ca.LECTURE_IMAGE, ca.LECTURE_FILTER_1, padding=1)
    assert op.canvas.shape == (8, 8)
    np.testing.assert_array_equal(op.canvas[1:7, 1:7], ca.LECTURE_IMAGE)
    assert not op.canvas[[0, 7], :].any() and not op.canvas[:, [0, 7]].any()
    assert op.output.shape == (6, 6)  # (n + 2p - f + 1) = 6 + 2 - 3 + 1
    np.testing.assert_array_equal(op.output[1:5, 1:5], FILTER_1_MAP)  # the inside is unchanged
    assert "floor((6 + 2*1 - 3)/1) + 1 = 6" in " ".join(op.formula)


@pytest.mark.parametrize("f", [3, 5, 7])
def test_same_padding_keeps_the_size_with_p_half_of_f_minus_1(f):
    x = np.arange(81.0).reshape(9, 9)
    op = ca.compute(ca.CROSS_CORRELATION, x, np.ones((f, f)), padding="same")
    assert op.output.shape == x.shape
    assert op.origin == ((f - 1) // 2, (f - 1) // 2)  # p = (f - 1) / 2 zeros before
    np.testing.assert_array_equal(op.output, ca.cross_correlate2d(x, np.ones((f, f)), padding=(f - 1) // 2))


def test_step_records_the_window_products_and_sum():
    op = ca.compute(ca.CROSS_CORRELATION, ca.LECTURE_IMAGE, ca.LECTURE_FILTER_1)
    assert len(op) == 16
    step = op.step(0)
    assert step.out == (0, 0) and step.result == 3
    np.testing.assert_array_equal(step.values, ca.LECTURE_IMAGE[:3, :3])
    np.testing.assert_array_equal(step.products, ca.LECTURE_IMAGE[:3, :3] * ca.LECTURE_FILTER_1)
    assert step.products.sum() == step.result
    step = op.step(5)  # second row, second column: the misprinted cell
    assert step.out == (1, 1) and step.result == 1
    np.testing.assert_array_equal(step.coords[0, 0], [1, 1])
    np.testing.assert_array_equal(step.coords[2, 2], [3, 3])


def test_step_coordinates_include_the_padding():
    op = ca.compute(ca.CROSS_CORRELATION, ca.LECTURE_IMAGE, ca.LECTURE_FILTER_1, padding="same")
    step = op.step(0)
    np.testing.assert_array_equal(step.coords[0, 0], [-1, -1])
    np.testing.assert_array_equal(step.in_padding, [[True, True, True], [True, False, False], [True, False, False]])
    assert step.values[step.in_padding].sum() == 0
    assert step.result == 2  # 1*1 + 1*1 from the image's diagonal
    last = op.step(len(op) - 1)
    np.testing.assert_array_equal(last.coords[2, 2], [6, 6])


def test_true_convolution_flips_the_kernel():
    rng = np.random.default_rng(0)
    x, k = rng.integers(-3, 4, (7, 6)).astype(float), rng.integers(-2, 3, (3, 2)).astype(float)
    np.testing.assert_array_equal(ca.convolve2d(x, k), ca.cross_correlate2d(x, k[::-1, ::-1]))
    # The lecture's Z[i, j] = sum K[u, v] A[i - u, j - v], written out:
    direct = np.array([[sum(k[u, v] * x[i + 2 - u, j + 1 - v] for u in range(3) for v in range(2))
                        for j in range(5)] for i in range(5)])
    np.testing.assert_array_equal(ca.convolve2d(x, k), direct)
    op = ca.compute(ca.CONVOLUTION, x, k)
    np.testing.assert_array_equal(op.step(0).weights, k[::-1, ::-1])


def test_dilation_spreads_the_taps():
    x = np.arange(49.0).reshape(7, 7)
    k = np.arange(9.0).reshape(3, 3)
    out = ca.cross_correlate2d(x, k, dilation=2)
    assert out.shape == (3, 3)
    assert out[0, 0] == (x[::2, ::2][:3, :3] * k).sum()
    assert "floor((7 + 2*0 - 5)/1) + 1 = 3" in " ".join(ca.compute(ca.CROSS_CORRELATION, x, k, dilation=2).formula)


@pytest.mark.parametrize("stride,padding,dilation", [(1, "valid", 1), (2, "valid", 1), (3, "valid", 1),
                                                     (2, "same", 1), (1, "same", 2), (2, 1, 1), (1, 2, 2)])
def test_transposed_convolution_is_the_adjoint_of_the_convolution(stride, padding, dilation):
    rng = np.random.default_rng(stride * 10 + dilation)
    k = rng.normal(size=(3, 3))
    x = rng.normal(size=(3, 4))
    up = ca.conv_transpose2d(x, k, stride, padding, dilation)
    y = rng.normal(size=up.shape)
    down = ca.cross_correlate2d(y, k, stride, padding, dilation)
    assert down.shape == x.shape
    assert np.sum(down * x) == pytest.approx(np.sum(y * up))


def test_transposed_convolution_spreads_the_input_like_the_lecture_figure():
    # Dumoulin & Visin fig. 4.5: 3x3 kernel, 2x2 input, stride 2: one zero between inputs, a border of 2.
    op = ca.compute(ca.TRANSPOSED, np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((3, 3)), stride=2)
    assert op.output.shape == (5, 5)
    assert op.canvas.shape == (7, 7)
    np.testing.assert_array_equal(op.canvas[2:5, 2:5], [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    assert op.is_input.sum() == 4
    assert op.output[2, 2] == 10  # the centre sees all four inputs
    assert "out = n*s + max(f - s, 0) = 2*2 + 1 = 5" in " ".join(op.formula)


def test_formula_follows_stride_and_padding():
    op = ca.compute(ca.CROSS_CORRELATION, ca.LECTURE_IMAGE, ca.LECTURE_FILTER_1, stride=3)
    assert "floor((6 + 2*0 - 3)/3) + 1 = 2" in " ".join(op.formula)
    op = ca.compute(ca.CROSS_CORRELATION, np.ones((5, 6)), np.ones((3, 3)), stride=2, padding="same")
    text = " ".join(op.formula)
    assert "height: out = floor((n + 2p - f)/s) + 1 = floor((5 + 2*1 - 3)/2) + 1 = 3" in text
    assert "zeros added: top 1, bottom 1, left 0, right 1" in text  # TensorFlow pads the extra one after


def test_pooling_same_padding_skips_padding_cells():
    x = -np.ones((3, 3))
    np.testing.assert_array_equal(ca.max_pool2d(x, 2, 2, "same"), -np.ones((2, 2)))  # zeros would win a max
    np.testing.assert_array_equal(ca.avg_pool2d(x, 2, 2, "same"), -np.ones((2, 2)))


def test_presets_are_well_formed():
    for name, k in ca.KERNEL_PRESETS.items():
        assert k.ndim == 2 and np.all(np.isfinite(k)), name
    for name in ("Box blur 3x3", "Gaussian blur 3x3", "Gaussian blur 5x5", "Lecture smoothing weights (1-D)"):
        assert ca.KERNEL_PRESETS[name].sum() == pytest.approx(1.0), name
    flat = np.full((5, 5), 7.0)
    assert ca.cross_correlate2d(flat, ca.KERNEL_PRESETS["Identity"])[1, 1] == 7
    assert ca.cross_correlate2d(flat, ca.KERNEL_PRESETS["Laplacian"])[1, 1] == 0


@pytest.mark.parametrize("call,message", [
    (lambda: ca.cross_correlate2d(np.ones((2, 2)), np.ones((3, 3))), "does not fit"),
    (lambda: ca.cross_correlate2d(np.ones((4, 4)), np.ones((3, 3)), stride=0), "stride"),
    (lambda: ca.cross_correlate2d(np.ones((4, 4)), np.ones((3, 3)), padding="full"), "padding"),
    (lambda: ca.cross_correlate2d(np.ones((4, 4)), np.ones((3, 3)), padding=-1), "padding"),
    (lambda: ca.cross_correlate2d(np.array([[1, np.nan]]), np.ones((1, 1))), "finite"),
    (lambda: ca.conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), padding=3), "at most"),
    (lambda: ca.max_pool2d(np.ones((2, 2)), 2, 1, 2), "entirely in the padding"),
    (lambda: ca.compute(ca.CONV_1D, np.ones((2, 3)), np.ones(2)), "single row"),
])
def test_bad_input_says_what_is_wrong(call, message):
    with pytest.raises(ShapeError, match=message):
        call()


def test_fmt_writes_numbers_as_people_do():
    assert [ca.fmt(v) for v in (3.0, -0.0, 0.5, 1.8149999, 1 / 9, 12345.0)] == ["3", "0", "0.5", "1.815", "0.111", "1.23e+04"]
