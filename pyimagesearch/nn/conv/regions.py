"""Regions: a different style, or none, in each part of the picture (guided Gram matrices).

Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer") match, per region,
the Gram matrix of that region's own pixels. A region is where a content mask says (white: this
style here, grey: a soft weight), brought down by area to each style layer's grid; its Gram matrix
is F^T diag(m) F, and its target is the style image's Gram matrix (over the style mask's part, if
one is given) rescaled to the region's pixel mass, so an all-white mask is exactly today's
unmasked picture. Styles that share one mask form one region, their targets blended by
style_blend_weights; pixels that no mask covers get no style term (content and TV only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import keras
import numpy as np
from PIL import Image, ImageColor

from .errors import ImageError, SettingsError
from .features import preprocess_rgb
from .images import ImageSource, describe, load_rgb
from .losses import StyleTarget
from .settings import as_list, label
from .style_losses import STYLE_LOSSES

# A label image's pixel belongs to a colour when within this RGB distance of it (JPEG noise, soft edges).
COLOR_TOLERANCE = 40.0
# Per style layer: (what a style loss measures of a painting, the pixel mass it was taken over).
StyleStatistics = Mapping[str, tuple[tuple[Any, ...], float]]


@dataclass(frozen=True)
class Region:
    """The style images (indices) one part of the picture takes, and where that part is."""

    styles: tuple[int, ...]
    mask: np.ndarray | None = None  # (h, w) float32 weights in [0, 1] at the stage's size; None: everywhere


def load_mask(source: ImageSource, size: tuple[int, int]) -> np.ndarray:
    """A greyscale mask at size (w, h), as float32 weights in [0, 1] (white 1); resized by area."""
    rgb = load_rgb(source)
    grey = Image.fromarray((rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32), "F")
    return np.clip(np.asarray(grey.resize(size, Image.Resampling.BOX), np.float32) / 255.0, 0.0, 1.0)


def color_masks(source: ImageSource, colors: Sequence[str], size: tuple[int, int]) -> list[np.ndarray]:
    """One mask per colour of a label image: where it has that colour (within COLOR_TOLERANCE), at size (w, h)."""
    rgb = load_rgb(source)
    masks = []
    for color in colors:
        hit = np.linalg.norm(rgb - np.array(ImageColor.getrgb(color)[:3], np.float32), axis=-1) <= COLOR_TOLERANCE
        # Labels are hard at the label image's own size; resizing by area gives soft edges, never new colours.
        masks.append(np.asarray(Image.fromarray(hit.astype(np.float32), "F").resize(size, Image.Resampling.BOX),
                                np.float32))
    return masks


def _same(a: Any, b: Any) -> bool:
    return a is b if isinstance(a, (np.ndarray, Image.Image)) else a == b


@dataclass(frozen=True)
class ContentMasks:
    """Where each style goes on the photo (the settings content_masks and mask_colors); none: everywhere."""

    count: int  # style images
    sources: tuple[ImageSource, ...] | None = None  # a mask per style image, or one colour-label image
    colors: tuple[str, ...] | None = None  # a colour of the label image per style image

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> ContentMasks:
        return cls(len(as_list(s["style_path"])), tuple(s["content_masks"]) if s["content_masks"] else None,
                   tuple(s["mask_colors"]) if s["mask_colors"] else None)

    def regions(self, dims: tuple[int, int]) -> list[Region]:
        """The regions at size dims (h, w): styles sharing a mask share a region."""
        if not self.sources:
            return [Region(tuple(range(self.count)))]
        size = (dims[1], dims[0])
        if self.colors:
            masks = color_masks(self.sources[0], self.colors, size)
            keys: list[Any] = [ImageColor.getrgb(c)[:3] for c in self.colors]
        else:
            masks = [load_mask(source, size) for source in self.sources]
            keys = list(self.sources)
        regions: list[Region] = []
        for i in range(self.count):
            first = next(j for j in range(self.count) if _same(keys[j], keys[i]))
            if first == i:
                regions.append(Region(tuple(j for j in range(self.count) if _same(keys[j], keys[i])), masks[i]))
        return regions


def check_regions(s: Mapping[str, Any], dims: tuple[int, int], style_masks: Sequence[np.ndarray | None]) -> None:
    """One clear error for a mask that cannot be read (ImageError names it) or an empty region.

    style_masks: each style image's mask at its size at dims (None where it has none)."""
    styles = as_list(s["style_path"])
    for region in ContentMasks.from_settings(s).regions(dims):
        blend = s["style_blend_weights"]
        if blend and sum(blend[i] for i in region.styles) == 0:
            raise SettingsError(f"{label('style_blend_weights')} gives every style of a region weight 0 (style "
                                f"images {', '.join(str(i + 1) for i in region.styles)}): that region would have "
                                "no style to match")
        if region.mask is not None and region.mask.sum() < 0.5:
            names = ", ".join(describe(styles[i]) for i in region.styles)
            where = (f"colour {s['mask_colors'][region.styles[0]]} of {label('mask_colors')} does not occur in "
                     f"'{describe(s['content_masks'][0])}'" if s["mask_colors"] else
                     f"content mask '{describe(s['content_masks'][region.styles[0]])}' is black everywhere")
            raise ImageError(f"{where}: the region of style {names} would be empty at {dims[1]}x{dims[0]} px")
    for i, mask in enumerate(style_masks):
        if mask is not None and mask.sum() < 0.5:
            raise ImageError(f"style mask '{describe(s['style_masks'][i])}' is black everywhere: style image "
                             f"'{describe(styles[i])}' would give no style")


def _at_layer(mask: np.ndarray | None, shape: Sequence[int]) -> np.ndarray | None:
    """A mask brought down by area to a layer's (h_l, w_l) grid: each cell the mean of the pixels it covers
    (PIL's box filter, the same on every backend), as float32."""
    if mask is None:
        return None
    (height, width) = (int(shape[0]), int(shape[1]))
    if mask.shape == (height, width):
        return np.asarray(mask, np.float32)
    return np.asarray(Image.fromarray(np.asarray(mask, np.float32), "F").resize((width, height),
                                                                                  Image.Resampling.BOX), np.float32)


def _windows(length: int, window: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one side: (core start, core end, window start, window end), cores tiling [0, length).

    Cores and window starts fall on multiples of 16 px, VGG's coarsest grid at block5, so a core's
    features are a whole crop of its window's at every layer.
    """
    if length <= window:
        return [(0, length, 0, length)]
    step = max(16, window // 16 * 16)
    spans = []
    for start in range(0, length, step):
        end = min(start + step, length)
        spans.append((start, end, max(0, start - margin), min(length, end + margin)))
    return spans


def _core(core: tuple[int, int], window: tuple[int, int], cells: int) -> slice:
    """Which of a layer's `cells` positions along a window's side lie in its core (both in px)."""
    # The layer's stride in px: a power of two (VGG's pools), whatever the pools' rounding down did.
    stride = 2 ** round(np.log2((window[1] - window[0]) / cells))
    end = cells if core[1] == window[1] else min(cells, (core[1] - window[0]) // stride)
    return slice((core[0] - window[0]) // stride, end)


def style_statistics(model: keras.Model, rgb: np.ndarray, layers: Sequence[str], mask: np.ndarray | None = None,
                     window: int | None = None, margin: int = 96, kind: str = "gram") -> StyleStatistics:
    """Per layer: (what the style loss `kind` measures of an image's features, over its mask if given; the
    pixel mass it was taken over). See style_losses.py.

    window: a painting larger than this many px a side (print-size pictures) is taken in windows of
    about window px plus a margin whose features are cut away, so memory stays that of a window; the
    measures are sums over pixels (or samples of them), so the cores' add up to the whole image's.
    """
    loss = STYLE_LOSSES[kind]
    (h, w) = rgb.shape[:2]
    parts: dict[str, Any] = dict.fromkeys(layers)
    mass: dict[str, float] = dict.fromkeys(layers, 0.0)
    for y0, y1, wy0, wy1 in _windows(h, window or max(h, w), margin):
        for x0, x1, wx0, wx1 in _windows(w, window or max(h, w), margin):
            features = model(preprocess_rgb(rgb[wy0:wy1, wx0:wx1]))
            for layer in layers:
                (fh, fw) = features[layer].shape[1:3]
                ry, rx = _core((y0, y1), (wy0, wy1), fh), _core((x0, x1), (wx0, wx1), fw)
                core = features[layer][0, ry, rx]
                m = None if mask is None else _at_layer(mask[wy0:wy1, wx0:wx1], (fh, fw))[ry, rx]
                here = float(core.shape[0] * core.shape[1]) if m is None else float(np.sum(m))
                measured = loss.measure(core, m)
                parts[layer] = measured if parts[layer] is None else loss.pool(parts[layer], measured, mass[layer],
                                                                               here)
                mass[layer] += here
    return {layer: (parts[layer], mass[layer]) for layer in layers}


def gram_densities(model: keras.Model, rgb: np.ndarray, layers: Sequence[str], mask: np.ndarray | None = None,
                   window: int | None = None, margin: int = 96) -> dict[str, tuple[Any, float]]:
    """Per layer: (Gram matrix of an image's features, over its mask if given; the pixel mass it sums over)."""
    taken = style_statistics(model, rgb, layers, mask, window, margin)
    return {layer: (parts[0], mass) for layer, (parts, mass) in taken.items()}


def region_targets(styles: Sequence[StyleStatistics], blend: Sequence[float] | None, layers: Sequence[str],
                   layer_shapes: Mapping[str, Sequence[int]], regions: Sequence[Region] | None = None,
                   kind: str = "gram") -> list[StyleTarget]:
    """What each region of a picture whose layers have layer_shapes (h_l, w_l) must match: per layer, the
    style loss `kind`'s target made of its styles' statistics (style_statistics), blended within it."""
    loss = STYLE_LOSSES[kind]
    regions = regions or [Region(tuple(range(len(styles))))]
    blend = blend or [1.0 / len(styles)] * len(styles)
    targets = []
    for region in regions:
        masks = {layer: _at_layer(region.mask, layer_shapes[layer]) for layer in layers}
        weights = [blend[i] / sum(blend[j] for j in region.styles) for i in region.styles]
        stats: dict[str, Any] = {}
        for layer in layers:
            out = float(np.prod(layer_shapes[layer])) if masks[layer] is None else float(np.sum(masks[layer]))
            stats[layer] = loss.target([styles[i][layer][0] for i in region.styles],
                                       [styles[i][layer][1] for i in region.styles], weights, out)
        share = 1.0 if region.mask is None else float(region.mask.mean())
        targets.append(StyleTarget(MappingProxyType(stats), None if region.mask is None else MappingProxyType(masks),
                                   share))
    return targets
