"""Starting TensorFlow without its native start-up log: what the scripts call before anything else.

TensorFlow 2.21 writes its C++ log straight to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL is
read: a line about oneDNN, and on a machine without a GPU "failed call to cuInit: ... CUDA error".
Users took that for our error. The log is caught while TensorFlow starts and replayed only if the
start fails; TF_CPP_MIN_LOG_LEVEL=0 or 1 (TensorFlow's own switch) shows it as usual. Importing the
library does none of this: a notebook or another program keeps its stderr and its log settings.
"""

from __future__ import annotations

import os
import sys
import tempfile


def start_tensorflow() -> None:
    """Import TensorFlow and initialise its devices, with the native log held back.

    For the scripts, before they import Keras: a KERAS_BACKEND naming another backend ends the
    process here with one line and status 2 (Keras itself would fail with a traceback, e.g. for a
    backend that is not installed).
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        from pyimagesearch.nn.conv.errors import backend_error

        print(f"error: {backend_error(backend, backend)}", file=sys.stderr)
        raise SystemExit(2)
    # The C++ log's later chatter (per-op warnings) is not for our users either, unless they ask.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Nor FFmpeg's, which OpenCV lets through when it reads videos ("moov atom not found" above our
    # own one-line error); OPENCV_FFMPEG_LOGLEVEL=32 shows it again.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
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
