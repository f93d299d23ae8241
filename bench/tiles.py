"""Print-size pictures in tiles: peak memory at two output sizes, seams, and the README example.

    python bench/tiles.py memory --sizes 1024 2048 --tile-size 256
    python bench/tiles.py render --width 2048 --tile-size 512 --out output/print

memory: a short tiled render (one pass over the tiles, a few evaluations each) at each output width,
each in a fresh process, prints its peak resident memory (VmHWM); the same tile size at 4x the pixels
should stay level.

render: enlarges the sample photo to --width px (bicubic), renders it coarse to fine in tiles with
style_transfer.py (timed, peak memory from /usr/bin/time -v where present, else VmHWM of the child),
then measures the seams: the mean gradient magnitude of the finished picture on the bands where tiles
were blended (each pass's) against everywhere else, beside the same ratio for two grids that were
never used (what the picture's own detail gives), and writes docs/tiles.jpg: the picture shrunk,
and a crop at 100 % around the crossing of the last pass's tile borders nearest the middle.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyimagesearch.nn.conv.device import describe_cpu  # noqa: E402
from pyimagesearch.nn.conv.tiles import feather, pass_grids, tile_grid  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "inputs", "tubingen.jpg")

CHILD = """
import json, sys
from pyimagesearch.nn.conv import NeuralStyle
ns = NeuralStyle({"input_path": sys.argv[1], "output_path": sys.argv[2], "tile_size": int(sys.argv[3]),
                  "iterations": 1, "init": "content", "seed": 0, "quiet": True})
ns.transfer(maxEvals=int(sys.argv[4]))
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({"dims": list(ns.plan.final_dims), "rss": rss}))
"""


def enlarged(width: int, folder: str) -> str:
    """The sample photo enlarged to width px (4:3), as a PNG in folder."""
    path = os.path.join(folder, f"tubingen_{width}.png")
    with Image.open(PHOTO) as photo:
        photo.convert("RGB").resize((width, width * 3 // 4), Image.Resampling.BICUBIC).save(path)
    return path


def memory(args: argparse.Namespace) -> None:
    print(f"machine: {describe_cpu()}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for width in args.sizes:
            photo = enlarged(width, folder)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CHILD, photo, os.path.join(folder, f"out{width}"),
                                   str(args.tile_size), str(args.max_evals)], capture_output=True, text=True,
                                  cwd=ROOT, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            (h, w) = row["dims"]
            print(f"{w}x{h} px ({w * h / 1e6:.2f} MP), tiles of {args.tile_size} px: peak RSS "
                  f"{row['rss'] / 2**20:.0f} MiB ({time.perf_counter() - start:.0f} s)", flush=True)
    if len(rows) > 1:
        pixels = [row["dims"][0] * row["dims"][1] for row in rows]
        print(f"largest / smallest: pixels x{pixels[-1] / pixels[0]:.1f}, "
              f"peak memory x{rows[-1]['rss'] / rows[0]['rss']:.3f}")


def band_ratio(gradient: np.ndarray, grid: tuple, overlap: int) -> float:
    """Mean gradient magnitude on the bands where a grid's tiles are blended / everywhere else."""
    band = np.zeros(gradient.shape, bool)
    for tile in grid:
        weights = feather(tile, gradient.shape, overlap)[..., 0]
        band[tile.window] |= (weights > 0) & (weights < 1)
    return float(gradient[band].mean() / gradient[~band].mean())


def seam_ratios(picture: np.ndarray, size: int, overlap: int, passes: int) -> tuple[list[float], list[float]]:
    """Per pass, band_ratio of its grid on the finished picture; and the same for two grids that were never
    used (shifted a quarter and three quarters of a stride), which says how much the picture's own
    detail moves the ratio."""
    grey = picture.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    dy, dx = np.gradient(grey)
    gradient = np.hypot(dy, dx)
    used = [band_ratio(gradient, grid, overlap) for grid in pass_grids(grey.shape, size, overlap, passes)]
    stride = size - overlap
    unused = [band_ratio(gradient, tile_grid(grey.shape, size, overlap, shift), overlap)
              for shift in (stride // 4, 3 * stride // 4)]
    return used, unused


def render(args: argparse.Namespace) -> None:
    os.makedirs(args.out, exist_ok=True)
    photo = enlarged(args.width, args.out)
    overlap = args.tile_overlap or args.tile_size // 8
    argv = [sys.executable, "style_transfer.py", "--input-path", photo, "--output-path", args.out,
            "--tile-size", str(args.tile_size), "--tile-overlap", str(overlap), "--tile-passes", str(args.passes),
            "--scales", *map(str, args.scales), "--iterations", str(args.iterations), "--max-evals",
            str(args.max_evals), "--init", args.init, "--seed", "0", "--workers", str(args.workers), *args.extra]
    timer = ["/usr/bin/time", "-v"] if os.path.exists("/usr/bin/time") else []
    print(f"machine: {describe_cpu()}\n$ {' '.join(argv[1:])}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(timer + argv, cwd=ROOT, text=True, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(done.stderr)
    peak = next((int(line.split()[-1]) * 1024 for line in done.stderr.splitlines()
                 if "Maximum resident set size" in line), None)
    final = os.path.join(args.out, f"iter_{args.iterations - 1}.png")
    picture = np.asarray(Image.open(final).convert("RGB"))
    passes = min(args.passes, args.iterations // len(args.scales))
    used, unused = seam_ratios(picture, args.tile_size, overlap, passes)
    print(f"{picture.shape[1]}x{picture.shape[0]} px in {seconds / 60:.1f} min"
          + (f", peak memory {peak / 2**30:.2f} GiB" if peak else "")
          + f"; seams (gradient on blended bands / elsewhere), per pass: {', '.join(f'{r:.3f}' for r in used)}; "
          f"on two grids never used (control): {', '.join(f'{r:.3f}' for r in unused)}")
    figure(picture, args.tile_size, overlap, passes, args.figure)


def figure(picture: np.ndarray, size: int, overlap: int, passes: int, path: str) -> None:
    """The picture shrunk beside a crop at 100 % centred on a crossing of the last pass's tile borders."""
    (h, w) = picture.shape[:2]
    last = pass_grids((h, w), size, overlap, passes)[-1]
    # the crossing of the last pass's blended bands nearest the middle of the picture
    crossings = [(t.own[0] + overlap // 2, t.own[2] + overlap // 2) for t in last if t.ramps[0] and t.ramps[2]] or [
        (h // 2, w // 2)]
    cy, cx = min(crossings, key=lambda c: (c[0] - h / 2) ** 2 + (c[1] - w / 2) ** 2)
    crop_h, crop_w = 384, 512
    top, left = min(max(cy - crop_h // 2, 0), h - crop_h), min(max(cx - crop_w // 2, 0), w - crop_w)
    crop = Image.fromarray(picture[top:top + crop_h, left:left + crop_w])
    whole = Image.fromarray(picture)
    whole.thumbnail((crop_w * 2, crop_h * 2), Image.Resampling.LANCZOS)
    scale = whole.width / w
    ImageDraw.Draw(whole).rectangle([left * scale, top * scale, (left + crop_w) * scale, (top + crop_h) * scale],
                                    outline=(255, 255, 255), width=2)
    sheet = Image.new("RGB", (whole.width + crop_w + 12, max(whole.height, crop_h)), "white")
    sheet.paste(whole, (0, 0))
    sheet.paste(crop, (whole.width + 12, 0))
    sheet.save(path, quality=90)
    print(f"figure: {path} (crop {crop_w}x{crop_h} at {left},{top}; blended bands cross at {cx},{cy})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--sizes", nargs="+", type=int, default=[1024, 2048], help="output widths (4:3)")
    m.add_argument("--tile-size", type=int, default=256)
    m.add_argument("--max-evals", type=int, default=3)
    r = sub.add_parser("render")
    r.add_argument("--width", type=int, default=2048)
    r.add_argument("--tile-size", type=int, default=512)
    r.add_argument("--tile-overlap", type=int, default=None)
    r.add_argument("--passes", type=int, default=2)
    r.add_argument("--scales", nargs="+", type=float, default=[0.25, 0.5, 1.0])
    r.add_argument("--iterations", type=int, default=6)
    r.add_argument("--max-evals", type=int, default=20)
    r.add_argument("--init", default="content")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--out", default="output/print")
    r.add_argument("--figure", default=os.path.join(ROOT, "docs", "tiles.jpg"))
    r.add_argument("extra", nargs="*", help="more style_transfer.py flags (after --)")
    args = parser.parse_args()
    (memory if args.command == "memory" else render)(args)


if __name__ == "__main__":
    main()
