"""The explorer's NumPy arithmetic agrees with TensorFlow's own ops on random small cases."""

import numpy as np
import pytest

from cnnstudio.core import convarith as ca

tf = pytest.importorskip("tensorflow")


def _nhwc(x):
    return tf.constant(x[None, :, :, None], tf.float32)


def _cases(seed, count):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        k = tuple(rng.integers(1, 4, 2))
        stride = int(rng.integers(1, 4))
        dilation = 1 if stride > 1 else int(rng.integers(1, 3))  # TF takes one or the other
        x = rng.normal(size=tuple(rng.integers(5, 9, 2)))
        yield x, rng.normal(size=k), stride, dilation


@pytest.mark.parametrize("padding", ["valid", "same", 1, 2])
def test_cross_correlation_matches_tf_conv2d(padding):
    for x, k, stride, dilation in _cases({"valid": 1, "same": 2, 1: 3, 2: 4}[padding], 8):
        tf_pad = padding.upper() if isinstance(padding, str) else [[0, 0], [padding] * 2, [padding] * 2, [0, 0]]
        want = tf.nn.conv2d(_nhwc(x), tf.constant(k[:, :, None, None], tf.float32), stride, tf_pad,
                            dilations=dilation).numpy()[0, :, :, 0]
        got = ca.cross_correlate2d(x, k, stride, padding, dilation)
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=f"k={k.shape} s={stride} d={dilation}")


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_transposed_convolution_matches_tf_conv2d_transpose(padding):
    for x, k, stride, _ in _cases(7 if padding == "valid" else 8, 8):
        x = x[:4, :3]
        got = ca.conv_transpose2d(x, k, stride, padding)
        want = tf.nn.conv2d_transpose(_nhwc(x), tf.constant(k[:, :, None, None], tf.float32),
                                      (1,) + got.shape + (1,), stride, padding.upper()).numpy()[0, :, :, 0]
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=f"k={k.shape} s={stride}")


def test_transposed_convolution_size_matches_keras():
    import keras

    for x, k, stride, _ in _cases(9, 6):
        for padding in ("valid", "same"):
            layer = keras.layers.Conv2DTranspose(1, k.shape, strides=stride, padding=padding, use_bias=False)
            shape = layer.compute_output_shape((1,) + x.shape + (1,))
            assert ca.conv_transpose2d(x, k, stride, padding).shape == tuple(shape[1:3])


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_matches_tf(padding):
    rng = np.random.default_rng(3)
    for _ in range(8):
        x = rng.normal(size=tuple(rng.integers(4, 9, 2)))
        pool, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        want_max = tf.nn.max_pool2d(_nhwc(x), pool, stride, padding.upper()).numpy()[0, :, :, 0]
        want_avg = tf.nn.avg_pool2d(_nhwc(x), pool, stride, padding.upper()).numpy()[0, :, :, 0]
        np.testing.assert_allclose(ca.max_pool2d(x, pool, stride, padding), want_max, atol=1e-5)
        np.testing.assert_allclose(ca.avg_pool2d(x, pool, stride, padding), want_avg, atol=1e-5)
