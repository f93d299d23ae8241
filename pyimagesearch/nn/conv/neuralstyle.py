"""Gatys et al. neural style transfer, with the PyImageSearch chapter's public shape.

The chapter fed content, style and output through VGG on every call and asked Keras twice
per L-BFGS step (once for the loss, once for the gradient). Here the content and style
targets are computed once, and one compiled call returns the loss and its gradient together.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import fmin_l_bfgs_b
from tqdm import tqdm

from . import losses
from .colors import luminance_transfer, match_colors
from .errors import ImageError, NeuralStyleError, NonFiniteLossError, SettingsError
from .features import build_extractor, check_layers, check_memory, deprocess_bgr, min_side, preprocess_rgb
from .images import ImageSource, describe, image_size, load_rgb, write_rgb
from .outputs import claim_folder, prepare_folder, run_record, write_record
from .settings import INITS, as_list, label, positive_int, resolve_settings, weights_source

# callback(iteration, image, losses): after each iteration, with the RGB uint8 image just made and
# its loss split into "total", "content", "style" and "tv". Returning False stops the run there.
Callback = Callable[[int, np.ndarray, dict[str, float]], Any]


def _shrunk(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    (w, h) = size
    scale = long_side / max(w, h)
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def output_dims(path: ImageSource, max_size: int | None, layers: list[str]) -> tuple[int, int]:
    """(h, w) of the output: the content image's size, shrunk to max_size, checked to fit."""
    (w, h) = image_size(path)
    if max_size is not None and max(w, h) > max_size:
        (w, h) = _shrunk((w, h), max_size)
    need = min_side(layers)
    if min(h, w) < need:
        raise ImageError(f"content image '{describe(path)}' is {w}x{h} px; the layers {', '.join(layers)} "
                         f"need at least {need} px on each side")
    check_memory(describe(path), h, w)
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
        self.contentLayers: list[str] = as_list(self.S["content_layer"])
        self._layers = layers = [*self.contentLayers, *self.S["style_layers"]]
        check_layers(self.S["net"], layers)
        self.dims: tuple[int, int] = (0, 0)  # the size being optimised: finalDims but for coarse scales

        self.finalDims = output_dims(self.S["input_path"], self.S["max_size"], layers)
        self._scaleDims = [self._scaled(fraction) for fraction in self.S["scales"] or [1.0]]
        self._loadImages(self.finalDims)  # bad images fail here, before the network loads
        if not (isinstance(self.S["init"], str) and self.S["init"] in INITS):
            image_size(self.S["init"])  # a start image given as a file or array: check it now too
        prepare_folder(self.S["output_path"])

        self.weightsSource = weights_source(self.S["weights"])
        self._say(f"[INFO] loading network {self.S['net']} (weights: {self.weightsSource})...")
        self.model = build_extractor(self.S["net"], self.weightsSource, layers, self.S["pooling"])
        self._weights = tuple(self.S[k] for k in ("content_weight", "style_weight", "tv_weight"))
        self.lastTerms: dict[str, float] = {}
        self.losses: list[float] = []  # the loss at the end of each iteration of the last transfer()
        # The lowest loss seen this round: (loss, image, its terms); written at the round's end.
        self._best: tuple[float, np.ndarray | None, dict[str, float]] = (np.inf, None, {})
        self._bar: Any = None  # the progress bar of a running transfer()
        self._barEnd = 0
        self._stages: dict[tuple[int, int], dict[str, Any]] = {}
        self._prepare(self.finalDims)

    # -- one size of the problem ---------------------------------------------------------------

    def _scaled(self, fraction: float) -> tuple[int, int]:
        (h, w) = self.finalDims
        dims = (max(1, round(h * fraction)), max(1, round(w * fraction)))
        if min(dims) < min_side(self._layers):
            raise SettingsError(f"{label('scales')}: scale {fraction:g} makes the image {dims[1]}x{dims[0]} px; "
                                f"the layers need at least {min_side(self._layers)} px on each side")
        return dims

    def _loadImages(self, dims: tuple[int, int]) -> None:
        self.dims = dims
        (h, w) = dims
        self.contentRGB = load_rgb(self.S["input_path"], size=(w, h))
        self.content = preprocess_rgb(self.contentRGB)
        self._styleImages = [self._styleRGB(source) for source in as_list(self.S["style_path"])]
        self.style = preprocess_rgb(self._styleImages[0])  # the chapter's attribute: the (first) style image

    def _prepare(self, dims: tuple[int, int]) -> None:
        """Make dims the size being optimised: its images, targets and compiled loss (kept per size)."""
        if dims not in self._stages:
            if dims != self.dims:
                self._loadImages(dims)
            # The targets never change during a run: compute them once per size.
            contentFeatures = self.model(self.content)
            contentTargets = {layer: contentFeatures[layer][0] for layer in self.contentLayers}
            self._stages[dims] = {
                "dims": dims, "contentRGB": self.contentRGB, "content": self.content, "style": self.style,
                "_styleImages": self._styleImages, "contentTargets": contentTargets,
                "contentTarget": contentTargets[self.contentLayers[0]],
                "styleGrams": self._styleTargets(self._styleImages, contentFeatures),
                "_evaluate": tf.function(self._lossTerms,
                                         input_signature=[tf.TensorSpec((1, *dims, 3), tf.float32)])}
        self.__dict__.update(self._stages[dims])

    # -- images in -----------------------------------------------------------------------

    def _styleRGB(self, source: ImageSource) -> np.ndarray:
        # The chapter forces the style image to the content's size; style_size / style_scale
        # keep its own proportions at a chosen scale instead.
        (h, w) = self.dims
        long_side = self.S["style_size"] or (
            round(self.S["style_scale"] * max(h, w)) if self.S["style_scale"] else None)
        size = (w, h) if long_side is None else _shrunk(image_size(source), long_side)
        if long_side is not None:
            key = "style_size" if self.S["style_size"] else "style_scale"
            if min(size) < min_side(self._layers):
                raise ImageError(f"style image '{describe(source)}' would be {size[0]}x{size[1]} px at "
                                 f"{label(key)}; the layers need at least {min_side(self._layers)} px on each side")
            check_memory(describe(source), size[1], size[0], "style image", key)
        return self._loadStyle(source, size)

    def _loadStyle(self, source: ImageSource, size: tuple[int, int]) -> np.ndarray:
        # Every use of a style image sees it in the colours the run paints with.
        rgb = load_rgb(source, size=size)
        return match_colors(rgb, self.contentRGB) if self.S["preserve_colors"] == "match" else rgb

    def _styleTargets(self, styles: list[np.ndarray], outputFeatures: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        # A Gram matrix sums over pixels, so a style image of another size is rescaled to the
        # output's pixel count per layer; several styles blend their rescaled Grams.
        blend = self.S["style_blend_weights"] or [1.0 / len(styles)] * len(styles)
        grams: dict[str, tf.Tensor] = {}
        for rgb, share in zip(styles, blend, strict=True):
            features = self.model(preprocess_rgb(rgb))
            for layer in self.S["style_layers"]:
                pixels = float(np.prod(outputFeatures[layer].shape[1:3]) / np.prod(features[layer].shape[1:3]))
                gram = share * pixels * losses.gram_matrix(features[layer][0])
                grams[layer] = gram if layer not in grams else grams[layer] + gram
        return grams

    def _startImage(self) -> np.ndarray:
        """The optimiser's first image, in VGG space, at the current size: the init setting."""
        (h, w) = self.dims
        init = self.S["init"]
        if isinstance(init, str) and init == "noise":
            seed = self.S["seed"]
            rng = np.random if seed is None else np.random.default_rng(seed)
            return rng.uniform(0, 255, (1, h, w, 3)) - 128  # the chapter's start
        if isinstance(init, str) and init == "content":
            return self.content.astype(np.float64)
        if isinstance(init, str) and init == "style":
            return preprocess_rgb(self._loadStyle(as_list(self.S["style_path"])[0], (w, h))).astype(np.float64)
        return self.preprocess(init).astype(np.float64)

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

    # -- loss and gradient -------------------------------------------------------------------

    def _lossTerms(self, image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = losses.weighted_terms(image, self.model(image), self.contentTargets, self.styleGrams,
                                          self._weights, self.S["loss_normalization"],
                                          self.S["content_layer_weights"], self.S["style_layer_weights"],
                                          final_pixels=self.finalDims[0] * self.finalDims[1])
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
            self._best = (loss, np.array(X, dtype=np.float64, copy=True), self.lastTerms)
        if self._bar is not None:
            # L-BFGS may take a few evaluations past maxEvals: the bar counts up to the round's end only.
            self._bar.update(int(self._bar.n < self._barEnd))
            self._bar.set_postfix({k: f"{v:.3g}" for k, v in self.lastTerms.items()}, refresh=False)
        return loss, grad

    def loss(self, X: np.ndarray) -> float:
        """Total loss of a flat float64 image."""
        return self.lossAndGrads(X)[0]

    def grads(self, X: np.ndarray) -> np.ndarray:
        """Gradient of the total loss for a flat float64 image, flat float64."""
        return self.lossAndGrads(X)[1]

    # -- the optimisation loop -----------------------------------------------------------

    def _lbfgsRound(self, X: np.ndarray, maxEvals: int) -> None:
        # The chapter restarts L-BFGS each round, so its curvature memory starts afresh too.
        fmin_l_bfgs_b(self.lossAndGrads, X.ravel(), maxfun=maxEvals)

    def _adamRound(self, X: np.ndarray, maxEvals: int) -> None:
        # Adam keeps its moments across rounds: the rounds only set when images are written.
        if self._adam is None:
            self._pixels = keras.Variable(np.reshape(X, (1, *self.dims, 3)).astype(np.float32))
            self._adam = keras.optimizers.Adam(learning_rate=self.S["learning_rate"])
            self._adamGrad = self.lossAndGrads(self._pixels.numpy())[1]
        for _ in range(maxEvals):
            self._adam.apply([tf.constant(np.reshape(self._adamGrad, (1, *self.dims, 3)), tf.float32)],
                             [self._pixels])
            self._adamGrad = self.lossAndGrads(self._pixels.numpy())[1]

    def transfer(self, maxEvals: int = 20, callback: Callback | None = None) -> np.ndarray:
        """Run the chapter's loop and return the final image as an RGB uint8 array.

        Each of `iterations` rounds runs the optimiser for maxEvals loss evaluations (L-BFGS: at
        most) and writes the round's best image to output_path/iter_<i>.png (only every save_every-th
        and the last), so an interrupted run keeps every finished round; output_path/settings.json
        records what made them and the loss after each iteration. callback: see Callback.
        """
        maxEvals = positive_int("maxEvals (--max-evals)", maxEvals)
        (h, w) = self.finalDims
        iterations, folder = self.S["iterations"], self.S["output_path"]
        self._say(f"[INFO] {w}x{h} px, {iterations} iterations of up to {maxEvals} evaluations "
                  f"({self.S['optimizer']}), writing to '{folder}'")
        record = run_record(self.S, maxEvals, self.weightsSource)
        claim_folder(folder, record, self.S["overwrite"])
        # Coarse to fine: the iterations split evenly over the scales, the remainder to the finest.
        share, extra = divmod(iterations, len(self._scaleDims))
        schedule = [dims for dims in self._scaleDims for _ in range(share)] + [self.finalDims] * extra
        X: np.ndarray | None = None
        self.losses, self._adam = [], None
        step = self._adamRound if self.S["optimizer"] == "adam" else self._lbfgsRound
        # A bar on terminals only: logs and notebooks' captured output get the [INFO] lines alone.
        self._bar = tqdm(total=iterations * maxEvals, unit="eval", dynamic_ncols=True, leave=False,
                         disable=True if self.S["quiet"] else None, file=sys.stderr)
        unsaved: tuple[int, np.ndarray] | None = None  # a finished iteration that save_every skipped
        try:
            for i, dims in enumerate(schedule):
                if X is None or dims != self.dims:
                    X = self._startAt(dims, X)
                self._say(f"[INFO] starting iteration {i + 1} of {iterations}")
                self._bar.set_description(f"iteration {i + 1}/{iterations}", refresh=False)
                self._barEnd = (i + 1) * maxEvals
                start = time.perf_counter()
                self._best = (np.inf, None, {})
                try:
                    step(X, maxEvals)
                except (KeyboardInterrupt, NonFiniteLossError):
                    if unsaved is not None:  # the last finished iteration goes to disk whatever save_every says
                        write_rgb(os.path.join(folder, f"iter_{unsaved[0]}.png"), unsaved[1])
                    self._savePartial(i)
                    raise
                (loss, X, terms) = self._best
                self._bar.update(self._barEnd - self._bar.n)  # L-BFGS may also stop short of it
                self._say(f"[INFO] end of iteration {i + 1}, loss: {loss:.4e} "
                          f"(content {terms['content']:.3e}, style {terms['style']:.3e}, tv {terms['tv']:.3e}; "
                          f"{time.perf_counter() - start:.1f} s)")
                self.losses.append(float(loss))
                image = self._picture(X)
                stop = callback is not None and callback(i, image, {"total": float(loss), **terms}) is False
                unsaved = (i, image)
                if stop or i == iterations - 1 or (i + 1) % self.S["save_every"] == 0:
                    write_rgb(os.path.join(folder, f"iter_{i}.png"), image)
                    unsaved = None
                write_record(folder, {**record, "losses": self.losses})
                if stop:
                    self._say(f"[INFO] the callback stopped the run after iteration {i + 1}")
                    break
        finally:
            self._bar.close()
            self._bar = None
        return image

    def _startAt(self, dims: tuple[int, int], X: np.ndarray | None) -> np.ndarray:
        """Switch to optimising at dims; the start image there: the init, or X (a coarser result) enlarged."""
        previous = self.dims
        if dims != previous:
            self._prepare(dims)
        self._adam = None  # its moments belong to the old size
        if len(self._scaleDims) > 1:
            self._say(f"[INFO] scale {dims[0] / self.finalDims[0]:.2g}: {dims[1]}x{dims[0]} px")
        if X is None:
            return self._startImage()
        coarse = tf.constant(np.reshape(X, (1, *previous, 3)), tf.float32)
        return tf.image.resize(coarse, dims, method="bicubic").numpy().astype(np.float64)

    def _picture(self, X: np.ndarray) -> np.ndarray:
        """A VGG-space image as the RGB uint8 picture the user gets (colours kept when asked)."""
        rgb = self.deprocess(X)[..., ::-1]
        if self.S["preserve_colors"] == "luminance":
            return luminance_transfer(rgb, self.contentRGB)
        return np.ascontiguousarray(rgb)

    def _say(self, message: str) -> None:
        if not self.S["quiet"]:
            tqdm.write(message, file=sys.stdout)

    def _savePartial(self, i: int) -> None:
        # The best image of an unfinished iteration, beside the finished ones and never over them.
        folder = self.S["output_path"]
        if i:
            self._say(f"[INFO] iterations 1-{i} are finished; their images are in '{folder}'")
        if self._best[1] is not None:
            path = os.path.join(folder, f"iter_{i}_partial.png")
            write_rgb(path, self._picture(self._best[1]))
            self._say(f"[INFO] iteration {i + 1} stopped early; its best image so far is '{path}'")
