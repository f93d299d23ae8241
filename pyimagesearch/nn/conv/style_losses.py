"""The style losses a run may choose (setting `style_loss`): what each measures of a painting, and how far the
picture's features are from it, per layer.

- gram: the chapter's: the Gram matrix of the features (Gatys et al. 2015).
- w2: the features' mean and covariance, compared as Gaussians by the Wasserstein-2 distance, as
  crowsonkb/style-transfer-pytorch does: |m - m_s|^2 + tr(C) + tr(C_s) - 2 tr((C_s^1/2 C C_s^1/2)^1/2).
- sliced: the whole distribution of the features along random directions: the sorted projections of the
  picture's features against the painting's quantiles (Heitz et al., CVPR 2021). L-BFGS needs the same
  objective through a round, so the directions are drawn from a seed per round (the round's number).

Each loss works with what the Gram matrix worked with: a painting taken in windows (a print-size
painting; its measures are sums over pixels, or for `sliced` a sample of them, so windows add up), style
masks and regions (pixel weights in [0, 1]; `sliced` counts a pixel whose weight is at least one half),
several styles blended (gram and w2: the blend of their statistics, as if the paintings were one
picture; sliced: per direction, the weighted mean of the paintings' quantile functions, their
Wasserstein barycentre).
w2 and sliced measure distributions, so they keep their value when the picture is drawn at another size
and need no size normalisation; each is divided by the painting's mean squared feature, so every layer
weighs alike, and multiplied by a constant that puts it on the Gram term's scale at the chapter's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops

from .backends import entry
from .losses import Tensor, add_all, gram_loss, gram_relative_loss, masked_gram

# The constant in front of each distance, per normalisation: the sample pair (tubingen.jpg, starry_night.jpg)
# at 512x384 px with the photo itself as the picture has the same style term under each style loss, so the
# default style_weight weighs style against content alike (bench/style_scales.py measured it: Gram terms
# 8.54e12 chapter and 1.77e12 size_invariant; distances 35.6 w2 and 19.0 sliced, before the scale).
W2_SCALE = {"chapter": 2.4e11, "size_invariant": 5.0e10}
SLICED_SCALE = {"chapter": 4.5e11, "size_invariant": 9.3e10}
# A painting's features kept for `sliced`, per layer: its quantiles are taken from this many pixels at most
# (chosen at random, seeded); 16384 samples place a quantile to within about 1 % of the distribution. Deeper
# layers keep at most SLICED_VALUES numbers (2048 pixels of 512 channels), so a print's targets, which travel
# to every tile's worker, stay about 4 MiB a layer.
SLICED_SAMPLES = 16384
SLICED_VALUES = 2**20
# Random directions per layer: as many as the layer has channels (Heitz et al.), at most this many.
SLICED_DIRECTIONS = 64


def _flat(features: Tensor) -> Tensor:
    return ops.reshape(features, (-1, features.shape[-1]))


def sample_rows(channels: int) -> int:
    """How many of a painting's pixels `sliced` keeps at a layer of this many channels."""
    return min(SLICED_SAMPLES, max(1, SLICED_VALUES // channels))


def _subsample(rows: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    # The same pixels every time (seeded): a painting's target does not wander between runs.
    if len(rows) <= count:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), count, replace=False))]


def _sums(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    """Two windows' sums over pixels taken together: they add."""
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _blend(parts: Sequence[tuple[Any, ...]], masses: Sequence[float], weights: Sequence[float],
           index: int) -> np.ndarray:
    """The weighted mean over paintings of one of their per-pixel sums (part `index` over its mass), float64."""
    return sum(w / max(m, 1e-6) * np.asarray(p[index], np.float64) for p, m, w in zip(parts, masses, weights,
                                                                                       strict=True))


@dataclass(frozen=True)
class GramLoss:
    """The chapter's: one Gram matrix per layer, summed over the painting's pixels."""

    name: str = "gram"

    def measure(self, features: Tensor, mask: Tensor | None) -> tuple[Tensor, ...]:
        return (masked_gram(features, mask),)

    def pool(self, a: tuple[Any, ...], b: tuple[Any, ...], mass_a: float, mass_b: float) -> tuple[Any, ...]:
        """Two windows' measures of one painting (over pixel masses mass_a, mass_b) taken together."""
        return _sums(a, b)

    def target(self, parts: Sequence[tuple[Any, ...]], masses: Sequence[float], weights: Sequence[float],
               out_mass: float) -> Tensor:
        # A Gram matrix sums over pixels: each painting's is brought to the region's pixel mass, then blended.
        return add_all([w * (out_mass / max(m, 1e-6)) * ops.convert_to_tensor(p[0])
                         for p, m, w in zip(parts, masses, weights, strict=True)])

    def distance(self, target: Any, output: Tensor, mask: Tensor | None, normalization: str,
                 dims: tuple[int, int], seed: Tensor, layer: int) -> Tensor:
        if normalization == "size_invariant":
            return gram_relative_loss(target, output, mask)
        # the chapter's needs no final-size rescaling: Gatys et al.'s 1 / (4 N^2 M^2) up to a constant
        return gram_loss(target, output, dims[0], dims[1], mask)


@dataclass(frozen=True)
class W2Loss:
    """Mean and covariance per layer; the Wasserstein-2 distance between the two Gaussians."""

    name: str = "w2"

    def measure(self, features: Tensor, mask: Tensor | None) -> tuple[Tensor, ...]:
        flat = _flat(features)
        total = ops.sum(flat if mask is None else flat * ops.reshape(mask, (-1, 1)), axis=0)
        return total, masked_gram(features, mask)

    def pool(self, a: tuple[Any, ...], b: tuple[Any, ...], mass_a: float, mass_b: float) -> tuple[Any, ...]:
        return _sums(a, b)

    def target(self, parts: Sequence[tuple[Any, ...]], masses: Sequence[float], weights: Sequence[float],
               out_mass: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        # The blend's first and second moments are the paintings' blended (a mixture's).
        mean, second = _blend(parts, masses, weights, 0), _blend(parts, masses, weights, 1)
        cov = second - np.outer(mean, mean)
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        scale = max(float(np.trace(second)), 1e-12)  # the painting's mean squared feature
        return tuple(ops.convert_to_tensor(np.asarray(a, np.float32)) for a in (mean, cov, root, scale))

    def distance(self, target: Any, output: Tensor, mask: Tensor | None, normalization: str,
                 dims: tuple[int, int], seed: Tensor, layer: int) -> Tensor:
        mean_s, cov_s, root_s, scale = target
        flat = _flat(output)
        if mask is None:
            mass = float(flat.shape[0])
            mean = ops.mean(flat, axis=0)
        else:
            weights = ops.reshape(mask, (-1, 1))
            mass = ops.maximum(ops.sum(weights), 1e-6)
            mean = ops.sum(flat * weights, axis=0) / mass
        cov = masked_gram(output, mask) / mass - mean[:, None] * mean[None, :]
        between = root_s @ cov @ root_s
        # tr of the root of a symmetric PSD matrix: the sum of the roots of its eigenvalues; the floor keeps
        # the gradient of a root finite where an eigenvalue is (numerically) zero.
        values = ops.eigh((between + ops.transpose(between)) / 2)[0]
        roots = ops.sum(ops.sqrt(ops.maximum(values, 1e-8 * scale)))
        w2 = ops.sum(ops.square(mean - mean_s)) + ops.trace(cov) + ops.trace(cov_s) - 2 * roots
        return W2_SCALE[normalization] * ops.maximum(w2, 0.0) / scale


def directions(channels: int, seed: Tensor, layer: int) -> Tensor:
    """(channels, k) unit vectors drawn from the round's seed (two int32) and the layer's index."""
    count = min(channels, SLICED_DIRECTIONS)
    drawn = entry().normal((channels, count), seed + ops.convert_to_tensor([0, 7919 * layer], "int32"))
    return drawn / ops.norm(drawn, axis=0, keepdims=True)


def quantiles(ordered: Tensor, count: int | Tensor, length: int | None = None) -> Tensor:
    """(k, m) values sorted along each row -> (k, length): each row's quantile function at the midpoints of
    `count` equal steps, interpolated linearly (the painting has m samples, the picture count pixels).
    length (default count): how many steps are taken; past count (a region's pixel count, a tensor, within a
    picture of length pixels) the values are not used."""
    m = int(ordered.shape[1])
    length = count if length is None else length
    at = (ops.arange(length, dtype="float32") + 0.5) * float(m) / ops.cast(count, "float32") - 0.5
    at = ops.clip(at, 0.0, float(m - 1))
    low = ops.cast(ops.floor(at), "int32")
    high = ops.minimum(low + 1, m - 1)
    frac = at - ops.cast(low, "float32")
    return ops.take(ordered, low, axis=1) * (1 - frac) + ops.take(ordered, high, axis=1) * frac


def _sorted(values: Tensor) -> Tensor:
    # argsort and gather rather than sort: the same values and gradient, 30 % faster on TensorFlow's CPU.
    return ops.take_along_axis(values, ops.argsort(values, axis=1), axis=1)


# Where a region leaves a pixel out, its projections are set to this before sorting, so they sort last.
_LEFT_OUT = 1e30


@dataclass(frozen=True)
class SlicedLoss:
    """A sample of the painting's features per layer; the sliced Wasserstein distance along random directions."""

    name: str = "sliced"

    def measure(self, features: Tensor, mask: Tensor | None) -> tuple[np.ndarray, ...]:
        flat = ops.convert_to_numpy(_flat(features))
        if mask is not None:
            flat = flat[np.reshape(ops.convert_to_numpy(mask), -1) >= 0.5]
        return (_subsample(flat, sample_rows(flat.shape[1])),)

    def pool(self, a: tuple[Any, ...], b: tuple[Any, ...], mass_a: float, mass_b: float) -> tuple[Any, ...]:
        """Two windows' samples pooled, each keeping its share of the sample by its pixel mass, so a print-size
        painting taken in many windows still keeps sample_rows() pixels a layer."""
        rows_a, rows_b = a[0], b[0]
        count = sample_rows(rows_a.shape[1])
        if len(rows_a) + len(rows_b) <= count:
            return (np.concatenate([rows_a, rows_b]),)
        from_a = min(len(rows_a), round(count * mass_a / max(mass_a + mass_b, 1e-6)))
        return (np.concatenate([_subsample(rows_a, from_a, 1), _subsample(rows_b, count - from_a, 2)]),)

    def target(self, parts: Sequence[tuple[Any, ...]], masses: Sequence[float], weights: Sequence[float],
               out_mass: float) -> tuple[tuple[Tensor, ...], Tensor]:
        kept = tuple(ops.convert_to_tensor(np.asarray(p[0], np.float32)) for p in parts)
        return kept, ops.convert_to_tensor(np.asarray(weights, np.float32) / sum(weights))

    def distance(self, target: Any, output: Tensor, mask: Tensor | None, normalization: str,
                 dims: tuple[int, int], seed: Tensor, layer: int) -> Tensor:
        samples, weights = target
        flat = _flat(output)
        unit = directions(int(output.shape[-1]), seed, layer)
        projected = ops.transpose(flat @ unit)  # (k, pixels)
        pixels = int(projected.shape[1])
        if mask is None:
            picture, count, valid = _sorted(projected), pixels, None
        else:
            # A region keeps the pixels weighed at least one half. Shapes stay fixed (JAX compiles for them):
            # the others sort last and are left out of the sum, instead of being cut away.
            keep = ops.reshape(mask, (1, -1)) >= 0.5
            count = ops.sum(ops.cast(keep, "float32"))
            picture = _sorted(ops.where(keep, projected, _LEFT_OUT))
            valid = ops.arange(pixels, dtype="float32")[None, :] < count
            picture = ops.where(valid, picture, 0.0)
        painted = [ops.transpose(s @ unit) for s in samples]
        painting = add_all([weights[i] * quantiles(_sorted(p), count, pixels) for i, p in enumerate(painted)])
        # The paintings' mean squared projection (taken from their samples, so also where count is 0).
        scale = ops.maximum(add_all([weights[i] * ops.mean(ops.square(p)) for i, p in enumerate(painted)]), 1e-12)
        squares = ops.square(picture - painting)
        if valid is not None:
            squares = ops.where(valid, squares, 0.0)
        # A mean that is 0, not NaN, where a small soft region has no pixel weighed one half at a deep layer.
        values = ops.maximum(ops.cast(count, "float32") * float(projected.shape[0]), 1.0)
        return SLICED_SCALE[normalization] * ops.sum(squares) / values / scale


STYLE_LOSSES: dict[str, Any] = {loss.name: loss for loss in (GramLoss(), W2Loss(), SlicedLoss())}

