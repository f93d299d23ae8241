"""Convolutional-network tools; home of the chapter's NeuralStyle class."""

from .runtime import start_tensorflow

start_tensorflow()  # before anything below imports TensorFlow or Keras

from .errors import ImageError, NeuralStyleError, SettingsError, WeightsError  # noqa: E402
from .neuralstyle import NeuralStyle  # noqa: E402

__all__ = ["ImageError", "NeuralStyle", "NeuralStyleError", "SettingsError", "WeightsError"]
