"""The three terms of the Gatys et al. objective as pure functions over tensors.

Two normalisations. "chapter": the chapter's scaling to the letter, so its weights (1 / 100 / 10)
give its look; but its content term is a sum over the layer, so it grows with the pixel count and
the same weights give a different picture at another size. "size_invariant": each term measures
something a picture keeps when drawn at another resolution (content: a mean over the layer; style:
the Gram error relative to the target's Gram; TV: a mean over pixels of differences per unit of
image length), times a fixed constant that puts it on the chapter's scale at 512x384 px, so the
chapter's weights stay a good default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf


@tf.custom_gradient
def gram_matrix(features: tf.Tensor) -> tuple[tf.Tensor, object]:
    """Inner products between the channels of one (h, w, c) feature map: a (c, c) matrix."""
    flat = tf.reshape(features, (-1, tf.shape(features)[-1]))

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        # G = F^T F, so dL/dF = F (dG + dG^T): one matmul, where differentiating the matmul
        # itself takes two (one per operand, both F).
        return tf.reshape(tf.matmul(flat, upstream + tf.transpose(upstream)), tf.shape(features))

    return tf.matmul(flat, flat, transpose_a=True), gradient


def masked_gram(features: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """Gram matrix of the pixels a (h, w) mask of weights in [0, 1] selects: F^T diag(m) F (guided Gram
    matrix, Gatys et al. 2017); the plain Gram matrix when mask is None."""
    if mask is None:
        return gram_matrix(features)
    return gram_matrix(features * tf.sqrt(mask)[..., None])


def feature_recon_loss(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Content loss: the sum of squared differences between two activations."""
    return tf.reduce_sum(tf.square(output - target))


def gram_loss(target_gram: tf.Tensor, output: tf.Tensor, height: int, width: int,
              mask: tf.Tensor | None = None) -> tf.Tensor:
    """Style loss against a precomputed Gram matrix: sum((G - A)^2) / (2 * 3 * h * w)^2.

    h and w are the image's (not the layer's) size, as in the chapter. The difference is divided
    before squaring: the same value, but no float32 overflow on large images. mask: G is taken over
    those pixels only (masked_gram).
    """
    scaled = (masked_gram(output, mask) - target_gram) / float(2 * 3 * height * width)
    return tf.reduce_sum(tf.square(scaled))


def style_recon_loss(style: tf.Tensor, output: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Style loss between two (h, w, c) feature maps."""
    return gram_loss(gram_matrix(style), output, height, width)


@tf.custom_gradient
def _tv_sum(image: tf.Tensor) -> tuple[tf.Tensor, object]:
    """Sum of (dy^2 + dx^2)^1.25 over an (..., h, w, c) image's pixels but the last row and column."""
    corner = image[..., :-1, :-1, :]
    dy, dx = corner - image[..., 1:, :-1, :], corner - image[..., :-1, 1:, :]
    squares = tf.square(dy) + tf.square(dx)
    root = tf.sqrt(tf.sqrt(squares))  # squares^0.25, and squares^1.25 = squares * root

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        # d/d(dy) = 2.5 root dy (likewise dx); each difference adds to its corner pixel and takes from
        # its neighbour. Written with pads, as TensorFlow's own gradient of the slices (StridedSliceGrad)
        # took 6-12x longer on its own: 4.6 ms against 0.7 ms at 256x256, 13.8 against 1.1 ms at 512x384.
        along_y, along_x = 2.5 * upstream * root * dy, 2.5 * upstream * root * dx

        def at(t: tf.Tensor, top: int, left: int) -> tf.Tensor:
            return tf.pad(t, [[0, 0]] * (t.shape.rank - 3) + [[top, 1 - top], [left, 1 - left], [0, 0]])

        return at(along_y + along_x, 0, 0) - at(along_y, 1, 0) - at(along_x, 0, 1)

    return tf.reduce_sum(squares * root), gradient


def tv_loss(image: tf.Tensor) -> tf.Tensor:
    """Total variation: sum of (dy^2 + dx^2)^1.25 over all pixels but the last row and column."""
    return _tv_sum(image)


# --- size_invariant -------------------------------------------------------------------------
# Content and TV: the chapter's sums as they would be for an image of REFERENCE_PIXELS (its 512x384
# sample), equal to the chapter's there. Style: STYLE_REFERENCE was chosen by eye on the sample
# pair. Matching the chapter's style term for its own 512x384 result (1.42e11 / 11.6 at weight 100)
# would be 1.2e10, which paints less than the chapter: relative errors weigh the five style layers
# alike, where the chapter's term for that result is 90 % block4_conv1 and under 0.1 % block5_conv1
# (whose relative error is then 0.49, the others' 0.01-0.06). 3e10 gives swirls and a clear town.

REFERENCE_PIXELS = 512 * 384
STYLE_REFERENCE = 3e10


def content_mean_loss(target: tf.Tensor, output: tf.Tensor, pixels: int,
                      reference: int = REFERENCE_PIXELS) -> tf.Tensor:
    """Content loss as a mean over the layer's elements, times their count at the reference size."""
    elements = tf.cast(tf.size(output), output.dtype) * (reference / pixels)
    return tf.reduce_mean(tf.square(output - target)) * elements


def tv_loss_per_length(image: tf.Tensor, reference: int = REFERENCE_PIXELS) -> tf.Tensor:
    """Total variation as a mean over pixels, differences per unit of image length.

    Upsampling an image 2x halves its pixel differences; scaling them by the image's side keeps
    the value, so smoothing means the same at every size. Lengths are in units of the reference
    image's pixel, and the mean is times the reference's pixel count, as the chapter sums.
    """
    height, width = image.shape[-3], image.shape[-2]
    # Differences scaled by s scale each element by s^2.5; the mean is over (h-1)(w-1) of every channel.
    elements = image.shape.num_elements() // (height * width) * (height - 1) * (width - 1)
    scale = (height * width / reference) ** 1.25 / elements
    return _tv_sum(image) * (scale * 3 * reference)


def gram_relative_loss(target_gram: tf.Tensor, output: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """Style loss as a fraction of the target: sum((G - A)^2) / sum(A^2), times STYLE_REFERENCE.

    Gatys et al.'s 1 / (4 N^2 M^2) removes a layer's size but not how strongly it fires, and a
    picture drawn at twice the resolution makes VGG's layers fire less (fewer edges per receptive
    field): that style term fell to 0.3x under 2x upsampling. Taken relative to the target Gram,
    size and strength cancel (0.98x).
    """
    norm = tf.maximum(tf.norm(target_gram), 1e-12)  # divided before squaring: no float32 overflow
    return STYLE_REFERENCE * tf.reduce_sum(tf.square((masked_gram(output, mask) - target_gram) / norm))


@dataclass(frozen=True)
class StyleTarget:
    """What one region of the picture must match: per style layer, the style loss's target over its own pixels
    (style_losses.py; the chapter's: a Gram matrix).

    masks: per style layer, a (h_l, w_l) map of weights in [0, 1] saying where the region is at that
    layer's resolution; None: the whole picture (the chapter's one region). share: the region's
    fraction of the picture, which weighs its term where the term is a relative error.
    """

    stats: Mapping[str, Any]
    masks: Mapping[str, tf.Tensor] | None = None
    share: float = 1.0

    @property
    def grams(self) -> Mapping[str, Any]:
        """The chapter's name for the targets (Gram matrices when style_loss is 'gram')."""
        return self.stats


@dataclass(frozen=True)
class TemporalTarget:
    """What a video frame must keep of the one before (Ruder et al. 2016; video.py makes it).

    image: the previous stylised frame warped along the optical flow into this frame, (1, h, w, 3)
    in VGG space; weights: (1, h, w, 1) in [0, 1], 1 where the flow passed its forward-backward
    check, 0 on pixels that were hidden in the previous frame or sit on a motion boundary.
    """

    image: tf.Tensor
    weights: tf.Tensor


def temporal_loss(image: tf.Tensor, target: TemporalTarget, normalization: str = "chapter",
                  reference: int = REFERENCE_PIXELS) -> tf.Tensor:
    """Ruder et al.'s short-term temporal loss: sum of c * (x - w)^2 over pixels and channels, w the warped
    previous frame and c its weights. size_invariant: a mean, times the reference's element count, as TV."""
    squared = target.weights * tf.square(image - target.image)
    if normalization == "size_invariant":
        return tf.reduce_mean(squared) * (3 * reference)
    return tf.reduce_sum(squared)
