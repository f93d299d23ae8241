"""The three terms of the Gatys et al. objective as pure functions over tensors.

The scaling is the chapter's, to the letter, so that its weights (1 / 100 / 10) give its look.
"""

from __future__ import annotations

import tensorflow as tf


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Inner products between the channels of one (h, w, c) feature map: a (c, c) matrix."""
    flat = tf.reshape(features, (-1, tf.shape(features)[-1]))
    return tf.matmul(flat, flat, transpose_a=True)


def feature_recon_loss(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Content loss: the sum of squared differences between two activations."""
    return tf.reduce_sum(tf.square(output - target))


def gram_loss(target_gram: tf.Tensor, output: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Style loss against a precomputed Gram matrix: sum((G - A)^2) / (2 * 3 * h * w)^2.

    h and w are the image's (not the layer's) size, as in the chapter. The difference is divided
    before squaring: the same value, but no float32 overflow on large images.
    """
    scaled = (gram_matrix(output) - target_gram) / float(2 * 3 * height * width)
    return tf.reduce_sum(tf.square(scaled))


def style_recon_loss(style: tf.Tensor, output: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Style loss between two (h, w, c) feature maps."""
    return gram_loss(gram_matrix(style), output, height, width)


def tv_loss(image: tf.Tensor) -> tf.Tensor:
    """Total variation: sum of (dy^2 + dx^2)^1.25 over all pixels but the last row and column."""
    corner = image[..., :-1, :-1, :]
    dy = tf.square(corner - image[..., 1:, :-1, :])
    dx = tf.square(corner - image[..., :-1, 1:, :])
    return tf.reduce_sum(tf.pow(dy + dx, 1.25))


def chapter_loss(
    image: tf.Tensor,
    features: dict[str, tf.Tensor],
    content_layer: str,
    content_target: tf.Tensor,
    style_grams: dict[str, tf.Tensor],
    weights: tuple[float, float, float],
) -> dict[str, tf.Tensor]:
    """The weighted content, style and TV terms for one generated image (batch of one).

    Style is the mean over the style layers, as the chapter weights each layer by 1/L.
    """
    content_weight, style_weight, tv_weight = weights
    height, width = image.shape[1], image.shape[2]
    content = content_weight * feature_recon_loss(content_target, features[content_layer][0])
    style = tf.add_n([gram_loss(gram, features[layer][0], height, width)
                      for layer, gram in style_grams.items()])
    style = style_weight * style / len(style_grams)
    tv = tv_weight * tv_loss(image)
    return {"content": content, "style": style, "tv": tv}
