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


def backend_error(backend: str, variable: str | None) -> NeuralStyleError:
    """The one message for a Keras set to another backend than TensorFlow."""
    return NeuralStyleError(f"NeuralStyle needs Keras's TensorFlow backend, but Keras is using '{backend}' "
                            f"(KERAS_BACKEND={variable!r}); unset KERAS_BACKEND or set it to tensorflow "
                            "before Python starts")
