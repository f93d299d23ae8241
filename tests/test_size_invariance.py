"""loss_normalization: size_invariant keeps the balance of the terms when the images change size."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pyimagesearch.nn.conv import NeuralStyle, losses
from tests.conftest import ROOT, tensor
from tests.test_losses import np_gram


def test_content_is_a_mean_scaled_to_the_reference_size(rng):
    a, b = rng.normal(size=(2, 6, 8, 16)).astype(np.float32)
    chapter = np.asarray(losses.feature_recon_loss(a, b))
    # At the reference size it is the chapter's sum; elsewhere the mean times the reference count.
    assert np.asarray(losses.content_mean_loss(a, b, losses.REFERENCE_PIXELS)) == pytest.approx(chapter, rel=1e-5)
    big_a, big_b = (np.repeat(np.repeat(x, 2, 0), 2, 1) for x in (a, b))  # the same layer, 2x the size
    assert np.asarray(losses.feature_recon_loss(big_a, big_b)) == pytest.approx(4 * chapter, rel=1e-5)
    assert np.asarray(losses.content_mean_loss(big_a, big_b, 4 * losses.REFERENCE_PIXELS)) == pytest.approx(
        np.asarray(losses.content_mean_loss(a, b, losses.REFERENCE_PIXELS)), rel=1e-5)


def test_tv_matches_the_chapter_at_the_reference_size(rng):
    x = tensor(rng.uniform(-100, 100, (1, 384, 512, 3)).astype(np.float32))
    # The chapter sums over 383x511 pixels, the mean is scaled to 384x512: equal but for the border.
    want = np.asarray(losses.tv_loss(x)) * 384 * 512 / (383 * 511)
    assert np.asarray(losses.tv_loss_per_length(x)) == pytest.approx(want, rel=1e-4)


def test_tv_of_an_upsampled_ramp_keeps_its_value():
    def ramp(side: int) -> np.ndarray:  # the same picture, a ramp, drawn with side x 3/4 side pixels
        step = 64.0 / side
        return np.add.outer(np.arange(side) * step, np.arange(side * 3 // 4) * 2 * step)[None, :, :, None].repeat(3, -1)

    small, big = tensor(ramp(32), "float32"), tensor(ramp(64), "float32")
    assert np.asarray(losses.tv_loss_per_length(big)) == pytest.approx(np.asarray(losses.tv_loss_per_length(small)),
                                                                      rel=1e-4)
    chapter_ratio = np.asarray(losses.tv_loss(big)) / np.asarray(losses.tv_loss(small))
    assert chapter_ratio == pytest.approx((63 * 47) / (31 * 23) * 2**-2.5, rel=1e-4)  # ~4x pixels, half the step


def test_style_is_the_gram_error_relative_to_the_target(rng):
    target, output = rng.normal(size=(2, 6, 8, 16)).astype(np.float64)
    a, g = np_gram(target), np_gram(output)
    expected = losses.STYLE_REFERENCE * np.sum((g - a) ** 2) / np.sum(a ** 2)
    got = np.asarray(losses.gram_relative_loss(tensor(a, "float32"), tensor(output, "float32")))
    assert got == pytest.approx(expected, rel=1e-5)
    # Tiled 2x2 (4x the pixels) and firing 3x as strongly: the same relative error.
    big = 3 * np.tile(output, (2, 2, 1))
    bigger = np.asarray(losses.gram_relative_loss(tensor(np_gram(3 * np.tile(target, (2, 2, 1))), "float32"),
                                       tensor(big, "float32")))
    assert bigger == pytest.approx(expected, rel=1e-5)


def test_size_invariant_gradient_matches_finite_differences(tiny_images, tmp_path, rng):
    ns = NeuralStyle({**tiny_images, "output_path": str(tmp_path), "loss_normalization": "size_invariant"})
    X = rng.uniform(0, 255, (1, *ns.dims, 3)).ravel() - 128
    grad = ns.grads(X)
    # Steps along the gradient's signs on random halves of the pixels: a change large enough to
    # stand above float32 rounding of a ~1e12 loss (random +-1 directions mostly cancel out).
    for _ in range(3):
        d = np.sign(grad) * (rng.random(X.shape) < 0.5)
        numeric = (ns.loss(X + 0.05 * d) - ns.loss(X - 0.05 * d)) / 0.1
        assert numeric == pytest.approx(grad @ d, rel=5e-3)


def terms(paths: dict[str, str], mode: str) -> dict[str, float]:
    ns = NeuralStyle({"input_path": paths["content"], "style_path": paths["style"], "output_path": paths["out"],
                      "content_weight": 1.0, "style_weight": 1.0, "tv_weight": 1.0, "loss_normalization": mode})
    ns.loss(ns.preprocess(paths["gen"]).astype(np.float64).ravel())
    return ns.lastTerms


def test_upsampling_all_images_moves_the_balance_far_less(tmp_path):
    """Content, style and generated (blurred content) images, then all of them upsampled 2x."""
    sources = {"content": Image.open(ROOT / "inputs" / "tubingen.jpg").convert("RGB").resize((96, 72)),
               "style": Image.open(ROOT / "inputs" / "starry_night.jpg").convert("RGB").resize((96, 72))}
    sources["gen"] = sources["content"].filter(ImageFilter.GaussianBlur(1.5))
    paths = {}
    for scale in (1, 2):
        paths[scale] = {"out": str(tmp_path / "out")}
        for name, image in sources.items():
            paths[scale][name] = str(tmp_path / f"{name}{scale}.png")
            image.resize((96 * scale, 72 * scale), Image.Resampling.BICUBIC).save(paths[scale][name])
    moves = {}
    for mode in ("chapter", "size_invariant"):
        small, big = terms(paths[1], mode), terms(paths[2], mode)
        moves[mode] = {"content/style": (big["content"] / big["style"]) / (small["content"] / small["style"]),
                       "tv/style": (big["tv"] / big["style"]) / (small["tv"] / small["style"])}
    # Measured: 0.66x and 1.06x in size_invariant mode; the chapter's content/style moves 9x.
    for move in moves["size_invariant"].values():
        assert 0.5 < move < 2
    assert moves["chapter"]["content/style"] > 4


def test_rerender_at_another_size_keeps_the_weights(tiny_images, tmp_path):
    def driver(*argv):
        done = subprocess.run([sys.executable, "style_transfer.py", *argv], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    driver("--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"], "--max-size", "48",
           "--output-path", str(tmp_path / "preview"), "--iterations", "1", "--max-evals", "2", "--seed", "1",
           "--loss-normalization", "size_invariant", "--style-weight", "250")
    driver("--config", str(tmp_path / "preview" / "settings.json"), "--max-size", "64",
           "--output-path", str(tmp_path / "big"))
    preview, big = (json.loads((tmp_path / d / "settings.json").read_text())["settings"] for d in ("preview", "big"))
    assert Image.open(tmp_path / "preview" / "iter_0.png").size == (48, 36)
    assert Image.open(tmp_path / "big" / "iter_0.png").size == (64, 48)
    same = ("content_weight", "style_weight", "tv_weight", "loss_normalization", "seed", "style_layers")
    assert {k: big[k] for k in same} == {k: preview[k] for k in same}
    assert big["style_weight"] == 250.0 and big["loss_normalization"] == "size_invariant"
    assert (preview["max_size"], big["max_size"]) == (48, 64)
