"""The style images of a run: where they come from, their size at each output size, their masks and colours.

One value, made from the settings once (by the run plan, which checks the images, and by the run
context, which paints with them). Every stage, whole picture, tile or video frame, takes its
style images from here, so they are sized, masked and colour-matched the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .colors import match_colors
from .images import ImageSource, image_size, load_rgb, scaled_size
from .regions import load_mask
from .settings import as_list


@dataclass(frozen=True)
class Styles:
    """The style images and how they are used (the settings style_path, style_blend_weights, style_size,
    style_scale, style_masks and preserve_colors)."""

    sources: tuple[ImageSource, ...]
    blend: tuple[float, ...] | None = None  # each style's share; None: equal shares
    size: int | None = None  # every style image's long side, px
    scale: float | None = None  # or its long side as this fraction of the output's
    masks: tuple[ImageSource | None, ...] | None = None  # which part of each style image gives its style
    colors: str = "none"  # preserve_colors: "match" paints each style in the photo's colours

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> Styles:
        return cls(tuple(as_list(s["style_path"])), None if s["style_blend_weights"] is None else
                   tuple(s["style_blend_weights"]), s["style_size"], s["style_scale"],
                   None if not s["style_masks"] else tuple(s["style_masks"]), s["preserve_colors"])

    def long_side(self, dims: tuple[int, int]) -> int | None:
        """The style images' long side at output size dims (None: forced to the output's size, as the chapter)."""
        if self.size:
            return self.size
        return round(self.scale * max(dims)) if self.scale else None

    def sizes(self, dims: tuple[int, int]) -> list[tuple[int, int]]:
        """(w, h) of each style image at output size dims."""
        long_side = self.long_side(dims)
        return [(dims[1], dims[0]) if long_side is None else scaled_size(image_size(source), long_side)
                for source in self.sources]

    def mask_images(self, sizes: Sequence[tuple[int, int]]) -> list[np.ndarray | None]:
        """Each style image's mask at that image's size (w, h), or None where it has none."""
        sources = self.masks or (None,) * len(sizes)
        return [None if source is None else load_mask(source, size) for source, size in zip(sources, sizes,
                                                                                                strict=True)]

    def image(self, source: ImageSource, size: tuple[int, int], contentRGB: np.ndarray) -> np.ndarray:
        """One style image at size (w, h), in the colours the run paints with (contentRGB: the photo)."""
        rgb = load_rgb(source, size=size)
        return match_colors(rgb, contentRGB) if self.colors == "match" else rgb

    def images(self, dims: tuple[int, int], contentRGB: np.ndarray) -> tuple[list[np.ndarray],
                                                                              list[np.ndarray | None]]:
        """The style images of a picture of size dims (contentRGB: the photo there) and their masks."""
        sizes = self.sizes(dims)
        return ([self.image(source, size, contentRGB) for source, size in zip(self.sources, sizes, strict=True)],
                self.mask_images(sizes))
