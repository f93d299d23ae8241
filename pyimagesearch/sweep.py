"""Random walks through the weight space: plan a sweep, run it here, in processes or on Ray.

The plan is a pure function of the sweep's seed and settings, and each experiment's folder is
named by a hash of everything that shapes its image, so running the same command again finds
the finished experiments (those with final.png) and only runs the rest.

The morning after, plan_around() draws new experiments around favourites (log-normal around their
weights, everything else kept), as the next generation of the same sweep: numbered after the
experiments already there, each folder's experiment.json naming its generation and favourite.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import math
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimagesearch.nn.conv.atomic import write_atomic
from pyimagesearch.nn.conv.errors import NeuralStyleError, SettingsError
from pyimagesearch.nn.conv.images import write_rgb
from pyimagesearch.nn.conv.run_folder import read_record
from pyimagesearch.nn.conv.settings import DEFAULTS, NEUTRAL_KEYS, resolve_settings, weights_source
from pyimagesearch.runner import Runner, limit_threads

FINAL = "final.png"
LINEAGE = "experiment.json"  # an experiment's generation and the favourite it was drawn around
STARS = "stars.json"  # the starred experiments (or runs) of a folder, by name: the web page writes it
WEIGHT_KEYS = ("content_weight", "style_weight", "tv_weight")
# --around draws each weight as favourite x 10^z, z normal with sd SPREAD decades, cut at +-SPREAD_CUT sd.
SPREAD = 0.25
SPREAD_CUT = 2.0
# Log-uniform ranges around the chapter's 1 / 100 / 10.
RANGES: dict[str, tuple[float, float]] = {
    "content_weight": (0.1, 10.0),
    "style_weight": (10.0, 1000.0),
    "tv_weight": (1.0, 100.0),
}


@dataclass(frozen=True)
class Experiment:
    id: str
    settings: dict[str, Any]  # NeuralStyle settings, output_path being the experiment's folder
    max_evals: int
    generation: int = 1  # 1: drawn from the ranges; n + 1: drawn around a favourite of generation n
    parent: str | None = None  # that favourite's id
    title: str | None = None  # how progress lines name it (a batch's photo); default: its id and weights

    @property
    def folder(self) -> str:
        return self.settings["output_path"]

    @property
    def done(self) -> bool:
        return os.path.isfile(os.path.join(self.folder, FINAL))

    def describe(self) -> str:
        if self.title:
            return self.title
        s = self.settings
        return (f"{self.id} (content {s['content_weight']:.3g}, style {s['style_weight']:.3g}, "
                f"tv {s['tv_weight']:.3g}, {s['content_layer']})")


def check_range(key: str, low: float, high: float) -> tuple[float, float]:
    """A log-uniform range: both ends > 0 and low <= high."""
    if not (0 < low <= high) or not math.isfinite(high):
        raise SettingsError(f"range of '{key}' (--{key.replace('_', '-')}-range) must have 0 < MIN <= MAX "
                            f"for log-uniform sampling, got {low} {high}")
    return (low, high)


def _digest(settings: dict[str, Any], max_evals: int) -> str:
    # Keys at their default are left out, so a later version's new settings keep the names.
    shaping = {k: v for k, v in settings.items() if k not in NEUTRAL_KEYS and v != DEFAULTS.get(k)}
    return hashlib.sha1(json.dumps([shaping, max_evals], sort_keys=True).encode()).hexdigest()[:8]


def plan(base: dict[str, Any], ranges: dict[str, tuple[float, float]], content_layers: list[str],
         count: int, seed: int, max_evals: int, folder: str) -> list[Experiment]:
    """count experiments drawn from ranges and content_layers; experiment i depends on seed and i only."""
    base = resolve_settings({**base, "weights": weights_source(base.get("weights"))})
    rng = np.random.default_rng(seed)
    experiments = []
    for _ in range(count):
        # Every draw happens for every experiment, so a longer sweep begins with the shorter one.
        drawn = {key: float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}")
                 for key, (lo, hi) in ranges.items()}
        layer = content_layers[int(rng.integers(len(content_layers)))]
        settings = {**base, **drawn, "content_layer": layer, "seed": int(rng.integers(2**31)),
                    "overwrite": False}
        name = f"{len(experiments):03d}-{_digest(settings, max_evals)}"
        experiments.append(Experiment(name, {**settings, "output_path": os.path.join(folder, name)}, max_evals))
    return experiments


@dataclass(frozen=True)
class Favourite:
    """A finished experiment to draw new ones around: its id, its settings.json record, its generation."""

    id: str
    record: dict[str, Any]
    generation: int


def experiment_names(folder: str) -> list[str]:
    """The experiment folders of a sweep ("003-1f0c9a2e"), sorted."""
    if not os.path.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n)) and n[:3].isdigit()
                  and n[3:4] == "-")


def lineage(folder: str) -> dict[str, Any]:
    """An experiment folder's generation and favourite (generation 1, none, for a plain sweep's)."""
    try:
        with open(os.path.join(folder, LINEAGE), encoding="utf-8") as f:
            return {"generation": 1, "parent": None, **json.load(f)}
    except (OSError, ValueError):
        return {"generation": 1, "parent": None}


def starred(folder: str) -> set[str]:
    """The names of the starred runs among folder's subfolders (its stars.json; none when there is none)."""
    try:
        with open(os.path.join(folder, STARS), encoding="utf-8") as f:
            return {str(n) for n in json.load(f).get("starred", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def find_experiment(folder: str, ref: str, flag: str, finished: bool = False) -> str:
    """The one experiment of the sweep in folder whose id is ref or starts with it; NeuralStyleError
    naming the flag otherwise (or, with finished, when it has no final.png yet)."""
    names = experiment_names(folder)
    matches = [n for n in names if n == ref] or [n for n in names if n.startswith(ref)]
    if len(matches) != 1:
        found = "matches " + ", ".join(matches) if matches else "matches no experiment"
        raise NeuralStyleError(f"{flag} {ref}: in sweep folder '{folder}' it {found}")
    if finished and not os.path.isfile(os.path.join(folder, matches[0], FINAL)):
        raise NeuralStyleError(f"{flag} {ref}: experiment {matches[0]} in '{folder}' is not finished (no {FINAL} "
                               "yet); let the sweep finish it, or choose a finished one")
    return matches[0]


def favourite(folder: str, ref: str) -> Favourite:
    """The finished experiment ref (an id or a unique prefix) of the sweep in folder, for --around."""
    name = find_experiment(folder, ref, "--around", finished=True)
    return Favourite(name, read_record(os.path.join(folder, name, "settings.json")),
                     lineage(os.path.join(folder, name))["generation"])


def _near(rng: np.random.Generator, value: float, spread: float) -> float:
    """value x 10^z, z ~ N(0, spread) redrawn until |z| <= SPREAD_CUT * spread: a bounded log-normal draw."""
    while abs(z := rng.normal()) > SPREAD_CUT:
        pass
    return float(f"{value * 10 ** (z * spread):.4g}")


def plan_around(favourites: list[Favourite], count: int, seed: int, spread: float, folder: str,
                given: dict[str, Any], max_evals: int | None = None) -> list[Experiment]:
    """count experiments drawn around the favourites in turn: each favourite's settings kept but for the
    weights (log-normal around its own, sd `spread` decades, none not in `given`) and the noise seed.

    The draws depend on seed, the favourites and spread only; an experiment already in folder keeps
    its name, a new one is numbered after the highest number there, so running it again resumes.
    """
    ids = ",".join(f.id for f in favourites)
    rng = np.random.default_rng([seed, int(hashlib.sha1(f"{ids}|{spread}".encode()).hexdigest()[:8], 16)])
    names = experiment_names(folder)
    by_digest = {n.split("-", 1)[1]: n for n in names}
    number = max((int(n[:3]) for n in names), default=-1) + 1
    experiments = []
    for k in range(count):
        parent = favourites[k % len(favourites)]
        settings = {**parent.record["settings"], **given}
        drawn = {key: _near(rng, settings[key], spread) for key in WEIGHT_KEYS if key not in given}
        settings = {**settings, **drawn, "seed": int(rng.integers(2**31)), "overwrite": False}
        evals = max_evals or parent.record.get("max_evals") or 20
        digest = _digest(settings, evals)
        if digest in by_digest:
            name = by_digest[digest]
        else:
            name, number = f"{number:03d}-{digest}", number + 1
        experiments.append(Experiment(name, {**settings, "output_path": os.path.join(folder, name)}, evals,
                                      parent.generation + 1, parent.id))
    return experiments


def run_experiment(experiment: Experiment, threads: int | None = None) -> dict[str, Any]:
    """Run one experiment into its folder (its log in log.txt); final.png is written last, atomically.

    Whatever goes wrong inside (a bad setting, or a bug of ours) fails this experiment only: the
    result says so, the traceback goes to its log.txt, and the sweep goes on with the others.
    """
    if threads:
        limit_threads(threads)
    from pyimagesearch.nn.conv import NeuralStyle  # here: planning a sweep loads no TensorFlow

    start = time.perf_counter()
    os.makedirs(experiment.folder, exist_ok=True)
    for stale in glob.glob(os.path.join(glob.escape(experiment.folder), "iter_*.png")):
        os.remove(stale)  # an unfinished earlier attempt: start over
    if experiment.parent:
        write_atomic(os.path.join(experiment.folder, LINEAGE), json.dumps(
            {"generation": experiment.generation, "parent": experiment.parent}).encode("utf-8"))
    # Line-buffered, so `tail -f log.txt` follows a running experiment.
    with open(os.path.join(experiment.folder, "log.txt"), "w", buffering=1) as log:
        try:
            with contextlib.redirect_stdout(log):
                ns = NeuralStyle(experiment.settings)

                def finish(i: int, image: np.ndarray, terms: dict[str, float]) -> None:
                    # Called as the last iteration is kept, within its hold on Ctrl-C: an experiment whose
                    # last iteration is on disk is finished too, never painted again.
                    if i == ns.run.iterations - 1:
                        write_rgb(os.path.join(experiment.folder, FINAL), image)

                image = ns.transfer(maxEvals=experiment.max_evals, callback=finish)
        except NeuralStyleError as e:
            print(f"error: {e}", file=log)
            return {"id": experiment.id, "error": str(e)}
        except Exception as e:  # not KeyboardInterrupt: Ctrl-C stops the whole sweep
            traceback.print_exc(file=log)
            return {"id": experiment.id, "error": f"{type(e).__name__}: {e} (traceback in its log.txt)"}
    if not os.path.isfile(os.path.join(experiment.folder, FINAL)):  # a tiled render resumed past its last pass
        write_rgb(os.path.join(experiment.folder, FINAL), image)
    return {"id": experiment.id, "loss": ns.losses[-1], "seconds": time.perf_counter() - start}


def run_sweep(experiments: list[Experiment], workers: int = 1, ray_address: str | None = None,
              report: Callable[[str], None] = print, tag: str = "[SWEEP]",
              noun: str = "experiments") -> list[dict[str, Any]]:
    """Run the unfinished experiments; report a line for each and for the sweep; return their results.

    tag and noun name them in those lines (a batch of photos runs here too)."""
    todo = [e for e in experiments if not e.done]
    runner = Runner(workers, ray_address)
    report(f"{tag} {len(experiments)} {noun}: {len(experiments) - len(todo)} already done, "
           f"{len(todo)} to run on {runner.describe()}")
    if not todo:
        return []
    by_id = {e.id: e for e in todo}
    finished: list[dict[str, Any]] = []
    start = time.perf_counter()
    with runner:
        for result in runner.map(functools.partial(run_experiment, threads=runner.threads), todo):
            finished.append(result)
            report(_line(tag, len(experiments) - len(todo) + len(finished), len(experiments),
                         by_id[result["id"]].describe(), result, start, len(finished), len(todo)))
    return finished


def _line(tag: str, n: int, total: int, name: str, result: dict[str, Any], start: float, finished: int,
          todo: int) -> str:
    elapsed = time.perf_counter() - start
    eta = elapsed / finished * (todo - finished)
    outcome = (f"FAILED: {result['error']}" if "error" in result
               else f"loss {result['loss']:.4g}, {result['seconds']:.0f} s")
    return f"{tag} {n}/{total} {name}: {outcome}; elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min"
