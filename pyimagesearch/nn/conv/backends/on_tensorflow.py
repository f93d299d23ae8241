"""TensorFlow's entry (see backends/__init__.py): a compiled function and a tape, VGG on the tuned convolutions.

TensorFlow is the default backend; its path is the one measured since the port began, and nothing here
changes what it computes: the loss is traced once per stage size by tf.function, its gradient taken by a
GradientTape, and each convolution runs on whichever of TensorFlow's two exact kernels is faster on this
machine (tensorflow_convolution.py).
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from .. import device
from .tensorflow_convolution import FastConv2D

NAME = "tensorflow"
# TensorFlow's kernels want channels-last: the extractor keeps Keras's own layout.
DATA_FORMAT = "channels_last"


def compile_loss(network: Callable[[], keras.Model],
                 function: Callable[..., tuple[Any, dict[str, Any]]]) -> Callable[..., Any]:
    """function(model, image, *args) -> (total, terms) as (image, *args) -> (total, d total / d image, terms),
    traced once per image size (the arguments are tensors, so new targets are no new trace)."""

    def loss_and_gradient(image: tf.Tensor, *args: Any) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            total, terms = function(network(), image, *args)
        return total, tape.gradient(total, image), terms

    return tf.function(loss_and_gradient)


def gradient(function: Callable[..., Any], *xs: Any) -> tuple[Any, list[Any]]:
    """function(*xs) and its gradient with respect to each x, eagerly (tests and checks, not the hot path)."""
    xs = tuple(tf.convert_to_tensor(x) for x in xs)
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        value = function(*xs)
    return value, tape.gradient(value, list(xs))


def conv_layer(conv: keras.layers.Conv2D, precision: str) -> keras.layers.Layer:
    """A trained VGG convolution + ReLU on the faster of TensorFlow's two exact kernels for its shape."""
    return FastConv2D(conv, dtype=precision)


def normal(shape: tuple[int, ...], seed: tf.Tensor) -> tf.Tensor:
    """Standard normal numbers drawn from a seed tensor of two int32 (the same seed, the same numbers)."""
    return tf.random.stateless_normal(shape, seed)


def versions() -> dict[str, str]:
    return {"tensorflow": tf.__version__}


def limit_threads(threads: int) -> None:
    with contextlib.suppress(RuntimeError):  # already set in this process: it keeps its first value
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, tf.errors.ResourceExhaustedError)


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its CPU kernels on oneDNN; None where this TensorFlow cannot say."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own check, not public API
    except ImportError:
        return None
    check = getattr(_pywrap_util_port, "IsMklEnabled", None)
    return bool(check()) if check else None


def _kernels() -> str:
    """'' where oneDNN is on (or TensorFlow has none), else how to turn it on: an x86 CPU without it is slower."""
    if onednn_enabled() is not False or platform.machine().lower() not in ("x86_64", "amd64"):
        return ""
    # pyimagesearch asks for oneDNN when it loads; off means TF_ENABLE_ONEDNN_OPTS=0, or TensorFlow was
    # imported before pyimagesearch (it reads the variable once, when it starts).
    return ("; TensorFlow's oneDNN kernels are off, which is slower: set TF_ENABLE_ONEDNN_OPTS=1, or import "
            "pyimagesearch before tensorflow")


def describe_device() -> str:
    """'GPU: <name>, <memory> GiB' or 'CPU: <describe_cpu()>' (and whether oneDNN is off)."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU: {device.describe_cpu()}{_kernels()}"
    memory = device.gpu_memory_gib()
    names = []
    for i, gpu in enumerate(gpus):
        name = tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        names.append(name + (f", {memory[i]:.0f} GiB" if i < len(memory) else ""))
    return f"GPU: {'; '.join(names)}"


def bfloat16_problem() -> str | None:
    """Why a bfloat16 network would not pay here, or None: it pays on Ampere or newer GPUs and on CPUs with
    bfloat16 units that TensorFlow can use (checked by running one small convolution)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return device.gpu_bfloat16_problem(tuple(capability))
    problem = device.cpu_bfloat16_problem()
    if problem:
        return problem
    try:
        x = tf.zeros((1, 8, 8, 8), tf.bfloat16)
        tf.nn.conv2d(x, tf.zeros((3, 3, 8, 8), tf.bfloat16), 1, "SAME").numpy()
        tf.nn.conv2d_transpose(x, tf.zeros((3, 3, 8, 8), tf.bfloat16), (1, 8, 8, 8), 1, "SAME").numpy()
    except tf.errors.OpError as e:
        return f"TensorFlow cannot run bfloat16 convolutions on this CPU ({type(e).__name__})"
    return None
