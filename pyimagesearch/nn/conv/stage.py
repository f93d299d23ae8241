"""A stage: the images and targets of one optimisation problem, held as one immutable value.

A stage is one size of a run (a coarse scale, the final size), one tile of a print or one video
frame: the content photo at that size (RGB and in VGG space), the style images as used, the
content activations and style Gram matrices to match, and the function that returns the loss and
its gradient for an image of that size. Stages of one size share one compiled graph, which takes
each stage's own tensors as arguments, so stages never share or swap state.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import losses
from .colors import luminance_transfer
from .features import IMAGENET_BGR_MEAN, deprocess_bgr, preprocess_rgb
from .losses import StyleTarget
from .regions import Region, gram_densities, region_targets
from .settings import as_list

# image (1, h, w, 3) float32 -> (total loss, its gradient, {"content", "style", "tv": weighted terms})
LossFunction = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]]


@dataclass(frozen=True)
class Objective:
    """What the loss weighs: the layers and their weights, the three terms' weights, the normalisation."""

    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    weights: tuple[float, float, float]  # content, style, TV
    normalization: str = "chapter"
    content_layer_weights: tuple[float, ...] | None = None
    style_layer_weights: tuple[float, ...] | None = None
    temporal_weight: float = 0.0  # video frames only (a stage with a TemporalTarget)

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> Objective:
        def optional(values: Any) -> tuple[float, ...] | None:
            return None if values is None else tuple(values)

        return cls(tuple(as_list(s["content_layer"])), tuple(s["style_layers"]),
                   (s["content_weight"], s["style_weight"], s["tv_weight"]), s["loss_normalization"],
                   optional(s["content_layer_weights"]), optional(s["style_layer_weights"]), s["temporal_weight"])

    def terms(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], content_targets: Mapping[str, tf.Tensor],
              style_targets: Sequence[StyleTarget], final_pixels: int) -> dict[str, tf.Tensor]:
        return losses.weighted_terms(image, features, content_targets, style_targets, self.weights,
                                     self.normalization, _listed(self.content_layer_weights),
                                     _listed(self.style_layer_weights), final_pixels=final_pixels)

    def temporal_term(self, image: tf.Tensor, target: losses.TemporalTarget) -> tf.Tensor:
        return self.temporal_weight * losses.temporal_loss(image, target, self.normalization)


def _listed(values: tuple[float, ...] | None) -> list[float] | None:
    return None if values is None else list(values)


@dataclass(frozen=True)
class Stage:
    """One problem to optimise; build it with build_stage()."""

    dims: tuple[int, int]  # (h, w) of the image optimised here
    contentRGB: np.ndarray  # (h, w, 3) float32 RGB in [0, 255]
    content: np.ndarray  # the same as a (1, h, w, 3) VGG batch
    styles: tuple[np.ndarray, ...]  # the style images as used, RGB, each at its own size
    contentTargets: Mapping[str, tf.Tensor]  # content layer -> activations to match
    styleTargets: tuple[StyleTarget, ...]  # per region: style layer -> Gram matrix to match (regions.py)
    final_pixels: int  # pixels of the finished picture: a coarser stage's loss is taken as at that size
    evaluate: LossFunction
    temporal: losses.TemporalTarget | None = None  # a video frame's hold on the frame before (video.py)

    @property
    def styleGrams(self) -> Mapping[str, tf.Tensor]:
        """The chapter's targets: style layer -> Gram matrix (of the first region, when there are several)."""
        return self.styleTargets[0].grams


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


# Per network: (objective, size, final pixels, temporal or not) -> the compiled loss and gradient. The
# targets are its arguments, so every stage of one size (the tiles of a print, the frames of a video)
# shares one trace instead of tracing VGG again for each. The network lives on between runs of one
# process (features.Network.build), so the traces per network are capped, least recently used going
# first: a sweep's experiments, each with its own weights, would otherwise keep every trace it made.
_COMPILED: weakref.WeakKeyDictionary[keras.Model, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
_TRACES_KEPT = 8


def _compiled_loss(model: keras.Model, objective: Objective, dims: tuple[int, int], final_pixels: int,
                   temporal: bool) -> Any:
    key = (objective, dims, final_pixels, temporal)
    functions = _COMPILED.setdefault(model, {})
    if key in functions:
        functions[key] = functions.pop(key)  # the most recently used last
    else:
        while len(functions) >= _TRACES_KEPT:
            del functions[next(iter(functions))]
        network = weakref.ref(model)  # the cache must not keep the model it is keyed by alive

        def loss_and_gradient(image: tf.Tensor, content_targets: Mapping[str, tf.Tensor], targets: Any,
                              previous: Any) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
            regions = [StyleTarget(grams, masks, share) for grams, masks, share in targets]
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = objective.terms(image, network()(image), content_targets, regions, final_pixels)
                total = terms["content"] + terms["style"] + terms["tv"]
                if previous is not None:
                    terms["temporal"] = objective.temporal_term(image, losses.TemporalTarget(*previous))
                    total += terms["temporal"]
            return total, tape.gradient(total, image), terms

        functions[key] = tf.function(loss_and_gradient)
    return functions[key]


def build_stage(model: keras.Model, objective: Objective, contentRGB: np.ndarray, styles: Sequence[np.ndarray],
                blend: Sequence[float] | None = None, final_pixels: int | None = None,
                regions: Sequence[Region] | None = None,
                style_masks: Sequence[np.ndarray | None] | None = None,
                temporal: losses.TemporalTarget | None = None,
                style_grams: Sequence[Mapping[str, tuple[tf.Tensor, float]]] | None = None) -> Stage:
    """The stage that paints contentRGB in the styles: targets computed once, the loss compiled.

    regions: which styles go where (masks at contentRGB's size; default: all of them everywhere);
    style_masks: which part of each style image gives its style (at that image's size);
    temporal: a video frame's previous frame to keep where the flow is trusted (adds a "temporal" term);
    style_grams: each style's Gram matrices already taken (regions.gram_densities), instead of from
    styles: a tile of a print takes them from the painting at the size of the whole picture.
    """
    dims = (int(contentRGB.shape[0]), int(contentRGB.shape[1]))
    final_pixels = final_pixels or dims[0] * dims[1]
    content = preprocess_rgb(contentRGB)
    features = model(content)  # the targets never change during a run: computed once per stage
    content_targets = MappingProxyType({layer: features[layer][0] for layer in objective.content_layers})
    if style_grams is None:
        style_grams = [gram_densities(model, rgb, objective.style_layers, mask)
                       for rgb, mask in zip(styles, style_masks or [None] * len(styles), strict=True)]
    shapes = {layer: features[layer].shape[1:3] for layer in objective.style_layers}
    targets = tuple(region_targets(style_grams, blend, objective.style_layers, shapes, regions))
    compiled = _compiled_loss(model, objective, dims, final_pixels, temporal is not None)
    # As tensors: a Python number would be part of the trace's key, and every region share a new trace.
    packed = tuple((dict(t.grams), None if t.masks is None else dict(t.masks), tf.constant(t.share, tf.float32))
                   for t in targets)
    previous = None if temporal is None else (temporal.image, temporal.weights)

    def evaluate(image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        return compiled(image, dict(content_targets), packed, previous)

    return Stage(dims, _frozen(contentRGB), _frozen(content), tuple(_frozen(s) for s in styles), content_targets,
                 targets, final_pixels, evaluate, temporal)


# -- pictures -------------------------------------------------------------------------------------

def rgb_picture(X: np.ndarray, dims: tuple[int, int], contentRGB: np.ndarray | None, preserve_colors: str = "none",
                exact: bool = False) -> np.ndarray:
    """A VGG-space image of size dims as the picture the user gets: RGB uint8, or (exact) float32 in [0, 255]
    not rounded to 8 bits (a 16-bit PNG's). contentRGB: the photo at dims, whose colours luminance keeps.

    Converted a band of rows at a time, so a print-size picture needs no float64 copy of itself.
    """
    if preserve_colors == "luminance" and contentRGB is None:
        raise ValueError("preserve_colors 'luminance' needs the photo's colours (contentRGB)")
    image = np.reshape(X, (*dims, 3))
    out = np.empty((*dims, 3), np.float32 if exact else np.uint8)
    for top in range(0, dims[0], _BAND):
        rows = slice(top, top + _BAND)
        if preserve_colors != "luminance" and not exact:  # the chapter's 8-bit picture
            out[rows] = deprocess_bgr(image[rows], out[rows].shape[:2])[..., ::-1]
            continue
        rgb = (np.asarray(image[rows], np.float64) + IMAGENET_BGR_MEAN)[..., ::-1]
        out[rows] = luminance_transfer(rgb, contentRGB[rows], exact) if preserve_colors == "luminance" else \
            np.clip(rgb, 0, 255)
    return out


_BAND = 256  # rows converted at once by rgb_picture


def enlarge(X: np.ndarray, dims: tuple[int, int], to: tuple[int, int], dtype: Any = np.float64) -> np.ndarray:
    """A flat VGG-space image of size dims, resized (bicubic) to `to`, as a (1, h, w, 3) batch of dtype
    (float64 for L-BFGS; float32 for a tiled scale's picture, which is never copied to float64)."""
    coarse = tf.constant(np.reshape(X, (1, *dims, 3)), tf.float32)
    return tf.image.resize(coarse, to, method="bicubic").numpy().astype(dtype, copy=False)
