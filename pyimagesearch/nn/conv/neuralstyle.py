"""Gatys et al. neural style transfer, with the PyImageSearch chapter's public shape.

NeuralStyle is the front: it plans the run (run_plan: every check of the user's input, before the
network loads), builds the run once (run_context: network, objective, stages) and hands transfer()
to the picture loop (picture.py), which paints scale by scale, tiled scales through tiles.py.
Around that it keeps the chapter's names: its attributes, helpers and loss functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import losses
from .evaluator import Evaluator, Observer
from .features import check_backend, deprocess_bgr, preprocess_rgb
from .images import ImageSource, load_rgb
from .losses import Tensor
from .picture import Callback, Front, paint_picture
from .run_context import RunContext
from .run_plan import plan_run
from .settings import positive_int
from .stage import Stage

__all__ = ["Callback", "NeuralStyle"]


class NeuralStyle:
    """Optimise the pixels of an image so it has one image's content and another's style.

    settings: the chapter's SETTINGS dict (see settings.SCHEMA); missing keys take defaults.
    observers: functions called with (loss, terms) after every evaluation (see evaluator.Observer).
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        check_backend(settings.get("backend"))
        self.plan = plan_run(settings)  # every check of the user's input, before the network loads
        self.run = RunContext.build(self.plan)
        self.observers: list[Observer] = []
        self.losses: list[float] = []  # the loss at the end of each iteration of the last transfer()
        self._use(self.plan.first_stage_dims())  # the final size, unless that is rendered in tiles

    def _use(self, dims: tuple[int, int]) -> Evaluator:
        """Make the stage of size dims the one evaluated (RunContext builds it once per size)."""
        self.evaluator = Evaluator(self.run.stage(dims), self.observers)
        return self.evaluator

    # The chapter's attributes (S, model, dims, content, style, ...), read from the run and the stage
    # being optimised.
    S = property(lambda self: self.plan.settings)
    model = property(lambda self: self.run.model)
    objective = property(lambda self: self.run.objective)
    finalDims = property(lambda self: self.plan.final_dims)
    weightsSource = property(lambda self: self.run.network.weights)
    contentLayers = property(lambda self: list(self.run.objective.content_layers))
    stage: Stage = property(lambda self: self.evaluator.stage)  # type: ignore[assignment]
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

    def gramMat(self, X: Tensor) -> Tensor:
        """Gram matrix of one (h, w, c) feature map."""
        return losses.gram_matrix(X)

    def featureReconLoss(self, a: Tensor, b: Tensor) -> Tensor:
        """Content loss: sum of squared differences."""
        return losses.feature_recon_loss(a, b)

    def styleReconLoss(self, a: Tensor, b: Tensor) -> Tensor:
        """Style loss between two (h, w, c) feature maps, scaled by 1 / (2*3*h*w)^2."""
        return losses.style_recon_loss(a, b, *self.dims)

    def tvLoss(self, X: Tensor) -> Tensor:
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
        records what made them and the loss after each iteration. callback: see picture.Callback.

        A scale larger than tile_size is refined in tiles (tiles.py), one pass of them standing for
        the iterations it covers; its tiles run on `workers` processes here or on the Ray cluster at
        ray_address, and a stopped tiled render continues where it stopped when run again.
        """
        maxEvals = positive_int("maxEvals (--max-evals)", maxEvals)
        self.losses = []  # one list: the folder's record and this attribute fill in together
        return paint_picture(self.run, maxEvals, Front(self._use, self.observers, self.losses, callback), workers,
                             ray_address)
