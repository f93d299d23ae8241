"""The style losses (style_losses.py) and the objective's list of terms (objective.py): NumPy references,
finite-difference gradients, what a target measures of a painting, and real transfers with each loss."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from keras import ops
from scipy import linalg

from pyimagesearch.nn.conv import NeuralStyle, style_losses
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.losses import StyleTarget, TemporalTarget
from pyimagesearch.nn.conv.objective import TERMS, Objective, TermInputs
from pyimagesearch.nn.conv.regions import style_statistics
from pyimagesearch.nn.conv.settings import DEFAULTS, ROWS, STYLE_LOSSES
from tests.conftest import gradient, tensor

W2, SLICED = style_losses.W2Loss(), style_losses.SlicedLoss()
SEED = tensor([3, 0], "int32")


def features(rng: np.random.Generator, h: int = 6, w: int = 7, c: int = 5) -> np.ndarray:
    return rng.normal(size=(h, w, c)).astype(np.float32) + 0.5


def w2_target(painting: np.ndarray, mask: np.ndarray | None = None):
    parts = W2.measure(tensor(painting), None if mask is None else tensor(mask))
    mass = painting.shape[0] * painting.shape[1] if mask is None else float(mask.sum())
    return W2.target([parts], [mass], [1.0], 0.0)


def np_w2(picture: np.ndarray, painting: np.ndarray, weights: np.ndarray | None = None) -> float:
    """W2 between the Gaussians of two feature sets (weights: the picture's pixel weights), relative to the
    painting's mean squared feature, times the scale: scipy's sqrtm, float64."""
    a = picture.reshape(-1, picture.shape[-1]).astype(np.float64)
    b = painting.reshape(-1, painting.shape[-1]).astype(np.float64)
    m = np.ones(len(a)) if weights is None else weights.reshape(-1).astype(np.float64)
    mean_a, mean_b = (m @ a) / m.sum(), b.mean(0)
    cov_a = (a * m[:, None]).T @ a / m.sum() - np.outer(mean_a, mean_a)
    cov_b = b.T @ b / len(b) - np.outer(mean_b, mean_b)
    root_b = np.real(linalg.sqrtm(cov_b))
    cross = np.real(linalg.sqrtm(root_b @ cov_a @ root_b))
    w2 = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross)
    return style_losses.W2_SCALE["chapter"] * w2 / np.mean(np.sum(b**2, axis=1))


def np_sliced(picture: np.ndarray, paintings: list[np.ndarray], weights: list[float], unit: np.ndarray) -> float:
    """Sorted projections against the weighted mean of the paintings' quantile functions, NumPy."""
    a = np.sort(picture.reshape(-1, picture.shape[-1]).astype(np.float64) @ unit, axis=0)
    n = len(a)
    target, scale = 0, 0
    for painting, weight in zip(paintings, weights, strict=True):
        b = np.sort(painting.reshape(-1, painting.shape[-1]).astype(np.float64) @ unit, axis=0)
        at = (np.arange(n) + 0.5) * len(b) / n - 0.5
        target = target + weight * np.stack([np.interp(at, np.arange(len(b)), b[:, k]) for k in range(b.shape[1])], 1)
        scale = scale + weight * np.mean(b**2)
    return style_losses.SLICED_SCALE["chapter"] * np.mean((a - target) ** 2) / scale


# -- NumPy references ------------------------------------------------------------------------------

def test_style_loss_names_agree_with_the_settings():
    assert tuple(style_losses.STYLE_LOSSES) == STYLE_LOSSES == ROWS["style_loss"].choices
    assert DEFAULTS["style_loss"] == "gram"  # every earlier result stays the same


def test_w2_against_numpy(rng):
    picture, painting = features(rng), features(rng, 9, 8) * 1.7
    got = W2.distance(w2_target(painting), tensor(picture), None, "chapter", (6, 7), SEED, 0)
    assert float(got) == pytest.approx(np_w2(picture, painting), rel=2e-3)


def test_w2_with_a_mask_weighs_the_pictures_pixels(rng):
    picture, painting = features(rng), features(rng, 9, 8)
    mask = rng.uniform(0, 1, size=(6, 7)).astype(np.float32)
    got = W2.distance(w2_target(painting), tensor(picture), tensor(mask), "chapter", (6, 7), SEED, 0)
    assert float(got) == pytest.approx(np_w2(picture, painting, mask), rel=2e-3)


def test_w2_of_the_painting_itself_is_zero(rng):
    painting = features(rng, 9, 8)
    got = W2.distance(w2_target(painting), tensor(painting), None, "chapter", (9, 8), SEED, 0)
    assert abs(float(got)) < 1e-3 * np_w2(features(rng), painting)


def test_w2_blend_is_the_mixture_of_the_paintings(rng):
    a, b = features(rng, 4, 5), features(rng, 6, 5) * 2 + 1
    target = W2.target([W2.measure(tensor(a), None), W2.measure(tensor(b), None)], [20, 30], [0.25, 0.75], 0)
    rows_a, rows_b = a.reshape(-1, 5).astype(np.float64), b.reshape(-1, 5).astype(np.float64)
    mean = 0.25 * rows_a.mean(0) + 0.75 * rows_b.mean(0)
    second = 0.25 * rows_a.T @ rows_a / 20 + 0.75 * rows_b.T @ rows_b / 30
    np.testing.assert_allclose(target[0], mean, rtol=1e-5)
    np.testing.assert_allclose(target[1], second - np.outer(mean, mean), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(target[2] @ target[2], target[1], rtol=1e-3, atol=1e-4)  # its root


def test_sliced_against_numpy(rng):
    picture, paintings = features(rng), [features(rng, 9, 8), features(rng, 5, 5) * 3]
    target = SLICED.target([SLICED.measure(tensor(p), None) for p in paintings], [72, 25], [0.3, 0.7], 0)
    got = SLICED.distance(target, tensor(picture), None, "chapter", (6, 7), SEED, 2)
    unit = np.asarray(style_losses.directions(5, SEED, 2))
    assert unit.shape == (5, 5) and np.allclose(np.linalg.norm(unit, axis=0), 1)
    assert float(got) == pytest.approx(np_sliced(picture, paintings, [0.3, 0.7], unit), rel=1e-4)


def test_sliced_mask_keeps_the_pixels_weighed_at_least_one_half(rng):
    picture, painting = features(rng), features(rng, 9, 8)
    mask = (rng.uniform(0, 1, size=(6, 7)) > 0.4).astype(np.float32) * 0.9
    target = SLICED.target([SLICED.measure(tensor(painting), None)], [72], [1.0], 0)
    got = SLICED.distance(target, tensor(picture), tensor(mask), "chapter", (6, 7), SEED, 0)
    unit = np.asarray(style_losses.directions(5, SEED, 0))
    assert float(got) == pytest.approx(np_sliced(picture[mask >= 0.5][None], [painting], [1.0], unit), rel=1e-4)


def test_sliced_region_with_no_pixel_weighed_one_half_adds_nothing_and_no_nan(rng):
    """A small soft region can leave no pixel >= 0.5 at block5's coarse grid: its term is 0, its gradient 0."""
    picture, painting = tensor(features(rng)), features(rng, 9, 8)
    target = SLICED.target([SLICED.measure(tensor(painting), None)], [72], [1.0], 0)
    got, (grad,) = gradient(lambda p: SLICED.distance(target, p, tensor(np.full((6, 7), 0.3, np.float32)), "chapter",
                                                      (6, 7), SEED, 4), picture)
    assert float(got) == 0.0 and np.all(np.asarray(grad) == 0)


def test_sliced_directions_are_fixed_within_a_round_and_new_in_the_next():
    first = np.asarray(style_losses.directions(64, tensor([4, 0], "int32"), 1))
    assert np.array_equal(first, np.asarray(style_losses.directions(64, tensor([4, 0], "int32"), 1)))
    assert not np.allclose(first, np.asarray(style_losses.directions(64, tensor([5, 0], "int32"), 1)))
    assert not np.allclose(first, np.asarray(style_losses.directions(64, tensor([4, 0], "int32"), 2)))
    assert style_losses.directions(512, tensor([4, 0], "int32"), 1).shape == (512,
                                                                                     style_losses.SLICED_DIRECTIONS)


# -- gradients by finite differences -----------------------------------------------------------------

@pytest.mark.parametrize("loss", ["gram", "w2", "sliced"])
@pytest.mark.parametrize("masked", [False, True])
def test_style_term_gradient_matches_finite_differences(rng, loss, masked):
    """The whole style term (two layers, one region, size_invariant) against central differences along
    random directions, in float64 where TensorFlow allows."""
    kind = style_losses.STYLE_LOSSES[loss]
    layers = ("a", "b")
    paintings = {"a": 10 * features(rng, 7, 6, 4), "b": 10 * features(rng, 4, 4, 6)}
    shapes = {"a": (6, 7), "b": (3, 4)}
    masks = {k: tensor(rng.uniform(0.6, 1.0, size=shapes[k]).astype(np.float32)) for k in layers} if masked \
        else None
    stats = {k: kind.target([kind.measure(tensor(p), None)], [p.shape[0] * p.shape[1]], [1.0],
                            float(np.prod(shapes[k]))) for k, p in paintings.items()}
    objective = Objective(("a",), layers, (("content", 0.0), ("style", 1.0), ("tv", 0.0)), "size_invariant",
                          style_loss=loss)
    image = tensor(np.zeros((1, 6, 7, 3), np.float32))
    # spread out as VGG's activations are, so that hardly any sorted projections swap places within eps
    x = {"a": 10 * features(rng, 6, 7, 4)[None], "b": 10 * features(rng, 3, 4, 6)[None]}

    def term(feats: dict[str, np.ndarray]) -> Any:
        inputs = TermInputs(image, {k: tensor(v) for k, v in feats.items()},
                            {"a": tensor(x["a"][0])}, [StyleTarget(stats, masks, 0.8)], None, 42, SEED)
        return objective.terms(inputs)["style"]

    value, (grad_a, grad_b) = gradient(lambda a, b: term({"a": a, "b": b}), tensor(x["a"]), tensor(x["b"]))
    grads = {"a": grad_a, "b": grad_b}
    for k in layers:
        direction = rng.normal(size=x[k].shape).astype(np.float32)
        eps = 1e-3
        up = float(term({**x, k: x[k] + eps * direction}))
        down = float(term({**x, k: x[k] - eps * direction}))
        numeric = (up - down) / (2 * eps)
        analytic = float(np.sum(np.asarray(grads[k]) * direction))
        assert analytic == pytest.approx(numeric, rel=2e-2, abs=1e-3 * abs(float(value))), (k, loss)


# -- a painting's statistics ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    from pyimagesearch.nn.conv.features import build_extractor
    from pyimagesearch.nn.conv.settings import weights_source

    return build_extractor("VGG19", weights_source(None), [DEFAULTS["content_layer"], *DEFAULTS["style_layers"]])


def test_w2_statistics_in_windows_add_up_to_the_whole_paintings(model, tiny_images):
    rgb = load_rgb(tiny_images["style_path"], size=(160, 100))
    layers = DEFAULTS["style_layers"]
    whole = style_statistics(model, rgb, layers, kind="w2")
    windowed = style_statistics(model, rgb, layers, window=64, kind="w2")
    for layer in layers:
        assert windowed[layer][1] == whole[layer][1]
        for a, b in zip(whole[layer][0], windowed[layer][0], strict=True):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=2e-3, atol=1e-3 * float(np.abs(a).max()))


def test_sliced_statistics_keep_every_pixel_of_a_small_painting_and_a_fair_sample_of_a_large_one(
        model, tiny_images, monkeypatch):
    rgb = load_rgb(tiny_images["style_path"], size=(160, 100))
    layers = ["block1_conv1", "block3_conv1"]
    windowed = style_statistics(model, rgb, layers, window=64, kind="sliced")
    assert windowed["block1_conv1"][0][0].shape == (160 * 100, 64)  # every pixel, from 6 windows
    assert windowed["block3_conv1"][0][0].shape == (40 * 25, 256)
    whole = np.asarray(windowed["block1_conv1"][0][0])
    monkeypatch.setattr(style_losses, "SLICED_SAMPLES", 1000)
    sampled = style_statistics(model, rgb, layers, kind="sliced")
    assert sampled["block1_conv1"][0][0].shape == (1000, 64) and sampled["block3_conv1"][0][0].shape == (1000, 256)
    pooled = np.asarray(style_statistics(model, rgb, layers, window=64, kind="sliced")["block1_conv1"][0][0])
    assert pooled.shape == (1000, 64)  # windows pooled by their pixel mass: still 1000, and like the whole
    np.testing.assert_allclose(pooled.mean(0), whole.mean(0), rtol=0.15, atol=0.05 * float(whole.mean()))
    monkeypatch.setattr(style_losses, "SLICED_VALUES", 2**14)  # deep layers keep fewer pixels (16 K values)
    assert style_losses.sample_rows(64) == 256 and style_losses.sample_rows(512) == 32


# -- real runs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["w2", "sliced"])
def test_a_transfer_with_each_style_loss_lowers_the_loss_and_records_its_terms(tiny_images, tmp_path, loss):
    ns = NeuralStyle({**tiny_images, "output_path": str(tmp_path), "iterations": 3, "style_loss": loss,
                      "seed": 0, "quiet": True})
    seen = []
    ns.observers.append(lambda total, terms: seen.append(total))
    ns.transfer(8)
    record = json.loads((tmp_path / "settings.json").read_text())
    assert record["settings"]["style_loss"] == loss
    assert record["losses"][-1] < 0.5 * seen[0]
    assert [set(t) for t in record["terms"]] == [{"content", "style", "tv"}] * 3
    assert record["losses"][-1] == pytest.approx(sum(record["terms"][-1].values()), rel=1e-5)
    assert (tmp_path / "iter_2.png").is_file()


@pytest.mark.parametrize("loss", ["w2", "sliced"])
def test_regions_and_blends_with_each_style_loss(tiny_images, tmp_path, loss):
    """Two styles, each in its half of the picture (the second blended from both): the run paints and its loss
    falls; the region without a mask's style has none."""
    from PIL import Image

    left = np.zeros((48, 64), np.uint8)
    left[:, :32] = 255
    Image.fromarray(left).save(tmp_path / "left.png")
    Image.fromarray(255 - left).save(tmp_path / "right.png")
    flipped = tmp_path / "flipped.png"
    Image.open(tiny_images["style_path"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    ns = NeuralStyle({**tiny_images, "style_path": [tiny_images["style_path"], str(flipped)],
                      "content_masks": [str(tmp_path / "left.png"), str(tmp_path / "right.png")],
                      "output_path": str(tmp_path / "out"), "iterations": 2, "style_loss": loss, "seed": 0,
                      "quiet": True})
    assert len(ns.stage.styleTargets) == 2 and ns.stage.styleTargets[0].share == pytest.approx(0.5)
    ns.transfer(8)
    assert ns.losses[-1] < ns.losses[0]


def test_a_tiled_print_with_the_sliced_loss(tiny_images, tmp_path):
    """Tiles take the whole painting's sample (RunContext.style_stats) and still lower the loss pass by pass."""
    from tests.conftest import small_copy

    ns = NeuralStyle({**tiny_images, "input_path": small_copy("tubingen.jpg", tmp_path, 128),
                      "output_path": str(tmp_path / "out"), "style_loss": "sliced", "tile_size": 64,
                      "iterations": 2, "tile_passes": 2, "init": "content", "quiet": True})
    result = ns.transfer(5)
    record = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert len(record["losses"]) == 2 and set(record["terms"][-1]) == {"content", "style", "tv"}
    assert (tmp_path / "out" / "iter_1.png").is_file()
    # A pass's loss sums its own tiles (another grid, other directions each pass): judge the whole picture
    # instead, on the whole-picture objective with one set of directions, against the photo it started from.
    from pyimagesearch.nn.conv.features import preprocess_rgb

    whole = ns.run.stage(result.shape[:2])
    start = float(whole.evaluate(whole.content, 0)[0])
    assert float(whole.evaluate(preprocess_rgb(result), 0)[0]) < 0.8 * start


def test_w2_and_sliced_keep_their_value_at_twice_the_size(tiny_images, tmp_path):
    """The same photo at 64 and at 128 px against the same painting: a distribution distance keeps about its
    value (the chapter's Gram term need not, and is not checked)."""
    from pyimagesearch.nn.conv.features import preprocess_rgb
    from tests.conftest import small_copy

    photo = small_copy("tubingen.jpg", tmp_path, 128)  # 128x96
    for loss in ("w2", "sliced"):
        values = []
        for size in (64, 128):
            ns = NeuralStyle({**tiny_images, "input_path": photo, "output_path": str(tmp_path / f"{loss}{size}"),
                              "max_size": size, "style_loss": loss, "style_size": 64, "quiet": True})
            assert ns.dims == (size * 3 // 4, size)
            picture = preprocess_rgb(load_rgb(photo, size=(size, size * 3 // 4)))
            values.append(float(ns.stage.evaluate(picture, 0)[2]["style"]))
        assert values[1] == pytest.approx(values[0], rel=0.35), (loss, values)


def test_a_video_frames_stage_has_a_temporal_term_with_each_style_loss(tiny_ns, tiny_images, tmp_path):
    for loss in ("w2", "sliced"):
        ns = NeuralStyle({**tiny_images, "output_path": str(tmp_path / loss), "style_loss": loss, "quiet": True})
        frame = load_rgb(tiny_images["input_path"])
        (h, w) = ns.dims
        held = TemporalTarget(tensor(np.zeros((1, h, w, 3), np.float32)), tensor(np.ones((1, h, w, 1), np.float32)))
        stage = ns.run.stage((h, w), content=frame, temporal=held)
        total, grad, terms = stage.evaluate(stage.content, 1)
        assert set(terms) == {"content", "style", "tv", "temporal"}
        assert float(total) == pytest.approx(sum(float(v) for v in terms.values()), rel=1e-5)
        assert np.isfinite(np.asarray(grad)).all()


def test_the_objective_is_a_list_of_named_terms(tiny_ns):
    assert [t.name for t in TERMS] == ["content", "style", "tv", "temporal"]
    assert all(t.weight_key in ROWS for t in TERMS)  # each term's weight is one schema row
    objective = tiny_ns.objective
    assert objective.weights == (DEFAULTS["content_weight"], DEFAULTS["style_weight"], DEFAULTS["tv_weight"])
    heavier = objective.with_weights(tv=100.0)
    assert heavier.weight("tv") == 100.0 and heavier.weight("style") == objective.weight("style")
    with pytest.raises(ValueError, match="no loss term named colour"):
        objective.with_weights(colour=1.0)


@pytest.mark.parametrize("name", [term.name for term in TERMS])
def test_every_term_against_numpy_and_finite_differences(rng, name):
    """Each term of the list alone (the others weighed 0), chapter normalisation: its value against a NumPy
    formula, its gradient (with respect to the image and to the features) against central differences."""
    from tests.test_losses import np_gram, np_tv

    h, w = 6, 7
    image = rng.normal(size=(1, h, w, 3)) * 5
    feats = {"c": rng.normal(size=(1, 3, 4, 5)) + 0.5, "s": rng.normal(size=(1, 3, 4, 5)) + 0.5}
    target = rng.normal(size=(3, 4, 5)) + 0.5
    gram = np_gram(rng.normal(size=(3, 4, 5)) + 0.5)
    before, weights = rng.normal(size=(1, h, w, 3)) * 5, rng.uniform(0, 1, size=(1, h, w, 1))
    objective = Objective(("c",), ("s",), tuple((t.name, 2.0 if t.name == name else 0.0) for t in TERMS))
    held = TemporalTarget(tensor(before, "float32"), tensor(weights, "float32"))

    def term(x: Any, f: dict) -> Any:
        inputs = TermInputs(ops.cast(x, "float32"), {k: ops.cast(v, "float32") for k, v in f.items()},
                            {"c": tensor(target, "float32")}, [StyleTarget({"s": tensor(gram, "float32")})],
                            held, h * w, SEED)
        return objective.terms(inputs)[name]

    want = 2.0 * {"content": lambda: np.sum((feats["c"][0] - target) ** 2),
                  "style": lambda: np.sum((np_gram(feats["s"][0]) - gram) ** 2) / (2 * 3 * h * w) ** 2,
                  "tv": lambda: np_tv(image),
                  "temporal": lambda: np.sum(weights * (image - before) ** 2)}[name]()
    assert float(term(image, feats)) == pytest.approx(want, rel=1e-4)

    keys = list(feats)
    value, (dx, *grads) = gradient(lambda x, *f: term(x, dict(zip(keys, f, strict=True))), tensor(image, "float32"),
                                   *(tensor(feats[k], "float32") for k in keys))
    df = dict(zip(keys, grads, strict=True))
    eps, along = 1e-2, rng.normal(size=image.shape)
    along_f = {k: rng.normal(size=v.shape) for k, v in feats.items()}
    numeric = (float(term(image + eps * along, {k: v + eps * along_f[k] for k, v in feats.items()}))
               - float(term(image - eps * along, {k: v - eps * along_f[k] for k, v in feats.items()}))) / (2 * eps)
    analytic = sum(float(np.sum(np.asarray(g) * d)) for g, d in
                   [(dx, along)] + [(df[k], along_f[k]) for k in feats] if g is not None)
    assert analytic == pytest.approx(numeric, rel=1e-2, abs=1e-4 * abs(want))
