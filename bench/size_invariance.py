"""The same weights at several sizes, in both loss normalisations: terms and a picture.

    python bench/size_invariance.py --sizes 128 256 512 --iterations 10

Runs the sample transfer (seed 0, chapter weights) at each long side in each mode, prints the
weighted content, style and TV terms of each final image as a Markdown table, and writes
docs/size_invariance.jpg: one row per mode, one column per size, all shown at the same size.
"""

import argparse
import contextlib
import io
import os
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pyimagesearch.nn.conv import NeuralStyle

MODES = ("chapter", "size_invariant")


def run(mode: str, size: int, iterations: int, max_evals: int) -> tuple[Image.Image, dict[str, float]]:
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        ns = NeuralStyle({"max_size": size, "loss_normalization": mode, "seed": 0, "iterations": iterations,
                          "output_path": out})
        final = ns.transfer(maxEvals=max_evals)
        path = os.path.join(out, f"iter_{iterations - 1}.png")
        ns.loss(ns.preprocess(path).astype(np.float64).ravel())  # the terms of the image as written
    return Image.fromarray(final), dict(ns.lastTerms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 256, 512])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--max-evals", type=int, default=20)
    parser.add_argument("--figure", default="docs/size_invariance.jpg")
    args = parser.parse_args()

    cell = (384, 288)
    font = ImageFont.load_default(size=16)
    figure = Image.new("RGB", (cell[0] * len(args.sizes), (cell[1] + 28) * len(MODES)), "white")
    draw = ImageDraw.Draw(figure)
    print("| mode | size | content | style | TV | content / style | TV / style |")
    print("|---|---|---|---|---|---|---|")
    for row, mode in enumerate(MODES):
        for col, size in enumerate(args.sizes):
            image, t = run(mode, size, args.iterations, args.max_evals)
            print(f"| {mode} | {image.width}x{image.height} | {t['content']:.3g} | {t['style']:.3g} | "
                  f"{t['tv']:.3g} | {t['content'] / t['style']:.3g} | {t['tv'] / t['style']:.3g} |", flush=True)
            x, y = col * cell[0], row * (cell[1] + 28)
            figure.paste(image.resize(cell, Image.Resampling.LANCZOS), (x, y + 28))
            draw.text((x + 6, y + 5), f"{mode}, {image.width}x{image.height}", fill="black", font=font)
    figure.save(args.figure, quality=88)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
