"""The run folder: claimed up front, stamped with what made its images, and never left half-written.

settings.json records the settings that made the images beside it (and the loss after each
iteration), so a later run with other settings is refused instead of silently mixing or
overwriting them. The folder also decides which iterations reach disk (save_every) and what an
interrupted run leaves behind: the last finished iteration always, and the unfinished one's best
image as iter_<i>_partial.png.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
from collections.abc import Mapping
from typing import Any

import numpy as np

from .atomic import write_atomic
from .errors import SettingsError
from .images import describe, is_in_memory, write_rgb, write_rgb16
from .settings import DEFAULTS, NEUTRAL_KEYS, SCHEMA, as_list, label

RECORD = "settings.json"
WORKING = "working.npz"  # a stopped tiled render's picture so far (tiles.py)


def prepare_folder(path: str) -> None:
    """Create the folder if needed and make sure files can be written there."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise SettingsError(f"{label('output_path')}: cannot create folder '{path}' ({e.strerror})") from None
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(f"{label('output_path')}: folder '{path}' is not writable")


def _json_ready(value: Any) -> Any:
    # Images given as arrays are named by shape and digest: enough to tell runs apart, though
    # --config cannot replay them (save the array to a file for that).
    if is_in_memory(value):
        return describe(value)
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def run_record(settings: Any, maxEvals: int, weights: str, seed_drawn: bool = False) -> dict[str, Any]:
    """Everything needed to make the same images again, as JSON-ready values; "losses" (and "terms", each
    iteration's weighted loss terms by name) fill in as the iterations finish. seed_drawn: the seed was drawn
    for this run (the setting was None)."""
    import keras

    from .backends import active, entry

    values = {key: _json_ready(value) for key, value in settings.items()}
    return {"settings": {**values, "weights": weights}, "max_evals": maxEvals, "seed_drawn": seed_drawn,
            "files": input_files(settings),
            "versions": {"python": platform.python_version(), "keras": keras.__version__, "backend": active(),
                         **entry().versions()}, "losses": [], "terms": []}


def input_files(settings: Any) -> dict[str, str]:
    """path -> SHA-1 of every image file the settings name (photo, styles, masks, start image), so a
    record says which pictures made its images, not only where they were."""
    files = {}
    for row in SCHEMA:
        for value in as_list(settings.get(row.key)) if row.image else []:
            if isinstance(value, str) and os.path.isfile(value):
                with open(value, "rb") as f:
                    files[value] = hashlib.sha1(f.read()).hexdigest()
    return files


def read_record(path: str) -> dict[str, Any]:
    """A settings.json written by an earlier run; SettingsError names the file when it is unusable.

    The project's one reader of settings.json (--config, --render, the gallery, claiming a folder).
    """
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except FileNotFoundError:
        raise SettingsError(f"config file '{path}' does not exist") from None
    except (OSError, ValueError) as e:
        raise SettingsError(f"config file '{path}' is not a readable settings.json ({e})") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise SettingsError(f"config file '{path}' has no \"settings\" object; is it a NeuralStyle settings.json?")
    return record


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two records in what shapes the pictures, as "key: old -> new" lines."""
    def essential(record: dict[str, Any]) -> dict[str, Any]:
        # A record from an older version lacks the newer settings: it ran with their defaults.
        values = {k: v for k, v in {**DEFAULTS, **record.get("settings", {})}.items() if k not in NEUTRAL_KEYS}
        if record.get("seed_drawn"):
            values["seed"] = None  # what was asked for: a new noise image each run
        return {**values, "max_evals": record.get("max_evals")}

    a, b = essential(old), essential(new)
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def other_run(folder: str, record: dict[str, Any], overwrite: bool, holds: str) -> list[str]:
    """What differs between the run whose files are in folder and this record ([]: the same run).

    A different run is refused with one line naming the folder and what changed, unless overwrite;
    holds says what the folder has ("3 images"). The caller removes the other run's files.
    """
    try:
        changes = differences(read_record(os.path.join(folder, RECORD)), record)
    except SettingsError:
        changes = [f"no readable {RECORD} says what made them"]
    if changes and not overwrite:
        raise SettingsError(f"{label('output_path')}: folder '{folder}' already holds {holds} of another run "
                            f"({'; '.join(changes)}); choose another output_path or set overwrite (--overwrite)")
    return changes


def write_record(folder: str, record: dict[str, Any]) -> None:
    """settings.json of folder, written atomically."""
    write_atomic(os.path.join(folder, RECORD), (json.dumps(record, indent=2) + "\n").encode("utf-8"))


class RunFolder:
    """The folder of one transfer(): see the module docstring."""

    def __init__(self, path: str, record: dict[str, Any], save_every: int = 1,
                 losses: list[float] | None = None) -> None:
        self.path = path
        self.record = record
        self.save_every = save_every
        # The loss at the end of each finished iteration (losses: a list of the caller's to fill in).
        self.losses: list[float] = losses if losses is not None else []
        self._unsaved: tuple[int, np.ndarray] | None = None  # a finished iteration that save_every skipped
        self._kept: tuple[int, np.ndarray] | None = None  # the last finished iteration
        self._earlier: list[float] = []  # the losses of the same run stopped earlier in this folder
        # Each finished iteration's weighted loss terms, by name (whichever terms the run has).
        self.terms: list[dict[str, float]] = []
        self._earlier_terms: list[dict[str, float]] = []

    def image_path(self, i: int, partial: bool = False) -> str:
        return os.path.join(self.path, f"iter_{i}{'_partial' if partial else ''}.png")

    def claim(self, overwrite: bool) -> None:
        """Refuse a folder holding another run's images (unless overwrite), then write settings.json.

        With overwrite, the other run's iter_*.png (and a stopped tiled render's working.npz) go first,
        so no stale image sits beside the new ones. The same run's losses so far are kept for resume().
        """
        files = glob.glob(os.path.join(glob.escape(self.path), "iter_*.png"))
        images = len(files)
        files += glob.glob(os.path.join(glob.escape(self.path), WORKING))
        if files and other_run(self.path, self.record, overwrite,
                               f"{images} images" if images else "a stopped tiled render"):
            for file in files:
                os.remove(file)
        elif files:
            earlier = read_record(os.path.join(self.path, RECORD))
            self._earlier = list(earlier.get("losses") or [])
            self._earlier_terms = list(earlier.get("terms") or [])
        self._write_record()

    def resume(self, kept: int) -> None:
        """Continue a stopped run of the same settings: its first `kept` losses (iterations or tiled passes)
        stand, as their images do."""
        self.losses[:] = self._earlier[:kept]
        self.terms[:] = self._earlier_terms[:kept]
        self._write_record()

    def keep(self, i: int, image: np.ndarray, loss: float, last: bool = False, exact: np.ndarray | None = None,
             terms: Mapping[str, float] | None = None) -> None:
        """Iteration i finished with this RGB image: record its loss (and its terms), write it if it is due (or
        last).

        exact: the same picture as float RGB in [0, 255], given for the last one when the photo was 16-bit:
        it is then written as a 16-bit PNG."""
        self.losses.append(float(loss))
        self.terms.append({name: float(value) for name, value in (terms or {}).items()})
        self._unsaved = self._kept = (i, image)
        if last or (i + 1) % self.save_every == 0:
            if exact is not None and last:
                write_rgb16(self.image_path(i), exact)
            else:
                write_rgb(self.image_path(i), image)
            self._unsaved = None
        self._write_record()

    def stopped(self, exact: np.ndarray | None = None) -> None:
        """The run ends after the last finished iteration (a callback asked to): write it whatever save_every
        says, as a 16-bit PNG when exact (see keep) is given."""
        if exact is not None and self._kept is not None:
            write_rgb16(self.image_path(self._kept[0]), exact)
        elif self._unsaved is not None:
            write_rgb(self.image_path(self._unsaved[0]), self._unsaved[1])
        self._unsaved = None

    def interrupted(self, i: int, partial: np.ndarray | None) -> str | None:
        """Iteration i stopped early: write the last finished iteration whatever save_every says, and
        partial (its best image so far, if any) beside, never over, the finished ones; return its path."""
        self.stopped()
        if partial is None:
            return None
        path = self.image_path(i, partial=True)
        write_rgb(path, partial)
        return path

    def _write_record(self) -> None:
        write_record(self.path, {**self.record, "losses": self.losses, "terms": self.terms})
