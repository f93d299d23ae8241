"""The evaluator: a stage's compiled loss, in the form an optimiser takes.

It turns a flat float64 image into (loss, gradient), refuses non-finite values, and remembers the
lowest-loss image of the current round and the terms of the last call. Everything else that wants
to see evaluations (the progress bar, a test) is an observer, called after each one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from keras import ops

from .errors import NonFiniteLossError
from .optimizers import OptimizerChoice
from .stage import Stage

# observer(loss, terms): after each evaluation, with the total and its weighted terms.
Observer = Callable[[float, dict[str, float]], None]


class Best(NamedTuple):
    """The lowest loss of a round, the image that had it (flat float64; None before any) and its terms."""

    loss: float
    image: np.ndarray | None
    terms: dict[str, float]


class Evaluator:
    """Loss and gradient of one stage for flat float64 images; see the module docstring."""

    def __init__(self, stage: Stage, observers: Sequence[Observer] = ()) -> None:
        self.stage = stage
        # A sequence the owner may keep adding to (NeuralStyle shares one list with all its evaluators).
        self.observers = observers
        self.lastTerms: dict[str, float] = {}
        self.best = Best(np.inf, None, {})
        self.round = 0  # seeds what the loss draws at random (fixed through a round)

    def start_round(self, round: int | None = None) -> None:
        """Forget the round's best image: what follows is a new round (round: its number in the run; default:
        the one after the last)."""
        self.best = Best(np.inf, None, {})
        self.round = self.round + 1 if round is None else round

    def __call__(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        image = np.reshape(X, (1, *self.stage.dims, 3)).astype(np.float32)
        total, grad, terms = self.stage.evaluate(image, self.round)
        loss, grad = float(ops.convert_to_numpy(total)), ops.convert_to_numpy(grad).astype(np.float64).ravel()
        if not (np.isfinite(loss) and np.isfinite(grad).all()):
            # L-BFGS would quietly hand back its start point; stop and say so instead.
            raise NonFiniteLossError(
                f"the loss or its gradient became non-finite (loss {loss}); "
                "lower content_weight / style_weight / tv_weight or check the input images")
        self.lastTerms = {name: float(ops.convert_to_numpy(value)) for name, value in terms.items()}
        if loss < self.best.loss:
            self.best = Best(loss, np.array(X, dtype=np.float64, copy=True).ravel(), self.lastTerms)
        for observe in self.observers:
            observe(loss, self.lastTerms)
        return loss, grad


def optimise(stage: Stage, optimizer: OptimizerChoice, X: np.ndarray, rounds: int, max_evals: int,
             observers: Sequence[Observer] = (), first_round: int = 0) -> Best:
    """`rounds` rounds of the optimiser on one stage from X (numbered from first_round), each from the last
    one's best image; the last round's best (its loss, image and terms). A video frame and a tile
    of a print are optimised so; NeuralStyle's loop writes a picture after each round instead."""
    evaluator, rounds_of = Evaluator(stage, observers), optimizer.make()
    for k in range(rounds):
        evaluator.start_round(first_round + k)
        rounds_of.round(evaluator, X, max_evals)
        X = evaluator.best.image
    return evaluator.best
