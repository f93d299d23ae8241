"""Gatys et al. neural style transfer, with the PyImageSearch chapter's public shape.

The chapter fed content, style and output through VGG on every call and asked Keras twice
per L-BFGS step (once for the loss, once for the gradient). Here the content and style
targets are computed once, and one compiled call returns the loss and its gradient together.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import fmin_l_bfgs_b

from . import losses
from .errors import ImageError, NeuralStyleError, NonFiniteLossError
from .features import build_extractor, check_layers, check_memory, deprocess_bgr, min_side, preprocess_rgb
from .images import image_size, load_rgb, write_image
from .outputs import claim_folder, prepare_folder, run_record, write_record
from .settings import positive_int, resolve_settings, weights_source


def output_dims(path: str, max_size: int | None, layers: list[str]) -> tuple[int, int]:
    """(h, w) of the output: the content image's size, shrunk to max_size, checked to fit."""
    (w, h) = image_size(path)
    if max_size is not None and max(w, h) > max_size:
        scale = max_size / max(w, h)
        (w, h) = (max(1, round(w * scale)), max(1, round(h * scale)))
    need = min_side(layers)
    if min(h, w) < need:
        raise ImageError(f"content image '{path}' is {w}x{h} px; the layers {', '.join(layers)} "
                         f"need at least {need} px on each side")
    check_memory(path, h, w)
    return (h, w)


class NeuralStyle:
    """Optimise the pixels of an image so it has one image's content and another's style.

    settings: the chapter's SETTINGS dict (see settings.DEFAULTS); missing keys take defaults.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        if keras.backend.backend() != "tensorflow":
            raise NeuralStyleError("NeuralStyle needs Keras's TensorFlow backend; "
                                   "set KERAS_BACKEND=tensorflow before importing keras")
        self.S = resolve_settings(settings)
        layers = [self.S["content_layer"], *self.S["style_layers"]]
        check_layers(self.S["net"], layers)

        self.dims = output_dims(self.S["input_path"], self.S["max_size"], layers)
        (h, w) = self.dims
        self.content = self.preprocess(self.S["input_path"])
        self.style = self.preprocess(self.S["style_path"])
        prepare_folder(self.S["output_path"])

        self.weightsSource = weights_source(self.S["weights"])
        print(f"[INFO] loading network {self.S['net']} (weights: {self.weightsSource})...")
        self.model = build_extractor(self.S["net"], self.weightsSource, layers)

        # The targets never change during a run: compute them once.
        contentFeatures = self.model(self.content)
        styleFeatures = self.model(self.style)
        self.contentTarget = contentFeatures[self.S["content_layer"]][0]
        self.styleGrams = {layer: losses.gram_matrix(styleFeatures[layer][0])
                           for layer in self.S["style_layers"]}
        self._weights = tuple(self.S[k] for k in ("content_weight", "style_weight", "tv_weight"))
        self.lastTerms: dict[str, float] = {}
        self.losses: list[float] = []  # the loss at the end of each iteration of the last transfer()
        self._best: tuple[float, np.ndarray | None] = (np.inf, None)  # lowest loss seen this round
        self._evaluate = tf.function(
            self._lossTerms, input_signature=[tf.TensorSpec((1, h, w, 3), tf.float32)])

    # -- the chapter's helpers ------------------------------------------------------------

    def preprocess(self, p: str) -> np.ndarray:
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

    # -- loss and gradient -------------------------------------------------------------------

    def _lossTerms(self, image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = losses.weighted_terms(image, self.model(image), self.S["content_layer"], self.contentTarget,
                                          self.styleGrams, self._weights, self.S["loss_normalization"])
            total = terms["content"] + terms["style"] + terms["tv"]
        return total, tape.gradient(total, image), terms

    def lossAndGrads(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """Total loss and its gradient for a flat float64 image, in the form L-BFGS takes."""
        image = tf.constant(np.reshape(X, (1, *self.dims, 3)), dtype=tf.float32)
        total, grad, terms = self._evaluate(image)
        loss, grad = float(total), grad.numpy().astype(np.float64).ravel()
        if not (np.isfinite(loss) and np.isfinite(grad).all()):
            # L-BFGS would quietly hand back its start point; stop and say so instead.
            raise NonFiniteLossError(
                f"the loss or its gradient became non-finite (loss {loss}); "
                "lower content_weight / style_weight / tv_weight or check the input images")
        self.lastTerms = {name: float(value) for name, value in terms.items()}
        if loss < self._best[0]:
            self._best = (loss, np.array(X, dtype=np.float64, copy=True))
        return loss, grad

    def loss(self, X: np.ndarray) -> float:
        """Total loss of a flat float64 image."""
        return self.lossAndGrads(X)[0]

    def grads(self, X: np.ndarray) -> np.ndarray:
        """Gradient of the total loss for a flat float64 image, flat float64."""
        return self.lossAndGrads(X)[1]

    # -- the optimisation loop -----------------------------------------------------------

    def transfer(self, maxEvals: int = 20) -> np.ndarray:
        """Run the chapter's loop and return the final image as an RGB uint8 array.

        Each of `iterations` rounds runs L-BFGS for at most maxEvals loss evaluations and
        writes output_path/iter_<i>.png, so an interrupted run keeps every finished round;
        output_path/settings.json records what made them, and the loss after each iteration.
        """
        maxEvals = positive_int("maxEvals (--max-evals)", maxEvals)
        (h, w) = self.dims
        iterations = self.S["iterations"]
        print(f"[INFO] {w}x{h} px, {iterations} iterations of up to {maxEvals} evaluations, "
              f"writing to '{self.S['output_path']}'")
        record = run_record(self.S, maxEvals, self.weightsSource)
        claim_folder(self.S["output_path"], record, self.S["overwrite"])
        seed = self.S["seed"]
        X = (np.random if seed is None else np.random.default_rng(seed)).uniform(0, 255, (1, h, w, 3)) - 128
        self.losses = []
        for i in range(iterations):
            print(f"[INFO] starting iteration {i + 1} of {iterations}")
            start = time.perf_counter()
            self._best = (np.inf, None)
            try:
                (X, loss, info) = fmin_l_bfgs_b(self.lossAndGrads, X.ravel(), maxfun=maxEvals)
            except (KeyboardInterrupt, NonFiniteLossError):
                self._savePartial(i)
                raise
            print(f"[INFO] end of iteration {i + 1}, loss: {loss:.4e} "
                  f"({info['funcalls']} evaluations, {time.perf_counter() - start:.1f} s)")
            self.losses.append(float(loss))
            image = self.deprocess(X)
            write_image(os.path.join(self.S["output_path"], f"iter_{i}.png"), image)
            write_record(self.S["output_path"], {**record, "losses": self.losses})
        return np.ascontiguousarray(image[..., ::-1])

    def _savePartial(self, i: int) -> None:
        # The best image of an unfinished iteration, beside the finished ones and never over them.
        folder = self.S["output_path"]
        if i:
            print(f"[INFO] iterations 1-{i} are finished: iter_0.png ... iter_{i - 1}.png in '{folder}'")
        if self._best[1] is not None:
            path = os.path.join(folder, f"iter_{i}_partial.png")
            write_image(path, self.deprocess(self._best[1]))
            print(f"[INFO] iteration {i + 1} stopped early; its best image so far is '{path}'")
