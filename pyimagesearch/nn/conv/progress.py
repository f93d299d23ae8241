"""Saying what a run is doing: [INFO] lines for logs, and a progress bar on terminals.

The bar counts evaluations (it observes the evaluator) and shows the loss split, elapsed time and
ETA; the [INFO] lines give each iteration's loss, its time and the ETA of the whole run, so logs
and notebooks, which get no bar, still see both.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from tqdm import tqdm


def say(message: str, quiet: bool = False) -> None:
    """One [INFO] line on stdout, above a running bar if there is one."""
    if not quiet:
        tqdm.write(message, file=sys.stdout)


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def announce(run: Any, folder: str, max_evals: int) -> None:
    """The [INFO] lines a run (a RunContext) starts with: its size, rounds and folder, and a drawn noise seed."""
    plan, (h, w) = run.plan, run.final_dims
    say(f"[INFO] {w}x{h} px, {len(plan.schedule())} iterations of up to {max_evals} evaluations "
        f"({run.optimizer.name}), writing to '{folder}'", run.quiet)
    if plan.tiled(plan.final_dims):
        say(f"[INFO] sizes above {run.tiling.size} px are refined in tiles of {run.tiling.size} px (overlap "
            f"{run.tiling.overlap} px, {run.tiling.passes} passes with the grid shifted); a stop keeps the finished "
            "tiles", run.quiet)
    if isinstance(run.init, str) and run.init == "noise" and plan.seed_drawn:
        say(f"[INFO] noise seed {run.seed} (drawn; --seed {run.seed} starts from the same noise again)", run.quiet)


class Progress:
    """Progress of one transfer(), in units of work: each whole iteration, and each pass over the tiles of a
    tiled scale. costs: each unit's share of the run's time (pixels x evaluations); evals: how many loss
    evaluations each unit takes (the bar counts them); iterations: how many iterations the run has."""

    def __init__(self, costs: Sequence[float], evals: Sequence[int], iterations: int, quiet: bool = False,
                 observers: list[Any] | None = None) -> None:
        # observers: the evaluators' observer list, which this progress joins while it is entered.
        self.costs, self.evals, self.iterations, self.quiet = list(costs), list(evals), iterations, quiet
        self.observers = observers if observers is not None else []
        # A bar on terminals only (disable=None): logs and notebooks' captured output get the [INFO] lines.
        self.bar = tqdm(total=sum(self.evals), unit="eval", dynamic_ncols=True, leave=False,
                        disable=True if quiet else None, file=sys.stderr)
        self._end = 0  # the evaluation count at which the running unit (or tile) ends
        self._done = self._before = 0.0  # cost finished; of it, before this process started (a resumed run)
        self._tile_here = False  # the running tile was started in this process (its evaluations are seen)
        self._started = self._round_started = time.perf_counter()

    def __enter__(self) -> Progress:
        self.observers.append(self.evaluated)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.observers.remove(self.evaluated)
        self.bar.close()

    def say(self, message: str) -> None:
        say(message, self.quiet)

    def evaluated(self, loss: float, terms: dict[str, float]) -> None:
        """An evaluator's observer: one more evaluation, with its loss split."""
        # L-BFGS may take a few evaluations past max_evals: the bar counts up to the round's end only.
        self.bar.update(int(self.bar.n < self._end))
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items()}, refresh=False)

    def eta(self) -> float:
        """Seconds left, at the pace of the work done in this process so far."""
        done = self._done - self._before
        return (time.perf_counter() - self._started) / done * (sum(self.costs) - self._done) if done > 0 else 0.0

    def resumed(self, unit: int, cost: float = 0.0, evals: int = 0) -> None:
        """A resumed run: units before unit, and cost / evals of it, were done by an earlier process."""
        self._done = self._before = sum(self.costs[:unit]) + cost
        self.bar.update(sum(self.evals[:unit]) + evals)

    def interrupted(self, i: int, folder: str, partial: str | None) -> None:
        """Iteration i stopped early: say what is kept (the finished iterations, its best image so far)."""
        if i:
            self.say(f"[INFO] iterations 1-{i} are finished; their images are in '{folder}'")
        if partial:
            self.say(f"[INFO] iteration {i + 1} stopped early; its best image so far is '{partial}'")

    def iteration_started(self, i: int, unit: int) -> None:
        self.say(f"[INFO] starting iteration {i + 1} of {self.iterations}")
        self.bar.set_description(f"iteration {i + 1}/{self.iterations}", refresh=False)
        self._end = sum(self.evals[: unit + 1])
        self._round_started = time.perf_counter()

    def iteration_ended(self, i: int, unit: int, loss: float, terms: dict[str, Any]) -> None:
        self.bar.update(self._end - self.bar.n)  # L-BFGS may also stop short of it
        self._done = sum(self.costs[: unit + 1])
        self.say(f"[INFO] end of iteration {i + 1}, loss: {loss:.4e} "
                 f"({', '.join(f'{name} {value:.3e}' for name, value in terms.items())}; "
                 f"{time.perf_counter() - self._round_started:.1f} s; ETA {duration(self.eta())})")

    def tile_started(self, description: str, evals: int) -> None:
        """A tile starts in this process: the bar follows its evaluations (a worker's tile: see tile_ended)."""
        self.bar.set_description(description, refresh=False)
        self._end = self.bar.n + evals
        self._tile_here = True

    def tile_ended(self, message: str, cost: float, evals: int) -> None:
        """A tile of a pass is done: message says which and its loss; cost is its share of the run's time,
        evals its evaluations (counted here at once when it ran in a worker, whose evaluations nobody saw)."""
        self.bar.update(max(0, self._end - self.bar.n) if self._tile_here else evals)
        self._end, self._tile_here = self.bar.n, False
        self._done += cost
        self.say(f"{message}; elapsed {duration(time.perf_counter() - self._started)}, ETA {duration(self.eta())}")
