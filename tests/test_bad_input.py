"""Bad images and settings, table-driven: the driver exits 2 with one line naming the culprit.

Every case runs style_transfer.py as a user would, in a subprocess, and checks the exit status,
that the one error line names the file or setting, and that no traceback is shown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT


def png(path: Path, size=(64, 48), mode="RGB") -> Path:
    Image.new(mode, size).save(path)
    return path


def truncated(path: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    Image.fromarray(noise).save(path.with_suffix(".full.png"))
    data = path.with_suffix(".full.png").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def bomb(path: Path) -> Path:
    # 400 million pixels: Pillow refuses it at open (over twice its 89-megapixel limit); a few kB as PNG.
    Image.new("1", (20000, 20000)).save(path)
    return path


def huge(path: Path) -> Path:
    # 9000x9000 opens fine, but its run would need far more memory than any test machine has.
    Image.new("L", (9000, 9000), 128).save(path)
    return path


def weights_without_vgg(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        f.create_group("dense").attrs["weight_names"] = []
    return path


def weights_with_top(path: Path) -> Path:
    """The shared no-top file plus the classifier's layer names, as the with-top file lists them."""
    shutil.copy(os.environ["NEURALSTYLE_WEIGHTS"], path)
    with h5py.File(path, "a") as f:
        names = [n.encode() if isinstance(n, str) else bytes(n) for n in f.attrs["layer_names"]]
        names += [b"flatten", b"fc1", b"fc2", b"predictions"]
        f.attrs["layer_names"] = np.array(names, dtype="S")
    return path


# (case id, flag the bad file goes to, how to make it, words the error line must hold)
IMAGE_CASES: list[tuple[str, str, Callable[[Path], Path | None], list[str]]] = [
    ("missing", "--input-path", lambda p: None, ["does not exist"]),
    ("missing-style", "--style-path", lambda p: None, ["does not exist"]),
    ("empty", "--input-path", lambda p: (p.write_bytes(b""), p)[1], ["could not be read"]),
    ("not-an-image", "--style-path", lambda p: (p.write_text("just text"), p)[1], ["could not be read"]),
    ("truncated", "--input-path", truncated, ["could not be read"]),
    # A folder as input path is a batch of photos (pyimagesearch/batch.py): an empty one says so.
    ("empty-folder", "--input-path", lambda p: (p.mkdir(), p)[1], ["has no files to paint"]),
    ("folder-as-style", "--style-path", lambda p: (p.mkdir(), p)[1], ["is a folder"]),
    ("too-small", "--input-path", lambda p: png(p, (20, 20)), ["20x20", "at least 32 px", "block5_conv1"]),
    ("decompression-bomb", "--style-path", bomb, ["too large"]),
    ("too-big-for-memory", "--input-path", huge, ["9000x9000", "GiB", "--max-size", "--tile-size"]),
    ("missing-mask", "--content-masks", lambda p: None, ["does not exist"]),
    ("black-mask", "--content-masks", lambda p: png(p, mode="L"), ["content mask", "black everywhere", "empty"]),
    ("unreadable-style-mask", "--style-masks", lambda p: (p.write_text("not a mask"), p)[1], ["could not be read"]),
]


@pytest.mark.parametrize("flag, make, words", [c[1:] for c in IMAGE_CASES], ids=[c[0] for c in IMAGE_CASES])
def test_bad_image(tiny_images, tmp_path, flag, make, words):
    bad = tmp_path / "bad_image.png"
    make(bad)
    settings = {"--input-path": tiny_images["input_path"], "--style-path": tiny_images["style_path"],
                flag: str(bad)}
    argv = [a for pair in settings.items() for a in pair]
    assert_one_clear_error(run(tmp_path, *argv), ["bad_image.png", *words], tmp_path)


SETTING_CASES: list[tuple[str, list[str], list[str]]] = [
    ("unknown-flag", ["--style-weigth", "3"], ["unrecognized arguments", "--style-weigth"]),
    ("unknown-net", ["--net", "ResNet50"], ["--net", "invalid choice"]),
    ("unknown-content-layer", ["--content-layer", "block4_conv9"], ["block4_conv9", "valid layers"]),
    ("unknown-style-layer", ["--style-layers", "block1_conv1", "fc1"], ["'fc1'", "block5_pool"]),
    ("negative-weight", ["--style-weight", "-1"], ["style_weight", ">= 0"]),
    ("non-numeric-weight", ["--tv-weight", "lots"], ["--tv-weight", "invalid float"]),
    ("infinite-weight", ["--content-weight", "inf"], ["content_weight", "finite"]),
    ("zero-iterations", ["--iterations", "0"], ["iterations", ">= 1"]),
    ("zero-max-evals", ["--max-evals", "0"], ["max-evals", ">= 1"]),
    ("zero-max-size", ["--max-size", "0"], ["max_size", ">= 1"]),
    ("missing-weights", ["--weights", "nowhere.h5"], ["nowhere.h5", "does not exist", "NEURALSTYLE_WEIGHTS"]),
    ("weights-of-vgg19-for-vgg16", ["--net", "VGG16"], ["VGG19 weights", "'net' is VGG16"]),
    ("weights-file-of-something-else", ["--weights", "WEIGHTS_WITHOUT_VGG"], ["other.h5", "0 convolution layers"]),
    ("weights-file-with-top", ["--weights", "WEIGHTS_WITH_TOP"], ["top.h5", "classifier top", "notop.h5"]),
    ("weights-file-not-hdf5", ["--weights", "A_FILE"], ["a_file", "not a Keras HDF5"]),
    ("output-path-is-a-file", ["--output-path", "A_FILE"], ["output_path", "a_file"]),
    ("tile-overlap-too-wide", ["--tile-size", "48", "--tile-overlap", "24"], ["tile_overlap", "less than half"]),
    ("tile-too-small", ["--tile-size", "8"], ["tile_size", "8x8 px", "at least 32 px"]),
]


@pytest.mark.parametrize("argv, words", [c[1:] for c in SETTING_CASES], ids=[c[0] for c in SETTING_CASES])
def test_bad_setting(tiny_images, tmp_path, argv, words):
    (tmp_path / "a_file").write_text("I am in the way")
    files = {"A_FILE": tmp_path / "a_file", "WEIGHTS_WITHOUT_VGG": weights_without_vgg(tmp_path / "other.h5"),
             "WEIGHTS_WITH_TOP": weights_with_top(tmp_path / "top.h5")}
    argv = [str(files.get(a, a)) for a in argv]
    done = run(tmp_path, "--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"],
               *argv)
    assert_one_clear_error(done, words, tmp_path)


def run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    if "--output-path" not in argv:
        argv = (*argv, "--output-path", str(tmp_path / "out"))
    return subprocess.run([sys.executable, "style_transfer.py", "--iterations", "1", "--max-evals", "1", *argv],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_one_clear_error(done: subprocess.CompletedProcess, words: list[str], tmp_path: Path) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    # Nothing was started: no image written anywhere.
    assert not list(tmp_path.rglob("iter_*.png"))


@pytest.mark.parametrize("mode", ["L", "LA", "P", "P-transparent", "1", "CMYK", "I;16", "I", "F", "RGBA"])
def test_every_pillow_mode_runs(tmp_path, mode):
    """Odd modes are converted, not refused; a real one-iteration run on each."""
    from pyimagesearch.nn.conv import NeuralStyle

    source = Image.open(ROOT / "inputs" / "tubingen.jpg").resize((48, 36))
    suffix = ".jpg" if mode == "CMYK" else ".tiff" if mode in ("I", "F") else ".png"
    path = tmp_path / f"content{suffix}"
    if mode == "P-transparent":
        source.convert("P").save(path, transparency=0)
    else:
        (source.convert("RGBA") if "A" in mode else source).convert(mode).save(path)
    ns = NeuralStyle({"input_path": str(path), "style_path": str(ROOT / "inputs" / "starry_night.jpg"),
                      "output_path": str(tmp_path / "out"), "iterations": 1})
    result = ns.transfer(maxEvals=2)
    assert result.shape == (36, 48, 3)
    # The content image reached the network as a real picture, not a clipped white or black one.
    assert 20 < ns.content.std() and -100 < ns.content.mean() < 100


def test_decompression_bomb_limit_as_pillow_tests_it(tiny_images, tmp_path, monkeypatch):
    """A lowered Pillow limit makes an ordinary image a 'bomb'; NeuralStyle refuses it by name."""
    from pyimagesearch.nn.conv import ImageError, NeuralStyle

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 48 // 4)  # twice this is still under 64x48
    with pytest.raises(ImageError, match="tubingen.png.*too large to open safely"):
        NeuralStyle({**tiny_images, "output_path": str(tmp_path)})
