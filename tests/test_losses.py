"""Each loss term against a NumPy reference written from the chapter's formulas."""

import numpy as np
import pytest

from pyimagesearch.nn.conv import losses
from pyimagesearch.nn.conv.losses import StyleTarget
from pyimagesearch.nn.conv.objective import Objective, TermInputs
from tests.conftest import gradient, tensor


def np_gram(features: np.ndarray) -> np.ndarray:
    h, w, c = features.shape
    rows = features.transpose(2, 0, 1).reshape(c, h * w)  # the chapter's permute + flatten
    return rows @ rows.T


def np_tv(x: np.ndarray) -> np.ndarray:
    _, h, w, _ = x.shape
    a = (x[:, : h - 1, : w - 1, :] - x[:, 1:, : w - 1, :]) ** 2
    b = (x[:, : h - 1, : w - 1, :] - x[:, : h - 1, 1:, :]) ** 2
    return np.sum((a + b) ** 1.25)


def weighted_terms(image, features, content_targets, grams, weights, content_layer_weights=None,
                   style_layer_weights=None, normalization="chapter", style_loss="gram"):
    """The objective's terms for one image, with the targets given (as a stage would hand them)."""
    named = tuple(zip(("content", "style", "tv"), weights, strict=True))
    objective = Objective(tuple(content_targets), tuple(grams), named,
                          normalization, content_layer_weights and tuple(content_layer_weights),
                          style_layer_weights and tuple(style_layer_weights), style_loss)
    inputs = TermInputs(image, features, content_targets, [StyleTarget(grams)], None,
                        int(image.shape[1] * image.shape[2]), tensor([0, 0], "int32"))
    return objective.terms(inputs)


def test_gram_matrix(rng):
    x = rng.normal(size=(5, 7, 4)).astype(np.float32)
    got = np.asarray(losses.gram_matrix(tensor(x)))
    assert got.shape == (4, 4)
    np.testing.assert_allclose(got, np_gram(x.astype(np.float64)), rtol=1e-5)


def test_feature_recon_loss(rng):
    a, b = rng.normal(size=(2, 6, 5, 8)).astype(np.float32)
    got = np.asarray(losses.feature_recon_loss(tensor(a), tensor(b)))
    np.testing.assert_allclose(got, np.sum((a.astype(np.float64) - b) ** 2), rtol=1e-5)


def test_style_recon_loss_uses_image_size(rng):
    a, b = rng.normal(size=(2, 6, 5, 8)).astype(np.float32)
    h, w = 48, 64  # the image's size, not the layer's
    want = np.sum((np_gram(b.astype(np.float64)) - np_gram(a.astype(np.float64))) ** 2)
    want /= float((2 * 3 * h * w) ** 2)
    got = np.asarray(losses.style_recon_loss(tensor(a), tensor(b), h, w))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_gram_loss_does_not_overflow_float32_at_large_sizes():
    # Gram entries of a 2048x2048 image reach ~1e11; squared before scaling they would overflow.
    x = np.full((256, 256, 64), 300.0, np.float32)
    got = np.asarray(losses.style_recon_loss(tensor(np.zeros_like(x)), tensor(x), 2048, 2048))
    want = 64 * 64 * (256 * 256 * 300.0**2) ** 2 / float((6 * 2048 * 2048) ** 2)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_tv_loss(rng):
    x = rng.uniform(-128, 128, size=(1, 9, 11, 3)).astype(np.float32)
    got = np.asarray(losses.tv_loss(tensor(x)))
    np.testing.assert_allclose(got, np_tv(x.astype(np.float64)), rtol=1e-5)


def np_tv_gradient(x: np.ndarray) -> np.ndarray:
    """d np_tv / dx by central differences, in float64."""
    grad, step = np.zeros_like(x), 1e-4
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (np_tv(up) - np_tv(down)) / (2 * step)
    return grad


@pytest.mark.parametrize("shape", [(1, 5, 6, 3), (4, 7, 2)])
def test_tv_loss_gradient_by_finite_differences(rng, shape):
    """The hand-written gradient (pads instead of TensorFlow's slice gradients), in float64 and float32."""
    x = rng.uniform(-128, 128, size=shape)
    want = np_tv_gradient(x[None] if len(shape) == 3 else x).reshape(shape)
    for dtype, rtol in (("float64", 1e-6), ("float32", 1e-4)):
        value, (grad,) = gradient(losses.tv_loss, tensor(x, dtype))
        np.testing.assert_allclose(np.asarray(value), np_tv(x[None] if len(shape) == 3 else x), rtol=rtol)
        np.testing.assert_allclose(np.asarray(grad), want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_tv_loss_per_length_is_the_mean_of_scaled_differences(rng):
    x = rng.uniform(-128, 128, size=(1, 9, 11, 3))
    reference = 40 * 30
    scale = (9 * 11 / reference) ** 0.5  # differences per unit of the reference's length
    want = np.mean(((x[:, :-1, :-1] - x[:, 1:, :-1]) ** 2 * scale**2 + (x[:, :-1, :-1] - x[:, :-1, 1:]) ** 2 * scale**2)
                   ** 1.25) * 3 * reference
    np.testing.assert_allclose(np.asarray(losses.tv_loss_per_length(tensor(x, "float32"), reference)), want,
                               rtol=1e-5)


def test_tv_loss_of_flat_image_is_zero():
    value, (grad,) = gradient(losses.tv_loss, tensor(np.full((1, 8, 8, 3), 17.0, np.float32)))
    assert np.asarray(value) == 0.0
    assert np.all(np.asarray(grad) == 0.0)  # a flat start has a gradient, not NaN (0^0.25)


def test_weighted_terms_in_chapter_mode(rng):
    image = rng.normal(size=(1, 8, 10, 3)).astype(np.float32)
    feats = {"c": rng.normal(size=(1, 4, 5, 6)).astype(np.float32),
             "s1": rng.normal(size=(1, 4, 5, 6)).astype(np.float32),
             "s2": rng.normal(size=(1, 2, 3, 7)).astype(np.float32)}
    target = rng.normal(size=(4, 5, 6)).astype(np.float32)
    grams = {"s1": rng.normal(size=(6, 6)).astype(np.float32),
             "s2": rng.normal(size=(7, 7)).astype(np.float32)}
    terms = weighted_terms(tensor(image), {k: tensor(v) for k, v in feats.items()},
                           {"c": tensor(target)}, {k: tensor(v) for k, v in grams.items()}, (2.0, 30.0, 0.5))
    scale = 1.0 / (2 * 3 * 8 * 10) ** 2
    style = np.mean([scale * np.sum((np_gram(feats[k][0].astype(np.float64)) - grams[k]) ** 2)
                     for k in ("s1", "s2")])
    assert np.asarray(terms["content"]) == pytest.approx(2.0 * np.sum((feats["c"][0] - target) ** 2), rel=1e-5)
    assert np.asarray(terms["style"]) == pytest.approx(30.0 * style, rel=1e-5)
    assert np.asarray(terms["tv"]) == pytest.approx(0.5 * np_tv(image.astype(np.float64)), rel=1e-5)


def test_layer_weights_weight_each_layer(rng):
    image = tensor(rng.normal(size=(1, 8, 10, 3)).astype(np.float32))
    feats = {k: tensor(rng.normal(size=(1, 4, 5, 6)).astype(np.float32)) for k in ("c1", "c2", "s1", "s2")}
    targets = {k: tensor(rng.normal(size=(4, 5, 6)).astype(np.float32)) for k in ("c1", "c2")}
    grams = {k: tensor(rng.normal(size=(6, 6)).astype(np.float32)) for k in ("s1", "s2")}

    def terms(content_layer_weights=None, style_layer_weights=None):
        return weighted_terms(image, feats, targets, grams, (1.0, 1.0, 1.0), content_layer_weights,
                              style_layer_weights)

    def one(layer, kind):
        if kind == "content":
            return float(losses.feature_recon_loss(targets[layer], feats[layer][0]))
        return float(losses.gram_loss(grams[layer], feats[layer][0], 8, 10))

    equal, skewed = terms(), terms([0.25, 0.75], [1.0, 0.0])
    assert float(equal["content"]) == pytest.approx((one("c1", "content") + one("c2", "content")) / 2, rel=1e-5)
    assert float(skewed["content"]) == pytest.approx(0.25 * one("c1", "content") + 0.75 * one("c2", "content"),
                                                     rel=1e-5)
    assert float(skewed["style"]) == pytest.approx(one("s1", "style"), rel=1e-5)
    assert float(skewed["style"]) != pytest.approx(float(equal["style"]), rel=1e-3)
