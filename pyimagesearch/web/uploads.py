"""What the browser sends, brought into a run's folder: the photo, the paintings, the painted regions.

Every upload is checked (an image Pillow can read, named by its file name in the message) and
copied into the run folder's inputs/, which the run then reads: nothing of the server is named by
the page, and a run folder holds everything that made its picture.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from pyimagesearch.nn.conv.errors import ImageError, SettingsError
from pyimagesearch.nn.conv.images import write_rgb

INPUTS = "inputs"
# One brush colour per painting in the regions editor: painting k goes where colour k is painted.
REGION_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4")


def _safe(stem: str) -> str:
    """A file name's stem as letters, digits, - and _ only (it becomes part of a folder or file name)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "image"


def new_run_folder(root: str, photo: str) -> str:
    """A new, empty run folder under root, named by the time and the photo ('20261202-221503-tubingen')."""
    base = os.path.join(root, f"{time.strftime('%Y%m%d-%H%M%S')}-{_safe(os.path.splitext(upload_name(photo))[0])}")
    folder, n = base, 1
    while os.path.exists(folder):
        n += 1
        folder = f"{base}-{n}"
    os.makedirs(os.path.join(folder, INPUTS))
    return folder


def upload_name(path: str) -> str:
    """The name the user's file had (Gradio keeps it as the last part of its cached copy's path)."""
    return os.path.basename(path)


def bring_image(path: str, folder: str, name: str) -> str:
    """Check that the upload at path is an image and copy it into folder/inputs/ as name + its extension."""
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageError(f"'{upload_name(path)}' is not an image this page can read (PNG, JPEG, WebP, TIFF ...)") \
            from None
    # The user's own file name stays in it, so that messages about the image name the file they chose.
    stem, ext = os.path.splitext(upload_name(path))
    target = os.path.join(folder, INPUTS, f"{name}_{_safe(stem)}{ext.lower() or '.png'}")
    shutil.copyfile(path, target)
    return target


def bring_uploads(folder: str, photo: str | None, paintings: Sequence[str]) -> tuple[str, list[str]]:
    """The photo and paintings copied into the run folder, checked; SettingsError when one is missing."""
    if not photo:
        raise SettingsError("no photo: drop one on 'Photo' (or press 'Use the samples')")
    if not paintings:
        raise SettingsError("no painting: drop one or more on 'Paintings' (or press 'Use the samples')")
    return (bring_image(photo, folder, "photo"),
            [bring_image(p, folder, f"painting_{k + 1}") for k, p in enumerate(paintings)])


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)


def region_masks(editor: Mapping[str, Any] | None, count: int, folder: str) -> list[str] | None:
    """The regions painted in the editor as one mask per painting (white where its colour was painted),
    written into the run folder; None when nothing is painted (every painting everywhere).

    Layers are read bottom to top, so a later stroke wins where strokes overlap; a stroke counts for the
    painting whose brush colour is nearest its colour (brushes blend at their soft edges)."""
    layers = [np.asarray(layer) for layer in (editor or {}).get("layers") or [] if layer is not None]
    layers = [layer for layer in layers if layer.ndim == 3 and layer.shape[2] == 4]
    if not layers:
        return None
    height, width = layers[0].shape[:2]
    painted = np.full((height, width), -1, dtype=np.int64)
    palette = np.stack([_rgb(c) for c in REGION_COLORS[:count]])
    for layer in layers:
        if layer.shape[:2] != (height, width):
            continue
        ink = layer[..., 3] > 0
        distance = ((layer[..., None, :3].astype(np.float32) - palette) ** 2).sum(axis=-1)
        painted = np.where(ink, distance.argmin(axis=-1), painted)
    if not (painted >= 0).any():
        return None
    used = sorted(set(np.unique(painted)) - {-1})
    if len(used) < count:
        missing = ", ".join(str(k + 1) for k in range(count) if k not in used)
        raise SettingsError(f"regions: painting(s) {missing} have no region painted; paint each painting's colour "
                            "where its style goes, or clear the regions to use every painting everywhere")
    paths = []
    for k in range(count):
        mask = np.where(painted == k, 255, 0).astype(np.uint8)
        path = os.path.join(folder, INPUTS, f"region_{k + 1}.png")
        write_rgb(path, np.repeat(mask[..., None], 3, axis=2))
        paths.append(path)
    return paths
