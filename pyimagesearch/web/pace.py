"""Before starting: how long a run will take on this machine, and whether it fits in its memory.

The time comes from this machine's own pace, seconds per loss evaluation at a measured size, scaled
with the pixels (VGG's work grows with them): measured once when the page starts (a few evaluations
of a small picture) and again by every run the page makes. The memory is features.memory_needed,
the same figure the size check of every run uses.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from pyimagesearch.nn.conv.features import available_memory, fitting_tile, memory_needed
from pyimagesearch.nn.conv.images import image_size, scaled_size
from pyimagesearch.nn.conv.progress import duration
from pyimagesearch.nn.conv.settings import label

GIB = 2.0**30
CALIBRATION_SIDE = 256  # px: big enough that the network's work, not its overhead, sets the pace


class Pace:
    """Seconds per evaluation this machine took, by picture size (pixels); thread-safe."""

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()

    def record(self, pixels: int, seconds: float) -> None:
        with self._lock:
            self._seen[int(pixels)] = float(seconds)

    def seconds(self, pixels: int) -> float | None:
        """Seconds per evaluation at this many pixels: the nearest measured size, scaled with the pixels."""
        with self._lock:
            if not self._seen:
                return None
            near = min(self._seen, key=lambda p: abs(np.log(p / pixels)))
            return self._seen[near] * pixels / near

    def calibrate(self, painting: threading.Lock) -> None:
        """Measure a few evaluations of a small noise picture (under the painting lock: no run beside it)."""
        from pyimagesearch.nn.conv import NeuralStyle

        rng = np.random.default_rng(0)
        side = CALIBRATION_SIDE
        picture = rng.integers(0, 256, (side * 3 // 4, side, 3), dtype=np.uint8)
        times: list[float] = []
        with painting, tempfile.TemporaryDirectory(prefix="neuralstyle-pace-") as folder:
            ns = NeuralStyle({"input_path": picture, "style_path": picture, "output_path": folder, "iterations": 1,
                              "quiet": True, "seed": 0})
            ns.observers.append(lambda loss, terms: times.append(time.perf_counter()))
            ns.transfer(maxEvals=6)
        steps = np.diff(times)[1:]  # the first evaluation also compiles
        if len(steps):
            self.record(side * (side * 3 // 4), float(np.median(steps)))


def planned_sizes(photo: Any, settings: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(w, h) of each iteration of a run of these settings on this photo (the run plan's schedule, without
    its file checks)."""
    (w, h) = image_size(photo)
    if settings.get("max_size") and max(w, h) > settings["max_size"]:
        (w, h) = scaled_size((w, h), settings["max_size"])
    fractions = settings.get("scales") or [1.0]
    sizes = [(max(1, round(w * f)), max(1, round(h * f))) for f in fractions]
    share, extra = divmod(settings["iterations"], len(sizes))
    return [size for size in sizes for _ in range(share)] + [sizes[-1]] * extra


def estimate(pace: Pace, photo: Any, settings: Mapping[str, Any], max_evals: int) -> str:
    """What the page says before Start: the size, the time it will take here, the memory it needs."""
    sizes = planned_sizes(photo, settings)
    (w, h) = sizes[-1]
    evals = max_evals * len(sizes)
    lines = [f"**{w}x{h} px**, {len(sizes)} iterations of up to {max_evals} evaluations ({evals} in all)."]
    per = pace.seconds(w * h)
    if per is None:
        lines.append("Time: still measuring this machine's pace (a few seconds after the page starts).")
    else:
        seconds = sum(max_evals * pace.seconds(sw * sh) for (sw, sh) in sizes)
        lines.append(f"Time: about **{duration(seconds)}** here ({per:.2f} s per evaluation at this size, "
                     "measured on this machine).")
    tile = settings.get("tile_size")
    need, have = memory_needed((w, h), tile), available_memory()
    lines.append(f"Memory: about {need / GIB:.1f} GiB of the {have / GIB:.1f} GiB free.")
    if need > have:
        fit = fitting_tile((w, h), have)
        lines.append(f"**This would not fit.** Set {label('tile_size')} to {fit} under All settings (the picture is "
                     "then painted in tiles, in the memory of one), or lower the size." if fit else
                     "**This would not fit**, even in tiles: lower the size.")
    return "  \n".join(lines)
