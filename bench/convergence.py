"""Loss against wall time: one scale or coarse-to-fine, noise or content start.

    python bench/convergence.py --minutes 6.5 --target 4.83e11

Runs the sample transfer at 512x384 (the chapter's weights and formulas, seed 0, 20 evaluations
per iteration) once per configuration, each for at most --minutes, one after the other in this
process, recording the loss after every iteration. On the coarser scales of a multi-scale run the
loss is the chapter's loss taken as at 512x384 (objective.py: content and TV at final_pixels), so all curves share one
axis. Prints when each run first got below --target (by default the final loss of the chapter's
own 50 x 20 run measured for the README) and draws docs/convergence.png.
"""

import argparse
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pyimagesearch.nn.conv import NeuralStyle  # noqa: E402

CONFIGS = {
    "one scale, noise start (the chapter's)": {"iterations": 50},
    "one scale, content start": {"iterations": 50, "init": "content"},
    "scales 0.25 0.5 1, noise start": {"iterations": 36, "scales": [0.25, 0.5, 1.0]},
    "scales 0.25 0.5 1, content start": {"iterations": 36, "scales": [0.25, 0.5, 1.0], "init": "content"},
}


def run(settings: dict, minutes: float) -> list[tuple[float, float, int]]:
    """(seconds since the start, loss, long side) after each iteration, until the time is up."""
    points = []
    with tempfile.TemporaryDirectory() as out:
        ns = NeuralStyle({"seed": 0, "quiet": True, "output_path": out, **settings})
        start = time.perf_counter()

        def record(iteration, image, losses):
            points.append((time.perf_counter() - start, losses["total"], max(image.shape[:2])))
            return points[-1][0] < minutes * 60

        ns.transfer(maxEvals=20, callback=record)
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=6.5, help="time limit of each run")
    parser.add_argument("--target", type=float, default=4.83e11, help="loss to reach")
    parser.add_argument("--figure", default="docs/convergence.png", help="'' for none")
    parser.add_argument("--only", help="run only the configurations whose name contains this")
    args = parser.parse_args()

    curves = {}
    print("| configuration | iterations done | final loss | time to reach target |")
    print("|---|---|---|---|")
    for name, settings in CONFIGS.items():
        if args.only and args.only not in name:
            continue
        points = run(settings, args.minutes)
        curves[name] = points
        reached = next((t for t, loss, side in points if loss <= args.target and side == 512), None)
        when = f"not within {args.minutes:g} min" if reached is None else f"{reached:.0f} s"
        print(f"| {name} | {len(points)} | {points[-1][1]:.3e} | {when} |", flush=True)

    if not args.figure:
        return
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    for name, points in curves.items():
        line, = ax.plot([t / 60 for t, _, _ in points], [loss for _, loss, _ in points], label=name, marker=".")
        coarse = [(t, loss) for t, loss, side in points if side < 512]
        if coarse:  # iterations at a coarse scale: hollow markers
            ax.plot([t / 60 for t, _ in coarse], [loss for _, loss in coarse], "o", mfc="none",
                    color=line.get_color())
    ax.axhline(args.target, color="grey", linestyle="--", linewidth=1)
    ax.text(0.02, args.target * 1.06, f"target {args.target:.3g}", color="grey", transform=ax.get_yaxis_transform())
    ax.set_yscale("log")
    ax.set_xlabel("wall time (minutes, 2-core CPU)")
    ax.set_ylabel("loss (the chapter's, at 512x384)")
    ax.set_title("Sample transfer at 512x384: loss after each iteration (hollow: coarse scale)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.figure)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
