"""Print-size pictures: a scale larger than the tile is refined in overlapping tiles, in bounded memory.

Coarse to fine (the `scales` setting): a scale no larger than `tile_size` is optimised whole; a
larger one starts from the previous scale enlarged (or from `init`) and is refined tile by tile,
each tile its own stage: the content target from the photo's tile at that scale, the style Gram
matrices from the painting at the size that matches the *whole* picture (brought to the tile's
pixel mass, so strokes keep their size relative to the picture), TV within the tile. Peak memory is
that of one tile plus a few float32 copies of the picture.

Tiles overlap by `tile_overlap` px and are pasted with a feathered edge. Each pass groups its tiles
into phases of tiles that do not overlap (a 2x2 checkerboard, as a rule): the tiles of one phase
start from the same picture and are independent, so they may run in parallel (worker processes, a
Ray cluster), while each phase starts from the picture the phases before it left, so a tile's
overlap already holds its neighbours' strokes. The grid shifts by half a stride between passes, so
no seam stays in one place.

After every finished tile the picture so far (float32, not rounded to 8 bits) and which tiles are
done go to working.npz in the run folder, atomically; running the same command again continues
from there. After every pass the picture is written as iter_<i>.png, as a whole iteration would.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .atomic import atomic_file
from .regions import Region
from .run_folder import WORKING as STATE

# -- the grid --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tile:
    """One tile: the window it is optimised in (at most tile_size a side), and inside it the part it owns,
    which it pastes back (feathered where it borders a neighbour); its place in the order tiles run and
    its phase (tiles of one phase do not overlap: they may run at once)."""

    index: int
    phase: int
    top: int
    left: int
    height: int
    width: int
    own: tuple[int, int, int, int]  # (top, bottom, left, right) of the part it owns, in picture px
    # (top, bottom, left, right): whether it blends in across the band it shares with the neighbour there;
    # it does where that neighbour was pasted before it, and is blended over where the neighbour comes later
    ramps: tuple[bool, bool, bool, bool] = (False, False, False, False)

    @property
    def window(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


def spans(length: int, size: int, overlap: int, shift: int = 0) -> list[tuple[int, int, int, int]]:
    """Along one side: (window start, window end, owned start, owned end) of each tile, in order.

    Neighbours' owned parts meet in bands of overlap px, one every size - overlap px starting at shift;
    each window is the owned part widened to size px (an edge tile's owned part may be narrower) so
    every tile sees as much of the picture around it as any other.
    """
    if length <= size:
        return [(0, length, 0, length)]
    stride = size - overlap
    bands = [b for b in range(shift % stride or stride, length, stride) if b + overlap < length]
    starts, ends = [0, *bands], [b + overlap for b in bands] + [length]
    result = []
    for a, b in zip(starts, ends, strict=True):
        window_start = min(a, length - size) if b - a < size and a > 0 else a
        result.append((window_start, window_start + size, a, b))
    return result


def _colours(windows: Sequence[tuple[int, int, int, int]]) -> list[int]:
    """Each window (sorted by start) a colour that no window overlapping it has: greedy interval colouring."""
    colours: list[int] = []
    for i, (a, *_rest) in enumerate(windows):
        taken = {colours[j] for j in range(i) if windows[j][1] > a}
        colours.append(next(c for c in range(len(windows)) if c not in taken))
    return colours


def tile_grid(dims: tuple[int, int], size: int, overlap: int, shift: int = 0) -> tuple[Tile, ...]:
    """The tiles of a picture of dims (h, w), in the order they run: phase by phase, row by row."""
    rows, columns = spans(dims[0], size, overlap, shift), spans(dims[1], size, overlap, shift)
    row_colours, column_colours = _colours(rows), _colours(columns)
    width = max(column_colours) + 1
    cells = sorted((row_colours[r] * width + column_colours[c], r, c) for r in range(len(rows))
                   for c in range(len(columns)))
    def earlier(colours: list[int], k: int) -> tuple[bool, bool]:  # is the neighbour before / after pasted first?
        return (k > 0 and colours[k - 1] < colours[k], k + 1 < len(colours) and colours[k + 1] < colours[k])

    tiles = []
    for i, (phase, r, c) in enumerate(cells):
        (top, bottom, own_top, own_bottom), (left, right, own_left, own_right) = rows[r], columns[c]
        tiles.append(Tile(i, phase, top, left, bottom - top, right - left, (own_top, own_bottom, own_left, own_right),
                          (*earlier(row_colours, r), *earlier(column_colours, c))))
    return tuple(tiles)


def pass_shift(size: int, overlap: int, p: int, passes: int) -> int:
    """Where pass p's bands start: an even share of the stride, so the passes' seams fall apart."""
    return round(p * (size - overlap) / passes)


def feather(tile: Tile, dims: tuple[int, int], overlap: int) -> np.ndarray:
    """(h, w, 1) float32 weights of a tile's window when pasted: 0 outside the part it owns, 1 inside,
    but for a ramp from near 0 to 1 across each band it shares with a neighbour pasted before it. Pasted
    one after another, the weights of every pixel add up to one: a flat picture stays flat."""
    def ramp(start: int, length: int, own: tuple[int, int], ramps: tuple[bool, bool]) -> np.ndarray:
        weights = np.zeros(length, np.float32)
        (a, b) = (own[0] - start, own[1] - start)
        weights[a:b] = 1.0
        rising = (np.arange(overlap, dtype=np.float32) + 1) / (overlap + 1)
        if ramps[0]:
            weights[a:a + overlap] = rising
        if ramps[1]:
            weights[b - overlap:b] = np.minimum(weights[b - overlap:b], rising[::-1])
        return weights

    (top, bottom, left, right) = tile.own
    return (ramp(tile.top, tile.height, (top, bottom), tile.ramps[:2])[:, None, None]
            * ramp(tile.left, tile.width, (left, right), tile.ramps[2:])[None, :, None])


def paste(canvas: np.ndarray, tile: Tile, image: np.ndarray, overlap: int) -> None:
    """Blend a tile's (h, w, 3) result into the (H, W, 3) canvas in place: its own part, feathered."""
    weights = feather(tile, canvas.shape[:2], overlap)
    window = canvas[tile.window]
    window += weights * (np.asarray(image, np.float32).reshape(window.shape) - window)


# -- one tile's problem, run here or in a worker ----------------------------------------------------

@dataclass(frozen=True)
class TileJob:
    """Everything a worker needs to paint one tile (plain values, so it pickles for processes and Ray)."""

    tile: Tile
    settings: Mapping[str, Any]  # the run's resolved settings
    weights: str  # where the VGG weights come from
    layers: tuple[str, ...]
    start: np.ndarray  # (h, w, 3) float32, the picture's window in VGG space
    content: np.ndarray  # (h, w, 3) float32 RGB, the photo's window at this scale
    style_grams: tuple[Mapping[str, tuple[np.ndarray, float]], ...]  # per style image: the whole picture's
    regions: tuple[Region, ...] | None  # masks cut to the tile; None: every style everywhere
    rounds: int
    max_evals: int
    threads: int | None = None  # cap TensorFlow's threads (one of several workers on a machine)


@dataclass(frozen=True)
class TileResult:
    tile: Tile
    image: np.ndarray  # (h, w, 3) float32 in VGG space
    loss: float
    terms: dict[str, float]
    seconds: float


_MODELS: dict[tuple[Any, ...], Any] = {}  # a worker process's network, built at its first tile


def _network(job: TileJob) -> Any:
    from .features import build_extractor

    s = job.settings
    key = (s["net"], job.weights, job.layers, s["pooling"], s["precision"])
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = build_extractor(s["net"], job.weights, list(job.layers), s["pooling"], s["precision"])
    return _MODELS[key]


def paint_tile(job: TileJob, model: Any = None, observers: Sequence[Callable[..., None]] = ()) -> TileResult:
    """Optimise one tile from its start: `rounds` rounds of the run's optimiser, max_evals evaluations each.

    model: the network, when running where it is already built; a worker builds its own once.
    """
    if job.threads:
        from pyimagesearch.runner import limit_threads

        limit_threads(job.threads)
    import tensorflow as tf

    from .evaluator import optimise
    from .stage import Objective, build_stage

    began = time.perf_counter()
    model = model if model is not None else _network(job)
    grams = [{layer: (tf.constant(gram), mass) for layer, (gram, mass) in style.items()} for style in job.style_grams]
    stage = build_stage(model, Objective.from_settings(job.settings), job.content, (),
                        job.settings["style_blend_weights"], regions=job.regions, style_grams=grams)
    best = optimise(stage, job.settings, job.start.astype(np.float64).ravel(), job.rounds, job.max_evals, observers)
    image = np.asarray(best.image, np.float32).reshape(job.start.shape)
    return TileResult(job.tile, image, best.loss, best.terms, time.perf_counter() - began)


# -- the state of a tiled render on disk ------------------------------------------------------------

@dataclass(frozen=True)
class TileState:
    """Where a tiled render stands: the picture so far at one scale, the pass and the tiles finished."""

    first: int  # the first iteration of the tiled scale
    dims: tuple[int, int]
    pass_: int  # the pass under way (== the number of passes: the scale is finished)
    done: Mapping[int, Mapping[str, float]]  # tiles of that pass finished, by index: their loss ("total") and terms
    canvas: np.ndarray  # (h, w, 3) float32 in VGG space

    def save(self, folder: str) -> None:
        """Write working.npz atomically: a crash leaves the previous state whole."""
        meta = {"first": self.first, "dims": list(self.dims), "pass": self.pass_,
                "done": {str(k): dict(v) for k, v in self.done.items()}}
        with atomic_file(os.path.join(folder, STATE)) as f:  # streamed: no second copy of the picture in memory
            np.savez(f, canvas=self.canvas, meta=np.array(json.dumps(meta)))


def load_state(folder: str) -> TileState | None:
    """The state a stopped tiled render left in folder; None when there is none (or it is unreadable)."""
    path = os.path.join(folder, STATE)
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            canvas = np.array(data["canvas"], np.float32)
        dims = (int(meta["dims"][0]), int(meta["dims"][1]))
        if canvas.shape != (*dims, 3):
            return None
        done = {int(k): {name: float(v) for name, v in terms.items()} for k, terms in meta["done"].items()}
        return TileState(int(meta["first"]), dims, int(meta["pass"]), done, canvas)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):  # a cut-short file: not a zip
        return None


def forget_state(folder: str) -> None:
    path = os.path.join(folder, STATE)
    if os.path.exists(path):
        os.remove(path)


# -- a tiled scale ----------------------------------------------------------------------------------

def pass_rounds(iterations: int, passes: int) -> list[int]:
    """Rounds per tile in each pass: a scale's iterations split over its passes (at most one pass each)."""
    count = min(passes, iterations)
    return [iterations // count + (p < iterations % count) for p in range(count)]


def pass_grids(dims: tuple[int, int], size: int, overlap: int, passes: int) -> list[tuple[Tile, ...]]:
    return [tile_grid(dims, size, overlap, pass_shift(size, overlap, p, passes)) for p in range(passes)]


def style_grams(model: Any, s: Mapping[str, Any], layers: Sequence[str], dims: tuple[int, int],
                contentRGB: np.ndarray) -> tuple[dict[str, tuple[np.ndarray, float]], ...]:
    """Per style image: its Gram matrices at the size that matches the whole picture of dims, taken in
    windows of about a tile, as NumPy (they travel to workers)."""
    from .regions import gram_densities, style_mask_images
    from .settings import as_list
    from .stage import load_style, style_size

    sources = as_list(s["style_path"])
    sizes = [style_size(s, source, dims) for source in sources]
    grams = []
    for source, size, mask in zip(sources, sizes, style_mask_images(s, sizes), strict=True):
        rgb = load_style(source, size, contentRGB, s["preserve_colors"])
        taken = gram_densities(model, rgb, layers, mask, window=s["tile_size"])
        grams.append({layer: (np.asarray(gram), mass) for layer, (gram, mass) in taken.items()})
    return tuple(grams)


def _cut(regions: Sequence[Region] | None, tile: Tile) -> tuple[Region, ...] | None:
    if regions is None:
        return None
    return tuple(Region(r.styles, None if r.mask is None else np.ascontiguousarray(r.mask[tile.window]))
                 for r in regions)


# finish(i, canvas, loss, terms) -> whether to stop: the pass ending with iteration i is done.
Finish = Callable[[int, np.ndarray, float, dict[str, float]], bool]


def refine_scale(model: Any, plan: Any, block: Any, canvas: np.ndarray, max_evals: int, folder: str,
                 progress: Any, runner: Any, finish: Finish, state: TileState | None = None) -> bool:
    """Refine the (h, w, 3) float32 VGG-space canvas at block.dims in tiles, pass after pass, in place.

    plan: the run's RunPlan; block: its tiled Block; state: where a stopped render of this block stood.
    After each tile the state goes to folder/working.npz; after each pass finish() writes the picture.
    Returns True when finish() asked to stop.
    """
    from .images import load_rgb
    from .regions import content_regions
    from .settings import weights_source

    s, (h, w) = plan.settings, block.dims
    size, overlap = s["tile_size"], plan.overlap
    rounds = pass_rounds(block.count, s["tile_passes"])
    grids = pass_grids(block.dims, size, overlap, len(rounds))
    contentRGB = load_rgb(s["input_path"], size=(w, h))
    grams = style_grams(model, s, s["style_layers"], block.dims, contentRGB)
    contentRGB = contentRGB.astype(np.uint8)  # whole numbers from an 8-bit decode: a quarter of the memory
    regions = content_regions(s, block.dims) if s["content_masks"] else None
    weights = weights_source(s["weights"])
    settings = dict(s)  # a plain dict: it travels to worker processes with every tile
    first_pass = state.pass_ if state else 0
    for p in range(first_pass, len(rounds)):
        done: dict[int, dict[str, float]] = dict(state.done) if state and p == state.pass_ else {}
        grid = grids[p]
        progress.say(f"[TILE] {w}x{h} px, pass {p + 1} of {len(rounds)}: {len(grid)} tiles of up to {size} px "
                     f"(overlap {overlap} px), {rounds[p]} round{'s' * (rounds[p] > 1)} of up to {max_evals} "
                     f"evaluations each, on {runner.describe()}" + (f"; {len(done)} already done" if done else ""))

        def job(tile: Tile, p: int = p) -> TileJob:
            return TileJob(tile, settings, weights, plan.layers, canvas[tile.window].copy(),
                           contentRGB[tile.window].astype(np.float32), grams, _cut(regions, tile), rounds[p],
                           max_evals, runner.threads)

        def here(job: TileJob, p: int = p, count: int = len(grid)) -> TileResult:  # here, the bar follows it
            progress.tile_started(f"pass {p + 1}/{len(rounds)} tile {job.tile.index + 1}/{count}",
                                  job.rounds * max_evals)
            return paint_tile(job, model, progress.observers)

        paint = here if runner.threads is None else paint_tile
        for phase in sorted({tile.phase for tile in grid}):
            todo = (job(tile) for tile in grid if tile.phase == phase and tile.index not in done)
            for result in runner.map(paint, todo):
                paste(canvas, result.tile, result.image, overlap)
                done[result.tile.index] = {"total": result.loss, **result.terms}
                TileState(block.first, block.dims, p, done, canvas).save(folder)
                progress.tile_ended(f"[TILE] pass {p + 1}/{len(rounds)}, tile {len(done)}/{len(grid)} "
                                    f"(#{result.tile.index + 1}, {result.tile.width}x{result.tile.height} px at "
                                    f"{result.tile.left},{result.tile.top}): loss {result.loss:.4e}, "
                                    f"{result.seconds:.1f} s", result.tile.height * result.tile.width * rounds[p],
                                    rounds[p] * max_evals)
        # The pass's loss and terms: its tiles' summed (each tile weighed as a picture of its own).
        terms = {name: sum(tile[name] for tile in done.values()) for name in next(iter(done.values()))}
        stop = finish(block.first + sum(rounds[: p + 1]) - 1, canvas, terms.pop("total"), terms)
        TileState(block.first, block.dims, p + 1, {}, canvas).save(folder)
        if stop:
            return True
    return False


# -- a run's work, counted in units: a whole iteration, or a pass over a tiled scale's tiles -----------

def first_units(plan: Any, blocks: Sequence[Any]) -> list[int]:
    """The unit each block of the plan starts at."""
    counts = [len(pass_rounds(b.count, plan.settings["tile_passes"])) if b.tiled else b.count for b in blocks]
    return [sum(counts[:k]) for k in range(len(blocks))]


def work_units(plan: Any, blocks: Sequence[Any], max_evals: int) -> list[tuple[float, int]]:
    """(cost, evaluations) of each unit: cost in pixels x rounds, what the time of a unit goes with."""
    units: list[tuple[float, int]] = []
    for block in blocks:
        if not block.tiled:
            units += [(block.dims[0] * block.dims[1], max_evals)] * block.count
            continue
        rounds = pass_rounds(block.count, plan.settings["tile_passes"])
        grids = pass_grids(block.dims, plan.settings["tile_size"], plan.overlap, len(rounds))
        units += [(r * sum(t.height * t.width for t in grid), r * len(grid) * max_evals)
                  for r, grid in zip(rounds, grids, strict=True)]
    return units


def resume_point(plan: Any, blocks: Sequence[Any], state: TileState, max_evals: int) -> tuple[int, float, int] | None:
    """Where a stopped tiled render continues: (its unit, the cost and evaluations of that unit already done);
    None when the state is of none of the plan's tiled scales."""
    found = [(block, unit) for block, unit in zip(blocks, first_units(plan, blocks), strict=True)
             if block.tiled and block.first == state.first and block.dims == state.dims]
    if not found:
        return None
    (block, unit) = found[0]
    rounds = pass_rounds(block.count, plan.settings["tile_passes"])
    if state.pass_ >= len(rounds):  # that scale was finished: the next one starts
        return unit + len(rounds), 0.0, 0
    grid = pass_grids(block.dims, plan.settings["tile_size"], plan.overlap, len(rounds))[state.pass_]
    done = [tile for tile in grid if tile.index in state.done]
    return (unit + state.pass_, float(rounds[state.pass_] * sum(t.height * t.width for t in done)),
            rounds[state.pass_] * len(done) * max_evals)
