"""A picture, scale by scale: the chapter's loop over a run context.

Each iteration is one round of the optimiser on the stage of its size, then the round's
lowest-loss image is kept: written to the run folder (every save_every-th and the last), its loss
recorded in settings.json, and only then reported. A scale larger than the tile is handed to the
tiles module (TiledRender), which paints it pass by pass and continues a stopped render itself.

A Ctrl-C or a non-finite loss at any moment keeps every finished iteration on disk (and the
unfinished one's best image beside them): keeping an iteration holds Ctrl-C until it is whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimagesearch.runner import Runner

from .atomic import interrupts_held
from .errors import NonFiniteLossError
from .evaluator import Evaluator, Observer
from .progress import Progress, announce
from .run_context import RunContext
from .run_folder import RunFolder
from .run_plan import Block
from .stage import enlarge
from .tiles import TiledRender, first_units, work_units

# callback(iteration, image, losses): after each iteration, with the RGB uint8 image just made and
# its loss split into "total" and the weighted terms. Returning False stops the run there.
Callback = Callable[[int, np.ndarray, dict[str, float]], Any]


@dataclass(frozen=True)
class Front:
    """What the caller (NeuralStyle) shares with the loop: its evaluator for a size (kept for the chapter's
    helpers), the observers of every evaluation, the list the losses go into, and its callback."""

    use: Callable[[tuple[int, int]], Evaluator]
    observers: list[Observer]
    losses: list[float]
    callback: Callback | None = None


def paint_picture(run: RunContext, max_evals: int, front: Front, workers: int = 1,
                  ray_address: str | None = None) -> np.ndarray | None:
    """Paint the run's picture into its folder, scale by scale; the finished picture (RGB uint8)."""
    blocks = run.plan.blocks()
    folder = RunFolder(run.output_path, run.record(max_evals), run.save_every, front.losses)
    announce(run, folder.path, max_evals)
    folder.claim(run.overwrite)
    units = work_units(run.tiling, blocks, max_evals)
    tiled = TiledRender(run, folder, blocks, max_evals) if any(block.tiled for block in blocks) else None
    painter = Painter(run, folder, front, max_evals)
    X, at, image, first = None, None, None, 0
    with Progress([cost for cost, _ in units], [evals for _, evals in units], run.iterations, run.quiet,
                  front.observers) as progress, \
            Runner(*(workers, ray_address) if tiled else ()) as runner:  # workers paint tiles only
        if tiled is not None:
            (first, X, at) = tiled.resume(progress)
        for block, unit in zip(blocks, first_units(run.tiling, blocks), strict=True):
            if block.first < first:
                continue  # painted before a stop; the resumed render goes on from its picture
            if block.tiled:
                X, stop, image = tiled.paint(block, X, at, progress, runner, painter.keep)
            else:
                X, stop, image = painter.whole(block, unit, X, at, progress)
            at = block.dims
            if stop:
                break
    if tiled is not None:
        tiled.finished()
    return image


class Painter:
    """The iterations of whole (untiled) scales, and keeping any finished iteration, tiled or not."""

    def __init__(self, run: RunContext, folder: RunFolder, front: Front, max_evals: int) -> None:
        self.run, self.folder, self.front, self.max_evals = run, folder, front, max_evals

    def whole(self, block: Block, unit: int, X: np.ndarray | None, at: tuple[int, int] | None,
              progress: Progress) -> tuple[np.ndarray, bool, np.ndarray | None]:
        """The block's iterations on its whole image, one round each, from the init or X (an image of size
        at) enlarged; (where it ended, whether to stop, the picture)."""
        evaluator = self.front.use(block.dims)
        stage, optimizer, image = evaluator.stage, self.run.optimizer.make(), None
        if len(self.run.plan.scale_dims) > 1:
            progress.say(f"[INFO] scale {block.dims[0] / self.run.final_dims[0]:.2g}: {block.dims[1]}x"
                         f"{block.dims[0]} px")
        X = (self.run.start_image(stage) if X is None else enlarge(X, at, block.dims)).ravel()
        running: int | None = None  # the iteration whose round is under way (it is the `finished`-th)
        finished = block.first  # iterations finished so far
        try:
            for k, i in enumerate(block.iterations):
                running = i
                progress.iteration_started(i, unit + k)
                evaluator.start_round(i)
                optimizer.round(evaluator, X, self.max_evals)
                with interrupts_held():  # the round is over: its picture is kept whole before a Ctrl-C counts
                    (loss, X, terms) = evaluator.best
                    image = self.run.picture(X, block.dims, stage.contentRGB)
                    stop = self.keep(i, image, loss, terms, progress, lambda X=X: self.run.picture(
                        X, block.dims, stage.contentRGB, exact=True), unit + k)
                    running, finished = None, i + 1
                if stop:
                    return X, True, image
        except (KeyboardInterrupt, NonFiniteLossError):
            best = evaluator.best.image if running is not None else None
            self.stopped(finished, None if best is None else self.run.picture(best, block.dims, stage.contentRGB),
                         progress)
            raise
        return X, False, image

    def keep(self, i: int, image: np.ndarray, loss: float, terms: dict[str, float], progress: Progress,
             exact: Callable[[], np.ndarray], unit: int | None = None) -> bool:
        """Iteration i (or the pass over the tiles that ends with it) is finished: keep its picture, then say
        so (unit: its unit of work, for a whole iteration's line); whether the callback asks to stop here."""
        last = i == self.run.iterations - 1
        deep = self.run.plan.deep  # a 16-bit photo: the finished picture is a 16-bit PNG
        with interrupts_held():
            self.folder.keep(i, image, loss, last=last, exact=exact() if last and deep else None, terms=terms)
            if unit is not None:
                progress.iteration_ended(i, unit, loss, terms)
        stop = self.front.callback is not None and self.front.callback(i, image, {"total": loss, **terms}) is False
        if stop:
            if not last:  # the picture the run ends with, whatever save_every says (the last one is written)
                self.folder.stopped(exact() if deep else None)
            progress.say(f"[INFO] the callback stopped the run after iteration {i + 1}")
        return stop

    def stopped(self, finished: int, partial: np.ndarray | None, progress: Progress) -> None:
        """Interrupted after `finished` iterations: they go to disk whatever save_every says, and the running
        one's best image so far (partial) beside them."""
        progress.interrupted(finished, self.folder.path, self.folder.interrupted(finished, partial))
