"""Convolutional-network tools; home of the chapter's NeuralStyle class.

Importing this package changes nothing outside it and loads nothing heavy: NeuralStyle (and with
it TensorFlow) loads on first use, so the settings, errors and image helpers import in a moment.
The scripts hold back TensorFlow's native start-up log themselves (pyimagesearch.runtime).
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ImageError, NeuralStyleError, SettingsError, WeightsError

__all__ = ["ImageError", "NeuralStyle", "NeuralStyleError", "SettingsError", "WeightsError"]


def __getattr__(name: str) -> Any:
    if name == "NeuralStyle":
        return importlib.import_module(".neuralstyle", __name__).NeuralStyle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
