"""The SETTINGS dictionary: its keys, their defaults, and one check of every value."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from .colors import PRESERVE_COLORS
from .errors import SettingsError

# The chapter's values; a caller may leave any key out.
DEFAULTS: dict[str, Any] = {
    # Images may also be NumPy RGB arrays or Pillow images (notebooks); style_path may be a list.
    "input_path": "inputs/tubingen.jpg",
    "style_path": "inputs/starry_night.jpg",
    "output_path": "output",
    # None: work at the content image's own size; N: shrink it so its long side is at most N px.
    "max_size": None,
    # The style image's own size (Gram matrices need no equal sizes); both None: the content's size.
    "style_size": None,
    "style_scale": None,
    # With several style images: how much each counts (normalised to sum to 1; None: equally).
    "style_blend_weights": None,
    "net": "VGG19",
    "pooling": "max",
    "content_layer": "block4_conv2",
    "style_layers": ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"],
    # Per-layer weights, normalised to sum to 1; None: the chapter's (equal).
    "content_layer_weights": None,
    "style_layer_weights": None,
    "content_weight": 1.0,
    "style_weight": 100.0,
    "tv_weight": 10.0,
    # "chapter": the chapter's formulas; "size_invariant": terms that keep their balance at every size.
    "loss_normalization": "chapter",
    "preserve_colors": "none",
    # The start image: "noise" (the chapter's), "content", "style", or an image path / array.
    "init": "noise",
    "optimizer": "lbfgs",
    "learning_rate": 10.0,
    "iterations": 50,
    # Coarse-to-fine, e.g. [0.25, 0.5, 1.0]: the iterations split over these fractions of the size.
    "scales": None,
    "save_every": 1,
    # None: a new noise image every run, as in the chapter; a number: the same one every time.
    "seed": None,
    # None: the NEURALSTYLE_WEIGHTS environment variable if set, else Keras's "imagenet" download.
    "weights": None,
    # False: refuse an output folder that holds images made with other settings.
    "overwrite": False,
    "quiet": False,
}

HELP: dict[str, str] = {
    "input_path": "content image; the output has its size",
    "style_path": "style image, or several to blend; resized to the content image's size unless "
    "style_size / style_scale is set",
    "output_path": "folder for iter_<i>.png, created when missing",
    "max_size": "shrink the content image so its long side is at most this many pixels "
    "(the output size; default: its own size)",
    "style_size": "long side of the style image(s) in pixels, instead of the content's size",
    "style_scale": "style image(s) at this multiple of the output's long side, instead of the content's size",
    "style_blend_weights": "one weight per style image, normalised to sum to 1 (default: equal)",
    "net": "feature network: VGG19 or VGG16",
    "pooling": "'max' (the network's own) or 'avg' (Gatys et al.; smoother results)",
    "content_layer": "network layer(s) whose activations the output must match",
    "style_layers": "layers whose Gram matrices the output must match",
    "content_layer_weights": "one weight per content layer, normalised to sum to 1 (default: equal)",
    "style_layer_weights": "one weight per style layer, normalised to sum to 1 (default: equal, the chapter's)",
    "content_weight": "weight of the content loss",
    "style_weight": "weight of the style loss (mean over style layers)",
    "tv_weight": "weight of the total-variation (smoothness) loss",
    "loss_normalization": "'chapter' (its formulas) or 'size_invariant' (content, style and TV "
    "measured so that the same weights keep the same balance at every size)",
    "preserve_colors": "'none', 'luminance' (the output takes the content's chroma) or 'match' "
    "(the style image is recoloured to the content's colour statistics first)",
    "init": "start image: 'noise' (the chapter's), 'content', 'style', or an image path",
    "optimizer": "'lbfgs' (the chapter's, scipy) or 'adam' (Keras Adam on the pixels)",
    "learning_rate": "Adam's step size, in pixel values (optimizer 'adam' only)",
    "iterations": "L-BFGS restarts (Adam: rounds of --max-evals steps); one image is written after each",
    "scales": "coarse to fine: fractions of the output size to run at in turn, ending with 1, e.g. "
    "0.25 0.5 1; the iterations are split evenly over them (default: full size only)",
    "save_every": "write iter_<i>.png only every Nth iteration (the last one always)",
    "seed": "random seed of the noise start image (default: a new one each run)",
    "weights": "'imagenet' or a path to a Keras .h5 no-top weights file "
    "(default: $NEURALSTYLE_WEIGHTS, else 'imagenet')",
    "overwrite": "replace the images of an earlier run with other settings in output_path",
    "quiet": "print nothing but errors (no progress bar, no [INFO] lines)",
}

WEIGHT_KEYS = ("content_weight", "style_weight", "tv_weight")
WEIGHTS_ENV = "NEURALSTYLE_WEIGHTS"


def label(key: str) -> str:
    """How messages name a setting: its SETTINGS key and the flag that sets it."""
    return f"setting '{key}' (--{key.replace('_', '-')})"


def _suggest(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{label(key)} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{label(key)} must be a finite number >= 0, got {value!r}")
    return float(value)


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


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(f"{label(key)} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _names(key: str, value: Any) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n for n in names):
        raise SettingsError(f"{label(key)} must be a layer name or a non-empty list of them, got {value!r}")
    return list(names)


def _blend(key: str, value: Any, count: int, of: str) -> list[float] | None:
    """None, or count weights >= 0 normalised to sum to 1."""
    if value is None:
        return None
    values = [value] if isinstance(value, (int, float)) else value
    if not isinstance(values, (list, tuple)) or len(values) != count:
        raise SettingsError(f"{label(key)} must be a list of {count} numbers, one per {of}, got {value!r}")
    numbers = [_number(key, v) for v in values]
    if sum(numbers) <= 0:
        raise SettingsError(f"{label(key)} must not be all zero, got {value!r}")
    return [v / sum(numbers) for v in numbers]


def _scales(value: Any, iterations: int) -> list[float] | None:
    """None (one scale), or rising fractions in (0, 1] that end with 1 and fit in the iterations."""
    if value is None:
        return None
    values = [value] if isinstance(value, (int, float)) else value
    if not isinstance(values, (list, tuple)) or not values:
        raise SettingsError(f"{label('scales')} must be a list of fractions ending with 1, got {value!r}")
    numbers = [_number("scales", v) for v in values]
    rising = all(a < b for a, b in zip(numbers, numbers[1:], strict=False))
    if not rising or numbers[0] <= 0 or numbers[-1] != 1:
        raise SettingsError(f"{label('scales')} must rise from above 0 to exactly 1 (e.g. 0.25 0.5 1), "
                            f"got {value!r}")
    if len(numbers) > iterations:
        raise SettingsError(f"{label('scales')} has {len(numbers)} scales but {label('iterations')} is "
                            f"{iterations}; each scale needs at least one iteration")
    return None if numbers == [1.0] else numbers


def as_list(value: Any) -> list[Any]:
    """A setting that takes one value or a list of them (content_layer, style_path), as a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


NETS = ("VGG19", "VGG16")
NORMALIZATIONS = ("chapter", "size_invariant")  # the modes losses.weighted_terms knows
POOLINGS = ("max", "avg")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("noise", "content", "style")  # or an image


def _net_name(net: Any) -> str:
    # The chapter passes the constructor itself (keras.applications.VGG19); flags pass its name.
    name = net if isinstance(net, str) else getattr(net, "__name__", "")
    for known in NETS:
        if name.upper() == known:
            return known
    raise SettingsError(f"{label('net')} must be one of {', '.join(NETS)} "
                        f"(the name or the keras.applications constructor), got {net!r}")


def positive_int(what: str, value: Any) -> int:
    """An integer >= 1, for counts such as iterations and maxEvals; `what` names it in errors."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{what} must be a whole number >= 1, got {value!r}")
    return value


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults filled in and every value checked; raises SettingsError naming the key."""
    if not isinstance(settings, Mapping):
        raise SettingsError(f"settings must be a dict, got {type(settings).__name__}")
    unknown = [k for k in settings if k not in DEFAULTS]
    if unknown:
        key = str(unknown[0])
        raise SettingsError(f"unknown setting '{key}'{_suggest(key, list(DEFAULTS))}; "
                            f"known settings: {', '.join(DEFAULTS)}")
    s = {**DEFAULTS, **settings}
    s["input_path"] = _image("input_path", s["input_path"])
    s["output_path"] = _path("output_path", s["output_path"])
    styles = [_image("style_path", v) for v in as_list(s["style_path"])]
    if not styles:
        raise SettingsError(f"{label('style_path')} must name at least one style image")
    s["style_path"] = styles[0] if len(styles) == 1 else styles
    s["style_blend_weights"] = _blend("style_blend_weights", s["style_blend_weights"], len(styles), "style image")
    for key in WEIGHT_KEYS:
        s[key] = _number(key, s[key])
    s["iterations"] = positive_int(label("iterations"), s["iterations"])
    s["save_every"] = positive_int(label("save_every"), s["save_every"])
    s["net"] = _net_name(s["net"])
    s["loss_normalization"] = _choice("loss_normalization", s["loss_normalization"], NORMALIZATIONS)
    s["pooling"] = _choice("pooling", s["pooling"], POOLINGS)
    s["optimizer"] = _choice("optimizer", s["optimizer"], OPTIMIZERS)
    colors = s["preserve_colors"]
    if isinstance(colors, bool) or colors is None:  # True reads as jcjohnson's -original_colors 1
        colors = "luminance" if colors else "none"
    s["preserve_colors"] = _choice("preserve_colors", colors, PRESERVE_COLORS)
    s["learning_rate"] = _number("learning_rate", s["learning_rate"])
    if s["learning_rate"] == 0:
        raise SettingsError(f"{label('learning_rate')} must be > 0")
    for key in ("max_size", "style_size"):
        if s[key] is not None:
            s[key] = positive_int(label(key), s[key])
    if s["style_scale"] is not None:
        s["style_scale"] = _number("style_scale", s["style_scale"])
        if s["style_scale"] == 0:
            raise SettingsError(f"{label('style_scale')} must be > 0")
    if s["style_size"] is not None and s["style_scale"] is not None:
        raise SettingsError(f"set either {label('style_size')} or {label('style_scale')}, not both")
    if not (isinstance(s["init"], str) and s["init"] in INITS):
        s["init"] = _image("init", s["init"])
    content = _names("content_layer", s["content_layer"])
    s["content_layer"] = content[0] if len(content) == 1 else content
    s["style_layers"] = _names("style_layers", s["style_layers"])
    s["content_layer_weights"] = _blend("content_layer_weights", s["content_layer_weights"], len(content),
                                        "content layer")
    s["style_layer_weights"] = _blend("style_layer_weights", s["style_layer_weights"], len(s["style_layers"]),
                                      "style layer")
    s["scales"] = _scales(s["scales"], s["iterations"])
    if s["seed"] is not None and (isinstance(s["seed"], bool) or not isinstance(s["seed"], int) or s["seed"] < 0):
        raise SettingsError(f"{label('seed')} must be a whole number >= 0 or None, got {s['seed']!r}")
    for key in ("overwrite", "quiet"):
        if not isinstance(s[key], bool):
            raise SettingsError(f"{label(key)} must be True or False, got {s[key]!r}")
    if s["weights"] is not None:
        s["weights"] = _path("weights", s["weights"])
    return s


def weights_source(setting: str | None) -> str:
    """Where the VGG weights come from: the setting, else the environment, else Keras's download."""
    return setting or os.environ.get(WEIGHTS_ENV) or "imagenet"
