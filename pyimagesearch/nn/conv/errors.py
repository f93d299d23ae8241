"""Errors a user can fix: each message names the file or setting at fault."""


class NeuralStyleError(Exception):
    """Base class: the command-line scripts print these as one line, without a traceback."""


class SettingsError(NeuralStyleError, ValueError):
    """A SETTINGS value (or the flag that set it) is unknown or out of range."""


class WeightsError(SettingsError):
    """The network weights could not be found, downloaded or read."""


class ImageError(NeuralStyleError, ValueError):
    """An input image is missing, unreadable or unusable."""


class NonFiniteLossError(NeuralStyleError):
    """The loss or its gradient became NaN or infinite during optimisation."""


def backend_error(backend: str) -> NeuralStyleError:
    """The one message for a Keras backend NeuralStyle does not run on."""
    return NeuralStyleError(f"NeuralStyle runs on Keras's tensorflow, torch or jax backend, but Keras is using "
                            f"'{backend}'; set KERAS_BACKEND (or --backend) to one of those")
