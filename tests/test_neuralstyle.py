"""NeuralStyle against the chapter's own graph, finite differences, and a real transfer."""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import NeuralStyle
from pyimagesearch.nn.conv.features import deprocess_bgr, preprocess_rgb
from pyimagesearch.nn.conv.images import write_image
from tests.test_losses import np_gram, np_tv


def chapter_reference_terms(ns: NeuralStyle, X: np.ndarray) -> dict[str, float]:
    """The chapter's graph, rebuilt: [content, style, output] as one batch through the whole
    VGG19, every weighted term computed in float64 NumPy from the activations."""
    (h, w) = ns.dims
    vgg = keras.applications.VGG19(weights=ns.weightsSource, include_top=False)
    layers = [ns.S["content_layer"], *ns.S["style_layers"]]
    probe = keras.Model(vgg.input, [vgg.get_layer(name).output for name in layers])
    batch = np.concatenate([ns.content, ns.style, X.reshape(1, h, w, 3).astype(np.float32)])
    acts = {name: keras.ops.convert_to_numpy(a).astype(np.float64) for name, a in zip(layers, probe(batch),
                                                                                        strict=True)}
    content = np.sum((acts[layers[0]][2] - acts[layers[0]][0]) ** 2)
    scale = 1.0 / float((2 * 3 * h * w) ** 2)
    style = sum(scale * np.sum((np_gram(acts[name][2]) - np_gram(acts[name][1])) ** 2)
                for name in ns.S["style_layers"]) / len(ns.S["style_layers"])
    tv = np_tv(X.reshape(1, h, w, 3))
    return {"content": ns.S["content_weight"] * content, "style": ns.S["style_weight"] * style,
            "tv": ns.S["tv_weight"] * tv}


def test_loss_matches_the_chapters_graph(tiny_ns, rng):
    X = rng.uniform(0, 255, (1, *tiny_ns.dims, 3)).ravel() - 128
    reference = chapter_reference_terms(tiny_ns, X)
    assert tiny_ns.loss(X) == pytest.approx(sum(reference.values()), rel=1e-4)
    for term, value in reference.items():  # and each term on its own
        assert tiny_ns.lastTerms[term] == pytest.approx(value, rel=1e-4), term


def test_content_image_has_no_content_loss(tiny_ns):
    tiny_ns.loss(tiny_ns.content.astype(np.float64).ravel())
    assert tiny_ns.lastTerms["style"] > 0
    # 0 on TensorFlow; PyTorch's CPU convolution rounds differently when its input needs a gradient.
    assert tiny_ns.lastTerms["content"] <= 1e-9 * tiny_ns.lastTerms["style"]


def test_gradient_matches_finite_differences(tiny_ns, rng):
    X = rng.uniform(0, 255, (1, *tiny_ns.dims, 3)).ravel() - 128
    grad = tiny_ns.grads(X)
    assert grad.dtype == np.float64 and grad.shape == X.shape
    loss, _ = tiny_ns.lossAndGrads(X)
    assert isinstance(loss, float) and loss == pytest.approx(tiny_ns.loss(X))
    for _ in range(3):
        d = rng.choice([-1.0, 1.0], size=X.shape)
        eps = 0.05
        numeric = (tiny_ns.loss(X + eps * d) - tiny_ns.loss(X - eps * d)) / (2 * eps)
        assert numeric == pytest.approx(grad @ d, rel=2e-2)


def test_methods_keep_the_chapters_meaning(tiny_ns, rng):
    a, b = rng.normal(size=(2, 6, 5, 8)).astype(np.float32)
    h, w = tiny_ns.dims
    assert np.asarray(tiny_ns.gramMat(a)) == pytest.approx(np_gram(a.astype(np.float64)), rel=1e-5)
    assert float(tiny_ns.featureReconLoss(a, b)) == pytest.approx(np.sum((a - b) ** 2.0), rel=1e-5)
    want = np.sum((np_gram(b.astype(np.float64)) - np_gram(a.astype(np.float64))) ** 2)
    assert float(tiny_ns.styleReconLoss(a, b)) == pytest.approx(want / (6 * h * w) ** 2, rel=1e-5)
    x = rng.normal(size=(1, h, w, 3)).astype(np.float32)
    assert float(tiny_ns.tvLoss(x)) == pytest.approx(np_tv(x.astype(np.float64)), rel=1e-5)


def test_preprocess_deprocess_file_round_trip(tiny_ns, tiny_images, tmp_path):
    original = np.asarray(Image.open(tiny_images["input_path"]).convert("RGB"))
    x = tiny_ns.preprocess(tiny_images["input_path"])
    assert x.shape == (1, *tiny_ns.dims, 3) and x.dtype == np.float32
    path = str(tmp_path / "round.png")
    write_image(path, tiny_ns.deprocess(x))
    back = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert np.abs(back - original).max() <= 1


def test_red_stays_red(tmp_path):
    red = np.zeros((8, 8, 3), np.float32)
    red[..., 0] = 255.0
    x = preprocess_rgb(red)
    assert x[0, 0, 0, 2] == pytest.approx(255 - 123.68)  # BGR: red is the last channel
    path = str(tmp_path / "red.png")
    write_image(path, deprocess_bgr(x, (8, 8)))
    assert Image.open(path).convert("RGB").getpixel((3, 3)) == (255, 0, 0)


def test_preprocess_leaves_the_callers_array_alone():
    rgb = np.full((4, 4, 3), 200.0, np.float32)
    preprocess_rgb(rgb)
    assert (rgb == 200.0).all()


def test_transfer_lowers_the_loss_and_writes_each_iteration(tiny_images, tmp_path, capsys):
    out = tmp_path / "out"
    ns = NeuralStyle({**tiny_images, "output_path": str(out), "iterations": 2, "seed": 1})
    start = ns.loss(ns.run.start_image(ns.stage).ravel())  # the noise image transfer() starts from
    result = ns.transfer(maxEvals=10)

    printed = capsys.readouterr().out
    assert "[INFO] starting iteration 1 of 2" in printed and "[INFO] starting iteration 2 of 2" in printed
    ends = [float(line.split("loss: ")[1].split()[0]) for line in printed.splitlines()
            if line.startswith("[INFO] end of iteration")]
    assert len(ends) == 2 and ends[1] < ends[0] < start / 2
    assert ns.losses == pytest.approx(ends, rel=1e-4)
    assert json.loads((out / "settings.json").read_text())["losses"] == ns.losses

    assert sorted(os.listdir(out)) == ["iter_0.png", "iter_1.png", "settings.json"]
    for name in ("iter_0.png", "iter_1.png"):
        assert Image.open(out / name).size == Image.open(tiny_images["input_path"]).size
    # The returned array is the last written image, in RGB order.
    assert result.shape == (*ns.dims, 3) and result.dtype == np.uint8
    np.testing.assert_array_equal(result, np.asarray(Image.open(out / "iter_1.png").convert("RGB")))
    assert ns.loss(ns.preprocess(str(out / "iter_1.png")).astype(np.float64).ravel()) < start / 2


def test_nan_loss_stops_cleanly_and_keeps_the_best_image(tiny_images, tmp_path):
    """The evaluator's NonFiniteLossError (see test_core) ends the run like Ctrl-C: finished and partial images kept."""
    from pyimagesearch.nn.conv.errors import NonFiniteLossError

    ns = NeuralStyle({**tiny_images, "output_path": str(tmp_path), "iterations": 3})
    finished, second = [], []

    def poisoned(loss, terms):  # the second iteration's fifth evaluation turns NaN
        if len(finished) == 1:
            second.append(loss)
            if len(second) == 5:
                raise NonFiniteLossError("the loss or its gradient became non-finite (loss nan)")

    ns.observers.append(poisoned)
    with pytest.raises(NonFiniteLossError, match="non-finite"):
        ns.transfer(maxEvals=10, callback=lambda i, image, losses: finished.append(i))
    assert sorted(os.listdir(tmp_path)) == ["iter_0.png", "iter_1_partial.png", "settings.json"]


def test_a_weight_that_overflows_float32_stops_with_one_clear_error(tiny_images, tmp_path):
    from pyimagesearch.nn.conv.errors import NonFiniteLossError

    ns = NeuralStyle({**tiny_images, "output_path": str(tmp_path), "iterations": 2, "content_weight": 1e37})
    with pytest.raises(NonFiniteLossError, match="lower content_weight"):
        ns.transfer(maxEvals=5)
    assert sorted(os.listdir(tmp_path)) == ["settings.json"]  # no image: no evaluation was finite


def test_output_folder_of_another_run_is_refused_unless_overwrite(tiny_images, tmp_path):
    from pyimagesearch.nn.conv import SettingsError

    base = {**tiny_images, "output_path": str(tmp_path), "iterations": 2}
    NeuralStyle(base).transfer(maxEvals=2)
    record = json.loads((tmp_path / "settings.json").read_text())
    assert record["settings"]["style_weight"] == 100.0 and record["max_evals"] == 2
    assert record["settings"]["weights"] == os.environ.get("NEURALSTYLE_WEIGHTS", "imagenet")

    NeuralStyle(base).transfer(maxEvals=2)  # the same settings again: fine
    # A folder stamped by an older version, without the settings added since, is the same run too.
    old = {**record, "settings": {k: v for k, v in record["settings"].items()
                                  if k not in ("init", "pooling", "scales", "preserve_colors")}}
    (tmp_path / "settings.json").write_text(json.dumps(old))
    NeuralStyle(base).transfer(maxEvals=2)
    before = (tmp_path / "iter_1.png").read_bytes()
    with pytest.raises(SettingsError, match=r"output_path.*2 images of another run.*style_weight: 100.0 -> 5.0"):
        NeuralStyle({**base, "style_weight": 5.0, "iterations": 1}).transfer(maxEvals=2)
    assert (tmp_path / "iter_1.png").read_bytes() == before  # nothing was touched

    NeuralStyle({**base, "style_weight": 5.0, "iterations": 1, "overwrite": True}).transfer(maxEvals=2)
    assert sorted(os.listdir(tmp_path)) == ["iter_0.png", "settings.json"]  # no stale iter_1.png
    assert json.loads((tmp_path / "settings.json").read_text())["settings"]["style_weight"] == 5.0
