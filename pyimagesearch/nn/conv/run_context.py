"""One run, built once: everything the picture, tile and video loops share, made from the run's plan.

The plan (run_plan.py) has checked the settings and worked out the sizes without the network. The
run context takes it from there, once: it loads the network, fixes the objective and the
optimiser, and turns every other setting a loop needs into a typed field (the style images, the
regions, the start image, the colours, the tiling, the run folder's). It is the one factory of
stages (`stage(dims, content, temporal)`), so a whole picture, a tile and a video frame are built
the same way. Nothing past this point reads the settings dict again; only the run's record
(settings.json) is made from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from . import losses
from .device import describe_backend
from .features import Network, preprocess_rgb
from .images import ImageSource, load_rgb
from .optimizers import OptimizerChoice
from .progress import say
from .regions import ContentMasks, Region, style_statistics
from .run_folder import run_record
from .run_plan import RunPlan
from .settings import weights_source
from .stage import Objective, Stage, build_stage, rgb_picture
from .styles import Styles

# Per style image, per style layer: (what the style loss measures, as NumPy, the pixel mass it was taken over).
StyleStats = tuple[dict[str, tuple[tuple[np.ndarray, ...], float]], ...]


@dataclass(frozen=True)
class Tiling:
    """How scales larger than a tile are refined: tiles of `size` px a side sharing `overlap` px, `passes`
    passes with the grid shifted between them (tiles.py)."""

    size: int
    overlap: int
    passes: int


@dataclass(frozen=True)
class RunContext:
    """A run's network, objective and derived settings; see the module docstring. Build it with build()."""

    plan: RunPlan
    network: Network
    model: keras.Model
    objective: Objective
    optimizer: OptimizerChoice
    styles: Styles
    masks: ContentMasks
    photo: ImageSource  # the content image (a clip's frames come to stage() as content instead)
    init: Any  # "noise", "content", "style" or an image
    seed: int | None  # of the noise start
    colors: str  # preserve_colors
    tiling: Tiling | None  # None: every scale is optimised whole
    iterations: int
    save_every: int
    output_path: str
    overwrite: bool
    quiet: bool
    _stages: dict[tuple[int, int], Stage] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, plan: RunPlan, report: Callable[[str], None] | None = None) -> RunContext:
        """The context of a planned run: says where it runs and loads the network (the slow part)."""
        s = plan.settings
        tell = report or (lambda line: say(line, s["quiet"]))
        network = Network(s["net"], weights_source(s["weights"]), plan.layers, s["pooling"], s["precision"])
        tell(f"[INFO] running on {describe_backend()}")
        tell(f"[INFO] loading network {network.net} (weights: {network.weights})...")
        tiling = None if s["tile_size"] is None else Tiling(s["tile_size"], plan.overlap, s["tile_passes"])
        return cls(plan, network, network.build(), Objective.from_settings(s), OptimizerChoice.from_settings(s),
                   Styles.from_settings(s), ContentMasks.from_settings(s), s["input_path"], s["init"], s["seed"],
                   s["preserve_colors"], tiling, s["iterations"], s["save_every"], s["output_path"], s["overwrite"],
                   s["quiet"])

    @property
    def final_dims(self) -> tuple[int, int]:
        return self.plan.final_dims

    def record(self, max_evals: int) -> dict[str, Any]:
        """What settings.json says of this run."""
        return run_record(self.plan.settings, max_evals, self.network.weights, self.plan.seed_drawn)

    # -- stages -----------------------------------------------------------------------------------

    def photo_at(self, dims: tuple[int, int]) -> np.ndarray:
        """The content photo at size dims (h, w), float32 RGB."""
        return load_rgb(self.photo, size=(dims[1], dims[0]))

    def regions(self, dims: tuple[int, int]) -> list[Region] | None:
        """Which styles go where at size dims; None: every style everywhere."""
        return self.masks.regions(dims) if self.masks.sources else None

    def stage(self, dims: tuple[int, int], content: np.ndarray | None = None,
              temporal: losses.TemporalTarget | None = None) -> Stage:
        """The stage that paints the picture at size dims: content (the photo there, unless given: a video
        frame) in the run's styles and regions; temporal: a video frame's hold on the frame before.
        Whole pictures' stages are built once per size and kept."""
        if content is None and temporal is None and dims in self._stages:
            return self._stages[dims]
        contentRGB = self.photo_at(dims) if content is None else content
        styles, style_masks = self.styles.images(dims, contentRGB)
        stage = build_stage(self.model, self.objective, contentRGB, styles, self.styles.blend,
                            self.plan.loss_pixels(), self.regions(dims), style_masks, temporal)
        if content is None and temporal is None:
            self._stages[dims] = stage
        return stage

    def style_stats(self, dims: tuple[int, int], contentRGB: np.ndarray) -> StyleStats:
        """Per style image: its style statistics (style_loss's; the chapter's: Gram matrices) at the size that
        matches a whole picture of dims, taken in windows of about a tile (so a print-size painting fits in
        memory), as NumPy (they travel to workers)."""
        window = self.tiling.size if self.tiling else None
        styles, style_masks = self.styles.images(dims, contentRGB)
        stats = []
        for rgb, mask in zip(styles, style_masks, strict=True):
            taken = style_statistics(self.model, rgb, self.objective.style_layers, mask, window=window,
                                     kind=self.objective.style_loss)
            stats.append({layer: (tuple(np.asarray(p) for p in parts), mass) for layer, (parts, mass) in
                          taken.items()})
        return tuple(stats)

    # -- the images at either end ------------------------------------------------------------------

    def start_picture(self, dims: tuple[int, int], contentRGB: np.ndarray) -> np.ndarray:
        """The `init` setting's image at size dims (contentRGB: the photo there), a (1, h, w, 3) VGG batch."""
        (h, w) = dims
        if isinstance(self.init, str) and self.init == "noise":
            rng = np.random.default_rng(self.seed)  # None (a caller's own settings): fresh entropy
            return rng.uniform(0, 255, (1, h, w, 3)) - 128  # the chapter's start
        if isinstance(self.init, str) and self.init == "content":
            return preprocess_rgb(contentRGB)
        if isinstance(self.init, str) and self.init == "style":
            return preprocess_rgb(self.styles.image(self.styles.sources[0], (w, h), contentRGB))
        return preprocess_rgb(load_rgb(self.init, size=(w, h)))

    def start_image(self, stage: Stage) -> np.ndarray:
        """The first image at a stage's size, as a (1, h, w, 3) float64 VGG batch (what L-BFGS starts from)."""
        return self.start_picture(stage.dims, stage.contentRGB).astype(np.float64)

    def picture(self, X: np.ndarray, dims: tuple[int, int], contentRGB: np.ndarray | None,
                exact: bool = False) -> np.ndarray:
        """A VGG-space image of size dims as the picture the user gets, in the run's colours (stage.rgb_picture)."""
        return rgb_picture(X, dims, contentRGB, self.colors, exact)
