"""A folder of photos in one run: the same style on every photo, each into its own output folder.

`input_path` naming a folder or a glob ("holiday/*.jpg") makes a batch: every image file there is
painted with the same settings into output_path/<its name>/ (iter_*.png, settings.json, log.txt
and final.png, written last). A batch is a sweep whose experiments differ by photo instead of by
weights, so it runs on the sweep's runner: finished photos (final.png made by the same settings)
are skipped when the command is run again, and --workers / --ray-address spread the photos over
processes or a Ray cluster. A file that is not a photo it can paint is skipped and listed at the
end, never a stop; a problem of the settings every photo shares stops the batch before any work.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyimagesearch.gallery import write_batch_gallery
from pyimagesearch.nn.conv.errors import NeuralStyleError, SettingsError
from pyimagesearch.nn.conv.images import describe
from pyimagesearch.nn.conv.run_folder import other_run, run_record
from pyimagesearch.nn.conv.run_plan import plan_run
from pyimagesearch.nn.conv.settings import label, weights_source
from pyimagesearch.runner import check_workers
from pyimagesearch.sweep import FINAL, Experiment, run_sweep

GLOB_CHARACTERS = "*?["


def is_batch(input_path: Any) -> bool:
    """Whether input_path names many photos (a folder, or a glob pattern) rather than one image."""
    if not isinstance(input_path, (str, os.PathLike)):
        return False  # an array or a Pillow image: one picture
    path = os.fspath(input_path)
    return os.path.isdir(path) or (any(c in path for c in GLOB_CHARACTERS) and not os.path.exists(path))


def batch_files(input_path: str | os.PathLike) -> list[str]:
    """The files a folder holds (not its sub-folders or hidden files), or a glob matches, sorted."""
    path = os.fspath(input_path)
    if os.path.isdir(path):
        files = [os.path.join(path, name) for name in os.listdir(path) if not name.startswith(".")]
        where = f"folder '{path}'"
    else:
        files = glob.glob(path)
        where = f"pattern '{path}'"
    files = sorted(f for f in files if os.path.isfile(f))
    if not files:
        raise SettingsError(f"{label('input_path')}: {where} has no files to paint")
    return files


def photo_names(files: list[str]) -> dict[str, str]:
    """file -> the name of its output folder: the file's name without extension, unless two files
    share it (beach.jpg and beach.png), then with the extension (beach_jpg, beach_png)."""
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    return {f: stem if stems.count(stem) == 1 else os.path.basename(f).replace(".", "_")
            for f, stem in zip(files, stems, strict=True)}


@dataclass(frozen=True)
class Batch:
    folder: str  # the batch's output_path: one sub-folder per photo, the gallery
    photos: tuple[Experiment, ...]  # one per photo, in file-name order
    skipped: tuple[tuple[str, str], ...]  # (file, why) for every file that is not a photo it can paint


def plan_batch(settings: Mapping[str, Any], max_evals: int) -> Batch:
    """Check every photo of the batch (no network) and decide which are finished.

    A photo's own problem (not an image, too small for the layers) skips that file; a problem that
    does not name the photo (a style image, a setting, the weights) is every photo's and raised.
    A photo finished by other settings is refused like any run folder, unless overwrite is set.
    """
    folder = os.fspath(settings.get("output_path") or "output")
    files = batch_files(settings["input_path"])
    photos, skipped = [], []
    for path, name in photo_names(files).items():
        photo = {**settings, "input_path": path, "output_path": os.path.join(folder, name)}
        try:
            planned = plan_run(photo)  # its first check reads the photo: a non-image names the file
        except NeuralStyleError as e:
            if describe(path) not in str(e):
                raise
            skipped.append((path, str(e)))
            continue
        experiment = Experiment(name, photo, max_evals, title=os.path.basename(path))
        _check_finished(experiment, run_record(planned.settings, max_evals, weights_source(planned.settings["weights"]),
                                               planned.seed_drawn), bool(planned.settings["overwrite"]))
        photos.append(experiment)
    if not photos:
        raise SettingsError(f"{label('input_path')}: none of the {len(files)} files in '{settings['input_path']}' "
                            f"is a photo it can paint ({_listed(skipped)})")
    return Batch(folder, tuple(photos), tuple(skipped))


def _check_finished(experiment: Experiment, record: dict[str, Any], overwrite: bool) -> None:
    """A photo whose final.png another run's settings made: refused, or (overwrite) made again."""
    if experiment.done and other_run(experiment.folder, record, overwrite, "a finished picture"):
        os.remove(os.path.join(experiment.folder, FINAL))


def _files(count: int) -> str:
    return f"{count} file{'s' * (count != 1)}"


def _listed(skipped: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{os.path.basename(path)}: {why}" for path, why in skipped)


def run_batch(settings: Mapping[str, Any], max_evals: int, workers: int = 1, ray_address: str | None = None,
              report: Callable[[str], None] | None = None) -> Batch:
    """Paint every photo the settings' input_path names that is not finished yet; write the gallery.

    Returns the batch; raises NeuralStyleError after the gallery is written when some photo failed.
    """
    check_workers(workers)
    say = report or ((lambda line: None) if settings.get("quiet") else print)
    batch = plan_batch(settings, max_evals)
    say(f"[BATCH] {len(batch.photos)} photos in '{settings['input_path']}' -> '{batch.folder}/<photo>/'"
        + (f" ({_files(len(batch.skipped))} skipped, listed at the end)" if batch.skipped else ""))
    try:
        results = run_sweep(list(batch.photos), workers=workers, ray_address=ray_address, report=say, tag="[BATCH]",
                            noun="photos")
    finally:  # the gallery shows what is finished, after a stop too
        index = write_batch_gallery(batch.folder, list(batch.photos), settings["style_path"], batch.skipped)
        say(f"[BATCH] gallery: {index}")
        if batch.skipped:  # a warning, also with quiet: these files were not painted
            print(f"warning: {_files(len(batch.skipped))} not painted (not a photo it can paint):", file=sys.stderr)
            for path, why in batch.skipped:
                print(f"  {path}: {why}", file=sys.stderr)
    failed = [r for r in results if "error" in r]
    if failed:
        raise NeuralStyleError(f"{len(failed)} of {len(batch.photos)} photos failed ({failed[0]['id']}: "
                               f"{failed[0]['error']}); see their log.txt, and run the same command again to retry "
                               "them")
    return batch
