"""What the settings beyond the chapter do to the sample transfer: one picture per setting.

    python bench/options_figure.py --size 256 --iterations 10

Every panel is the sample pair at the same size, seed and number of evaluations, changing one
setting from the baseline (the chapter's weights with loss_normalization size_invariant, so the
256 px panels keep the balance those weights have at full size). The blend panel mixes in a
generated stained-glass texture, saved beside the figure. Writes docs/options.jpg and prints each
run's final loss and time.
"""

import argparse
import os
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pyimagesearch.nn.conv import NeuralStyle

BASE = {"loss_normalization": "size_invariant", "seed": 0, "quiet": True}


def stained_glass(width: int, height: int, cells: int = 60, seed: int = 1) -> np.ndarray:
    """A Voronoi mosaic of saturated colours with dark leading: a style unlike Starry Night."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform((0, 0), (width, height), (cells, 2))
    colours = rng.choice([(200, 40, 40), (40, 90, 200), (230, 190, 40), (40, 150, 70), (140, 60, 170)], cells)
    ys, xs = np.mgrid[0:height, 0:width]
    d = np.hypot(xs[..., None] - centres[:, 0], ys[..., None] - centres[:, 1])
    nearest = np.sort(d, axis=-1)
    image = colours[np.argmin(d, axis=-1)].astype(np.float64)
    image *= np.clip((nearest[..., 1] - nearest[..., 0]) / 4.0, 0.15, 1.0)[..., None]  # dark lines at edges
    return image.astype(np.uint8)


def panels(glass: str) -> list[tuple[str, dict]]:
    return [
        ("baseline (noise init)", {}),
        ("init: content", {"init": "content"}),
        ("optimizer: adam, lr 10", {"optimizer": "adam", "learning_rate": 10.0}),
        ("preserve_colors: luminance", {"preserve_colors": "luminance"}),
        ("preserve_colors: match", {"preserve_colors": "match"}),
        ("pooling: avg", {"pooling": "avg"}),
        ("style_scale: 0.5", {"style_scale": 0.5}),
        ("style_scale: 2", {"style_scale": 2.0}),
        ("style blend 0.5 / 0.5 with glass", {"style_path": ["inputs/starry_night.jpg", glass],
                                              "style_blend_weights": [0.5, 0.5]}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--max-evals", type=int, default=20)
    parser.add_argument("--figure", default="docs/options.jpg")
    args = parser.parse_args()

    glass = os.path.join(os.path.dirname(args.figure), "stained_glass.png")
    Image.fromarray(stained_glass(512, 384)).save(glass)
    content = Image.open("inputs/tubingen.jpg").convert("RGB")
    cell = (args.size, round(args.size * content.height / content.width))
    font = ImageFont.load_default(size=14)
    shown = [("content", content), ("style", Image.open("inputs/starry_night.jpg").convert("RGB")),
             ("second style (generated)", Image.open(glass))]
    for title, change in panels(glass):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            ns = NeuralStyle({**BASE, "max_size": args.size, "iterations": args.iterations, "output_path": out,
                              **change})
            image = ns.transfer(maxEvals=args.max_evals)
        print(f"| {title} | {ns.losses[-1]:.3e} | {time.perf_counter() - start:.0f} s |", flush=True)
        shown.append((title, Image.fromarray(image)))

    columns = 3
    rows = -(-len(shown) // columns)
    figure = Image.new("RGB", (cell[0] * columns, (cell[1] + 22) * rows), "white")
    draw = ImageDraw.Draw(figure)
    for k, (title, image) in enumerate(shown):
        x, y = (k % columns) * cell[0], (k // columns) * (cell[1] + 22)
        figure.paste(image.resize(cell, Image.Resampling.LANCZOS), (x, y + 22))
        draw.text((x + 4, y + 3), title, fill="black", font=font)
    figure.save(args.figure, quality=88)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
