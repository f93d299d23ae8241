"""VGG's convolutions, each direction computed by whichever of two exact kernels is faster here.

A 3x3, stride-1, SAME convolution and its input gradient are the same operation: the gradient of
conv(x, W) with respect to x is conv(dy, W') with W' the kernel flipped spatially and its in/out
channels swapped, and conv(x, W) itself is TensorFlow's transposed convolution of x with W'. So
each direction may run on TensorFlow's forward kernel (Conv2D) or on its input-gradient kernel
(Conv2DBackpropInput). Which is faster depends on the machine and on whose kernels TensorFlow runs:
on an AVX2-only EPYC, where TensorFlow used Eigen's kernels, the input-gradient kernel ran at a third
to two thirds of the forward's speed; on EPYCs with oneDNN held to AVX2 the forward kernel ran at
half the input-gradient's. Both kernels are timed once per layer shape and process, and the other
one replaces TensorFlow's usual choice only when it is clearly faster, so machines where they tie
compute exactly as before.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# The other kernel must be this much faster to replace TensorFlow's usual one: a close call could
# go either way from run to run, and the two differ in float32 rounding.
SWITCH_RATIO = 1.25
# Timing runs on a crop of at most this many pixels per side: enough to rank the kernels, cheap.
TIMING_SIDE = 128

KERNELS = ("conv", "transposed")  # Conv2D, Conv2DBackpropInput
# (height, width, channels in, channels out, dtype) -> (forward, backward), each one of KERNELS.
# Filled by choose(); a benchmark or test may set an entry to force a pair for a shape.
choices: dict[tuple[int, int, int, int, str], tuple[str, str]] = {}


def flipped(kernel: tf.Tensor) -> tf.Tensor:
    """W' of the module docstring: (3, 3, out, in), flipped in both spatial directions."""
    return tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])


def convolve(x: tf.Tensor, kernel: tf.Tensor | None, flipped_kernel: tf.Tensor | None, how: str) -> tf.Tensor:
    """conv(x, kernel) (stride 1, SAME) on TensorFlow's forward kernel ("conv", which reads kernel) or
    its transposed one ("transposed", which reads flipped_kernel = flipped(kernel))."""
    if how == "conv":
        return tf.nn.conv2d(x, kernel, 1, "SAME")
    shape = tf.concat([tf.shape(x)[:3], [flipped_kernel.shape[2]]], axis=0)
    return tf.nn.conv2d_transpose(x, flipped_kernel, shape, 1, "SAME")


def _seconds(run: Any) -> float:
    run()  # first call: oneDNN builds its primitive
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        run().numpy()
        best = min(best, time.perf_counter() - start)
    return best


def choose(height: int, width: int, channels_in: int, channels_out: int, dtype: str = "float32") -> tuple[str, str]:
    """(forward, backward) kernels for this layer shape: timed on first use, then remembered."""
    key = (height, width, channels_in, channels_out, dtype)
    if key not in choices:
        with tf.init_scope():  # measured eagerly, even when asked while a tf.function is traced
            h, w = min(height, TIMING_SIDE), min(width, TIMING_SIDE)
            rng = np.random.default_rng(0)

            def tensor(*shape: int) -> tf.Tensor:
                return tf.cast(tf.constant(rng.standard_normal(shape, np.float32)), dtype)

            x, dy, kernel = tensor(1, h, w, channels_in), tensor(1, h, w, channels_out), tensor(3, 3, channels_in,
                                                                                                  channels_out)
            kernel_flipped = flipped(kernel)

            def pick(usual: str, other: str, run: Any) -> str:
                return other if _seconds(lambda: run(other)) * SWITCH_RATIO < _seconds(lambda: run(usual)) else usual

            forward = pick("conv", "transposed", lambda how: convolve(x, kernel, kernel_flipped, how))
            backward = pick("transposed", "conv", lambda how: convolve(dy, kernel_flipped, kernel, how))
        choices[key] = (forward, backward)
    return choices[key]


class FastConv2D(keras.layers.Layer):
    """A trained VGG Conv2D + ReLU (3x3, stride 1, SAME), frozen, on the faster kernels (see module docstring).

    It computes in its dtype ("float32", or "bfloat16" for a network in 16 bits).
    """

    def __init__(self, conv: keras.layers.Conv2D, **kwargs: Any) -> None:
        super().__init__(name=conv.name, trainable=False, **kwargs)
        if conv.kernel_size != (3, 3) or conv.strides != (1, 1) or conv.padding != "same":
            raise ValueError(f"{conv.name}: only 3x3, stride-1, SAME convolutions are VGG's")
        # The loaded variables themselves, not copies: the loaded network is freed, its weights stay once.
        self.kernel, self.bias = conv.kernel, conv.bias
        self._kernels: dict[tuple[str, bool], tf.Tensor] = {}  # other dtypes and flipped: made when first needed
        self.channels = (int(self.kernel.shape[2]), int(self.kernel.shape[3]))

    def compute_output_spec(self, x: Any) -> keras.KerasTensor:
        # Declared, not traced: call() needs the image's size to pick its kernels.
        return keras.KerasTensor((*x.shape[:3], self.channels[1]), dtype=x.dtype)

    def _kernel(self, dtype: str, flip: bool) -> tf.Tensor:
        if (dtype, flip) == ("float32", False):
            return tf.convert_to_tensor(self.kernel)
        if (dtype, flip) not in self._kernels:
            with tf.init_scope():  # one constant, also when first needed while a tf.function is traced
                kernel = tf.cast(tf.convert_to_tensor(self.kernel), dtype)
                self._kernels[(dtype, flip)] = flipped(kernel) if flip else kernel
        return self._kernels[(dtype, flip)]

    def call(self, x: tf.Tensor) -> tf.Tensor:
        dtype = x.dtype.name
        forward, backward = choose(int(x.shape[1]), int(x.shape[2]), *self.channels, dtype)
        # Forward "conv" and backward "transposed" read the kernel, the other two its flipped copy.
        kernel = self._kernel(dtype, False) if "conv" == forward or "transposed" == backward else None
        kernel_flipped = self._kernel(dtype, True) if "transposed" == forward or "conv" == backward else None
        bias = tf.cast(tf.convert_to_tensor(self.bias), dtype)

        @tf.custom_gradient
        def conv_relu(x: tf.Tensor) -> tuple[tf.Tensor, Any]:
            y = tf.nn.relu(tf.nn.bias_add(convolve(x, kernel, kernel_flipped, forward), bias))

            def gradient(dy: tf.Tensor) -> tf.Tensor:
                # The input gradient is conv(dz, W'), dz the gradient through the ReLU.
                return convolve(tf.raw_ops.ReluGrad(gradients=dy, features=y), kernel_flipped, kernel, backward)

            return y, gradient

        return conv_relu(x)
