"""The style losses side by side at equal wall time: gram, w2 and sliced, and pastiche 1.6.0 beside them.

For each photo/painting pair every method starts from the photo and paints at --size px (long side) for
--seconds of wall time, counted from before its network loads; then each result gets two numbers that no
method optimises directly:
  style distance    sliced Wasserstein distance between the result's and the painting's VGG19 features at
                    block1_conv2, block2_conv2, block3_conv2 and block4_conv3 (none of them a style layer;
                    256 fixed directions per layer, every pixel), each relative to the painting's mean squared
                    projection, averaged over layers: lower is closer to the painting's textures.
  content distance  the result's block4_conv2 and block5_conv2 activations against the photo's, relative to the
                    photo's (mean squared error / mean square), averaged: lower keeps more of the photo.
A contact sheet per pair (photo, painting, then each result with its numbers) goes to --out.

Pairs (where each image comes from):
  town       tubingen.jpg and starry_night.jpg (../shared/images; Van Gogh 1889, public domain): strong strokes.
  figure     scikit-image's astronaut.png (NASA, public domain) and a flat-colour composition made here
             (make_flat: rectangles of primary colours between black bars, drawn from a seed).
  outdoors   scikit-image's rocket.jpg (SpaceX launch photo, public domain; no landscape photo ships in the
             packages at hand) and a painting of short oriented strokes made here (make_strokes).
Usage: python bench/style_losses.py [--size 384] [--seconds 90] [--pairs town figure outdoors] [--out docs]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw

STYLE_PROBES = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv3")
CONTENT_PROBES = ("block4_conv2", "block5_conv2")
METHODS = ("gram", "w2", "sliced", "pastiche")


def make_flat(path: str, size: int = 512, seed: int = 3) -> None:
    """A flat-colour painting: a grid of rectangles in a few flat colours between black bars."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (245, 242, 230))
    draw = ImageDraw.Draw(image)
    cuts_x = np.sort(rng.choice(np.arange(40, size - 40, 8), 5, replace=False))
    cuts_y = np.sort(rng.choice(np.arange(40, size - 40, 8), 5, replace=False))
    xs, ys = [0, *cuts_x, size], [0, *cuts_y, size]
    colours = [(206, 32, 41), (20, 60, 160), (250, 205, 20), (245, 242, 230), (245, 242, 230)]
    for x0, x1 in zip(xs, xs[1:], strict=False):
        for y0, y1 in zip(ys, ys[1:], strict=False):
            draw.rectangle([x0, y0, x1, y1], fill=colours[rng.integers(len(colours))])
    for x in cuts_x:
        draw.rectangle([x - 5, 0, x + 5, size], fill=(15, 15, 15))
    for y in cuts_y:
        draw.rectangle([0, y - 5, size, y + 5], fill=(15, 15, 15))
    image.save(path)


def make_strokes(path: str, size: int = 512, seed: int = 5) -> None:
    """A painting of short thick strokes whose direction and colour follow a smooth field."""
    import cv2

    rng = np.random.default_rng(seed)
    canvas = np.full((size, size, 3), (40, 70, 110), np.uint8)
    palette = np.array([(230, 160, 40), (200, 80, 30), (250, 220, 120), (60, 110, 60), (30, 50, 90)], np.float64)
    for _ in range(6000):
        x, y = rng.uniform(0, size, 2)
        angle = np.sin(x / 70.0) * 1.5 + np.cos(y / 90.0)
        length, width = rng.uniform(10, 26), int(rng.integers(3, 7))
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        mix = (np.sin(x / 120.0 + y / 160.0) + 1) / 2 * (len(palette) - 1)
        colour = palette[int(mix)] * (1 - mix % 1) + palette[min(int(mix) + 1, len(palette) - 1)] * (mix % 1)
        colour = np.clip(colour + rng.normal(0, 18, 3), 0, 255)
        cv2.line(canvas, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), tuple(float(c) for c in colour),
                 width, cv2.LINE_AA)
    Image.fromarray(canvas).save(path)


def pairs(folder: str, shared: str) -> dict[str, tuple[str, str]]:
    from skimage import data

    root = os.path.dirname(data.__file__)
    flat, strokes = os.path.join(folder, "flat.png"), os.path.join(folder, "strokes.png")
    make_flat(flat)
    make_strokes(strokes)
    return {"town": (os.path.join(shared, "tubingen.jpg"), os.path.join(shared, "starry_night.jpg")),
            "figure": (os.path.join(root, "astronaut.png"), flat),
            "outdoors": (os.path.join(root, "rocket.jpg"), strokes)}


def ours(content: str, style: str, size: int, seconds: float, loss: str, folder: str) -> tuple[np.ndarray, int]:
    from pyimagesearch.nn.conv import NeuralStyle

    began, evals = time.perf_counter(), []
    ns = NeuralStyle({"input_path": content, "style_path": style, "max_size": size, "style_loss": loss,
                      "init": "content", "iterations": 10000, "output_path": folder, "save_every": 10000,
                      "quiet": True, "overwrite": True})
    ns.observers.append(lambda loss, terms: evals.append(loss))
    image = ns.transfer(10, callback=lambda i, image, losses: time.perf_counter() - began < seconds)
    return image, len(evals)


def pastiche(content: str, style: str, dims: tuple[int, int], seconds: float, folder: str) -> tuple[np.ndarray, int]:
    from pastiche.pastiche import PasticheArtist, save_image

    began, steps = time.perf_counter(), 0
    artist = PasticheArtist(content, [style], device="cpu", size=list(dims))
    while time.perf_counter() - began < seconds:
        artist.draw()
        steps += 1
    os.makedirs(folder, exist_ok=True)
    save_image(artist.pastiche, os.path.join(folder, "final.png"))  # pastiche's own conversion out of VGG space
    return np.asarray(Image.open(os.path.join(folder, "final.png")).convert("RGB")), steps


class Probe:
    """VGG19 features at the probe layers, and the two distances of the module docstring."""

    def __init__(self) -> None:
        from pyimagesearch.nn.conv.features import build_extractor
        from pyimagesearch.nn.conv.settings import weights_source

        self.model = build_extractor("VGG19", weights_source(None), [*STYLE_PROBES, *CONTENT_PROBES])
        self.rng = np.random.default_rng(2021)

    def features(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        from pyimagesearch.nn.conv.features import preprocess_rgb

        out = self.model(preprocess_rgb(rgb))
        return {k: np.asarray(v[0], np.float64) for k, v in out.items()}

    def style_distance(self, result: dict[str, np.ndarray], painting: dict[str, np.ndarray]) -> float:
        values = []
        for layer in STYLE_PROBES:
            a, b = (f.reshape(-1, f.shape[-1]) for f in (result[layer], painting[layer]))
            unit = np.random.default_rng(7).normal(size=(a.shape[1], 256))
            unit /= np.linalg.norm(unit, axis=0)
            pa, pb = np.sort(a @ unit, axis=0), np.sort(b @ unit, axis=0)
            at = (np.arange(len(pa)) + 0.5) / len(pa) * len(pb) - 0.5
            qb = np.stack([np.interp(at, np.arange(len(pb)), pb[:, k]) for k in range(pb.shape[1])], axis=1)
            values.append(np.mean((pa - qb) ** 2) / np.mean(qb**2))
        return float(np.mean(values))

    def content_distance(self, result: dict[str, np.ndarray], photo: dict[str, np.ndarray]) -> float:
        return float(np.mean([np.mean((result[k] - photo[k]) ** 2) / np.mean(photo[k] ** 2) for k in CONTENT_PROBES]))


def sheet(path: str, tiles: list[tuple[np.ndarray, str]], height: int = 256) -> None:
    """One row: each image scaled to `height` px high with its caption under it."""
    scaled = [Image.fromarray(img).resize((round(img.shape[1] * height / img.shape[0]), height), Image.LANCZOS)
              for img, _ in tiles]
    width = sum(im.width for im in scaled) + 8 * (len(scaled) + 1)
    out = Image.new("RGB", (width, height + 52), "white")
    draw, x = ImageDraw.Draw(out), 8
    for im, (_, caption) in zip(scaled, tiles, strict=True):
        out.paste(im, (x, 8))
        for k, line in enumerate(caption.split("\n")):
            draw.text((x, height + 12 + 13 * k), line, fill="black")
        x += im.width + 8
    out.save(path, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--pairs", nargs="+", default=["town", "figure", "outdoors"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", default="docs")
    parser.add_argument("--shared", default=os.path.join("..", "shared", "images"))
    args = parser.parse_args()
    from pyimagesearch.nn.conv.device import describe_cpu
    from pyimagesearch.nn.conv.images import load_rgb

    work = tempfile.mkdtemp(prefix="style_losses_")
    print(f"[bench] {describe_cpu()}; {args.size} px, {args.seconds:.0f} s of wall time per method; work in {work}")
    probe, table = Probe(), {}
    for name in args.pairs:
        content, style = pairs(work, args.shared)[name]
        photo = load_rgb(content, size=None)
        scale = args.size / max(photo.shape[:2])
        dims = (round(photo.shape[0] * scale), round(photo.shape[1] * scale))
        photo = load_rgb(content, size=(dims[1], dims[0]))
        painting = load_rgb(style, size=(dims[1], dims[0]))
        photo_f, painting_f = probe.features(photo), probe.features(painting)
        tiles = [(photo.astype(np.uint8), f"photo: {os.path.basename(content)}"),
                 (painting.astype(np.uint8), f"painting: {os.path.basename(style)}")]
        for method in args.methods:
            if method == "pastiche":
                image, evals = pastiche(content, style, dims, args.seconds, os.path.join(work, name, method))
            else:
                image, evals = ours(content, style, args.size, args.seconds, method, os.path.join(work, name, method))
            f = probe.features(image.astype(np.float32))
            row = {"evaluations": evals, "style": probe.style_distance(f, painting_f),
                   "content": probe.content_distance(f, photo_f)}
            table.setdefault(name, {})[method] = row
            print(f"[bench] {name:8s} {method:8s} {evals:4d} evaluations  style distance {row['style']:.4f}  "
                  f"content distance {row['content']:.4f}", flush=True)
            tiles.append((image, f"{method}: {evals} evaluations\nstyle {row['style']:.3f}  "
                                 f"content {row['content']:.3f}"))
        os.makedirs(args.out, exist_ok=True)
        sheet(os.path.join(args.out, f"style_losses_{name}.jpg"), tiles)
    print(json.dumps({"machine": describe_cpu(), "size": args.size, "seconds": args.seconds, "results": table},
                     indent=1))


if __name__ == "__main__":
    main()
