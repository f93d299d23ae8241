"""Optimisers behind one interface, chosen by the `optimizer` setting from OPTIMIZERS.

An optimiser is made for one stage (so a new size starts it afresh) and runs rounds:
`round(evaluate, X, max_evals)` improves the flat float64 image X with about max_evals calls of
`evaluate` (an Evaluator: X -> (loss, gradient)) and returns where it ended. The loop takes the
round's result from the evaluator, which keeps the lowest-loss image it saw. Adding an optimiser
is one class and one entry in OPTIMIZERS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy.optimize import fmin_l_bfgs_b

Evaluate = Callable[[np.ndarray], tuple[float, np.ndarray]]


class Optimizer(Protocol):
    help: ClassVar[str]

    def __init__(self, choice: OptimizerChoice) -> None: ...

    def round(self, evaluate: Evaluate, X: np.ndarray, max_evals: int) -> np.ndarray: ...


class LBFGS:
    """scipy's L-BFGS-B, restarted every round as the chapter does."""

    help: ClassVar[str] = "the chapter's L-BFGS (scipy)"

    def __init__(self, choice: OptimizerChoice) -> None:
        pass  # nothing carries over between rounds: the chapter restarts L-BFGS, curvature memory and all

    def round(self, evaluate: Evaluate, X: np.ndarray, max_evals: int) -> np.ndarray:
        # maxfun bounds the evaluations; the line search may take a few more to finish a step.
        end, _, _ = fmin_l_bfgs_b(evaluate, np.asarray(X, np.float64).ravel(), maxfun=max_evals)
        return end


class Adam:
    """Keras Adam on the pixels; it owns the image variable and its moments for the stage's life."""

    help: ClassVar[str] = "Keras Adam on the pixels, with --learning-rate"

    def __init__(self, choice: OptimizerChoice) -> None:
        self.learning_rate = choice.learning_rate
        self._pixels: Any = None  # keras.Variable, made at the first round from its start image
        self._adam: Any = None
        self._grad: np.ndarray | None = None

    def round(self, evaluate: Evaluate, X: np.ndarray, max_evals: int) -> np.ndarray:
        import keras

        # Adam keeps its moments across rounds: rounds only set when images are written, so after the
        # first one it continues from its own pixels, not from the round's best image.
        if self._pixels is None:
            self._pixels = keras.Variable(np.asarray(X, np.float32).reshape(1, -1))
            self._adam = keras.optimizers.Adam(learning_rate=self.learning_rate)
            self._grad = evaluate(self._current())[1]
        for _ in range(max_evals):
            self._adam.apply([keras.ops.convert_to_tensor(self._grad.reshape(1, -1), "float32")], [self._pixels])
            self._grad = evaluate(self._current())[1]
        return self._current()

    def _current(self) -> np.ndarray:
        return np.asarray(self._pixels.numpy(), np.float64).ravel()


OPTIMIZERS: dict[str, type[Optimizer]] = {"lbfgs": LBFGS, "adam": Adam}


@dataclass(frozen=True)
class OptimizerChoice:
    """The optimiser a run uses (the settings optimizer and learning_rate), as a plain value that travels."""

    name: str  # a key of OPTIMIZERS
    learning_rate: float  # Adam's step size

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> OptimizerChoice:
        return cls(settings["optimizer"], float(settings["learning_rate"]))

    def make(self) -> Optimizer:
        """A fresh optimiser of this kind (one per stage: a new size starts it afresh)."""
        return OPTIMIZERS[self.name](self)


def make_optimizer(settings: Mapping[str, Any]) -> Optimizer:
    """A fresh optimiser of the kind the `optimizer` setting names."""
    return OptimizerChoice.from_settings(settings).make()
