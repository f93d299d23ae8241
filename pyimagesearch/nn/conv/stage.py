"""A stage: the images and targets of one optimisation problem, held as one immutable value.

A stage is one size of a run (a coarse scale, the final size), one tile of a print or one video
frame: the content photo at that size (RGB and in VGG space), the style images as used, the
content activations and style statistics (the chapter's: Gram matrices) to match, and the
function that returns the loss and its gradient for an image of that size. Stages of one size
share one compiled graph, which takes each stage's own tensors as arguments, so stages never
share or swap state.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import keras
import numpy as np
from keras import ops

from . import losses
from .backends import entry
from .colors import luminance_transfer
from .features import IMAGENET_BGR_MEAN, deprocess_bgr, preprocess_rgb
from .losses import StyleTarget, Tensor, add_all
from .objective import Objective, TermInputs
from .regions import Region, StyleStatistics, region_targets, style_statistics

__all__ = ["Objective", "Stage", "build_stage", "enlarge", "rgb_picture"]

# (image (1, h, w, 3) float32, the round's number) -> (total loss, its gradient, {term name: weighted term}),
# as tensors of the backend Keras runs on.
LossFunction = Callable[[Tensor, int], tuple[Tensor, Tensor, dict[str, Tensor]]]


@dataclass(frozen=True)
class Stage:
    """One problem to optimise; build it with build_stage()."""

    dims: tuple[int, int]  # (h, w) of the image optimised here
    contentRGB: np.ndarray  # (h, w, 3) float32 RGB in [0, 255]
    content: np.ndarray  # the same as a (1, h, w, 3) VGG batch
    styles: tuple[np.ndarray, ...]  # the style images as used, RGB, each at its own size
    contentTargets: Mapping[str, Tensor]  # content layer -> activations to match
    styleTargets: tuple[StyleTarget, ...]  # per region: style layer -> what to match (regions.py)
    final_pixels: int  # pixels of the finished picture: a coarser stage's loss is taken as at that size
    evaluate: LossFunction
    temporal: losses.TemporalTarget | None = None  # a video frame's hold on the frame before (video.py)

    @property
    def styleGrams(self) -> Mapping[str, Tensor]:
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
        def loss(network: Callable[[Tensor], Mapping[str, Tensor]], image: Tensor,
                 content_targets: Mapping[str, Tensor], targets: Any, previous: Any,
                 seed: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
            regions = [StyleTarget(stats, masks, share) for stats, masks, share in targets]
            temporal = None if previous is None else losses.TemporalTarget(*previous)
            terms = objective.terms(TermInputs(image, network(image), content_targets, regions, temporal,
                                               final_pixels, seed))
            return add_all(list(terms.values())), terms

        # The value and its gradient with respect to the image: the backend's own way (backends/). The
        # cache must not keep the model it is keyed by alive: the backend gets it through a weak reference.
        functions[key] = entry().compile_loss(weakref.ref(model), loss)
    return functions[key]


def _tensor(value: Any) -> Tensor:
    """A float32 tensor of the active backend (NumPy, a Python number or a tensor; nested targets as they are)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_tensor(v) for v in value)
    return ops.convert_to_tensor(np.float32(value) if isinstance(value, float) else value)


def _tensors(values: Mapping[str, Any]) -> dict[str, Tensor]:
    return {key: _tensor(value) for key, value in values.items()}


def build_stage(model: keras.Model, objective: Objective, contentRGB: np.ndarray, styles: Sequence[np.ndarray],
                blend: Sequence[float] | None = None, final_pixels: int | None = None,
                regions: Sequence[Region] | None = None,
                style_masks: Sequence[np.ndarray | None] | None = None,
                temporal: losses.TemporalTarget | None = None,
                style_stats: Sequence[StyleStatistics] | None = None) -> Stage:
    """The stage that paints contentRGB in the styles: targets computed once, the loss compiled.

    regions: which styles go where (masks at contentRGB's size; default: all of them everywhere);
    style_masks: which part of each style image gives its style (at that image's size);
    temporal: a video frame's previous frame to keep where the flow is trusted (adds a "temporal" term);
    style_stats: each style's statistics already taken (regions.style_statistics), instead of from
    styles: a tile of a print takes them from the painting at the size of the whole picture.
    """
    dims = (int(contentRGB.shape[0]), int(contentRGB.shape[1]))
    final_pixels = final_pixels or dims[0] * dims[1]
    content = preprocess_rgb(contentRGB)
    features = model(content)  # the targets never change during a run: computed once per stage
    content_targets = MappingProxyType({layer: features[layer][0] for layer in objective.content_layers})
    if style_stats is None:
        style_stats = [style_statistics(model, rgb, objective.style_layers, mask, kind=objective.style_loss)
                       for rgb, mask in zip(styles, style_masks or [None] * len(styles), strict=True)]
    shapes = {layer: features[layer].shape[1:3] for layer in objective.style_layers}
    targets = tuple(region_targets(style_stats, blend, objective.style_layers, shapes, regions,
                                   objective.style_loss))
    compiled = _compiled_loss(model, objective, dims, final_pixels, temporal is not None)
    # As tensors: a Python number would be part of the trace's key, and every region share a new trace.
    packed = tuple((_tensors(t.stats), None if t.masks is None else _tensors(t.masks), _tensor(t.share))
                   for t in targets)
    previous = None if temporal is None else (_tensor(temporal.image), _tensor(temporal.weights))

    def evaluate(image: Tensor, round: int = 0) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        # The round's number seeds what a term draws at random (sliced's directions): fixed within a round,
        # as L-BFGS needs, new in the next. A tensor: a new round is no new trace.
        return compiled(ops.convert_to_tensor(image, "float32"), dict(content_targets), packed, previous,
                        ops.convert_to_tensor(np.array([round, 0], np.int32)))

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
    coarse = ops.convert_to_tensor(np.reshape(X, (1, *dims, 3)).astype(np.float32))
    return ops.convert_to_numpy(ops.image.resize(coarse, to, interpolation="bicubic")).astype(dtype, copy=False)
