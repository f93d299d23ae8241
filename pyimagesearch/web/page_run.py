"""One run started from the page: NeuralStyle.transfer() in a worker thread, watched by the page.

The run is an ordinary one (its folder, settings.json, iter_<i>.png, the [INFO] lines in the
terminal that started the page); the page reads its state between iterations and evaluations: the
latest picture, the loss split, the ETA. Stop (or the tab closing) ends it at the next evaluation
the way Ctrl-C ends a command-line run: every finished iteration is on disk, and the unfinished
one's best picture beside them.
"""

from __future__ import annotations

import glob
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

from pyimagesearch.cli import out_of_memory
from pyimagesearch.nn.conv.errors import NeuralStyleError
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.progress import duration
from pyimagesearch.nn.conv.run_folder import RECORD

from .pace import Pace, planned_sizes


class PageStop(KeyboardInterrupt):
    """Stop was pressed or the tab closed: handled as a Ctrl-C, so the run keeps what it has painted."""


class PageRun:
    """A transfer() of settings (output_path: the run's own new folder) in a thread; see the module docstring.

    painting: the lock that lets one run paint at a time on this machine; pace: this machine's measured
    pace, which the run adds its own to."""

    def __init__(self, settings: Mapping[str, Any], max_evals: int, painting: threading.Lock, pace: Pace) -> None:
        self.settings, self.max_evals, self.folder = dict(settings), max_evals, settings["output_path"]
        self._painting, self._pace = painting, pace
        self._stop, self._done = threading.Event(), threading.Event()
        self.sizes = planned_sizes(settings["input_path"], settings)  # (w, h) of each iteration
        self.picture: np.ndarray | None = None  # RGB uint8: the latest finished iteration's, then the result
        self.iteration = 0  # iterations finished
        self.evals = 0  # evaluations of the running iteration
        self.terms: dict[str, float] = {}  # the latest evaluation's loss split
        self.outcome: str | None = None  # "finished", "stopped" or "failed", when done
        self.error: str | None = None
        self._started: float | None = None  # when the first evaluation began (the network loaded)
        self._steps: list[float] = []  # seconds between evaluations at the final size, for the pace
        self._last: float | None = None
        self._thread = threading.Thread(target=self._work, name="neuralstyle-page-run", daemon=True)

    def start(self) -> PageRun:
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the run at its next evaluation, keeping what is painted (also before it started: it then won't)."""
        self._stop.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, seconds: float) -> bool:
        return self._done.wait(seconds)

    # -- the worker thread ------------------------------------------------------------------

    def _work(self) -> None:
        from pyimagesearch.nn.conv import NeuralStyle

        with self._painting:  # a calibration, or another page's run, paints first
            try:
                if self._stop.is_set():
                    raise PageStop()
                ns = NeuralStyle(self.settings)
                ns.observers.append(self._evaluated)
                self.picture = ns.transfer(maxEvals=self.max_evals, callback=self._kept)
                self.outcome = "stopped" if self._stop.is_set() else "finished"
            except KeyboardInterrupt:
                self.outcome = "stopped"
                self.picture = self._best_on_disk()
            except NeuralStyleError as e:
                self.outcome, self.error = "failed", str(e)
            except Exception as e:  # a bug of ours or the machine's: the page says so and keeps serving
                traceback.print_exc(file=sys.stderr)
                self.outcome = "failed"
                self.error = out_of_memory(e) or f"{type(e).__name__}: {e} (the terminal that started the page " \
                    "has the details)"
            finally:
                if len(self._steps) >= 2:
                    (w, h) = self.sizes[-1]
                    self._pace.record(w * h, float(np.median(self._steps)))
                self._done.set()

    def _evaluated(self, loss: float, terms: dict[str, float]) -> None:
        if self._stop.is_set():
            raise PageStop()
        now = time.perf_counter()
        if self._started is None:
            self._started = now
        if self._last is not None and self.evals and self.sizes[min(self.iteration, len(self.sizes) - 1)] == \
                self.sizes[-1]:
            self._steps.append(now - self._last)
        self._last = now
        self.evals += 1
        self.terms = {"total": loss, **terms}

    def _kept(self, i: int, image: np.ndarray, losses: dict[str, float]) -> bool:
        self.picture, self.iteration, self.evals, self.terms, self._last = image, i + 1, 0, losses, None
        return not self._stop.is_set()

    def _newest_image(self) -> str | None:
        """The newest picture the run wrote (after a stop: the unfinished iteration's best, or the last finished)."""
        images = glob.glob(os.path.join(glob.escape(self.folder), "iter_*.png"))
        return max(images, key=os.path.getmtime) if images else None

    def _best_on_disk(self) -> np.ndarray | None:
        newest = self._newest_image()
        if newest is None:
            return self.picture
        return np.clip(load_rgb(newest), 0, 255).astype(np.uint8)  # load_rgb: float

    # -- what the page shows ----------------------------------------------------------------

    def files(self) -> list[str]:
        """The run's picture (the newest image in its folder) and its settings.json, for the download."""
        newest, record = self._newest_image(), os.path.join(self.folder, RECORD)
        return [newest] * (newest is not None) + [record] * os.path.isfile(record)

    def eta(self) -> float | None:
        """Seconds left, at the pace of the evaluations so far (weighing each iteration by its pixels)."""
        if self._started is None:
            return None
        cost = [w * h * self.max_evals for (w, h) in self.sizes]
        running = self.sizes[min(self.iteration, len(self.sizes) - 1)]
        done = sum(cost[: self.iteration]) + min(self.evals, self.max_evals) * running[0] * running[1]
        return (time.perf_counter() - self._started) / done * (sum(cost) - done) if done else None

    def status(self) -> str:
        """A few lines of Markdown: where the run is, its loss split, its ETA or how it ended."""
        total = len(self.sizes)
        if self.outcome == "finished":
            head = f"**Finished**: {total} iterations, in `{self.folder}`."
        elif self.outcome == "stopped":
            head = f"**Stopped** after {self.iteration} of {total} iterations; the best picture so far is kept in " \
                   f"`{self.folder}`."
        elif self.outcome == "failed":
            return f"**Could not paint**: {self.error}"
        elif self._started is None:
            head = f"Loading the network ... (the run's folder: `{self.folder}`)"
        else:
            eta = self.eta()
            evals = min(self.evals, self.max_evals)  # L-BFGS may take a few past max_evals
            head = f"Iteration {min(self.iteration + 1, total)} of {total}, evaluation {evals} of {self.max_evals}" \
                + (f"; ETA **{duration(eta)}**" if eta is not None else "") + f", into `{self.folder}`"
        split = ", ".join(f"{name} {value:.3g}" for name, value in self.terms.items())
        return head + (f"  \nloss: {split}" if split else "")
