"""Atomic file writes: a reader or a crash sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


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
