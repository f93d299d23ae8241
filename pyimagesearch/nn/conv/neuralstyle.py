"""Gatys et al. neural style transfer, with the PyImageSearch chapter's public shape.

NeuralStyle is the front: it plans the run (run_plan), loads the network (features), builds a
stage per size (stage), evaluates it (evaluator), runs the optimiser the settings name
(optimizers) and writes into the run folder (run_folder), reporting as it goes (progress).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from pyimagesearch.runner import Runner

from . import losses
from .device import describe_device
from .errors import NonFiniteLossError
from .evaluator import Evaluator, Observer
from .features import build_extractor, check_backend, deprocess_bgr, preprocess_rgb
from .images import ImageSource, load_rgb
from .optimizers import make_optimizer
from .progress import Progress, announce, duration, say
from .run_folder import RunFolder, run_record
from .run_plan import Block, plan_run
from .settings import as_list, positive_int, weights_source
from .stage import Objective, Stage, enlarge, load_stage, picture, rgb_picture, start_image, start_picture
from .tiles import STATE, TileState, first_units, forget_state, load_state, refine_scale, resume_point, work_units

# callback(iteration, image, losses): after each iteration, with the RGB uint8 image just made and
# its loss split into "total", "content", "style" and "tv". Returning False stops the run there.
Callback = Callable[[int, np.ndarray, dict[str, float]], Any]


class NeuralStyle:
    """Optimise the pixels of an image so it has one image's content and another's style.

    settings: the chapter's SETTINGS dict (see settings.SCHEMA); missing keys take defaults.
    observers: functions called with (loss, terms) after every evaluation (see evaluator.Observer).
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        check_backend()
        self.plan = plan_run(settings)  # every check of the user's input, before the network loads
        self.S = self.plan.settings
        self.contentLayers: list[str] = as_list(self.S["content_layer"])
        self.finalDims = self.plan.final_dims
        self.weightsSource = weights_source(self.S["weights"])
        say(f"[INFO] running on {describe_device()}", self.S["quiet"])
        say(f"[INFO] loading network {self.S['net']} (weights: {self.weightsSource})...", self.S["quiet"])
        self.model = build_extractor(self.S["net"], self.weightsSource, list(self.plan.layers), self.S["pooling"],
                                     self.S["precision"])
        self.objective = Objective.from_settings(self.S)
        self.observers: list[Observer] = []
        self.losses: list[float] = []  # the loss at the end of each iteration of the last transfer()
        self._stages: dict[tuple[int, int], Stage] = {}
        self._use(self.plan.first_stage_dims())  # the final size, unless that is rendered in tiles

    def _use(self, dims: tuple[int, int]) -> None:
        """Make the stage of size dims the one evaluated (built once per size, then kept)."""
        if dims not in self._stages:
            self._stages[dims] = load_stage(self.model, self.S, self.objective, dims, self.finalDims,
                                            loss_pixels=self.plan.loss_pixels())
        self.stage = self._stages[dims]
        self.evaluator = Evaluator(self.stage, self.observers)

    # The chapter's attributes, read from the stage being optimised.
    dims = property(lambda self: self.stage.dims)
    contentRGB = property(lambda self: self.stage.contentRGB)
    content = property(lambda self: self.stage.content)
    style = property(lambda self: preprocess_rgb(self.stage.styles[0]))  # the (first) style image
    contentTargets = property(lambda self: self.stage.contentTargets)
    contentTarget = property(lambda self: self.stage.contentTargets[self.contentLayers[0]])
    styleGrams = property(lambda self: self.stage.styleGrams)
    lastTerms = property(lambda self: self.evaluator.lastTerms)

    # -- the chapter's helpers ------------------------------------------------------------

    def preprocess(self, p: ImageSource) -> np.ndarray:
        """Load an image resized to the content image's size, as a (1, h, w, 3) VGG batch."""
        return preprocess_rgb(load_rgb(p, size=(self.dims[1], self.dims[0])))

    def deprocess(self, image: np.ndarray) -> np.ndarray:
        """A VGG-space image (any shape holding h*w*3 values) as uint8 BGR for cv2.imwrite."""
        return deprocess_bgr(image, self.dims)

    def gramMat(self, X: tf.Tensor) -> tf.Tensor:
        """Gram matrix of one (h, w, c) feature map."""
        return losses.gram_matrix(X)

    def featureReconLoss(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        """Content loss: sum of squared differences."""
        return losses.feature_recon_loss(a, b)

    def styleReconLoss(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        """Style loss between two (h, w, c) feature maps, scaled by 1 / (2*3*h*w)^2."""
        return losses.style_recon_loss(a, b, *self.dims)

    def tvLoss(self, X: tf.Tensor) -> tf.Tensor:
        """Total-variation loss of a (1, h, w, 3) image."""
        return losses.tv_loss(X)

    def lossAndGrads(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """Total loss and its gradient for a flat float64 image, in the form L-BFGS takes."""
        return self.evaluator(X)

    def loss(self, X: np.ndarray) -> float:
        """Total loss of a flat float64 image."""
        return self.evaluator(X)[0]

    def grads(self, X: np.ndarray) -> np.ndarray:
        """Gradient of the total loss for a flat float64 image, flat float64."""
        return self.evaluator(X)[1]

    # -- the chapter's loop ----------------------------------------------------------------

    def transfer(self, maxEvals: int = 20, callback: Callback | None = None, workers: int = 1,
                 ray_address: str | None = None) -> np.ndarray:
        """Run the chapter's loop and return the final image as an RGB uint8 array.

        Each of `iterations` rounds runs the optimiser for maxEvals loss evaluations (L-BFGS: at
        most) and writes the round's lowest-loss image to output_path/iter_<i>.png (every save_every-th
        and the last), so an interrupted run keeps every finished round; output_path/settings.json
        records what made them and the loss after each iteration. callback: see Callback.

        A scale larger than tile_size is refined in tiles (tiles.py), one pass of them standing for
        the iterations it covers; its tiles run on `workers` processes here or on the Ray cluster at
        ray_address, and a stopped tiled render continues where it stopped when run again.
        """
        maxEvals = positive_int("maxEvals (--max-evals)", maxEvals)
        blocks = self.plan.blocks()
        folder = RunFolder(self.S["output_path"], run_record(self.S, maxEvals, self.weightsSource,
                                                             self.plan.seed_drawn), self.S["save_every"])
        announce(self.plan, folder.path, maxEvals)
        folder.claim(self.S["overwrite"])
        self.losses = folder.losses  # one list: the folder's record and this attribute fill in together
        units = work_units(self.plan, blocks, maxEvals)
        tiled = any(block.tiled for block in blocks)
        state = load_state(folder.path) if tiled else None
        resumed = None if state is None else resume_point(self.plan, blocks, state, maxEvals)
        X, at, image = None, None, None
        with Progress([cost for cost, _ in units], [evals for _, evals in units], self.S["iterations"],
                      self.S["quiet"], self.observers) as progress, \
                Runner(*(workers, ray_address) if tiled else ()) as runner:  # workers paint tiles only
            if resumed is not None:
                (unit, cost, evals) = resumed
                folder.resume(unit)
                progress.resumed(unit, cost, evals)
                progress.say(f"[INFO] continuing the stopped tiled render in '{folder.path}' at {state.dims[1]}x"
                             f"{state.dims[0]} px, pass {state.pass_ + 1}, {len(state.done)} of its tiles done")
                X, at = state.canvas, state.dims
            elif tiled and os.path.isfile(os.path.join(folder.path, STATE)):
                # Unreadable (a disk that filled up under it) or not this plan's: said, not silently dropped.
                progress.say(f"[INFO] '{os.path.join(folder.path, STATE)}' cannot be continued (unreadable, or "
                             "not from this render); the tiled render starts over")
            for block, unit in zip(blocks, first_units(self.plan, blocks), strict=True):
                if resumed is not None and block.first < state.first:
                    continue
                if block.tiled:
                    X, stop, image = self._tiles(block, X, at, maxEvals, folder, progress, runner, callback,
                                                 state if resumed is not None and block.first == state.first else None)
                else:
                    X, stop, image = self._whole(block, X, unit, maxEvals, folder, progress, callback)
                at = block.dims
                if stop:
                    break
        if tiled:
            forget_state(folder.path)  # the picture is finished: nothing to continue
        return image

    def _whole(self, block: Block, X: np.ndarray | None, unit: int, maxEvals: int, folder: RunFolder,
               progress: Progress, callback: Callback | None) -> tuple[np.ndarray, bool, np.ndarray]:
        """The block's iterations on its whole image, one round each; (its end, whether to stop, the picture)."""
        X, optimizer = self._startAt(block.dims, X, progress), make_optimizer(self.S)
        for k, i in enumerate(block.iterations):
            progress.iteration_started(i, unit + k)
            self.evaluator.start_round()
            try:
                optimizer.round(self.evaluator, X, maxEvals)
            except (KeyboardInterrupt, NonFiniteLossError):
                best = self.evaluator.best.image  # the unfinished round's best image is kept beside
                progress.interrupted(i, folder.path, folder.interrupted(i, None if best is None else
                                                                        self._picture(best)))
                raise
            (loss, X, terms) = self.evaluator.best
            progress.iteration_ended(i, unit + k, loss, terms)
            image = self._picture(X)
            stop = self._finished(i, image, loss, terms, folder, progress, callback,
                                  lambda X=X: rgb_picture(X, self.dims, self.contentRGB, self.S["preserve_colors"],
                                                          exact=True))
            if stop:
                return X, True, image
        return X, False, image

    def _tiles(self, block: Block, X: np.ndarray | None, at: tuple[int, int] | None, maxEvals: int,
               folder: RunFolder, progress: Progress, runner: Runner, callback: Callback | None,
               state: TileState | None) -> tuple[np.ndarray, bool, np.ndarray]:
        """The block's passes over its tiles (tiles.refine_scale), from X (an image of size at) enlarged, the
        init, or a stopped render's state; (its end, whether to stop, the picture)."""
        (h, w) = block.dims
        starts = state is None and (X is None or at is None)  # from the init: it may need the photo
        luminance = self.S["preserve_colors"] == "luminance"  # keeps the photo's colours
        photo = load_rgb(self.S["input_path"], size=(w, h)) if starts or luminance else None  # read once for both
        if state is not None:
            canvas = state.canvas
        elif starts:
            canvas = start_picture(self.S, block.dims, photo)[0]
        else:
            canvas = enlarge(X, at, block.dims, np.float32)[0]
        canvas = np.ascontiguousarray(canvas, np.float32)
        X = None  # the coarser picture, no longer needed
        content = photo if luminance else None  # kept only when luminance needs it
        photo = None
        last: dict[str, np.ndarray] = {}  # the picture of the last pass

        def finish(i: int, now: np.ndarray, loss: float, terms: dict[str, float]) -> bool:
            last["image"] = rgb_picture(now, block.dims, content, self.S["preserve_colors"])
            progress.say(f"[INFO] end of iteration {i + 1} (a pass over the tiles), loss: {loss:.4e} summed over "
                         f"its tiles (content {terms['content']:.3e}, style {terms['style']:.3e}, "
                         f"tv {terms['tv']:.3e}); ETA {duration(progress.eta())}")
            return self._finished(i, last["image"], loss, terms, folder, progress, callback,
                                  lambda: rgb_picture(now, block.dims, content, self.S["preserve_colors"], exact=True))

        try:
            stop = refine_scale(self.model, self.plan, block, canvas, maxEvals, folder.path, progress, runner, finish,
                                state)
        except (KeyboardInterrupt, NonFiniteLossError):
            progress.say(f"[INFO] stopped: the finished tiles are kept in '{os.path.join(folder.path, STATE)}'; "
                         "run the same command again to continue from there")
            raise
        # No pass left (a render stopped just after its last pass): the picture is the one it left.
        return canvas, stop, last["image"] if last else rgb_picture(canvas, block.dims, content,
                                                                     self.S["preserve_colors"])

    def _finished(self, i: int, image: np.ndarray, loss: float, terms: dict[str, float], folder: RunFolder,
                  progress: Progress, callback: Callback | None, exact: Callable[[], np.ndarray]) -> bool:
        """Iteration i (or the tile pass ending with it) is done: keep its picture; whether to stop here."""
        stop = callback is not None and callback(i, image, {"total": loss, **terms}) is False
        last = stop or i == self.S["iterations"] - 1
        folder.keep(i, image, loss, last=last, exact=exact() if last and self.plan.deep else None)
        if stop:
            progress.say(f"[INFO] the callback stopped the run after iteration {i + 1}")
        return stop

    def _startAt(self, dims: tuple[int, int], X: np.ndarray | None, progress: Progress) -> np.ndarray:
        """Optimise at dims from now on; the start image there: the init, or X (a coarser result) enlarged."""
        previous = self.dims
        self._use(dims)
        if len(self.plan.scale_dims) > 1:
            progress.say(f"[INFO] scale {dims[0] / self.finalDims[0]:.2g}: {dims[1]}x{dims[0]} px")
        return (start_image(self.S, self.stage) if X is None else enlarge(X, previous, dims)).ravel()

    def _picture(self, X: np.ndarray) -> np.ndarray:
        return picture(self.stage, X, self.S["preserve_colors"])
