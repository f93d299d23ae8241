"""Print-size pictures in tiles: the grid, the feathered paste, the windowed Gram matrices, a tiled run,
resuming it after a stop, 16-bit output, and tiles on worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import NeuralStyle, SettingsError
from pyimagesearch.nn.conv.evaluator import Evaluator
from pyimagesearch.nn.conv.features import IMAGENET_BGR_MEAN, Network, build_extractor
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.optimizers import OptimizerChoice
from pyimagesearch.nn.conv.regions import gram_densities, style_statistics
from pyimagesearch.nn.conv.settings import DEFAULTS, weights_source
from pyimagesearch.nn.conv.stage import Objective, build_stage
from pyimagesearch.nn.conv.tiles import (
    TileJob,
    TileState,
    feather,
    load_state,
    paint_tile,
    pass_grids,
    pass_shift,
    paste,
    spans,
    tile_grid,
)
from tests.conftest import ROOT, on_a_terminal, small_copy

# -- the grid (pure NumPy) ------------------------------------------------------------------------

SHAPES = [((96, 128), 64, 8), ((300, 200), 96, 16), ((64, 500), 64, 12), ((50, 40), 64, 8), ((1000, 1500), 256, 32)]


@pytest.mark.parametrize("dims, size, overlap", SHAPES)
@pytest.mark.parametrize("passes", [1, 2, 3])
def test_every_pass_covers_the_picture_with_overlapping_tiles(dims, size, overlap, passes):
    for p in range(passes):
        grid = tile_grid(dims, size, overlap, pass_shift(size, overlap, p, passes))
        covered = np.zeros(dims, int)
        for tile in grid:
            assert tile.height <= size and tile.width <= size
            assert tile.height == min(size, dims[0]) and tile.width == min(size, dims[1])  # no slivers
            covered[tile.window] += 1
        assert covered.min() >= 1
        assert [t.index for t in grid] == list(range(len(grid)))
        assert [t.phase for t in grid] == sorted(t.phase for t in grid)  # phase by phase
        for length in dims:
            parts = spans(length, size, overlap, pass_shift(size, overlap, p, passes))
            assert parts[0][2] == 0 and parts[-1][3] == length
            for (a0, a1, own0, own1), (b0, b1, next0, next1) in zip(parts, parts[1:], strict=False):
                assert own1 - next0 == overlap  # neighbours meet in one band of overlap px
                assert a0 <= own0 < own1 <= a1 and b0 <= next0 < next1 <= b1  # each owns part of its window


@pytest.mark.parametrize("dims, size, overlap", SHAPES)
def test_tiles_of_one_phase_never_overlap(dims, size, overlap):
    for grid in pass_grids(dims, size, overlap, 2):
        for phase in {t.phase for t in grid}:
            painted = np.zeros(dims, int)
            for tile in grid:
                if tile.phase == phase:
                    painted[tile.window] += 1
            assert painted.max() == 1


def blended(grid, dims, overlap):
    """Where a canvas pasted over with one flat colour per tile is not flat: the seams this grid leaves."""
    canvas = np.zeros((*dims, 3), np.float32)
    colours = np.random.default_rng(0).uniform(1, 100, len(grid))
    for tile, colour in zip(grid, colours, strict=True):
        paste(canvas, tile, np.full((tile.height, tile.width, 3), colour, np.float32), overlap)
    dy, dx = np.gradient(canvas[..., 0])
    return np.hypot(dy, dx) > 1e-3


@pytest.mark.parametrize("dims, size, overlap", [((400, 600), 128, 16), ((96, 128), 64, 8), ((1500, 2000), 512, 64)])
def test_the_seams_move_between_passes(dims, size, overlap):
    """Pass 2's seams cross pass 1's but never run along them: they share only the crossings."""
    first, second = (blended(grid, dims, overlap) for grid in pass_grids(dims, size, overlap, 2))
    assert first.any() and second.any()
    assert (first & second).sum() < 0.25 * min(first.sum(), second.sum())


def test_feathered_paste():
    dims, overlap = (96, 128), 8
    grid = tile_grid(dims, 64, overlap, 28)
    inner = next(t for t in grid if t.ramps[0] and t.ramps[2])  # blends in above and on the left
    weights = feather(inner, dims, overlap)[..., 0]
    (top, bottom, left, right) = inner.own
    mid_y, mid_x = (top + bottom) // 2 - inner.top, (left + right) // 2 - inner.left
    assert weights[mid_y, mid_x] == 1.0
    assert 0 < weights[top - inner.top, mid_x] < 0.15  # the band starts near 0 ...
    assert np.all(np.diff(weights[top - inner.top: top - inner.top + overlap, mid_x]) > 0)  # ... and rises
    assert weights[:top - inner.top].sum() == 0 and weights[bottom - inner.top:].sum() == 0  # not its part
    corner = next(t for t in grid if t.own[0] == 0 and t.own[2] == 0)  # on the picture's edges: full weight
    assert feather(corner, dims, overlap)[0, 0, 0] == 1.0
    first = grid[0]  # pasted first: nothing to blend into, its whole part at full weight
    assert not any(first.ramps) and feather(first, dims, overlap).max() == 1.0
    (top, bottom, left, right) = first.own
    owned = feather(first, dims, overlap)[top - first.top:bottom - first.top, left - first.left:right - first.left]
    assert owned.min() == 1

    canvas = np.random.default_rng(0).normal(size=(*dims, 3)).astype(np.float32)
    same = canvas.copy()
    paste(same, inner, canvas[inner.window].copy(), overlap)
    np.testing.assert_allclose(same, canvas, atol=1e-6)  # pasting what is there changes nothing
    result = np.full((inner.height, inner.width, 3), 7.0, np.float32)
    expected = canvas.copy()
    expected[inner.window] = canvas[inner.window] * (1 - weights[..., None]) + 7.0 * weights[..., None]
    paste(canvas, inner, result, overlap)
    np.testing.assert_allclose(canvas, expected, atol=1e-5)


def test_pasting_every_tile_of_a_pass_replaces_the_whole_picture():
    dims, overlap = (96, 128), 8
    for grid in pass_grids(dims, 64, overlap, 2):
        canvas = np.zeros((*dims, 3), np.float32)
        for tile in grid:
            paste(canvas, tile, np.full((tile.height, tile.width, 3), 5.0, np.float32), overlap)
        np.testing.assert_allclose(canvas, 5.0, rtol=1e-6)


# -- targets ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    layers = [DEFAULTS["content_layer"], *DEFAULTS["style_layers"]]
    return build_extractor("VGG19", weights_source(None), layers)


def test_windowed_gram_matrices_equal_the_whole_paintings(model):
    """A painting larger than a tile gives its Gram matrices window by window: the same sums."""
    rgb = load_rgb(ROOT / "inputs" / "starry_night.jpg", size=(160, 112))
    layers = DEFAULTS["style_layers"]
    whole = gram_densities(model, rgb, layers)
    windowed = gram_densities(model, rgb, layers, window=64)
    for layer in layers:
        assert windowed[layer][1] == whole[layer][1]  # the same positions, each counted once
        np.testing.assert_allclose(windowed[layer][0], whole[layer][0], rtol=2e-3, atol=1e-2 * float(
            np.abs(whole[layer][0]).max()) * 1e-3)


def test_stages_of_one_size_share_a_trace_but_not_their_targets(model, tiny_images):
    """Tiles compile VGG once per size; each stage still answers for its own photo and targets."""
    objective = Objective.from_settings(DEFAULTS)
    photo, style = load_rgb(tiny_images["input_path"]), load_rgb(tiny_images["style_path"])
    a = build_stage(model, objective, photo[:32, :32], [style])
    X = np.random.default_rng(1).uniform(-100, 100, (1, 32, 32, 3)).ravel()
    before = Evaluator(a)(X)[0]
    b = build_stage(model, objective, photo[16:48, 32:64], [style[:20, :20]])
    assert Evaluator(b)(X)[0] != before
    assert Evaluator(a)(X)[0] == before


@pytest.mark.portable
@pytest.mark.parametrize("style_loss", ["gram", "w2", "sliced"])
def test_a_tile_lowers_its_loss(model, tiny_images, style_loss):
    s = {**DEFAULTS, **tiny_images, "seed": 0, "style_loss": style_loss}
    photo = load_rgb(tiny_images["input_path"])
    taken = style_statistics(model, load_rgb(tiny_images["style_path"], size=(64, 48)), s["style_layers"],
                             kind=style_loss)
    grams = ({layer: (tuple(np.asarray(p) for p in parts), mass) for layer, (parts, mass) in taken.items()},)
    tile = tile_grid((48, 64), 40, 8)[0]
    start = np.random.default_rng(0).uniform(-100, 100, (tile.height, tile.width, 3)).astype(np.float32)
    seen = []
    network = Network("VGG19", weights_source(None), (s["content_layer"], *s["style_layers"]))
    job = TileJob(tile, network, Objective.from_settings(s), OptimizerChoice.from_settings(s), None, start,
                  photo[tile.window], grams, None, 2, 10)
    result = paint_tile(job, model, [lambda loss, terms: seen.append(loss)])
    assert result.image.shape == (tile.height, tile.width, 3)
    assert result.loss < 0.5 * seen[0]
    assert set(result.terms) >= {"content", "style", "tv"}


# -- tiled runs ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def photo_96(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiles")
    return {"input_path": small_copy("tubingen.jpg", folder, 128),  # 128x96
            "style_path": small_copy("starry_night.jpg", folder, 96)}


def tiled(photo_96, out, **extra):
    return {**photo_96, "output_path": str(out), "tile_size": 64, "tile_overlap": 8, "iterations": 3,
            "scales": [0.5, 1.0], "seed": 0, "quiet": True, **extra}


@pytest.mark.portable
def test_a_tiled_run_paints_the_whole_picture(photo_96, tmp_path):
    ns = NeuralStyle(tiled(photo_96, tmp_path))
    assert ns.dims == (48, 64)  # the largest scale that is painted whole
    image = ns.transfer(maxEvals=10)
    assert image.shape == (96, 128, 3)
    assert sorted(os.listdir(tmp_path)) == ["iter_0.png", "iter_1.png", "iter_2.png", "settings.json"]
    record = json.loads((tmp_path / "settings.json").read_text())
    assert record["settings"]["tile_size"] == 64 and len(record["losses"]) == 3  # one whole iteration, two passes
    written = np.asarray(Image.open(tmp_path / "iter_2.png"))
    np.testing.assert_array_equal(written, image)
    # Every tile was painted: each window moved away from the coarse scale's picture it started from.
    enlarged = np.asarray(Image.open(tmp_path / "iter_0.png").resize((128, 96), Image.Resampling.BICUBIC), float)
    for tile in tile_grid((96, 128), 64, 8):
        assert np.abs(written[tile.window].astype(float) - enlarged[tile.window]).mean() > 2.0


def test_a_stopped_tiled_render_continues_where_it_stopped(photo_96, tmp_path):
    settings = tiled(photo_96, tmp_path, scales=None, iterations=2, tile_passes=2)

    def stop_after_four_tiles_of_pass_two(loss, terms):
        state = load_state(str(tmp_path))
        if state is not None and state.pass_ == 1 and len(state.done) == 4:
            raise KeyboardInterrupt

    first = NeuralStyle(settings)
    first.observers.append(stop_after_four_tiles_of_pass_two)
    with pytest.raises(KeyboardInterrupt):
        first.transfer(maxEvals=5)
    stopped = load_state(str(tmp_path))
    assert (tmp_path / "iter_0.png").exists() and not (tmp_path / "iter_1.png").exists()  # pass 1 is finished
    assert stopped.pass_ == 1 and len(stopped.done) == 4

    again = NeuralStyle(settings)
    counted = []
    again.observers.append(lambda loss, terms: counted.append(loss))
    image = again.transfer(maxEvals=5)
    assert image.shape == (96, 128, 3)
    assert not (tmp_path / "working.npz").exists()  # finished: nothing left to continue
    record = json.loads((tmp_path / "settings.json").read_text())
    assert len(record["losses"]) == 2  # pass 1's loss kept, pass 2's added
    # Only the tiles left were painted: L-BFGS takes at least 5 evaluations a tile (maxfun), a few more at most.
    tiles = len(pass_grids((96, 128), 64, 8, 2)[1])
    assert (tiles - 4) * 5 <= len(counted) < tiles * 5
    finished = np.asarray(Image.open(tmp_path / "iter_1.png"))
    np.testing.assert_array_equal(finished, image)

    # Stopped after the last pass was saved but before the render tidied up: nothing is painted again.
    canvas = (finished[..., ::-1].astype(np.float32) - np.array(IMAGENET_BGR_MEAN, np.float32))
    TileState(0, (96, 128), 2, {}, canvas).save(str(tmp_path))
    third = NeuralStyle(settings)
    third.observers.append(lambda loss, terms: pytest.fail("a finished render painted again"))
    np.testing.assert_array_equal(third.transfer(maxEvals=5), finished)
    assert not (tmp_path / "working.npz").exists()


def test_an_unreadable_state_is_said_and_the_render_starts_over(photo_96, tmp_path, capsys):
    settings = tiled(photo_96, tmp_path, scales=None, iterations=1)

    def stop_after_two_tiles(loss, terms):
        state = load_state(str(tmp_path))
        if state is not None and len(state.done) == 2:
            raise KeyboardInterrupt

    first = NeuralStyle(settings)
    first.observers.append(stop_after_two_tiles)
    with pytest.raises(KeyboardInterrupt):
        first.transfer(maxEvals=5)
    state = tmp_path / "working.npz"
    state.write_bytes(state.read_bytes()[:1000])  # cut short, as by a disk that filled up
    capsys.readouterr()

    again = NeuralStyle({**settings, "quiet": False})
    painted = []
    again.observers.append(lambda loss, terms: painted.append(loss))
    assert again.transfer(maxEvals=5).shape == (96, 128, 3)
    assert f"[INFO] '{state}' cannot be continued (unreadable, or not from this render); the tiled render " \
           "starts over" in capsys.readouterr().out
    assert len(painted) >= 5 * len(pass_grids((96, 128), 64, 8, 1)[0])  # every tile painted again
    assert not state.exists()


def test_a_16_bit_photo_gives_a_16_bit_picture(photo_96, tmp_path):
    rgb = load_rgb(photo_96["input_path"]).astype(np.float64)
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), np.rint(rgb[..., ::-1] * 257).astype(np.uint16))
    settings = tiled(photo_96, tmp_path / "out", input_path=str(deep), iterations=2, scales=None, init="content")
    NeuralStyle(settings).transfer(maxEvals=3)
    first = cv2.imread(str(tmp_path / "out" / "iter_0.png"), cv2.IMREAD_UNCHANGED)
    last = cv2.imread(str(tmp_path / "out" / "iter_1.png"), cv2.IMREAD_UNCHANGED)
    assert first.dtype == np.uint8 and last.dtype == np.uint16 and last.shape == (96, 128, 3)
    assert np.mean(last % 257 != 0) > 0.5  # real 16-bit values, not 8-bit ones stretched


def test_tile_settings_are_checked(photo_96, tmp_path):
    with pytest.raises(SettingsError, match="tile_overlap.*less than half"):
        NeuralStyle(tiled(photo_96, tmp_path, tile_overlap=32))
    with pytest.raises(Exception, match="tile_size"):
        NeuralStyle(tiled(photo_96, tmp_path, tile_size=8, tile_overlap=2))


def test_a_video_is_not_tiled(tmp_path):
    from pyimagesearch.nn.conv.video import transfer_video

    with pytest.raises(SettingsError, match="tile_size.*single pictures"):
        transfer_video({"input_path": str(tmp_path / "clip.mp4"), "tile_size": 64, "output_path": str(tmp_path)})


def driver(photo_96, out, *flags, env=None):
    argv = [sys.executable, "style_transfer.py", "--input-path", photo_96["input_path"], "--style-path",
            photo_96["style_path"], "--output-path", str(out), "--tile-size", "64", "--tile-overlap", "8",
            "--iterations", "2", "--scales", "0.5", "1", "--max-evals", "5", "--seed", "0", *flags]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.portable
def test_tiles_on_two_worker_processes(photo_96, tmp_path):
    """The driver with --workers 2 spreads each phase's tiles over two processes; on a terminal its bar
    counts their evaluations too (5 of the coarse iteration, 5 for each of the 6 tiles)."""
    (status, screen) = on_a_terminal([sys.executable, "style_transfer.py", "--input-path", photo_96["input_path"],
                                      "--style-path", photo_96["style_path"], "--output-path", str(tmp_path),
                                      "--tile-size", "64", "--tile-overlap", "8", "--iterations", "2", "--scales",
                                      "0.5", "1", "--max-evals", "5", "--seed", "0", "--workers", "2"])
    assert status == 0, screen
    assert "on 2 workers" in screen
    assert "[TILE] pass 1/1, tile 6/6" in screen
    assert "35/35" in screen
    picture = np.asarray(Image.open(tmp_path / "iter_1.png"))
    assert picture.shape == (96, 128, 3) and picture.std() > 10


def test_tiles_on_a_ray_cluster(photo_96, tmp_path, ray_cluster):
    (address, env) = ray_cluster
    done = driver(photo_96, tmp_path, "--ray-address", address, env=env)
    assert done.returncode == 0, done.stderr
    assert f"on Ray cluster {address}" in done.stdout
    assert "[TILE] pass 1/1, tile 6/6" in done.stdout
    picture = np.asarray(Image.open(tmp_path / "iter_1.png"))
    assert picture.shape == (96, 128, 3) and picture.std() > 10
