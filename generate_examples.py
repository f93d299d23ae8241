"""Overnight parameter sweeps: many style transfers with weights drawn at random.

    python generate_examples.py --output-path output/sweep --experiments 12

The morning after, star the pictures you like in output/sweep/index.html and double down on them:

    python generate_examples.py --output-path output/sweep --around 003 007 --experiments 8

Content, style and TV weights are drawn log-uniformly from their ranges (a fixed value via
--content-weight etc.), each experiment gets its own folder (final.png, iter_*.png, settings.json,
log.txt), and index.html + contact_sheet.jpg show them all. Run the same command again after a
stop: finished experiments are kept and skipped. Every style_transfer.py flag works here too.
"""

# pyimagesearch comes first on purpose: it asks Keras for the TensorFlow backend before keras loads,
# and TensorFlow starts with its native start-up log held back (pyimagesearch/runtime.py).
from pyimagesearch.runtime import start_backend  # noqa: I001

start_backend()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from pyimagesearch.cli import apply_flags, given_settings, run, settings_parser  # noqa: E402
from pyimagesearch.nn.conv.errors import NeuralStyleError  # noqa: E402
from pyimagesearch.nn.conv.run_folder import read_record  # noqa: E402
from pyimagesearch.nn.conv.settings import DEFAULTS  # noqa: E402

# A sweep's defaults: the chapter's, with shorter runs so that a dozen fit in an evening.
SETTINGS = {**DEFAULTS, "output_path": "output/sweep", "iterations": 10}


def parser():
    p = settings_parser(SETTINGS, description=__doc__, skip=("seed", "overwrite"))
    from pyimagesearch.sweep import RANGES, SPREAD, SPREAD_CUT

    sweep = p.add_argument_group("sweep")
    sweep.add_argument("--experiments", type=int, default=12, help="how many experiments the sweep holds")
    sweep.add_argument("--seed", type=int, default=0, dest="sweep_seed",  # not the 'seed' setting: see plan()
                       help="seed of the random walk: the same seed draws the same experiments")
    for key, (low, high) in RANGES.items():
        sweep.add_argument(f"--{key.replace('_', '-')}-range", nargs=2, type=float, default=(low, high),
                           metavar=("MIN", "MAX"), help=f"log-uniform range of {key} (--{key.replace('_', '-')} "
                           "fixes it instead)")
    sweep.add_argument("--content-layers", nargs="+", metavar="LAYER",
                       help="content layers to choose from at random (default: --content-layer alone)")
    sweep.add_argument("--workers", type=int, default=1,
                       help="experiments at once on this machine, each in its own process (with --render: the "
                       "tiles of a picture rendered with --tile-size)")
    sweep.add_argument("--around", nargs="+", metavar="ID",
                       help="instead of drawing from the ranges, draw --experiments new ones around these finished "
                       "experiments (ids or unique prefixes) of the sweep in --output-path: their weights "
                       "log-normal around each favourite's, everything else kept; the gallery's stars write "
                       "this command for you")
    sweep.add_argument("--spread", type=float, default=SPREAD, metavar="DECADES",
                       help="with --around: standard deviation of each weight's draw on a log10 scale (0.25: "
                       f"about x1.8 either way; draws are cut at {SPREAD_CUT:g} standard deviations)")
    sweep.add_argument("--render", metavar="ID",
                       help="instead of sweeping, re-run experiment ID (or a unique prefix) of the sweep in "
                       "--output-path, e.g. bigger with --max-size N, into ID/render_<size>/")
    sweep.add_argument("--ray-address", metavar="ADDRESS",
                       help="run the experiments as tasks on this Ray cluster ('auto' finds a local one); "
                       "needs pip install '.[ray]' and an output folder every node can reach")
    return p


def main(argv: list[str] | None = None) -> None:
    from pyimagesearch.runner import check_workers
    from pyimagesearch.sweep import RANGES, check_range, plan

    args = parser().parse_args(argv)
    if args.render:
        render(args)
        return
    if args.experiments < 1:
        raise NeuralStyleError(f"--experiments must be a whole number >= 1, got {args.experiments}")
    check_workers(args.workers)
    if args.around:
        around(args)
        return
    (base, max_evals) = apply_flags(SETTINGS, args)
    ranges = {}
    for key in RANGES:
        fixed = getattr(args, key, None)
        ranges[key] = (fixed, fixed) if fixed is not None else getattr(args, f"{key}_range")
        ranges[key] = check_range(key, *ranges[key])
    folder = base["output_path"]
    experiments = plan(base, ranges, args.content_layers or [base["content_layer"]], args.experiments,
                       args.sweep_seed, max_evals, folder)
    run_and_show(experiments, args, folder, base)


def around(args: argparse.Namespace) -> None:
    """The next generation: --experiments new experiments drawn around the --around favourites."""
    from pyimagesearch.sweep import favourite, plan_around

    if not (args.spread > 0):
        raise NeuralStyleError(f"--spread must be a number of decades > 0, got {args.spread}")
    folder = args.output_path if "output_path" in args else SETTINGS["output_path"]
    favourites = [favourite(folder, ref) for ref in dict.fromkeys(args.around)]
    given = {k: v for k, v in given_settings(args).items() if k != "output_path"}
    experiments = plan_around(favourites, args.experiments, args.sweep_seed, args.spread, folder, given,
                              getattr(args, "max_evals", None))
    print(f"[SWEEP] around {', '.join(f.id for f in favourites)} (spread {args.spread:g} decades): "
          f"generation {', '.join(sorted({str(e.generation) for e in experiments}))}")
    run_and_show(experiments, args, folder, favourites[0].record["settings"])


def run_and_show(experiments: list, args: argparse.Namespace, folder: str, base: dict) -> None:
    """Check every experiment, run the unfinished ones, and write the gallery (after a stop too)."""
    from pyimagesearch.gallery import write_gallery
    from pyimagesearch.nn.conv.run_plan import plan_run
    from pyimagesearch.sweep import run_sweep

    # Every experiment's files and settings are checked before any work starts (no network needed).
    for experiment in experiments:
        plan_run({**experiment.settings, "output_path": folder})
    try:
        results = run_sweep(experiments, workers=args.workers, ray_address=args.ray_address)
    finally:  # the gallery shows what is finished, after a stop too
        index, sheet = write_gallery(folder, base["input_path"], base["style_path"])
        print(f"[SWEEP] gallery: {index}  contact sheet: {sheet}")
    failed = [r for r in results if "error" in r]
    if failed:
        raise NeuralStyleError(f"{len(failed)} experiment(s) failed (see their log.txt); "
                               "run the same command again to retry them")


def render(args: argparse.Namespace) -> None:
    """Experiment ID again, from its settings.json, with the flags given written over it."""
    from pyimagesearch.nn.conv import NeuralStyle
    from pyimagesearch.sweep import find_experiment

    folder = args.output_path if "output_path" in args else SETTINGS["output_path"]
    name = find_experiment(folder, args.render, "--render")
    args.config = os.path.join(folder, name, "settings.json")
    (settings, max_evals) = apply_flags(SETTINGS, args)
    preview_size = read_record(args.config)["settings"].get("max_size")
    if settings["max_size"] != preview_size and settings["loss_normalization"] == "chapter" and not settings["quiet"]:
        print(f"[SWEEP] note: {name} uses loss_normalization 'chapter', whose balance of content and style "
              "changes with the size, so this render will not look like its preview; sweeps made with "
              "--loss-normalization size_invariant keep it")
    size = settings["max_size"] or "full"
    settings["output_path"] = os.path.join(folder, name, f"render_{size}")
    NeuralStyle(settings).transfer(maxEvals=max_evals, workers=args.workers, ray_address=args.ray_address)
    print(f"[SWEEP] rendered {name} into '{settings['output_path']}'")


if __name__ == "__main__":
    sys.exit(run(main))
