"""What Keras leaves to each backend, in one place: one entry per backend (on_tensorflow, on_torch, on_jax).

Everything else in NeuralStyle is written in keras.ops and runs the same on TensorFlow, PyTorch and JAX. An
entry gives, for its backend:

- compile_loss(model, function): the loss's value and its gradient with respect to the image, the one thing
  Keras has no backend-neutral call for (TensorFlow: a compiled function and a tape; JAX: jit-compiled
  value-and-grad over the model's stateless call; PyTorch: autograd);
- conv_layer(conv, precision) and DATA_FORMAT: how VGG's convolutions run fastest there;
- normal(shape, seed): stateless random numbers from a seed tensor, for the sliced style loss;
- describe_device(), bfloat16_problem(), limit_threads(n), versions() and is_out_of_memory(error).

Only these entries and the device description import tensorflow, torch or jax.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import keras

from ..settings import BACKENDS as NAMES  # the schema's choices: one list of backends

# How runs, settings.json and errors name each backend.
LABELS = {"tensorflow": "TensorFlow", "torch": "PyTorch", "jax": "JAX"}


def active() -> str:
    """The backend this process's Keras runs on (chosen once, when Keras was first imported)."""
    return keras.backend.backend()


_LOADED: dict[str, ModuleType] = {}


def entry(name: str | None = None) -> ModuleType:
    """The entry of a backend (default: the active one)."""
    name = name or active()
    if name not in _LOADED:  # imported once: later calls (also from inside a traced loss) only look it up
        if name not in NAMES:
            from ..errors import backend_error

            raise backend_error(name)
        _LOADED[name] = importlib.import_module(f"{__name__}.on_{name}")
    return _LOADED[name]
