"""The runs on disk under the page's output folder, for its gallery tab: the page's own, the command
line's and every sweep experiment (any folder with a settings.json and a picture), their stars, and
new variations around one of them (the sweep's --around).

Stars live in stars.json in the folder that holds the starred runs: the sweep gallery (gallery.py)
starts with the same stars when it is written, so a run starred on the page is starred there too.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from pyimagesearch.nn.conv.atomic import write_atomic
from pyimagesearch.nn.conv.run_folder import RECORD, read_record
from pyimagesearch.sweep import (
    FINAL,
    SPREAD,
    STARS,
    Experiment,
    Favourite,
    experiment_names,
    lineage,
    plan_around,
    starred,
)

DEPTH = 3  # root/sweep/experiment/render_<size>: as deep as the scripts make run folders


@dataclass(frozen=True)
class RunOnDisk:
    folder: str  # absolute
    name: str  # relative to the page's output folder
    picture: str  # final.png, else the newest iter_<i>.png
    record: dict[str, Any]  # its settings.json

    @property
    def settings(self) -> dict[str, Any]:
        return self.record["settings"]

    def caption(self) -> str:
        s, losses = self.settings, self.record.get("losses") or []
        star = "★ " if is_starred(self) else ""
        loss = f", loss {losses[-1]:.3g}" if losses else ""
        return (f"{star}{self.name}: style {s.get('style_weight', 0):.3g}, tv {s.get('tv_weight', 0):.3g}, "
                f"{len(losses)}/{s.get('iterations')} it{loss}")


def _picture(folder: str) -> str | None:
    final = os.path.join(folder, FINAL)
    if os.path.isfile(final):
        return final
    images = glob.glob(os.path.join(glob.escape(folder), "iter_*.png"))
    finished = [p for p in images if re.fullmatch(r"iter_\d+\.png", os.path.basename(p))]
    return max(finished or images, key=os.path.getmtime) if images else None


def run_in(folder: str, root: str) -> RunOnDisk | None:
    """The run in folder (a settings.json and a picture), named relative to root; None if there is none."""
    picture = _picture(folder)
    if picture is None or not os.path.isfile(os.path.join(folder, RECORD)):
        return None
    try:
        record = read_record(os.path.join(folder, RECORD))
    except Exception:  # a half-copied or foreign settings.json: not a run the page can show
        return None
    return RunOnDisk(os.path.abspath(folder), os.path.relpath(folder, root), picture, record)


def runs_under(root: str) -> list[RunOnDisk]:
    """Every run folder under root (root itself included, DEPTH levels down), newest first."""
    root = os.path.abspath(root)
    runs = []
    for folder, subfolders, _ in os.walk(root):
        if os.path.relpath(folder, root).count(os.sep) + (folder != root) >= DEPTH:
            subfolders.clear()
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]  # .uploads
        if (run := run_in(folder, root)) is not None:
            runs.append(run)
    return sorted(runs, key=lambda r: os.path.getmtime(os.path.join(r.folder, RECORD)), reverse=True)


def is_starred(run: RunOnDisk) -> bool:
    return os.path.basename(run.folder) in starred(os.path.dirname(run.folder))


def toggle_star(run: RunOnDisk) -> bool:
    """Star the run, or take its star off; whether it is starred now."""
    parent, name = os.path.split(run.folder)
    stars = starred(parent) ^ {name}
    write_atomic(os.path.join(parent, STARS), (json.dumps({"starred": sorted(stars)}, indent=2) + "\n").encode())
    return name in stars


def variations(run: RunOnDisk, count: int, seed: int) -> tuple[str, list[Experiment]]:
    """(their folder, count new experiments around run): its weights log-normal around its own, everything
    else kept. A sweep experiment's variations join its sweep, as --around's do; any other run's go to a
    sweep folder beside it, '<run>-around'."""
    parent, name = os.path.split(run.folder)
    in_sweep = name in experiment_names(parent)
    folder = parent if in_sweep else f"{run.folder}-around"
    generation = lineage(run.folder)["generation"] if in_sweep else 1
    favourite = Favourite(name, run.record, generation)
    return folder, plan_around([favourite], count, seed, SPREAD, folder, {}, run.record.get("max_evals"))
