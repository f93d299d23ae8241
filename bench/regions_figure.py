"""Regions on the sample photo: the sky in one style and the town in another, or in none.

    python bench/regions_figure.py --size 512 --iterations 10

The sky mask is made from the photo by a colour threshold (blue above red, bright, upper 60 %),
cleaned with median, max and min filters; the town is the rest. Two runs, both from the same
settings but the masks (loss_normalization size_invariant, seed 0):
  1. a colour-label image (sky white, town red) with mask_colors: Starry Night in the sky, the
     stained-glass texture (bench/options_figure.py draws it) on the town;
  2. the sky mask alone with Starry Night: the town takes no style (content and TV only).
Writes docs/regions.jpg (photo | labels | run 1 | run 2) and prints each run's time and loss.
"""

import argparse
import os
import tempfile
import time

import numpy as np
from options_figure import stained_glass
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pyimagesearch.nn.conv import NeuralStyle

PHOTO, PAINTING = "inputs/tubingen.jpg", "inputs/starry_night.jpg"


def sky_mask(path: str) -> Image.Image:
    """White where the photo shows sky, by colour: a mask anyone can make without a painting program."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.float64)
    red, blue = rgb[..., 0], rgb[..., 2]
    upper = np.arange(rgb.shape[0])[:, None] < 0.6 * rgb.shape[0]
    sky = (blue > red + 8) & (blue > 120) & upper
    mask = Image.fromarray((sky * 255).astype(np.uint8))
    return mask.filter(ImageFilter.MedianFilter(7)).filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.MinFilter(5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--max-evals", type=int, default=20)
    parser.add_argument("--figure", default="docs/regions.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        sky = sky_mask(PHOTO)
        sky_path, labels_path, glass = (os.path.join(work, n) for n in ("sky.png", "labels.png", "glass.png"))
        sky.save(sky_path)
        labels = Image.new("RGB", sky.size, (220, 30, 30))
        labels.paste((255, 255, 255), mask=sky)
        labels.save(labels_path)
        Image.fromarray(stained_glass(512, 384)).save(glass)
        base = {"input_path": PHOTO, "max_size": args.size, "iterations": args.iterations, "seed": 0, "quiet": True,
                "loss_normalization": "size_invariant"}
        runs = [("sky: Starry Night, town: glass", {"style_path": [PAINTING, glass], "content_masks": [labels_path],
                                                    "mask_colors": ["white", "#dc1e1e"]}),
                ("sky: Starry Night, town: no style", {"style_path": PAINTING, "content_masks": [sky_path]})]
        tiles = [("photo", Image.open(PHOTO).convert("RGB")), ("labels (sky white, town red)", labels)]
        for k, (title, settings) in enumerate(runs):
            start = time.perf_counter()
            ns = NeuralStyle({**base, **settings, "output_path": os.path.join(work, f"run_{k + 1}")})
            image = ns.transfer(maxEvals=args.max_evals)
            print(f"| {title} | {ns.losses[-1]:.3e} | {time.perf_counter() - start:.0f} s |", flush=True)
            tiles.append((title, Image.fromarray(image)))
    width, height = tiles[2][1].size
    font = ImageFont.load_default(size=16)
    sheet = Image.new("RGB", (2 * width + 8, 2 * (height + 26) + 8), "white")
    for i, (title, tile) in enumerate(tiles):
        x, y = (i % 2) * (width + 8), (i // 2) * (height + 34)
        sheet.paste(tile.resize((width, height), Image.Resampling.LANCZOS), (x, y + 24))
        ImageDraw.Draw(sheet).text((x + 4, y + 3), title, fill="black", font=font)
    sheet.save(args.figure, quality=88)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
