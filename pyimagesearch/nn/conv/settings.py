"""The SETTINGS dictionary: its keys, their defaults, and one check of every value."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from typing import Any

from .errors import SettingsError

# The chapter's values; a caller may leave any key out.
DEFAULTS: dict[str, Any] = {
    "input_path": "inputs/tubingen.jpg",
    "style_path": "inputs/starry_night.jpg",
    "output_path": "output",
    # None: work at the content image's own size; N: shrink it so its long side is at most N px.
    "max_size": None,
    "net": "VGG19",
    "content_layer": "block4_conv2",
    "style_layers": ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"],
    "content_weight": 1.0,
    "style_weight": 100.0,
    "tv_weight": 10.0,
    # "chapter": the chapter's formulas; "size_invariant": its loss as at 512x384 px at every size.
    "loss_normalization": "chapter",
    "iterations": 50,
    # None: a new noise image every run, as in the chapter; a number: the same one every time.
    "seed": None,
    # None: the NEURALSTYLE_WEIGHTS environment variable if set, else Keras's "imagenet" download.
    "weights": None,
    # False: refuse an output folder that holds images made with other settings.
    "overwrite": False,
}

HELP: dict[str, str] = {
    "input_path": "content image; the output has its size",
    "style_path": "style image; resized to the content image's size",
    "output_path": "folder for iter_<i>.png, created when missing",
    "max_size": "shrink the content image so its long side is at most this many pixels "
    "(the output size; default: its own size)",
    "net": "feature network: VGG19 or VGG16",
    "content_layer": "network layer whose activations the output must match",
    "style_layers": "layers whose Gram matrices the output must match",
    "content_weight": "weight of the content loss",
    "style_weight": "weight of the style loss (mean over style layers)",
    "tv_weight": "weight of the total-variation (smoothness) loss",
    "loss_normalization": "'chapter' (its formulas) or 'size_invariant' (its loss as at 512x384 px, "
    "so the same weights keep the same balance at other sizes)",
    "iterations": "L-BFGS restarts; one image is written after each",
    "seed": "random seed of the noise start image (default: a new one each run)",
    "weights": "'imagenet' or a path to a Keras .h5 no-top weights file "
    "(default: $NEURALSTYLE_WEIGHTS, else 'imagenet')",
    "overwrite": "replace the images of an earlier run with other settings in output_path",
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


NETS = ("VGG19", "VGG16")
NORMALIZATIONS = ("chapter", "size_invariant")  # the modes losses.weighted_terms knows


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
    for key in ("input_path", "style_path", "output_path"):
        s[key] = _path(key, s[key])
    for key in WEIGHT_KEYS:
        s[key] = _number(key, s[key])
    s["iterations"] = positive_int(label("iterations"), s["iterations"])
    s["net"] = _net_name(s["net"])
    if s["loss_normalization"] not in NORMALIZATIONS:
        raise SettingsError(f"{label('loss_normalization')} must be one of {', '.join(NORMALIZATIONS)}, "
                            f"got {s['loss_normalization']!r}")
    if s["max_size"] is not None:
        s["max_size"] = positive_int(label("max_size"), s["max_size"])
    if not isinstance(s["content_layer"], str) or not s["content_layer"]:
        raise SettingsError(f"{label('content_layer')} must be a layer name, got {s['content_layer']!r}")
    layers = s["style_layers"]
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers or not all(
        isinstance(layer, str) and layer for layer in layers
    ):
        raise SettingsError(f"{label('style_layers')} must be a non-empty list of layer names, got {layers!r}")
    s["style_layers"] = list(layers)
    if s["seed"] is not None and (isinstance(s["seed"], bool) or not isinstance(s["seed"], int) or s["seed"] < 0):
        raise SettingsError(f"{label('seed')} must be a whole number >= 0 or None, got {s['seed']!r}")
    if not isinstance(s["overwrite"], bool):
        raise SettingsError(f"{label('overwrite')} must be True or False, got {s['overwrite']!r}")
    if s["weights"] is not None:
        s["weights"] = _path("weights", s["weights"])
    return s


def weights_source(setting: str | None) -> str:
    """Where the VGG weights come from: the setting, else the environment, else Keras's download."""
    return setting or os.environ.get(WEIGHTS_ENV) or "imagenet"
