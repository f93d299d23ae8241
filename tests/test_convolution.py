"""The two exact kernels of a VGG convolution, and the Gram matrix's one-matmul gradient."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch.nn.conv import losses
from pyimagesearch.nn.conv.backends import tensorflow_convolution as convolution
from tests.test_losses import np_gram


def conv_layer(rng, channels_in=4, channels_out=5):
    layer = keras.layers.Conv2D(channels_out, 3, padding="same", activation="relu", name="block9_conv9")
    layer.build((None, None, None, channels_in))
    layer.set_weights([rng.normal(size=(3, 3, channels_in, channels_out)).astype(np.float32),
                       rng.normal(size=channels_out).astype(np.float32)])
    return layer


def test_both_kernels_compute_the_convolution_and_its_input_gradient(rng):
    x = tf.constant(rng.normal(size=(1, 9, 7, 4)).astype(np.float32))
    dy = tf.constant(rng.normal(size=(1, 9, 7, 5)).astype(np.float32))
    kernel = tf.constant(rng.normal(size=(3, 3, 4, 5)).astype(np.float32))
    flipped = convolution.flipped(kernel)
    expected = tf.nn.conv2d(x, kernel, 1, "SAME")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.conv2d(x, kernel, 1, "SAME")
    expected_gradient = tape.gradient(y, x, output_gradients=dy)  # what TensorFlow's autodiff gives
    for how in convolution.KERNELS:
        np.testing.assert_allclose(convolution.convolve(x, kernel, flipped, how), expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(convolution.convolve(dy, flipped, kernel, how), expected_gradient,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("forward, backward", list(itertools.product(convolution.KERNELS, repeat=2)))
def test_fast_conv_equals_keras_conv_and_its_gradient_on_every_kernel_pair(rng, monkeypatch, forward, backward):
    layer = conv_layer(rng)
    x = tf.constant(rng.normal(size=(1, 10, 6, 4)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(1, 10, 6, 5)).astype(np.float32))
    monkeypatch.setitem(convolution.choices, (10, 6, 4, 5, "float32"), (forward, backward))
    fast = convolution.FastConv2D(layer)
    results = []
    for model in (layer, fast):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x)
        results.append((y, tape.gradient(y, x, output_gradients=upstream)))
    (y_keras, g_keras), (y_fast, g_fast) = results
    assert fast.name == "block9_conv9" and float(tf.reduce_mean(tf.cast(y_keras > 0, tf.float32))) > 0.2
    np.testing.assert_allclose(y_fast, y_keras, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g_fast, g_keras, rtol=1e-4, atol=1e-4)


def test_kernel_choices_are_made_once_per_shape():
    pair = convolution.choose(12, 10, 3, 8)
    assert pair[0] in convolution.KERNELS and pair[1] in convolution.KERNELS
    assert convolution.choices[(12, 10, 3, 8, "float32")] == pair and convolution.choose(12, 10, 3, 8) == pair


def test_only_vgg_convolutions_are_replaced():
    with pytest.raises(ValueError, match="3x3, stride-1, SAME"):
        convolution.FastConv2D(keras.layers.Conv2D(4, 5, padding="same"))


def test_gram_gradient_is_the_matmuls(rng):
    features = tf.constant(rng.normal(size=(6, 5, 4)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(4, 4)).astype(np.float32))  # not symmetric on purpose
    with tf.GradientTape() as tape:
        tape.watch(features)
        gram = losses.gram_matrix(features)
    got = tape.gradient(gram, features, output_gradients=upstream)
    with tf.GradientTape() as tape:
        tape.watch(features)
        flat = tf.reshape(features, (-1, 4))
        plain = tf.matmul(flat, flat, transpose_a=True)
    np.testing.assert_allclose(gram, np_gram(features.numpy().astype(np.float64)), rtol=1e-5)
    np.testing.assert_allclose(got, tape.gradient(plain, features, output_gradients=upstream), rtol=1e-5, atol=1e-5)
