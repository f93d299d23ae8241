"""The SETTINGS dictionary, described once: one row per key.

Each row gives a key's default, its help text, the check that normalises a value (raising
SettingsError that names the key), how a flag reads it, and whether it shapes the picture.
DEFAULTS, HELP, both scripts' flags (pyimagesearch/cli.py) and the settings.json comparison
(run_folder.py) are derived from the rows; adding a setting is one row plus the code using it.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageColor

from .colors import PRESERVE_COLORS
from .errors import SettingsError
from .optimizers import OPTIMIZERS

WEIGHTS_ENV = "NEURALSTYLE_WEIGHTS"
NETS = ("VGG19", "VGG16")
NORMALIZATIONS = ("chapter", "size_invariant")  # the modes objective.py's terms know
STYLE_LOSSES = ("gram", "w2", "sliced")  # style_losses.STYLE_LOSSES, named here without loading TensorFlow
POOLINGS = ("max", "avg")
PRECISIONS = ("float32", "bfloat16")
BACKENDS = ("tensorflow", "torch", "jax")  # Keras 3's; backends/ has an entry for each
INITS = ("noise", "content", "style")  # or an image
FLOWS = ("dis", "farneback")  # OpenCV's optical flows (video.py)


def label(key: str) -> str:
    """How messages name a setting: its SETTINGS key and the flag that sets it."""
    return f"setting '{key}' (--{key.replace('_', '-')})"


# -- checks of one value: (key, value) -> the normalised value ------------------------------------

def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{label(key)} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{label(key)} must be a finite number >= 0, got {value!r}")
    return float(value)


def _positive_number(key: str, value: Any) -> float:
    number = _number(key, value)
    if number == 0:
        raise SettingsError(f"{label(key)} must be > 0")
    return number


def positive_int(what: str, value: Any) -> int:
    """An integer >= 1, for counts such as iterations and maxEvals; `what` names it in errors."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{what} must be a whole number >= 1, got {value!r}")
    return value


def _count(key: str, value: Any) -> int:
    return positive_int(label(key), value)


def _seed(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"{label(key)} must be a whole number >= 0 or None, got {value!r}")
    return value


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{label(key)} must be True or False, got {value!r}")
    return value


def _path(key: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise SettingsError(f"{label(key)} must be a file path, got {value!r}")
    return os.fspath(value)


def _image(key: str, value: Any) -> Any:
    # Notebooks may hand over the pixels themselves; images.open_rgb checks their shape.
    if isinstance(value, (np.ndarray, Image.Image)):
        return value
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise SettingsError(f"{label(key)} must be an image path, an RGB array or a Pillow image, got {value!r}")
    return os.fspath(value)


def _images(key: str, value: Any) -> Any:
    images = [_image(key, v) for v in as_list(value)]
    if not images:
        raise SettingsError(f"{label(key)} must name at least one style image")
    return images[0] if len(images) == 1 else images


def _image_list(key: str, value: Any) -> list[Any]:
    images = [_image(key, v) for v in as_list(value)]
    if not images:
        raise SettingsError(f"{label(key)} must name at least one image, or be None")
    return images


def _optional_images(key: str, value: Any) -> list[Any]:
    # 'none' (or None) stands for "no mask: this style image whole".
    entries = as_list(value)
    if not entries:
        raise SettingsError(f"{label(key)} must name one image (or 'none') per style image, or be None")
    return [None if v is None or (isinstance(v, str) and v.lower() == "none") else _image(key, v) for v in entries]


def _color_list(key: str, value: Any) -> list[str]:
    colors = []
    for v in as_list(value):
        try:
            r, g, b = ImageColor.getrgb(str(v))[:3]
        except ValueError:
            raise SettingsError(f"{label(key)}: {v!r} is not a colour (a name such as red, or #ff0000)") from None
        colors.append(f"#{r:02x}{g:02x}{b:02x}")
    if not colors:
        raise SettingsError(f"{label(key)} must name one colour per style image, or be None")
    return colors


def _init(key: str, value: Any) -> Any:
    return value if isinstance(value, str) and value in INITS else _image(key, value)


def _names(key: str, value: Any) -> Any:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n for n in names):
        raise SettingsError(f"{label(key)} must be a layer name or a non-empty list of them, got {value!r}")
    return list(names)


def _one_or_more_names(key: str, value: Any) -> Any:
    # One content layer reads as the chapter writes it: a plain string.
    names = _names(key, value)
    return names[0] if len(names) == 1 else names


def _weight_list(key: str, value: Any) -> list[float]:
    """Weights >= 0, normalised to sum to 1 (their count is checked against what they weigh later)."""
    values = [value] if isinstance(value, (int, float)) else value
    if not isinstance(values, (list, tuple)):
        raise SettingsError(f"{label(key)} must be a list of numbers, got {value!r}")
    numbers = [_number(key, v) for v in values]
    if sum(numbers) <= 0:
        raise SettingsError(f"{label(key)} must not be all zero, got {value!r}")
    return [v / sum(numbers) for v in numbers]


def _scales(key: str, value: Any) -> list[float] | None:
    """Rising fractions in (0, 1] that end with 1; [1] alone is one scale (None)."""
    values = [value] if isinstance(value, (int, float)) else value
    if not isinstance(values, (list, tuple)) or not values:
        raise SettingsError(f"{label(key)} must be a list of fractions ending with 1, got {value!r}")
    numbers = [_number(key, v) for v in values]
    rising = all(a < b for a, b in zip(numbers, numbers[1:], strict=False))
    if not rising or numbers[0] <= 0 or numbers[-1] != 1:
        raise SettingsError(f"{label(key)} must rise from above 0 to exactly 1 (e.g. 0.25 0.5 1), got {value!r}")
    return None if numbers == [1.0] else numbers


def _net_name(key: str, net: Any) -> str:
    # The chapter passes the constructor itself (keras.applications.VGG19); flags pass its name.
    name = net if isinstance(net, str) else getattr(net, "__name__", "")
    for known in NETS:
        if name.upper() == known:
            return known
    raise SettingsError(f"{label(key)} must be one of {', '.join(NETS)} "
                        f"(the name or the keras.applications constructor), got {net!r}")


def _colors(key: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:  # True reads as jcjohnson's -original_colors 1
        value = "luminance" if value else "none"
    return value


# -- the rows -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One SETTINGS key: what it defaults to, what it means, and how a value is checked and read."""

    key: str
    default: Any
    help: str
    check: Callable[[str, Any], Any]  # (key, value) -> normalised value; SettingsError naming the key
    type: Callable[[str], Any] = str  # how a flag's text becomes a value
    choices: tuple[str, ...] = ()  # the values allowed (also the flag's choices)
    many: str | None = None  # a metavar when the key takes a list (its flag takes several values)
    optional: bool = False  # None is allowed (and means "not set")
    shapes_picture: bool = True  # False: runs differing only here may share an output folder
    image: bool = False  # the value names image files (settings.json records their SHA-1)

    def resolve(self, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if self.choices:
            value = self.check(self.key, value)
            if value not in self.choices:
                raise SettingsError(f"{label(self.key)} must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        return self.check(self.key, value)


def _choice(key: str, value: Any) -> Any:
    return value


SCHEMA: tuple[Setting, ...] = (
    # Images may also be NumPy RGB arrays or Pillow images (notebooks); style_path may be a list.
    Setting("input_path", "inputs/tubingen.jpg", "content image; the output has its size", _image, image=True),
    Setting("style_path", "inputs/starry_night.jpg", "style image, or several to blend; resized to the content "
            "image's size unless style_size / style_scale is set", _images, many="PATH", image=True),
    Setting("output_path", "output", "folder for iter_<i>.png, created when missing", _path, shapes_picture=False),
    Setting("max_size", None, "shrink the content image so its long side is at most this many pixels "
            "(the output size; default: its own size)", _count, type=int, optional=True),
    Setting("style_size", None, "long side of the style image(s) in pixels, instead of the content's size",
            _count, type=int, optional=True),
    Setting("style_scale", None, "style image(s) at this multiple of the output's long side, instead of the "
            "content's size", _positive_number, type=float, optional=True),
    Setting("style_blend_weights", None, "one weight per style image, normalised to sum to 1 (default: equal)",
            _weight_list, type=float, many="W", optional=True),
    # Regions (regions.py): which part of the picture takes which style; None: every style everywhere.
    Setting("content_masks", None, "one mask per style image, white where that style goes (grey: a soft weight; "
            "where no mask is white, no style), or one colour-label image with mask_colors", _image_list,
            many="PATH", optional=True, image=True),
    Setting("mask_colors", None, "with one colour-label image in content_masks: the colour of each style image's "
            "region (names or #rrggbb)", _color_list, many="COLOUR", optional=True),
    Setting("style_masks", None, "one mask per style image, white on the part that gives its style ('none': the "
            "whole image)", _optional_images, many="PATH", optional=True, image=True),
    Setting("net", "VGG19", "feature network: VGG19 or VGG16", _net_name, type=str.upper, choices=NETS),
    Setting("pooling", "max", "'max' (the network's own) or 'avg' (Gatys et al.; smoother results)", _choice,
            choices=POOLINGS),
    Setting("precision", "float32", "the network's arithmetic: 'float32', or 'bfloat16' (16-bit network, "
            "Gram matrices and losses still float32; faster where the CPU or GPU has bfloat16 units)", _choice,
            choices=PRECISIONS),
    Setting("backend", None, "the Keras backend that runs the network: 'tensorflow' (the default), 'torch' (NVIDIA, "
            "AMD and Apple GPUs, Windows) or 'jax'; None: KERAS_BACKEND's, else tensorflow. Keras picks it once, "
            "when first imported: the scripts read --backend before it loads", _choice, choices=BACKENDS,
            optional=True, shapes_picture=False),
    Setting("content_layer", "block4_conv2", "network layer(s) whose activations the output must match",
            _one_or_more_names, many="LAYER"),
    Setting("style_layers", ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"],
            "layers whose Gram matrices the output must match", _names, many="LAYER"),
    Setting("content_layer_weights", None, "one weight per content layer, normalised to sum to 1 (default: equal)",
            _weight_list, type=float, many="W", optional=True),
    Setting("style_layer_weights", None, "one weight per style layer, normalised to sum to 1 (default: equal, "
            "the chapter's)", _weight_list, type=float, many="W", optional=True),
    Setting("content_weight", 1.0, "weight of the content loss", _number, type=float),
    Setting("style_weight", 100.0, "weight of the style loss (mean over style layers)", _number, type=float),
    Setting("tv_weight", 10.0, "weight of the total-variation (smoothness) loss", _number, type=float),
    Setting("style_loss", "gram", "how the picture's features are compared with the painting's: 'gram' (the "
            "chapter's Gram matrices), 'w2' (their mean and covariance, Wasserstein-2 between Gaussians) or "
            "'sliced' (their whole distribution along random directions, sliced Wasserstein)", _choice,
            choices=STYLE_LOSSES),
    Setting("loss_normalization", "chapter", "'chapter' (its formulas) or 'size_invariant' (content, style and TV "
            "measured so that the same weights keep the same balance at every size)", _choice,
            choices=NORMALIZATIONS),
    Setting("preserve_colors", "none", "'none', 'luminance' (the output takes the content's chroma) or 'match' "
            "(the style image is recoloured to the content's colour statistics first)", _colors,
            choices=PRESERVE_COLORS),
    Setting("init", "noise", "start image: 'noise' (the chapter's), 'content', 'style', or an image path", _init,
            image=True),
    Setting("optimizer", "lbfgs", "; ".join(f"'{name}': {entry.help}" for name, entry in OPTIMIZERS.items()),
            _choice, choices=tuple(OPTIMIZERS)),
    Setting("learning_rate", 10.0, "Adam's step size, in pixel values (optimizer 'adam' only)", _positive_number,
            type=float),
    Setting("iterations", 50, "L-BFGS restarts (Adam: rounds of --max-evals steps); one image is written after "
            "each", _count, type=int),
    Setting("scales", None, "coarse to fine: fractions of the output size to run at in turn, ending with 1, e.g. "
            "0.25 0.5 1; the iterations are split evenly over them (default: full size only)", _scales,
            type=float, many="S", optional=True),
    # Tiles (tiles.py): print-size pictures in the memory of one tile.
    Setting("tile_size", None, "render scales larger than this many px a side in overlapping tiles of this size, so "
            "memory depends on the tile, not the picture (default: whole; tiles are chosen automatically when the "
            "picture would not fit in memory)", _count, type=int, optional=True),
    Setting("tile_overlap", None, "px that neighbouring tiles share, blended with a feathered edge (default: an "
            "eighth of tile_size)", _count, type=int, optional=True),
    Setting("tile_passes", 2, "passes over the tiles of each tiled scale, the tile grid shifted between passes so no "
            "seam stays in one place; the scale's iterations are split over them", _count, type=int),
    # Video (video.py): a clip in input_path, or a folder of numbered frames with frames=True.
    Setting("frames", False, "input_path is a folder of numbered video frames (frame_0001.png, ...): paint them as "
            "one video instead of as separate photos", _boolean),
    Setting("temporal_weight", 500.0, "video: weight of the temporal loss that keeps each frame like the previous "
            "one warped along the optical flow, where the flow is trusted (0: only start from it)", _number,
            type=float),
    Setting("frame_iterations", None, "video: iterations of every frame after the first, which starts from the "
            "previous one (default: half of iterations, at least 1)", _count, type=int, optional=True),
    Setting("flow", "dis", "video: OpenCV's optical flow between content frames, 'dis' or 'farneback'", _choice,
            choices=FLOWS),
    Setting("save_every", 1, "write iter_<i>.png only every Nth iteration (the last one always)", _count, type=int,
            shapes_picture=False),
    # None: a new noise image every run, as in the chapter; a number: the same one every time.
    Setting("seed", None, "random seed of the noise start image (default: a new one each run, drawn and "
            "recorded in settings.json)", _seed, type=int, optional=True),
    Setting("weights", None, "'imagenet' or a path to a Keras .h5 no-top weights file "
            f"(default: ${WEIGHTS_ENV}, else 'imagenet')", _path, optional=True),
    Setting("overwrite", False, "replace the images of an earlier run with other settings in output_path",
            _boolean, shapes_picture=False),
    Setting("quiet", False, "print nothing but errors (no progress bar, no [INFO] lines)", _boolean,
            shapes_picture=False),
)

ROWS: dict[str, Setting] = {row.key: row for row in SCHEMA}
DEFAULTS: dict[str, Any] = {row.key: row.default for row in SCHEMA}
HELP: dict[str, str] = {row.key: row.help for row in SCHEMA}
# Keys that do not change the pictures, so they may differ between runs into one folder.
NEUTRAL_KEYS: tuple[str, ...] = tuple(row.key for row in SCHEMA if not row.shapes_picture)


def as_list(value: Any) -> list[Any]:
    """A setting that takes one value or a list of them (content_layer, style_path), as a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _suggest(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_counts(s: dict[str, Any]) -> None:
    """What one row cannot see alone: lists that must match other lists, exclusive keys."""
    for key, weighs, of in (("style_blend_weights", as_list(s["style_path"]), "style image"),
                            ("content_layer_weights", as_list(s["content_layer"]), "content layer"),
                            ("style_layer_weights", s["style_layers"], "style layer")):
        if s[key] is not None and len(s[key]) != len(weighs):
            raise SettingsError(f"{label(key)} must be a list of {len(weighs)} numbers, one per {of}, "
                                f"got {s[key]!r}")
    masks, colors, style_masks, count = s["content_masks"], s["mask_colors"], s["style_masks"], len(as_list(
        s["style_path"]))
    if colors and (not masks or len(masks) != 1):
        raise SettingsError(f"{label('mask_colors')} goes with one colour-label image in {label('content_masks')}, "
                            f"got {len(masks or [])} images")
    if colors and len(colors) != count:
        raise SettingsError(f"{label('mask_colors')} must name {count} colours, one per style image, got {colors!r}")
    if masks and not colors and len(masks) != count:
        hint = "; to label regions by colour in one image, add mask_colors (--mask-colors)" if len(masks) == 1 else ""
        raise SettingsError(f"{label('content_masks')} has {len(masks)} images but {label('style_path')} has "
                            f"{count}: give one mask per style image{hint}")
    if style_masks and len(style_masks) != count:
        raise SettingsError(f"{label('style_masks')} has {len(style_masks)} entries but {label('style_path')} has "
                            f"{count}: one per style image ('none' for a style used whole)")
    if s["style_size"] is not None and s["style_scale"] is not None:
        raise SettingsError(f"set either {label('style_size')} or {label('style_scale')}, not both")
    if s["tile_size"] is not None and s["tile_overlap"] is not None and 2 * s["tile_overlap"] >= s["tile_size"]:
        raise SettingsError(f"{label('tile_overlap')} must be less than half of {label('tile_size')} "
                            f"({s['tile_size']} px), got {s['tile_overlap']}")
    if s["scales"] is not None and len(s["scales"]) > s["iterations"]:
        raise SettingsError(f"{label('scales')} has {len(s['scales'])} scales but {label('iterations')} is "
                            f"{s['iterations']}; each scale needs at least one iteration")


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults filled in and every value checked; raises SettingsError naming the key."""
    if not isinstance(settings, Mapping):
        raise SettingsError(f"settings must be a dict, got {type(settings).__name__}")
    unknown = [k for k in settings if k not in ROWS]
    if unknown:
        key = str(unknown[0])
        raise SettingsError(f"unknown setting '{key}'{_suggest(key, list(ROWS))}; "
                            f"known settings: {', '.join(ROWS)}")
    s = {row.key: row.resolve(settings.get(row.key, row.default)) for row in SCHEMA}
    _check_counts(s)
    return s


def weights_source(setting: str | None) -> str:
    """Where the VGG weights come from: the setting, else the environment, else Keras's download."""
    return setting or os.environ.get(WEIGHTS_ENV) or "imagenet"
