"""Starting TensorFlow without its native start-up log.

TensorFlow 2.21 writes its C++ log straight to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL is
read: a line about oneDNN, and on a machine without a GPU "failed call to cuInit: ... CUDA error".
Users took that for our error. The log is caught while TensorFlow starts and replayed only if the
start fails; TF_CPP_MIN_LOG_LEVEL=0 or 1 (TensorFlow's own switch) shows it as usual.
"""

from __future__ import annotations

import os
import sys
import tempfile


def start_tensorflow() -> None:
    """Import TensorFlow and initialise its devices, with the native log held back."""
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
