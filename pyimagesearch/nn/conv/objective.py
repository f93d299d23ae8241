"""The objective as a list of named loss terms: content, style, TV and a video frame's temporal term.

A term is a name (what progress lines, settings.json and galleries call it), the setting that weighs it,
and a function of what one evaluation sees (TermInputs) that returns the unweighted term, or None where
it does not apply (the temporal term outside a video). Adding a term is one entry in TERMS plus the
schema row of its weight. The objective is the terms' weighted sum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from keras import ops

from . import losses
from .losses import REFERENCE_PIXELS, StyleTarget, TemporalTarget, Tensor, add_all
from .settings import as_list
from .style_losses import STYLE_LOSSES


class TermInputs(NamedTuple):
    """What one evaluation hands every term."""

    image: Tensor  # (1, h, w, 3), VGG space
    features: Mapping[str, Tensor]  # layer -> (1, h_l, w_l, c) activations of image
    content_targets: Mapping[str, Tensor]  # content layer -> activations to match
    style_targets: Sequence[StyleTarget]  # one per region
    temporal: TemporalTarget | None  # a video frame's hold on the frame before
    final_pixels: int  # pixels of the finished picture (a coarser scale's loss is taken as at that size)
    seed: Tensor  # two int32: the round's, for terms that draw at random (sliced style loss)


def _one(batch: Tensor) -> Tensor:
    # The batch's one feature map, by squeezing: on TensorFlow the gradient of [0] (StridedSliceGrad) copies
    # every feature map into zeros (12-23 ms of op time at 256x256; about 4 % more peak memory at 1024x768).
    return ops.squeeze(batch, 0)


def _mix(terms: list[Tensor], layer_weights: tuple[float, ...] | None) -> Tensor:
    # Equal weights are the chapter's mean over layers.
    if layer_weights is None:
        return add_all(terms) / len(terms)
    return add_all([w * t for w, t in zip(layer_weights, terms, strict=True)])


def _reference(objective: Objective, inputs: TermInputs) -> int | None:
    """The pixel count content and TV are taken at; None: the image's own, the chapter's sums."""
    (height, width) = inputs.image.shape[1:3]
    if objective.normalization == "size_invariant":
        return REFERENCE_PIXELS
    return None if inputs.final_pixels == height * width else inputs.final_pixels


def content_term(objective: Objective, inputs: TermInputs) -> Tensor:
    """The content layers' activations against the photo's (a weighted mean over layers)."""
    reference, (height, width) = _reference(objective, inputs), inputs.image.shape[1:3]
    parts = [losses.feature_recon_loss(target, _one(inputs.features[layer])) if reference is None else
             losses.content_mean_loss(target, _one(inputs.features[layer]), height * width, reference)
             for layer, target in inputs.content_targets.items()]
    return _mix(parts, objective.content_layer_weights)


def style_term(objective: Objective, inputs: TermInputs) -> Tensor:
    """The style layers' statistics against the paintings' (style_loss), summed over regions, a weighted mean
    over layers."""
    loss, dims = STYLE_LOSSES[objective.style_loss], tuple(inputs.image.shape[1:3])
    relative = objective.normalization == "size_invariant" or objective.style_loss != "gram"

    def region(target: StyleTarget, index: int, layer: str) -> Tensor:
        mask = None if target.masks is None else target.masks[layer]
        value = loss.distance(target.stats[layer], _one(inputs.features[layer]), mask, objective.normalization,
                              dims, inputs.seed, index)
        return target.share * value if relative else value  # a relative error per region counts by its share

    parts = [add_all([region(t, i, layer) for t in inputs.style_targets])
             for i, layer in enumerate(objective.style_layers)]
    return _mix(parts, objective.style_layer_weights)


def tv_term(objective: Objective, inputs: TermInputs) -> Tensor:
    """Total variation of the image (its smoothness)."""
    reference = _reference(objective, inputs)
    return losses.tv_loss(inputs.image) if reference is None else losses.tv_loss_per_length(inputs.image, reference)


def temporal_term(objective: Objective, inputs: TermInputs) -> Tensor | None:
    """A video frame against the frame before, warped along the flow, where the flow is trusted."""
    if inputs.temporal is None:
        return None
    return losses.temporal_loss(inputs.image, inputs.temporal, objective.normalization)


@dataclass(frozen=True)
class LossTerm:
    """One named term: its weight's setting and the function giving its unweighted value (None: not here)."""

    name: str
    weight_key: str
    compute: Callable[[Objective, TermInputs], Tensor | None]


TERMS: tuple[LossTerm, ...] = (
    LossTerm("content", "content_weight", content_term),
    LossTerm("style", "style_weight", style_term),
    LossTerm("tv", "tv_weight", tv_term),
    LossTerm("temporal", "temporal_weight", temporal_term),
)
_BY_NAME = {term.name: term for term in TERMS}


@dataclass(frozen=True)
class Objective:
    """What the loss weighs: its terms' weights (by name, in TERMS order), the layers and their weights, the
    style loss and the normalisation. Plain values: it keys compiled functions and travels to workers."""

    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    term_weights: tuple[tuple[str, float], ...]  # (term name, weight)
    normalization: str = "chapter"
    content_layer_weights: tuple[float, ...] | None = None
    style_layer_weights: tuple[float, ...] | None = None
    style_loss: str = "gram"

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> Objective:
        def optional(values: Any) -> tuple[float, ...] | None:
            return None if values is None else tuple(values)

        return cls(tuple(as_list(s["content_layer"])), tuple(s["style_layers"]),
                   tuple((term.name, float(s[term.weight_key])) for term in TERMS), s["loss_normalization"],
                   optional(s["content_layer_weights"]), optional(s["style_layer_weights"]), s["style_loss"])

    def weight(self, name: str) -> float:
        return dict(self.term_weights).get(name, 0.0)

    @property
    def weights(self) -> tuple[float, float, float]:
        """The chapter's three weights: content, style, TV."""
        return self.weight("content"), self.weight("style"), self.weight("tv")

    def with_weights(self, **weights: float) -> Objective:
        """The same objective with some terms weighed anew, by name."""
        unknown = set(weights) - set(_BY_NAME)
        if unknown:
            raise ValueError(f"no loss term named {', '.join(sorted(unknown))}; terms: {', '.join(_BY_NAME)}")
        return replace(self, term_weights=tuple((name, float(weights.get(name, weight)))
                                                for name, weight in self.term_weights))

    def terms(self, inputs: TermInputs) -> dict[str, Tensor]:
        """Each term that applies here, weighted, by name."""
        weighted = {}
        for name, weight in self.term_weights:
            value = _BY_NAME[name].compute(self, inputs)
            if value is not None:
                weighted[name] = weight * value
        return weighted
