"""The same weights at several sizes, in both loss normalisations: terms and a picture.

    python bench/size_invariance.py --sizes 128 256 512 --iterations 10

First, without optimising: the content photo, the painting and a blurred photo standing in for a
result, at a few sizes and then all three upsampled 2x; prints how far each term and the
content/style and TV/style balances move. Then runs the sample transfer (seed 0, chapter weights)
at each long side in each mode, prints the weighted content, style and TV terms of each final
image as a Markdown table, and writes docs/size_invariance.jpg: one row per mode, one column per
size, all shown at the same size.
"""

import argparse
import contextlib
import io
import os
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pyimagesearch.nn.conv import NeuralStyle

MODES = ("chapter", "size_invariant")


def upsampling_moves(long_side: int, mode: str) -> dict[str, float]:
    """How much each term and each balance changes when all three images are drawn 2x bigger."""
    size = (long_side, long_side * 3 // 4)
    photo = Image.open("inputs/tubingen.jpg").convert("RGB").resize(size, Image.Resampling.LANCZOS)
    painting = Image.open("inputs/starry_night.jpg").convert("RGB").resize(size, Image.Resampling.LANCZOS)
    images = {"input_path": photo, "style_path": painting, "result": photo.filter(ImageFilter.GaussianBlur(1.5))}
    terms = []
    for factor in (1, 2):
        drawn = {k: np.asarray(v.resize((size[0] * factor, size[1] * factor), Image.Resampling.BICUBIC))
                 for k, v in images.items()}
        with tempfile.TemporaryDirectory() as out:
            ns = NeuralStyle({"input_path": drawn["input_path"], "style_path": drawn["style_path"],
                              "output_path": out, "loss_normalization": mode, "quiet": True})
            ns.loss(ns.preprocess(drawn["result"]).astype(np.float64).ravel())
        terms.append(ns.lastTerms)
    small, big = terms
    moves = {k: big[k] / small[k] for k in small}
    moves["content/style"] = moves["content"] / moves["style"]
    moves["TV/style"] = moves["tv"] / moves["style"]
    return moves


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
    parser.add_argument("--upsampled", nargs="+", type=int, default=[96, 128, 256],
                        help="long sides to upsample 2x from (nothing optimised)")
    args = parser.parse_args()

    print("| mode | size, then 2x | content | style | TV | content/style | TV/style |")
    print("|---|---|---|---|---|---|---|")
    for mode in MODES:
        for side in args.upsampled:
            m = upsampling_moves(side, mode)
            print(f"| {mode} | {side} → {2 * side} | " + " | ".join(
                f"{m[k]:.2f}x" for k in ("content", "style", "tv", "content/style", "TV/style")) + " |", flush=True)
    print()

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
