"""Shared fixtures: the VGG weights to use, and tiny images made from the samples."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED_WEIGHTS = ROOT.parent / "shared" / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Tests (and the scripts they start) use a local weights file when one is there; a user with
# internet and no such file gets Keras's normal "imagenet" download instead.
if "NEURALSTYLE_WEIGHTS" not in os.environ and SHARED_WEIGHTS.is_file():
    os.environ["NEURALSTYLE_WEIGHTS"] = str(SHARED_WEIGHTS)
if os.environ.get("CI") == "true" and "NEURALSTYLE_WEIGHTS" not in os.environ:
    raise RuntimeError(f"CI expects the VGG19 weights at {SHARED_WEIGHTS}")


def small_copy(name: str, folder: Path, long_side: int) -> str:
    """A PNG copy of a sample input with the given long side."""
    image = Image.open(ROOT / "inputs" / name).convert("RGB")
    image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    path = folder / (Path(name).stem + ".png")
    image.save(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Content (64x48) and style (64x40) PNGs made from the sample inputs."""
    folder = tmp_path_factory.mktemp("tiny")
    return {"input_path": small_copy("tubingen.jpg", folder, 64),
            "style_path": small_copy("starry_night.jpg", folder, 64)}


@pytest.fixture(scope="session")
def tiny_ns(tiny_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """One NeuralStyle on the tiny images, shared by the tests that only evaluate losses."""
    from pyimagesearch.nn.conv import NeuralStyle

    return NeuralStyle({**tiny_images, "output_path": str(tmp_path_factory.mktemp("out")),
                        "iterations": 1})


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
