"""The loss and gradient of three stages on whichever backend Keras runs, for test_backends.py to compare.

    KERAS_BACKEND=torch python -m tests.backend_probe FOLDER

writes FOLDER/<backend>.npz: for the chapter's objective, a regions objective (two styles, each on half of
the photo) and one tile of a print (its painting's statistics taken from the whole picture), the loss and
its gradient at one fixed image. The inputs are made in FOLDER from the samples, the same on every backend.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pyimagesearch  # noqa: F401  (before Keras)

ROOT = Path(__file__).resolve().parent.parent


def inputs(folder: Path) -> dict[str, str]:
    """64x48 photo, two paintings and two half masks in folder (made once; the same bytes every time)."""
    paths = {"photo": folder / "photo.png", "style": folder / "style.png", "other": folder / "other.png",
             "left": folder / "left.png", "right": folder / "right.png"}
    if not paths["photo"].exists():
        for key, name in (("photo", "tubingen.jpg"), ("style", "starry_night.jpg"), ("other", "tubingen.jpg")):
            image = Image.open(ROOT / "inputs" / name).convert("RGB")
            image.thumbnail((64, 64), Image.Resampling.LANCZOS)
            if key == "other":
                image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
            image.save(paths[key])
        half = np.zeros((48, 64), np.uint8)
        half[:, :29] = 255  # not on VGG's grid: the masks come down to the layers by area
        Image.fromarray(half).save(paths["left"])
        Image.fromarray(255 - half).save(paths["right"])
    return {key: str(path) for key, path in paths.items()}


def measure(folder: Path) -> dict[str, np.ndarray]:
    """case -> [loss, *gradient] (float64) at a fixed image, on the backend Keras runs."""
    from pyimagesearch.nn.conv import NeuralStyle
    from pyimagesearch.nn.conv.evaluator import Evaluator
    from pyimagesearch.nn.conv.stage import build_stage

    files = inputs(folder)
    base = {"input_path": files["photo"], "style_path": files["style"], "output_path": str(folder / "out"),
            "iterations": 1, "quiet": True, "overwrite": True}
    cases = {"chapter": NeuralStyle(base),
             "regions": NeuralStyle({**base, "style_path": [files["style"], files["other"]],
                                     "content_masks": [files["left"], files["right"]]})}
    X = np.random.default_rng(7).uniform(-120, 120, (1, 48, 64, 3))
    results = {name: np.concatenate([[loss], grad]) for name, (loss, grad) in
               ((name, ns.lossAndGrads(X.ravel())) for name, ns in cases.items())}
    # A 32x40 tile of a 48x64 print: its painting's statistics are the whole picture's, as tiles.paint_tile has.
    run = cases["chapter"].run
    photo = run.photo_at((48, 64))
    tile = build_stage(run.model, run.objective, photo[8:40, 16:56], (), style_stats=run.style_stats((48, 64), photo))
    loss, grad = Evaluator(tile)(X[:, 8:40, 16:56].ravel())
    results["tile"] = np.concatenate([[loss], grad])
    return results


if __name__ == "__main__":
    import keras

    out = Path(sys.argv[1])
    np.savez(out / f"{keras.backend.backend()}.npz", **measure(out))
    print(os.environ.get("KERAS_BACKEND"), "done")
