"""PyTorch's entry (see backends/__init__.py): autograd in eager mode, VGG in PyTorch's own NCHW layout.

Keras's torch convolution takes channels-last tensors and converts each one to NCHW and back around every
convolution (Keras issue #18457): most of a plain Keras-on-torch evaluation went into those copies. Here
the extractor runs channels-first from its input to its outputs (features.build_extractor transposes once
at each end), and each VGG convolution is torch's conv2d + ReLU on a kernel laid out once, as PyTorch's
own VGG runs. The device is the one Keras picked: CUDA, Apple's MPS or the CPU.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import torch
from torch.nn import functional

from .. import device

NAME = "torch"
DATA_FORMAT = "channels_first"

# TF32 on Ampere and newer GPUs: PyTorch allows it for convolutions by default but not for matmuls (the
# Gram matrices); TensorFlow and JAX use it for both. A style picture does not need the last bits.
torch.backends.cuda.matmul.allow_tf32 = os.environ.get("NEURALSTYLE_TF32", "1") != "0"


def _device() -> torch.device:
    """Where Keras puts its tensors: CUDA, Apple's MPS or the CPU (Keras's choice, asked through a tensor)."""
    return keras.ops.convert_to_tensor(0.0).device


def compile_loss(network: Callable[[], keras.Model],
                 function: Callable[..., tuple[Any, dict[str, Any]]]) -> Callable[..., Any]:
    """function(model, image, *args) -> (total, terms) as (image, *args) -> (total, d total / d image, terms)."""

    def loss_and_gradient(image: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        image = image.detach().requires_grad_(True)
        total, terms = function(network(), image, *args)
        (gradient,) = torch.autograd.grad(total, image)
        return total.detach(), gradient, {name: value.detach() for name, value in terms.items()}

    return loss_and_gradient


class TorchConv2D(keras.layers.Layer):
    """A trained VGG Conv2D + ReLU (3x3, stride 1, SAME), frozen, as torch's conv2d on NCHW tensors."""

    def __init__(self, conv: keras.layers.Conv2D, **kwargs: Any) -> None:
        super().__init__(name=conv.name, trainable=False, **kwargs)
        if conv.kernel_size != (3, 3) or conv.strides != (1, 1) or conv.padding != "same":
            raise ValueError(f"{conv.name}: only 3x3, stride-1, SAME convolutions are VGG's")
        # Keras keeps a kernel as (3, 3, in, out); torch wants (out, in, 3, 3): laid out once, per dtype.
        kernel = torch.as_tensor(keras.ops.convert_to_numpy(conv.kernel)).permute(3, 2, 0, 1).contiguous()
        bias = torch.as_tensor(keras.ops.convert_to_numpy(conv.bias))
        where = _device()
        self._weights = {"float32": (kernel.to(where), bias.to(where))}
        self.channels = int(kernel.shape[0])

    def compute_output_spec(self, x: Any) -> keras.KerasTensor:
        return keras.KerasTensor((x.shape[0], self.channels, *x.shape[2:]), dtype=x.dtype)

    def call(self, x: torch.Tensor) -> torch.Tensor:
        dtype = str(x.dtype).removeprefix("torch.")
        if dtype not in self._weights:
            self._weights[dtype] = tuple(w.to(x.dtype) for w in self._weights["float32"])
        kernel, bias = self._weights[dtype]
        return functional.relu(functional.conv2d(x, kernel, bias, padding=1))


def gradient(function: Callable[..., Any], *xs: Any) -> tuple[Any, list[Any]]:
    """function(*xs) and its gradient with respect to each x, eagerly (tests and checks, not the hot path)."""
    xs = tuple(keras.ops.convert_to_tensor(x).detach().requires_grad_(True) for x in xs)
    value = function(*xs)
    return value.detach(), list(torch.autograd.grad(value, xs, allow_unused=True))


def conv_layer(conv: keras.layers.Conv2D, precision: str) -> keras.layers.Layer:
    return TorchConv2D(conv, dtype=precision)


def normal(shape: tuple[int, ...], seed: torch.Tensor) -> torch.Tensor:
    """Standard normal numbers drawn from a seed tensor of two ints (the same seed, the same numbers). Drawn by
    NumPy, whose generator takes both ints whole (torch's CPU generator keeps 32 bits of its seed)."""
    words = [int(v) & 0xFFFFFFFF for v in seed.tolist()]
    drawn = np.random.default_rng(words).standard_normal(shape, np.float32)
    return torch.as_tensor(drawn).to(_device())


def versions() -> dict[str, str]:
    return {"torch": torch.__version__}


def limit_threads(threads: int) -> None:
    with contextlib.suppress(RuntimeError):
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError)


def describe_device() -> str:
    """'GPU: <name>, <memory> GiB', 'GPU: Apple (MPS)' or 'CPU: <describe_cpu()>': where Keras puts tensors."""
    where = _device()
    if where.type == "cuda":
        names = []
        for i in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(i)
            names.append(f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB")
        return f"GPU: {'; '.join(names)}"
    if where.type == "mps":
        return "GPU: Apple (MPS)"
    return f"CPU: {device.describe_cpu()}"


def bfloat16_problem() -> str | None:
    where = _device()
    if where.type == "cuda":
        return device.gpu_bfloat16_problem(torch.cuda.get_device_capability(where))
    if where.type == "mps":
        return "Apple's MPS runs bfloat16 no faster than float32 for these convolutions"
    return device.cpu_bfloat16_problem()
