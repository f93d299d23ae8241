"""Keeping the content image's colours (Gatys et al. 2016, "Preserving Color in Neural Artistic
Style Transfer"), in the two ways users of the peers know.

"luminance": transfer the style's strokes but not its palette: the output keeps its own
luminance and takes the content image's chroma (YCbCr), as jcjohnson/neural-style's
-original_colors does after the run. "match": before the run, recolour the style image so its
colours have the content image's mean and covariance; the style is then painted in the content's
palette.
"""

from __future__ import annotations

import numpy as np

PRESERVE_COLORS = ("none", "luminance", "match")

# Full-range ITU-R BT.601 YCbCr (JPEG's), for RGB in [0, 255].
_RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                          [-0.168736, -0.331264, 0.5],
                          [0.5, -0.418688, -0.081312]])
_CHROMA_OFFSET = np.array([0.0, 128.0, 128.0])


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 255] -> float64 YCbCr with Cb, Cr centred on 128."""
    return np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YCBCR.T + _CHROMA_OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """The inverse of rgb_to_ycbcr, float64, not clipped."""
    return (np.asarray(ycbcr, dtype=np.float64) - _CHROMA_OFFSET) @ np.linalg.inv(_RGB_TO_YCBCR).T


def luminance_transfer(output_rgb: np.ndarray, content_rgb: np.ndarray, exact: bool = False) -> np.ndarray:
    """The output's luminance with the content's chroma, as uint8 RGB (both images one size); exact: as
    float64 in [0, 255], not rounded (for a 16-bit picture)."""
    ycbcr = rgb_to_ycbcr(content_rgb)
    ycbcr[..., 0] = rgb_to_ycbcr(output_rgb)[..., 0]
    rgb = np.clip(ycbcr_to_rgb(ycbcr), 0, 255)
    return rgb if exact else np.rint(rgb).astype(np.uint8)


def _sqrtm(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    # Symmetric square root: the transform with the least rotation of the colour space.
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 1e-6) ** (-0.5 if inverse else 0.5)
    return (vectors * values) @ vectors.T


def match_colors(style_rgb: np.ndarray, content_rgb: np.ndarray) -> np.ndarray:
    """The style image recoloured so its pixels have the content image's colour mean and covariance.

    Returns float32 RGB in [0, 255] (clipped), the style image's shape.
    """
    style = np.asarray(style_rgb, dtype=np.float64).reshape(-1, 3)
    content = np.asarray(content_rgb, dtype=np.float64).reshape(-1, 3)
    # A tiny ridge keeps a flat (e.g. grey) image's covariance invertible.
    ridge = np.eye(3) * 1e-3
    s_mean, c_mean = style.mean(axis=0), content.mean(axis=0)
    transform = _sqrtm(np.cov(content, rowvar=False) + ridge) @ _sqrtm(np.cov(style, rowvar=False) + ridge,
                                                                        inverse=True)
    matched = (style - s_mean) @ transform.T + c_mean
    return np.clip(matched, 0, 255).reshape(np.shape(style_rgb)).astype(np.float32)
