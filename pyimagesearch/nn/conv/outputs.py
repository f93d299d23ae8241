"""The output folder: created and checked up front, and stamped with the settings of its run.

settings.json records what made the images beside it, so a later run with other settings is
refused instead of silently mixing or overwriting them.
"""

from __future__ import annotations

import glob
import json
import os
import platform
from typing import Any

from .atomic import write_atomic
from .errors import SettingsError
from .images import describe, is_in_memory
from .settings import DEFAULTS, label

RECORD = "settings.json"
# Keys that do not change the pictures, so they may differ between runs into one folder.
NEUTRAL_KEYS = ("output_path", "overwrite", "quiet", "save_every")


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


def run_record(settings: dict[str, Any], maxEvals: int, weights: str) -> dict[str, Any]:
    """Everything needed to make the same images again, as JSON-ready values; "losses" fills in
    as the iterations finish."""
    import keras
    import tensorflow as tf

    values = {key: _json_ready(value) for key, value in settings.items()}
    return {"settings": {**values, "weights": weights}, "max_evals": maxEvals,
            "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                         "keras": keras.__version__}, "losses": []}


def read_record(path: str) -> dict[str, Any]:
    """A settings.json written by an earlier run; SettingsError names the file when it is unusable."""
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


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    def essential(record: dict[str, Any]) -> dict[str, Any]:
        # A record from an older version lacks the newer settings: it ran with their defaults.
        values = {k: v for k, v in {**DEFAULTS, **record.get("settings", {})}.items() if k not in NEUTRAL_KEYS}
        return {**values, "max_evals": record.get("max_evals")}

    a, b = essential(old), essential(new)
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def claim_folder(path: str, record: dict[str, Any], overwrite: bool) -> None:
    """Refuse a folder holding another run's images (unless overwrite), then write settings.json.

    With overwrite, the other run's iter_*.png go first, so no stale image sits beside the new ones.
    """
    images = glob.glob(os.path.join(glob.escape(path), "iter_*.png"))
    old_path = os.path.join(path, RECORD)
    if images:
        try:
            with open(old_path, encoding="utf-8") as f:
                changes = _differences(json.load(f), record)
        except (OSError, ValueError):
            changes = [f"no readable {RECORD} says what made them"]
        if changes and not overwrite:
            raise SettingsError(
                f"{label('output_path')}: folder '{path}' already holds {len(images)} images of another run "
                f"({'; '.join(changes)}); choose another output_path or set overwrite (--overwrite)")
        if changes:
            for image in images:
                os.remove(image)
    write_record(path, record)


def write_record(folder: str, record: dict[str, Any]) -> None:
    """(Re)write folder/settings.json atomically."""
    write_atomic(os.path.join(folder, RECORD), (json.dumps(record, indent=2) + "\n").encode("utf-8"))
