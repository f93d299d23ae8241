"""Steps that happen whole or not at all: atomic file writes (a reader or a crash sees the old file or
the new one, never half of one), and Ctrl-C held back while finished work is being kept."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO


@contextmanager
def atomic_file(path: str) -> Iterator[BinaryIO]:
    """A file to write path's new contents to: a temporary file in path's folder, flushed to disk and
    renamed over path when the block ends, removed if it fails. Large contents can be streamed into it."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: str, data: bytes) -> None:
    """Write data to path atomically (atomic_file)."""
    with atomic_file(path) as f:
        f.write(data)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block has ended, then deliver it.

    Keeping a finished iteration is several steps (its image, settings.json, the line that says so); an
    interrupt between two of them would lose it or leave the log claiming a file that is not there. Inside
    this block the interrupt waits; the run then stops right after, with everything finished on disk.
    Only the main thread receives signals, so elsewhere (a web page's worker thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if caught:
            _deliver(previous)


def _deliver(handler: Any) -> None:
    """Deliver a held SIGINT as the handler that was there before would have."""
    if callable(handler):
        handler(signal.SIGINT, None)  # Python's default raises KeyboardInterrupt; an outer hold records it
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signal.SIGINT)
