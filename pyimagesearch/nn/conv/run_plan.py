"""A run's plan: its settings checked and its sizes worked out, before any network is loaded.

plan_run() does every check that can fail on a user's input (settings, layer names, images and
their sizes at every scale, the weights file, the output folder), reading files but never the
network, so a sweep can check all its experiments in a moment and NeuralStyle fails before
loading VGG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from .device import bfloat16_problem
from .errors import SettingsError
from .features import check_layers, check_size, check_weights
from .images import describe, image_size, is_deep, scaled_size
from .regions import check_regions
from .run_folder import prepare_folder
from .settings import INITS, as_list, label, resolve_settings, weights_source
from .styles import Styles


@dataclass(frozen=True)
class Block:
    """The iterations a run spends at one size: first, first + 1, ..., first + count - 1."""

    dims: tuple[int, int]
    first: int
    count: int
    tiled: bool  # larger than tile_size: refined tile by tile (tiles.py)

    @property
    def iterations(self) -> range:
        return range(self.first, self.first + self.count)


@dataclass(frozen=True)
class RunPlan:
    settings: Mapping[str, Any]  # resolved: defaults filled in, every value checked
    layers: tuple[str, ...]  # content layer(s), then style layers
    final_dims: tuple[int, int]  # (h, w) of the picture
    scale_dims: tuple[tuple[int, int], ...]  # (h, w) of each scale, coarse to fine, ending with final_dims
    seed_drawn: bool = False  # the seed setting was None: settings["seed"] was drawn for this run
    deep: bool = False  # the photo has 16 bits per channel: so has the finished picture
    iterations: int = 1
    tile_size: int | None = None  # px a side of a tile; None: nothing is tiled
    overlap: int = 0  # px that neighbouring tiles share: tile_overlap, or an eighth of the tile

    def schedule(self) -> list[tuple[int, int]]:
        """The size each iteration runs at: the iterations split evenly over the scales, the rest to the finest."""
        share, extra = divmod(self.iterations, len(self.scale_dims))
        return [dims for dims in self.scale_dims for _ in range(share)] + [self.final_dims] * extra

    def tiled(self, dims: tuple[int, int]) -> bool:
        return self.tile_size is not None and max(dims) > self.tile_size

    def blocks(self) -> list[Block]:
        """The schedule as runs of iterations at one size, coarse to fine."""
        blocks: list[Block] = []
        for i, dims in enumerate(self.schedule()):
            if blocks and blocks[-1].dims == dims:
                blocks[-1] = Block(dims, blocks[-1].first, blocks[-1].count + 1, blocks[-1].tiled)
            else:
                blocks.append(Block(dims, i, 1, self.tiled(dims)))
        return blocks

    def loss_pixels(self) -> int:
        """The picture size the loss is taken at: the final one, or, when tiled, a tile's (every stage of
        a tiled run, whole or tile, then weighs content, style and TV as one tile does)."""
        if self.tiled(self.final_dims):
            return min(self.final_dims[0], self.tile_size) * min(self.final_dims[1], self.tile_size)
        return self.final_dims[0] * self.final_dims[1]

    def first_stage_dims(self) -> tuple[int, int]:
        """The size whose stage NeuralStyle builds first: the final one, or when that is tiled the largest
        whole scale, else the picture shrunk to a tile (for the chapter's helpers before transfer())."""
        if not self.tiled(self.final_dims):
            return self.final_dims
        whole = [dims for dims in self.scale_dims if not self.tiled(dims)]
        if whole:
            return whole[-1]
        (w, h) = scaled_size(self.final_dims[::-1], self.tile_size)
        return (h, w)


def plan_run(settings: Mapping[str, Any]) -> RunPlan:
    """Check everything about a run that can be checked without the network; see the module docstring."""
    s = resolve_settings(settings)
    # None means a new noise image each run, as in the chapter; drawing its seed here lets the run
    # record it, so any picture can be made again (--config) or rendered bigger.
    seed_drawn = s["seed"] is None
    if seed_drawn:
        s["seed"] = int(np.random.default_rng().integers(2**31))
    layers = [*as_list(s["content_layer"]), *s["style_layers"]]
    check_layers(s["net"], layers)

    content = describe(s["input_path"])
    (w, h) = image_size(s["input_path"])
    if s["max_size"] is not None and max(w, h) > s["max_size"]:
        (w, h) = scaled_size((w, h), s["max_size"])
    tile = s["tile_size"]
    check_size(f"content image '{content}'", (w, h), layers, "max_size", tile)
    if tile is not None:
        check_size(f"a tile of {label('tile_size')}", (min(w, tile), min(h, tile)), layers, "tile_size")
    scales = []
    for fraction in s["scales"] or [1.0]:
        dims = (max(1, round(h * fraction)), max(1, round(w * fraction)))
        if fraction != 1.0:
            check_size(f"the image at scale {fraction:g} of {label('scales')}", dims[::-1], layers, "max_size", tile)
        scales.append(dims)
    # A style image takes the (checked) output size, unless style_size / style_scale give it its own.
    key = "style_size" if s["style_size"] else "style_scale"
    styles = Styles.from_settings(s)
    long_sides = sorted({styles.long_side(dims) for dims in scales} - {None})
    for source in styles.sources:
        size = image_size(source)  # also: it is readable
        for long_side in long_sides:
            check_size(f"style image '{describe(source)}' at {label(key)}", scaled_size(size, long_side), layers,
                       key, tile)
    if s["content_masks"] or s["style_masks"]:  # readable, and no region empty at the final size
        check_regions(s, scales[-1], styles.mask_images(styles.sizes(scales[-1])))
    if not (isinstance(s["init"], str) and s["init"] in INITS):
        image_size(s["init"])  # a start image given as a file or array
    if s["precision"] == "bfloat16" and (problem := bfloat16_problem()):
        raise SettingsError(f"{label('precision')} 'bfloat16' would not be faster here: {problem}; use float32")
    check_weights(s["net"], weights_source(s["weights"]))
    prepare_folder(s["output_path"])
    overlap = 0 if tile is None else s["tile_overlap"] or max(1, tile // 8)
    return RunPlan(MappingProxyType(s), tuple(layers), scales[-1], tuple(scales), seed_drawn, is_deep(s["input_path"]),
                   s["iterations"], tile, overlap)
