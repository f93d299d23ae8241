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
from math import prod
from typing import Any

from keras import ops

# A tensor of whichever backend Keras runs on.
Tensor = Any


def add_all(terms: list[Tensor]) -> Tensor:
    """The sum of a list of tensors."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _upstream(args: tuple[Any, ...], upstream: Tensor | None) -> Tensor:
    # keras.ops.custom_gradient hands the upstream gradient positionally on TensorFlow and JAX, by keyword on
    # PyTorch.
    return args[0] if upstream is None else upstream


@ops.custom_gradient
def gram_matrix(features: Tensor) -> tuple[Tensor, object]:
    """Inner products between the channels of one (h, w, c) feature map: a (c, c) matrix."""
    flat = ops.reshape(features, (-1, features.shape[-1]))

    def gradient(*args: Any, upstream: Tensor | None = None) -> Tensor:
        # G = F^T F, so dL/dF = F (dG + dG^T): one matmul, where differentiating the matmul
        # itself takes two (one per operand, both F).
        dG = _upstream(args, upstream)
        return ops.reshape(ops.matmul(flat, dG + ops.transpose(dG)), features.shape)

    # The transpose is folded into the matmul (TensorFlow's graph optimiser, XLA, a torch view): no copy.
    return ops.matmul(ops.transpose(flat), flat), gradient


def masked_gram(features: Tensor, mask: Tensor | None = None) -> Tensor:
    """Gram matrix of the pixels a (h, w) mask of weights in [0, 1] selects: F^T diag(m) F (guided Gram
    matrix, Gatys et al. 2017); the plain Gram matrix when mask is None."""
    if mask is None:
        return gram_matrix(features)
    return gram_matrix(features * ops.sqrt(mask)[..., None])


def feature_recon_loss(target: Tensor, output: Tensor) -> Tensor:
    """Content loss: the sum of squared differences between two activations."""
    return ops.sum(ops.square(output - target))


def gram_loss(target_gram: Tensor, output: Tensor, height: int, width: int,
              mask: Tensor | None = None) -> Tensor:
    """Style loss against a precomputed Gram matrix: sum((G - A)^2) / (2 * 3 * h * w)^2.

    h and w are the image's (not the layer's) size, as in the chapter. The difference is divided
    before squaring: the same value, but no float32 overflow on large images. mask: G is taken over
    those pixels only (masked_gram).
    """
    scaled = (masked_gram(output, mask) - target_gram) / float(2 * 3 * height * width)
    return ops.sum(ops.square(scaled))


def style_recon_loss(style: Tensor, output: Tensor, height: int, width: int) -> Tensor:
    """Style loss between two (h, w, c) feature maps."""
    return gram_loss(gram_matrix(style), output, height, width)


@ops.custom_gradient
def _tv_sum(image: Tensor) -> tuple[Tensor, object]:
    """Sum of (dy^2 + dx^2)^1.25 over an (..., h, w, c) image's pixels but the last row and column."""
    corner = image[..., :-1, :-1, :]
    dy, dx = corner - image[..., 1:, :-1, :], corner - image[..., :-1, 1:, :]
    squares = ops.square(dy) + ops.square(dx)
    root = ops.sqrt(ops.sqrt(squares))  # squares^0.25, and squares^1.25 = squares * root

    def gradient(*args: Any, upstream: Tensor | None = None) -> Tensor:
        # d/d(dy) = 2.5 root dy (likewise dx); each difference adds to its corner pixel and takes from
        # its neighbour. Written with pads, as TensorFlow's own gradient of the slices (StridedSliceGrad)
        # took 6-12x longer on its own: 4.6 ms against 0.7 ms at 256x256, 13.8 against 1.1 ms at 512x384.
        scale = 2.5 * _upstream(args, upstream) * root
        along_y, along_x = scale * dy, scale * dx

        def at(t: Tensor, top: int, left: int) -> Tensor:
            return ops.pad(t, [[0, 0]] * (len(t.shape) - 3) + [[top, 1 - top], [left, 1 - left], [0, 0]])

        return at(along_y + along_x, 0, 0) - at(along_y, 1, 0) - at(along_x, 0, 1)

    return ops.sum(squares * root), gradient


def tv_loss(image: Tensor) -> Tensor:
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


def content_mean_loss(target: Tensor, output: Tensor, pixels: int,
                      reference: int = REFERENCE_PIXELS) -> Tensor:
    """Content loss as a mean over the layer's elements, times their count at the reference size."""
    elements = prod(output.shape) * (reference / pixels)
    return ops.mean(ops.square(output - target)) * elements


def tv_loss_per_length(image: Tensor, reference: int = REFERENCE_PIXELS) -> Tensor:
    """Total variation as a mean over pixels, differences per unit of image length.

    Upsampling an image 2x halves its pixel differences; scaling them by the image's side keeps
    the value, so smoothing means the same at every size. Lengths are in units of the reference
    image's pixel, and the mean is times the reference's pixel count, as the chapter sums.
    """
    height, width = image.shape[-3], image.shape[-2]
    # Differences scaled by s scale each element by s^2.5; the mean is over (h-1)(w-1) of every channel.
    elements = prod(image.shape) // (height * width) * (height - 1) * (width - 1)
    scale = (height * width / reference) ** 1.25 / elements
    return _tv_sum(image) * (scale * 3 * reference)


def gram_relative_loss(target_gram: Tensor, output: Tensor, mask: Tensor | None = None) -> Tensor:
    """Style loss as a fraction of the target: sum((G - A)^2) / sum(A^2), times STYLE_REFERENCE.

    Gatys et al.'s 1 / (4 N^2 M^2) removes a layer's size but not how strongly it fires, and a
    picture drawn at twice the resolution makes VGG's layers fire less (fewer edges per receptive
    field): that style term fell to 0.3x under 2x upsampling. Taken relative to the target Gram,
    size and strength cancel (0.98x).
    """
    norm = ops.maximum(ops.norm(target_gram), 1e-12)  # divided before squaring: no float32 overflow
    return STYLE_REFERENCE * ops.sum(ops.square((masked_gram(output, mask) - target_gram) / norm))


@dataclass(frozen=True)
class StyleTarget:
    """What one region of the picture must match: per style layer, the style loss's target over its own pixels
    (style_losses.py; the chapter's: a Gram matrix).

    masks: per style layer, a (h_l, w_l) map of weights in [0, 1] saying where the region is at that
    layer's resolution; None: the whole picture (the chapter's one region). share: the region's
    fraction of the picture, which weighs its term where the term is a relative error.
    """

    stats: Mapping[str, Any]
    masks: Mapping[str, Tensor] | None = None
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

    image: Tensor
    weights: Tensor


def temporal_loss(image: Tensor, target: TemporalTarget, normalization: str = "chapter",
                  reference: int = REFERENCE_PIXELS) -> Tensor:
    """Ruder et al.'s short-term temporal loss: sum of c * (x - w)^2 over pixels and channels, w the warped
    previous frame and c its weights. size_invariant: a mean, times the reference's element count, as TV."""
    squared = target.weights * ops.square(image - target.image)
    if normalization == "size_invariant":
        return ops.mean(squared) * (3 * reference)
    return ops.sum(squared)
