"""JAX's entry (see backends/__init__.py): one jit-compiled value-and-grad per stage size over the model's
stateless call, the network's weights passed in as arguments (closed over, they would be baked into every
compiled program as constants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import keras

from .. import device

NAME = "jax"
# XLA picks its own layouts: the extractor keeps Keras's.
DATA_FORMAT = "channels_last"


def compile_loss(network: Callable[[], keras.Model],
                 function: Callable[..., tuple[Any, dict[str, Any]]]) -> Callable[..., Any]:
    """function(features, image, *args) -> (total, terms) as (image, *args) -> (total, d total / d image, terms),
    features being the model as a pure function of the image."""

    def loss(trainable: list[jax.Array], fixed: list[jax.Array], image: jax.Array, *args: Any) -> Any:
        model = network()

        def features(x: jax.Array) -> Any:
            return model.stateless_call(trainable, fixed, x)[0]

        return function(features, image, *args)

    step = jax.jit(jax.value_and_grad(loss, argnums=2, has_aux=True))

    def loss_and_gradient(image: jax.Array, *args: Any) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
        model = network()
        (total, terms), gradient = step([v.value for v in model.trainable_variables],
                                        [v.value for v in model.non_trainable_variables], image, *args)
        return total, gradient, terms

    return loss_and_gradient


def gradient(function: Callable[..., Any], *xs: Any) -> tuple[Any, list[Any]]:
    """function(*xs) and its gradient with respect to each x, eagerly (tests and checks, not the hot path)."""
    xs = tuple(jnp.asarray(x) for x in xs)
    value, grads = jax.value_and_grad(function, argnums=tuple(range(len(xs))))(*xs)
    return value, list(grads)


def conv_layer(conv: keras.layers.Conv2D, precision: str) -> keras.layers.Layer:
    """Keras's own Conv2D + ReLU with the trained weights (XLA fuses the bias and ReLU into it)."""
    layer = keras.layers.Conv2D(conv.filters, conv.kernel_size, padding="same", activation="relu", name=conv.name,
                                trainable=False, dtype=precision)
    layer.build((None, None, None, int(conv.kernel.shape[2])))
    layer.set_weights(conv.get_weights())
    return layer


def normal(shape: tuple[int, ...], seed: jax.Array) -> jax.Array:
    """Standard normal numbers drawn from a seed tensor of two int32 (the same seed, the same numbers)."""
    return jax.random.normal(jax.random.wrap_key_data(jnp.asarray(seed).astype(jnp.uint32)), shape)


def versions() -> dict[str, str]:
    return {"jax": jax.__version__}


def limit_threads(threads: int) -> None:
    # XLA's CPU thread pool is sized when JAX starts: runtime.start_backend sets it through XLA_FLAGS.
    pass


def is_out_of_memory(error: BaseException) -> bool:
    return "RESOURCE_EXHAUSTED" in str(error)


def describe_device() -> str:
    """'GPU: <name>, <memory> GiB' or 'CPU: <describe_cpu()>': JAX's first device."""
    first = jax.devices()[0]
    if first.platform == "gpu":
        memory = (first.memory_stats() or {}).get("bytes_limit")
        return f"GPU: {first.device_kind}" + (f", {memory / 2**30:.0f} GiB" if memory else "")
    if first.platform != "cpu":
        return f"{first.platform.upper()}: {first.device_kind}"
    return f"CPU: {device.describe_cpu()}"


def bfloat16_problem() -> str | None:
    first = jax.devices()[0]
    if first.platform == "gpu":
        capability = getattr(first, "compute_capability", "0.0")
        return device.gpu_bfloat16_problem(tuple(int(v) for v in str(capability).split(".")[:2]))
    return device.cpu_bfloat16_problem()
