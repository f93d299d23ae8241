"""Starting the Keras backend a script runs on: what the scripts call before anything else.

Keras picks its backend once, when it is first imported, so the scripts choose it first: --backend on the
command line, else a --config file's `backend` setting, else KERAS_BACKEND (a user's value wins), else
TensorFlow. A backend that is not installed ends the script with one line naming the extra to install.

TensorFlow 2.21 writes its C++ log straight to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL is
read: a line about oneDNN, and on a machine without a GPU "failed call to cuInit: ... CUDA error".
Users took that for our error. The log is caught while TensorFlow starts and replayed only if the
start fails; TF_CPP_MIN_LOG_LEVEL=0 or 1 (TensorFlow's own switch) shows it as usual. Importing the
library does none of this: a notebook or another program keeps its stderr and its log settings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Sequence

BACKENDS = ("tensorflow", "torch", "jax")  # as settings.BACKENDS (not imported: it would load Keras)


def _flag(argv: Sequence[str], name: str) -> str | None:
    """The value of --name VALUE or --name=VALUE in argv (the last one given), without parsing the rest."""
    value = None
    for i, word in enumerate(argv):
        if word == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif word.startswith(name + "="):
            value = word.split("=", 1)[1]
    return value


def chosen_backend(argv: Sequence[str]) -> str:
    """--backend, else the --config file's backend setting, else KERAS_BACKEND, else tensorflow."""
    backend = _flag(argv, "--backend")
    config = _flag(argv, "--config")
    if backend is None and config:
        try:
            with open(config, encoding="utf-8") as f:
                backend = (json.load(f).get("settings") or {}).get("backend")
        except (OSError, ValueError, AttributeError):
            pass  # the driver reads the file again and names what is wrong with it
    return backend or os.environ.get("KERAS_BACKEND") or "tensorflow"


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def start_backend(argv: Sequence[str] | None = None) -> str:
    """Choose the backend (see the module docstring) and start it; its name. For the scripts, before they import
    Keras: a backend that is unknown or not installed ends the process here with one line and status 2 (Keras
    itself would fail with a traceback)."""
    backend = chosen_backend(sys.argv[1:] if argv is None else argv)
    if backend not in BACKENDS:
        _fail(f"unknown backend '{backend}' (--backend or KERAS_BACKEND): NeuralStyle runs on "
              f"{', '.join(BACKENDS)}")
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != backend:
        _fail(f"Keras already runs on {os.environ.get('KERAS_BACKEND', 'tensorflow')} in this process; "
              f"backend {backend} must be chosen before Keras is imported")
    if importlib.util.find_spec(backend) is None:
        _fail(f"backend '{backend}' is not installed here: pip install -e '.[{backend}]' (README, "
              "'Installing': which build for which machine)")
    os.environ["KERAS_BACKEND"] = backend
    # OpenCV lets FFmpeg's log through when it reads videos ("moov atom not found" above our own one-line
    # error); OPENCV_FFMPEG_LOGLEVEL=32 shows it again.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if backend == "jax":
        # JAX takes 75 % of a GPU's memory when it starts: a sweep's second worker on the same GPU would
        # find none. Each process takes what it needs instead (as TF_FORCE_GPU_ALLOW_GROWTH for TensorFlow).
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if backend == "tensorflow":
        start_tensorflow()
    return backend


def start_tensorflow() -> None:
    """Import TensorFlow and initialise its devices, with the native log held back."""
    # The C++ log's later chatter (per-op warnings) is not for our users either, unless they ask.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1"):
        import tensorflow  # noqa: F401  (already started, or the user asked for the log)

        return
    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # where the CUDA probe logs
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
