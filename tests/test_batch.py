"""A folder (or glob) of photos in one run: one output folder per photo, resume, workers, gallery."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from pyimagesearch.batch import is_batch, photo_names, plan_batch
from pyimagesearch.nn.conv import ImageError, SettingsError
from tests.conftest import ROOT


def paint(tiny_images, source: str, out: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "style_transfer.py", "--input-path", source, "--style-path",
                           tiny_images["style_path"], "--output-path", str(out), "--iterations", "1",
                           "--max-evals", "2", "--seed", "0", *argv],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def photo_folder(tiny_images, folder: Path) -> Path:
    """Two photos, a text file, a photo too small for the layers and a sub-folder (left alone)."""
    folder.mkdir()
    photo = Image.open(tiny_images["input_path"])
    photo.save(folder / "bridge.png")
    ImageOps.mirror(photo).save(folder / "river.jpg")
    (folder / "notes.txt").write_text("not a photo")
    Image.new("RGB", (20, 20), "gray").save(folder / "tiny.png")
    (folder / "older").mkdir()
    photo.save(folder / "older" / "not_this_one.png")
    return folder


def finals(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sorted(out.glob("*/final.png"))}


@pytest.fixture(scope="module")
def first_batch(tiny_images, tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    photos = photo_folder(tiny_images, base / "photos")
    out = base / "out"
    done = paint(tiny_images, str(photos), out, "--init", "content")
    assert done.returncode == 0, done.stderr
    return photos, out, done


def test_each_photo_gets_its_own_folder_and_other_files_are_listed_at_the_end(first_batch, tiny_images):
    photos, out, done = first_batch
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["bridge", "river"]
    for name, source in (("bridge", "bridge.png"), ("river", "river.jpg")):
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == ["final.png", "iter_0.png", "log.txt", "photo.png", "settings.json"]
        record = json.loads((out / name / "settings.json").read_text())
        assert record["settings"]["input_path"] == str(photos / source)
        assert record["settings"]["output_path"] == str(out / name)
        assert Image.open(out / name / "final.png").size == Image.open(photos / source).size
    # Each picture starts from its own photo (init content): the mirrored one is not a copy of the first.
    assert Image.open(out / "bridge" / "final.png").tobytes() != Image.open(out / "river" / "final.png").tobytes()
    assert "[BATCH] 2 photos" in done.stdout and "2/2 river.jpg: loss" in done.stdout
    warning = done.stderr[done.stderr.index("warning: 2 files not painted"):]
    assert "notes.txt" in warning and "could not be read as an image" in warning
    assert "tiny.png" in warning and "at least 32 px" in warning
    assert "Traceback" not in done.stderr


def test_the_gallery_shows_every_photo_beside_its_painting(first_batch):
    _, out, _ = first_batch
    page = (out / "index.html").read_text()
    assert "2 of 2 photos painted" in page and "Not painted: notes.txt" in page and "tiny.png" in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert sorted(sources) == ["bridge/final.png", "bridge/photo.png", "river/final.png", "river/photo.png",
                               "style.png"]
    assert all((out / s).is_file() for s in sources)  # relative paths: the page works opened from disk
    assert Image.open(out / "contact_sheet.jpg").size[0] > 0


def test_running_again_skips_the_finished_photos(first_batch, tiny_images):
    photos, out, _ = first_batch
    before = finals(out)
    again = paint(tiny_images, str(photos), out, "--init", "content")
    assert again.returncode == 0, again.stderr
    assert "2 photos: 2 already done, 0 to run" in again.stdout
    assert finals(out) == before


def test_other_settings_are_refused_unless_overwrite(tiny_images, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(tiny_images["input_path"]).save(photos / "bridge.png")
    out = tmp_path / "out"
    assert paint(tiny_images, str(photos), out).returncode == 0
    first = finals(out)
    refused = paint(tiny_images, str(photos), out, "--style-weight", "50")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "already holds a finished picture" in refused.stderr
    assert "style_weight: 100.0 -> 50.0" in refused.stderr and finals(out) == first
    redone = paint(tiny_images, str(photos), out, "--style-weight", "50", "--overwrite")
    assert redone.returncode == 0, redone.stderr
    assert "1 photos: 0 already done, 1 to run" in redone.stdout
    assert json.loads((out / "bridge" / "settings.json").read_text())["settings"]["style_weight"] == 50.0


def test_a_glob_on_two_workers(first_batch, tiny_images, tmp_path):
    """Only what the pattern matches; two processes (one thread each) give the picture one process gave,
    up to float32 rounding (sums split over other thread counts)."""
    photos, serial_out, _ = first_batch
    out = tmp_path / "out"
    done = paint(tiny_images, str(photos / "*.png"), out, "--init", "content", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "to run on 2 workers" in done.stdout
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["bridge"]  # not river.jpg
    assert "tiny.png" in done.stderr and "notes.txt" not in done.stderr
    parallel, serial = (np.asarray(Image.open(o / "bridge" / "final.png"), float) for o in (out, serial_out))
    assert np.abs(parallel - serial).mean() < 0.05 and np.abs(parallel - serial).max() <= 2


def test_what_makes_a_batch_and_how_its_folders_are_named(tmp_path):
    assert is_batch(str(tmp_path)) and is_batch(str(tmp_path / "*.jpg")) and not is_batch("inputs/tubingen.jpg")
    (tmp_path / "x[1].png").write_bytes(b"")  # an existing file whose name looks like a pattern is one file
    assert not is_batch(str(tmp_path / "x[1].png"))
    assert photo_names(["a/beach.jpg", "a/beach.png", "a/dune.jpg"]) == {
        "a/beach.jpg": "beach_jpg", "a/beach.png": "beach_png", "a/dune.jpg": "dune"}


def test_bad_batches_are_one_clear_error_before_any_work(tiny_images, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    base = {"style_path": tiny_images["style_path"], "output_path": str(tmp_path / "out")}
    with pytest.raises(SettingsError, match="folder '.*empty' has no files"):
        plan_batch({**base, "input_path": str(empty)}, 2)
    with pytest.raises(SettingsError, match="pattern '.*nothing_\\*.png' has no files"):
        plan_batch({**base, "input_path": str(tmp_path / "nothing_*.png")}, 2)
    only_text = tmp_path / "text"
    only_text.mkdir()
    (only_text / "readme.txt").write_text("hello")
    with pytest.raises(SettingsError, match="none of the 1 files .*readme.txt: .* could not be read"):
        plan_batch({**base, "input_path": str(only_text)}, 2)
    # A problem every photo shares (here the style image) stops the batch instead of skipping each photo.
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(tiny_images["input_path"]).save(photos / "bridge.png")
    with pytest.raises(ImageError, match="missing.png"):
        plan_batch({**base, "input_path": str(photos), "style_path": str(tmp_path / "missing.png")}, 2)
    assert not (tmp_path / "out" / "bridge" / "final.png").exists()
