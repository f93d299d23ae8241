"""Regions: each part of the picture takes its own style (guided Gram matrices), or none."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pyimagesearch.nn.conv import ImageError, NeuralStyle, SettingsError
from pyimagesearch.nn.conv.features import preprocess_rgb
from pyimagesearch.nn.conv.losses import gram_matrix
from pyimagesearch.nn.conv.regions import ContentMasks
from pyimagesearch.nn.conv.run_plan import plan_run
from pyimagesearch.nn.conv.settings import resolve_settings
from tests.conftest import ROOT

SIZE = 64
SHALLOW = {"style_layers": ["block1_conv1", "block2_conv1", "block3_conv1"], "content_layer": "block3_conv2"}


def stripes() -> np.ndarray:
    """Red horizontal stripes, 4 px on 4 px off."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    for row in range(4):
        image[row::8] = (230, 30, 30)
    return image


def dots() -> np.ndarray:
    """Blue dots on black, every 10 px."""
    image = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    for y in range(4, SIZE, 10):
        for x in range(4, SIZE, 10):
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(30, 60, 230))
    return np.asarray(image)


def halves(folder: Path) -> dict[str, str]:
    left = np.zeros((SIZE, SIZE), np.uint8)
    left[:, : SIZE // 2] = 255
    paths = {}
    for name, pixels in (("stripes", stripes()), ("dots", dots()), ("left", left), ("right", 255 - left)):
        paths[name] = str(folder / f"{name}.png")
        Image.fromarray(pixels).save(paths[name])
    paths["photo"] = str(folder / "photo.png")
    Image.open(ROOT / "inputs" / "tubingen.jpg").convert("RGB").resize((SIZE, SIZE)).save(paths["photo"])
    return paths


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, str]:
    return halves(tmp_path_factory.mktemp("regions"))


def pixel_gram(model, rgb: np.ndarray, layer: str) -> np.ndarray:
    """The Gram matrix per pixel of an image's layer: comparable between images of any size."""
    features = model(preprocess_rgb(rgb.astype(np.float32)))[layer][0]
    return np.asarray(gram_matrix(features)) / float(features.shape[0] * features.shape[1])


def distances(ns: NeuralStyle, image: np.ndarray) -> dict[tuple[str, str, str], float]:
    """(half, layer, style) -> relative distance of that half's Gram matrix to the style's."""
    out = {}
    for layer in ("block1_conv1", "block2_conv1"):
        targets = {"stripes": pixel_gram(ns.model, stripes(), layer), "dots": pixel_gram(ns.model, dots(), layer)}
        for half, columns in (("left", slice(0, SIZE // 2)), ("right", slice(SIZE // 2, SIZE))):
            gram = pixel_gram(ns.model, image[:, columns], layer)
            for style, target in targets.items():
                out[(half, layer, style)] = float(np.linalg.norm(gram - target) / np.linalg.norm(target))
    return out


def test_each_half_takes_its_own_style_and_without_masks_both_mix(images, tmp_path):
    base = {"input_path": images["photo"], "style_path": [images["stripes"], images["dots"]], "iterations": 4,
            "seed": 0, "quiet": True, "content_weight": 0.1, **SHALLOW}
    masked = NeuralStyle({**base, "content_masks": [images["left"], images["right"]],
                          "output_path": str(tmp_path / "m")})
    plain = NeuralStyle({**base, "output_path": str(tmp_path / "p")})
    d_masked, d_plain = distances(masked, masked.transfer(maxEvals=20)), distances(plain, plain.transfer(maxEvals=20))
    for layer in ("block1_conv1", "block2_conv1"):
        # Measured: own / other 0.50 and 0.60 on the left (stripes), 0.45 and 0.47 on the right (dots).
        assert d_masked[("left", layer, "stripes")] < 0.75 * d_masked[("left", layer, "dots")]
        assert d_masked[("right", layer, "dots")] < 0.75 * d_masked[("right", layer, "stripes")]
        # Measured without masks: 0.83 to 1.28 — each half a mixture of both.
        for half in ("left", "right"):
            assert 0.7 < d_plain[(half, layer, "stripes")] / d_plain[(half, layer, "dots")] < 1.45


def evaluate(settings: dict, X: np.ndarray) -> tuple[float, dict[str, float]]:
    ns = NeuralStyle({"quiet": True, **settings})
    return ns.loss(X), ns.lastTerms


@pytest.mark.parametrize("normalization", ["chapter", "size_invariant"])
def test_an_all_white_mask_is_the_unmasked_objective(images, tmp_path, normalization):
    white = str(tmp_path / "white.png")
    Image.new("L", (20, 20), 255).save(white)
    X = np.random.default_rng(0).uniform(-100, 100, SIZE * SIZE * 3)
    base = {"input_path": images["photo"], "style_path": images["dots"], "output_path": str(tmp_path / "o"),
            "loss_normalization": normalization}
    (plain, _), (masked, _) = evaluate(base, X), evaluate({**base, "content_masks": [white]}, X)
    assert masked == pytest.approx(plain, rel=1e-6)


def test_a_label_image_with_colours_is_the_same_as_one_mask_per_style(images, tmp_path):
    label = np.zeros((SIZE, SIZE, 3), np.uint8)
    label[:, : SIZE // 2] = (255, 0, 0)
    label[:, SIZE // 2:] = (0, 0, 255)
    Image.fromarray(label).save(tmp_path / "labels.png")
    X = np.random.default_rng(1).uniform(-100, 100, SIZE * SIZE * 3)
    base = {"input_path": images["photo"], "style_path": [images["stripes"], images["dots"]],
            "output_path": str(tmp_path / "o")}
    by_masks = evaluate({**base, "content_masks": [images["left"], images["right"]]}, X)[0]
    by_colours = evaluate({**base, "content_masks": [str(tmp_path / "labels.png")], "mask_colors": ["red", "#0000ff"]},
                          X)[0]
    assert by_colours == pytest.approx(by_masks, rel=1e-6)


def test_a_region_without_style_stays_close_to_the_photo(images, tmp_path):
    """One style on the left half; the right half has content and TV only (a face kept, say)."""
    ns = NeuralStyle({"input_path": images["photo"], "style_path": str(ROOT / "inputs" / "starry_night.jpg"),
                      "content_masks": [images["left"]], "init": "content", "iterations": 3, "seed": 0,
                      "quiet": True, "output_path": str(tmp_path / "o")})
    image = ns.transfer(maxEvals=15).astype(float)
    photo = np.asarray(Image.open(images["photo"]).convert("RGB"), float)
    changed = {half: np.abs(image[:, columns] - photo[:, columns]).mean()
               for half, columns in (("left", slice(0, 24)), ("right", slice(40, SIZE)))}  # away from the seam
    assert changed["right"] < 0.5 * changed["left"], changed


def test_styles_sharing_a_mask_blend_within_their_region(images, tmp_path):
    regions = ContentMasks.from_settings(resolve_settings({
        "style_path": [images["stripes"], images["dots"], images["photo"]],
        "content_masks": [images["left"], images["right"], images["left"]]})).regions((SIZE, SIZE))
    assert [r.styles for r in regions] == [(0, 2), (1,)]
    ns = NeuralStyle({"input_path": images["photo"], "style_path": [images["stripes"], images["dots"], images["dots"]],
                      "content_masks": [images["left"], images["right"], images["left"]],
                      "style_blend_weights": [3, 1, 1], "output_path": str(tmp_path / "o"), "quiet": True, **SHALLOW})
    left, right = ns.stage.styleTargets
    assert left.share == pytest.approx(0.5) and right.share == pytest.approx(0.5)
    alone = NeuralStyle({"input_path": images["photo"], "style_path": [images["stripes"], images["dots"]],
                         "content_masks": [images["left"], images["right"]], "output_path": str(tmp_path / "a"),
                         "quiet": True, **SHALLOW})
    for layer in SHALLOW["style_layers"]:  # left: 3/4 stripes + 1/4 dots (weights 3 and 1 renormalised)
        expected = 0.75 * np.asarray(alone.stage.styleTargets[0].grams[layer]) + 0.25 * np.asarray(
            alone.stage.styleTargets[1].grams[layer])
        np.testing.assert_allclose(left.grams[layer], expected, rtol=1e-4)
        np.testing.assert_allclose(right.grams[layer], alone.stage.styleTargets[1].grams[layer], rtol=1e-5)


def test_a_style_mask_takes_the_style_from_its_part_only(images, tmp_path):
    """A painting whose left half is stripes and right half dots, masked to its left half: the target is
    the left half's Gram matrix (NumPy, from the same features), rescaled to the output's pixel count."""
    both = np.concatenate([stripes()[:, : SIZE // 2], dots()[:, SIZE // 2:]], axis=1)
    Image.fromarray(both).save(tmp_path / "both.png")
    ns = NeuralStyle({"input_path": images["photo"], "style_path": str(tmp_path / "both.png"),
                      "style_masks": [images["left"]], "output_path": str(tmp_path / "o"), "quiet": True, **SHALLOW})
    features = ns.model(preprocess_rgb(both.astype(np.float32)))
    for layer in SHALLOW["style_layers"]:
        f = np.asarray(features[layer][0], np.float64)
        half = f[:, : f.shape[1] // 2].reshape(-1, f.shape[2])
        expected = half.T @ half * (f.shape[0] * f.shape[1]) / half.shape[0]
        np.testing.assert_allclose(ns.stage.styleGrams[layer], expected, rtol=2e-4, atol=1e-2)


@pytest.mark.parametrize("extra", [{"loss_normalization": "size_invariant"}, {"preserve_colors": "match"},
                                   {"scales": [0.5, 1], "iterations": 4}],
                         ids=["size_invariant", "match", "scales"])
def test_regions_work_with_the_other_settings(images, tmp_path, extra):
    ns = NeuralStyle({"input_path": images["photo"], "style_path": [images["stripes"], images["dots"]],
                      "content_masks": [images["left"], images["right"]], "iterations": 2, "seed": 0, "quiet": True,
                      "output_path": str(tmp_path / "o"), **SHALLOW, **extra})
    ns.transfer(maxEvals=8)
    assert ns.losses[-1] < ns.losses[0] or ns.losses[-1] < ns.losses[-2]
    assert len(ns.stage.styleTargets) == 2


def test_settings_json_records_the_masks_and_their_hashes(images, tmp_path):
    NeuralStyle({"input_path": images["photo"], "style_path": [images["stripes"], images["dots"]],
                 "content_masks": [images["left"], images["right"]], "iterations": 1, "quiet": True,
                 "output_path": str(tmp_path / "o"), **SHALLOW}).transfer(maxEvals=2)
    record = json.loads((tmp_path / "o" / "settings.json").read_text())
    assert record["settings"]["content_masks"] == [images["left"], images["right"]]
    for path in (images["left"], images["right"], images["photo"], images["dots"]):
        assert record["files"][path] == hashlib.sha1(Path(path).read_bytes()).hexdigest()


def black(path: Path) -> str:
    Image.new("L", (SIZE, SIZE), 0).save(path)
    return str(path)


@pytest.mark.parametrize("settings, error, words", [
    ({"content_masks": ["MISSING", "RIGHT"]}, ImageError, ["missing.png", "does not exist"]),
    ({"content_masks": ["LEFT", "RIGHT", "LEFT"]}, SettingsError, ["content_masks", "3 images", "style_path", "has 2"]),
    ({"content_masks": ["LEFT"]}, SettingsError, ["content_masks", "1 images", "mask_colors"]),
    ({"content_masks": ["LEFT", "BLACK"]}, ImageError, ["black.png", "black everywhere", "dots.png", "empty"]),
    ({"content_masks": ["LEFT"], "mask_colors": ["red", "blue"]}, ImageError, ["#ff0000", "does not occur"]),
    ({"content_masks": ["LEFT"], "mask_colors": ["red", "bluish"]}, SettingsError, ["mask_colors", "'bluish'",
                                                                                   "not a colour"]),
    ({"content_masks": ["LEFT"], "mask_colors": ["white"]}, SettingsError, ["mask_colors", "2 colours"]),
    ({"mask_colors": ["red", "blue"]}, SettingsError, ["mask_colors", "one colour-label image"]),
    ({"style_masks": ["LEFT"]}, SettingsError, ["style_masks", "1 entries", "one per style image"]),
    ({"style_masks": ["none", "BLACK"]}, ImageError, ["style mask", "black.png", "dots.png"]),
    ({"content_masks": ["LEFT", "RIGHT"], "style_blend_weights": [1, 0]}, SettingsError, ["style_blend_weights",
                                                                                          "weight 0"]),
])
def test_bad_masks_are_one_clear_error_each(images, tmp_path, settings, error, words):
    names = {"MISSING": str(tmp_path / "missing.png"), "LEFT": images["left"], "RIGHT": images["right"],
             "BLACK": black(tmp_path / "black.png")}
    settings = {k: [names.get(v, v) for v in vs] if k.endswith("masks") else vs for k, vs in settings.items()}
    with pytest.raises(error) as e:
        plan_run({"input_path": images["photo"], "style_path": [images["stripes"], images["dots"]],
                  "output_path": str(tmp_path / "o"), **settings})
    for word in words:
        assert word in str(e.value), str(e.value)
