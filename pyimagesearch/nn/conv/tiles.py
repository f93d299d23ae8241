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

from pyimagesearch.runner import Runner, limit_threads

from .atomic import atomic_file, interrupts_held
from .errors import NonFiniteLossError
from .evaluator import Observer, optimise
from .features import Network
from .optimizers import OptimizerChoice
from .progress import Progress, duration
from .regions import Region
from .run_context import RunContext, StyleStats, Tiling
from .run_folder import WORKING as STATE
from .run_folder import RunFolder
from .run_plan import Block
from .stage import Objective, build_stage, enlarge

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
    network: Network
    objective: Objective
    optimizer: OptimizerChoice
    blend: tuple[float, ...] | None  # the styles' shares (style_blend_weights)
    start: np.ndarray  # (h, w, 3) float32, the picture's window in VGG space
    content: np.ndarray  # (h, w, 3) float32 RGB, the photo's window at this scale
    style_stats: StyleStats  # per style image: the whole picture's (RunContext.style_stats)
    regions: tuple[Region, ...] | None  # masks cut to the tile; None: every style everywhere
    rounds: int
    max_evals: int
    threads: int | None = None  # cap TensorFlow's threads (one of several workers on a machine)
    first_round: int = 0  # the run's number of the tile's first round (seeds a sliced style loss's directions)


@dataclass(frozen=True)
class TileResult:
    tile: Tile
    image: np.ndarray  # (h, w, 3) float32 in VGG space
    loss: float
    terms: dict[str, float]
    seconds: float


def paint_tile(job: TileJob, model: Any = None, observers: Sequence[Observer] = ()) -> TileResult:
    """Optimise one tile from its start: `rounds` rounds of the run's optimiser, max_evals evaluations each.

    model: the network, when running where it is already built; a worker builds its own once.
    """
    if job.threads:
        limit_threads(job.threads)
    began = time.perf_counter()
    model = model if model is not None else job.network.build()
    stage = build_stage(model, job.objective, job.content, (), job.blend, regions=job.regions,
                        style_stats=job.style_stats)
    best = optimise(stage, job.optimizer, job.start.astype(np.float64).ravel(), job.rounds, job.max_evals, observers,
                    job.first_round)
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


def _cut(regions: Sequence[Region] | None, tile: Tile) -> tuple[Region, ...] | None:
    if regions is None:
        return None
    return tuple(Region(r.styles, None if r.mask is None else np.ascontiguousarray(r.mask[tile.window]))
                 for r in regions)


# keep(i, picture, loss, terms, progress, exact) -> whether to stop: the pass ending with iteration i is
# done (picture.Painter.keep; exact makes the picture unrounded, for a 16-bit PNG).
Keep = Callable[[int, np.ndarray, float, dict[str, float], Any, Callable[[], np.ndarray]], bool]


@dataclass(frozen=True)
class Scale:
    """A tiled scale's fixed parts: its block, rounds per pass, grids, the photo there, the style targets."""

    block: Block
    rounds: list[int]
    grids: list[tuple[Tile, ...]]
    photo: np.ndarray  # (h, w, 3) uint8: whole numbers from an 8-bit decode, a quarter of float32's memory
    stats: StyleStats
    regions: list[Region] | None


class TiledRender:
    """A run's tiled scales, pass after pass over their tiles, with the picture so far and the tiles done
    kept in the run folder's working.npz after every tile, and continued from there when the same run
    starts again. The picture loop only calls resume(), paint() per tiled block and finished()."""

    def __init__(self, run: RunContext, folder: RunFolder, blocks: Sequence[Block], max_evals: int) -> None:
        self.run, self.folder, self.blocks, self.max_evals = run, folder, list(blocks), max_evals
        self.tiling: Tiling = run.tiling  # type: ignore[assignment]  (a tiled block means a tiling)
        self.state = load_state(folder.path)  # after the folder's claim: another run's state is gone
        self._last: np.ndarray | None = None  # the picture of the last pass painted

    def resume(self, progress: Progress) -> tuple[int, np.ndarray | None, tuple[int, int] | None]:
        """Where the run starts: (the first iteration to paint, the picture it continues, that picture's
        size); (0, None, None) for a render from the start."""
        point = None if self.state is None else resume_point(self.tiling, self.blocks, self.state, self.max_evals)
        if point is None:
            if os.path.isfile(os.path.join(self.folder.path, STATE)):
                # Unreadable (a disk that filled up under it) or not this plan's: said, not silently dropped.
                progress.say(f"[INFO] '{os.path.join(self.folder.path, STATE)}' cannot be continued (unreadable, or "
                             "not from this render); the tiled render starts over")
            self.state = None
            return 0, None, None
        (unit, cost, evals), state = point, self.state
        self.folder.resume(unit)
        progress.resumed(unit, cost, evals)
        progress.say(f"[INFO] continuing the stopped tiled render in '{self.folder.path}' at {state.dims[1]}x"
                     f"{state.dims[0]} px, pass {state.pass_ + 1}, {len(state.done)} of its tiles done")
        return state.first, state.canvas, state.dims

    def finished(self) -> None:
        """The picture is finished: nothing to continue."""
        forget_state(self.folder.path)

    def paint(self, block: Block, X: np.ndarray | None, at: tuple[int, int] | None, progress: Progress,
              runner: Runner, keep: Keep) -> tuple[np.ndarray, bool, np.ndarray]:
        """Refine the block's scale in tiles, from X (a picture of size at) enlarged, the init, or where a
        stopped render of it stood; (its picture in VGG space, whether to stop, the picture)."""
        state = self.state if self.state is not None and self.state.first == block.first else None
        photo = self.run.photo_at(block.dims)  # read once: for the tiles, the init and luminance's colours
        scale = self._scale(block, photo)
        canvas = self._canvas(block, X, at, state, photo)
        content = photo if self.run.colors == "luminance" else None  # kept only when luminance needs it
        photo, self._last = None, None
        try:
            for p in range(state.pass_ if state else 0, len(scale.rounds)):
                done = dict(state.done) if state and p == state.pass_ else {}
                self._pass(scale, p, canvas, done, progress, runner)
                if self._finish(scale, p, canvas, content, done, progress, keep):
                    return canvas, True, self._last
        except (KeyboardInterrupt, NonFiniteLossError):
            self.folder.stopped()  # a finished pass that save_every skipped goes to disk too
            progress.say(f"[INFO] stopped: the finished tiles are kept in '{os.path.join(self.folder.path, STATE)}'"
                         "; run the same command again to continue from there")
            raise
        # No pass left (a render stopped just after its last pass): the picture is the one it left.
        return canvas, False, self._last if self._last is not None else self.run.picture(canvas, block.dims, content)

    def _scale(self, block: Block, photo: np.ndarray) -> Scale:
        rounds = pass_rounds(block.count, self.tiling.passes)
        grids = pass_grids(block.dims, self.tiling.size, self.tiling.overlap, len(rounds))
        stats = self.run.style_stats(block.dims, photo)
        return Scale(block, rounds, grids, photo.astype(np.uint8), stats, self.run.regions(block.dims))

    def _canvas(self, block: Block, X: np.ndarray | None, at: tuple[int, int] | None, state: TileState | None,
                photo: np.ndarray) -> np.ndarray:
        """The (h, w, 3) float32 picture a tiled scale starts from."""
        if state is not None:
            canvas = state.canvas
        elif X is None or at is None:  # from the init
            canvas = self.run.start_picture(block.dims, photo)[0]
        else:
            canvas = enlarge(X, at, block.dims, np.float32)[0]
        return np.ascontiguousarray(canvas, np.float32)

    def _pass(self, scale: Scale, p: int, canvas: np.ndarray, done: dict[int, dict[str, float]],
              progress: Progress, runner: Runner) -> None:
        """Pass p over the scale's tiles (those not in done), phase after phase, each pasted as it comes."""
        (h, w), grid, rounds, max_evals = scale.block.dims, scale.grids[p], scale.rounds[p], self.max_evals
        size, overlap, passes = self.tiling.size, self.tiling.overlap, len(scale.rounds)
        progress.say(f"[TILE] {w}x{h} px, pass {p + 1} of {passes}: {len(grid)} tiles of up to {size} px "
                     f"(overlap {overlap} px), {rounds} round{'s' * (rounds > 1)} of up to {max_evals} "
                     f"evaluations each, on {runner.describe()}" + (f"; {len(done)} already done" if done else ""))
        run = self.run

        def job(tile: Tile) -> TileJob:
            return TileJob(tile, run.network, run.objective, run.optimizer, run.styles.blend,
                           canvas[tile.window].copy(), scale.photo[tile.window].astype(np.float32), scale.stats,
                           _cut(scale.regions, tile), rounds, max_evals, runner.threads,
                           scale.block.first + sum(scale.rounds[:p]))

        def here(job: TileJob) -> TileResult:  # painted in this process: the bar follows its evaluations
            progress.tile_started(f"pass {p + 1}/{passes} tile {job.tile.index + 1}/{len(grid)}", rounds * max_evals)
            return paint_tile(job, run.model, progress.observers)

        for phase in sorted({tile.phase for tile in grid}):
            todo = (job(tile) for tile in grid if tile.phase == phase and tile.index not in done)
            for result in runner.map(here if runner.threads is None else paint_tile, todo):
                with interrupts_held():  # a tile is pasted and stored whole, or not at all
                    paste(canvas, result.tile, result.image, overlap)
                    done[result.tile.index] = {"total": result.loss, **result.terms}
                    TileState(scale.block.first, scale.block.dims, p, done, canvas).save(self.folder.path)
                progress.tile_ended(f"[TILE] pass {p + 1}/{passes}, tile {len(done)}/{len(grid)} "
                                    f"(#{result.tile.index + 1}, {result.tile.width}x{result.tile.height} px at "
                                    f"{result.tile.left},{result.tile.top}): loss {result.loss:.4e}, "
                                    f"{result.seconds:.1f} s", result.tile.height * result.tile.width * rounds,
                                    rounds * max_evals)

    def _finish(self, scale: Scale, p: int, canvas: np.ndarray, content: np.ndarray | None,
                done: Mapping[int, Mapping[str, float]], progress: Progress, keep: Keep) -> bool:
        """Pass p is done: its picture kept as the iteration it ends, then the state moved past it (both
        whole, before a Ctrl-C counts); whether to stop."""
        block, i = scale.block, scale.block.first + sum(scale.rounds[: p + 1]) - 1
        # The pass's loss and terms: its tiles' summed (each tile weighed as a picture of its own).
        terms = {name: sum(tile[name] for tile in done.values()) for name in next(iter(done.values()))}
        loss = terms.pop("total")
        with interrupts_held():
            self._last = self.run.picture(canvas, block.dims, content)
            stop = keep(i, self._last, loss, terms, progress, lambda: self.run.picture(canvas, block.dims, content,
                                                                                       exact=True))
            progress.say(f"[INFO] end of iteration {i + 1} (a pass over the tiles), loss: {loss:.4e} summed over "
                         f"its tiles ({', '.join(f'{k} {v:.3e}' for k, v in terms.items())}); "
                         f"ETA {duration(progress.eta())}")
            TileState(block.first, block.dims, p + 1, {}, canvas).save(self.folder.path)
        return stop


# -- a run's work, counted in units: a whole iteration, or a pass over a tiled scale's tiles -----------

def first_units(tiling: Tiling | None, blocks: Sequence[Block]) -> list[int]:
    """The unit each block of the plan starts at."""
    counts = [len(pass_rounds(b.count, tiling.passes)) if b.tiled and tiling else b.count for b in blocks]
    return [sum(counts[:k]) for k in range(len(blocks))]


def work_units(tiling: Tiling | None, blocks: Sequence[Block], max_evals: int) -> list[tuple[float, int]]:
    """(cost, evaluations) of each unit: cost in pixels x rounds, what the time of a unit goes with."""
    units: list[tuple[float, int]] = []
    for block in blocks:
        if not (block.tiled and tiling):
            units += [(block.dims[0] * block.dims[1], max_evals)] * block.count
            continue
        rounds = pass_rounds(block.count, tiling.passes)
        grids = pass_grids(block.dims, tiling.size, tiling.overlap, len(rounds))
        units += [(r * sum(t.height * t.width for t in grid), r * len(grid) * max_evals)
                  for r, grid in zip(rounds, grids, strict=True)]
    return units


def resume_point(tiling: Tiling, blocks: Sequence[Block], state: TileState,
                 max_evals: int) -> tuple[int, float, int] | None:
    """Where a stopped tiled render continues: (its unit, the cost and evaluations of that unit already done);
    None when the state is of none of the plan's tiled scales."""
    found = [(block, unit) for block, unit in zip(blocks, first_units(tiling, blocks), strict=True)
             if block.tiled and block.first == state.first and block.dims == state.dims]
    if not found:
        return None
    (block, unit) = found[0]
    rounds = pass_rounds(block.count, tiling.passes)
    if state.pass_ >= len(rounds):  # that scale was finished: the next one starts
        return unit + len(rounds), 0.0, 0
    grid = pass_grids(block.dims, tiling.size, tiling.overlap, len(rounds))[state.pass_]
    done = [tile for tile in grid if tile.index in state.done]
    return (unit + state.pass_, float(rounds[state.pass_] * sum(t.height * t.width for t in done)),
            rounds[state.pass_] * len(done) * max_evals)
