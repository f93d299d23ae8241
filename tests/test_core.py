"""The core's public seams: stages, the evaluator, the optimiser table, the run folder, the run plan."""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import ImageError, NeuralStyle, SettingsError, WeightsError, features
from pyimagesearch.nn.conv.errors import NonFiniteLossError
from pyimagesearch.nn.conv.evaluator import Evaluator
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.optimizers import OPTIMIZERS, make_optimizer
from pyimagesearch.nn.conv.run_folder import RunFolder, differences, read_record
from pyimagesearch.nn.conv.run_plan import plan_run
from pyimagesearch.nn.conv.settings import resolve_settings
from pyimagesearch.nn.conv.stage import Objective, build_stage
from tests.test_losses import np_gram, np_tv


def noise(dims, seed=0):
    return np.random.default_rng(seed).uniform(-128, 128, (1, *dims, 3)).ravel()


# -- stages ------------------------------------------------------------------------------------

def test_a_stage_is_an_immutable_value(tiny_ns):
    stage = tiny_ns.stage
    with pytest.raises(dataclasses.FrozenInstanceError):
        stage.dims = (1, 1)
    with pytest.raises(ValueError, match="read-only"):
        stage.contentRGB[0, 0, 0] = 0
    with pytest.raises(TypeError):
        stage.styleGrams["block1_conv1"] = None


def test_stages_of_two_sizes_do_not_share_state(tiny_ns, tiny_images):
    """Each stage's loss answers for its own targets: building another leaves it alone."""
    X = noise(tiny_ns.dims)
    before = tiny_ns.loss(X)
    small = tiny_ns.run.stage((36, 48))
    Evaluator(small)(noise((36, 48)))
    assert small.dims == (36, 48) and small.contentRGB.shape == (36, 48, 3)
    assert tiny_ns.loss(X) == before


def test_a_stage_can_be_built_from_arrays(tiny_ns):
    """Tiles, frames and regions will hand their pixels over directly."""
    content = load_rgb(tiny_ns.S["input_path"])[:32, :40]
    stage = build_stage(tiny_ns.model, tiny_ns.objective, content, [tiny_ns.stage.styles[0]])
    assert stage.dims == (32, 40) and stage.final_pixels == 32 * 40
    features_of_content = np.asarray(tiny_ns.model(stage.content)["block4_conv2"][0])
    # Equal on TensorFlow; PyTorch's CPU convolutions may round differently from one call to the next.
    np.testing.assert_allclose(np.asarray(stage.contentTargets["block4_conv2"]), features_of_content, rtol=0,
                               atol=2e-3 * np.abs(features_of_content).max())
    loss, _ = Evaluator(stage)(stage.content.astype(np.float64).ravel())
    assert loss > 0


def test_a_coarse_scale_evaluates_the_full_size_objective(tiny_ns):
    """In chapter mode a coarse stage takes the chapter's sums as they would be at the final size:
    content per element and TV per unit of length, scaled to the final pixel count."""
    (H, W), (h, w) = tiny_ns.finalDims, (24, 32)
    coarse = tiny_ns.run.stage((h, w))
    alone = build_stage(tiny_ns.model, tiny_ns.objective, coarse.contentRGB, coarse.styles)  # a 32x24 run of its own
    assert coarse.final_pixels == H * W
    X = noise((h, w))
    evaluate = Evaluator(coarse)
    evaluate(X)
    image = X.reshape(1, h, w, 3)
    acts = {name: np.asarray(a[0], np.float64) for name, a in tiny_ns.model(image.astype(np.float32)).items()}
    content = np.sum((acts["block4_conv2"] - np.asarray(coarse.contentTargets["block4_conv2"], np.float64)) ** 2)
    stretch = (h * w / (H * W)) ** 0.5  # pixel differences per unit of the final image's length
    tv = np_tv(image * stretch) / ((h - 1) * (w - 1) * 3) * 3 * H * W
    style = np.mean([np.sum(((np_gram(acts[layer]) - np.asarray(coarse.styleGrams[layer], np.float64))
                              / (6 * h * w)) ** 2) for layer in tiny_ns.S["style_layers"]])
    assert evaluate.lastTerms["content"] == pytest.approx(1.0 * content * (H * W) / (h * w), rel=1e-4)
    assert evaluate.lastTerms["tv"] == pytest.approx(10.0 * tv, rel=1e-4)
    assert evaluate.lastTerms["style"] == pytest.approx(100.0 * style, rel=1e-4)
    # The same image in a run of its own size: the chapter's plain sums, 4x smaller for content.
    on_its_own = Evaluator(alone)
    on_its_own(X)
    assert on_its_own.lastTerms["content"] == pytest.approx(evaluate.lastTerms["content"] * h * w / (H * W), rel=1e-4)


# -- the evaluator -----------------------------------------------------------------------------

def test_evaluator_keeps_the_rounds_lowest_loss_and_tells_observers(tiny_ns):
    seen = []
    evaluate = Evaluator(tiny_ns.stage, [lambda loss, terms: seen.append((loss, dict(terms)))])
    images = [noise(tiny_ns.dims, 1), tiny_ns.content.astype(np.float64).ravel(), noise(tiny_ns.dims, 3)]
    for X in images:
        loss, grad = evaluate(X)
        assert grad.dtype == np.float64 and grad.shape == X.shape
    losses = [loss for loss, _ in seen]
    assert len(seen) == 3 and seen[-1][1] == evaluate.lastTerms
    assert losses[1] == min(losses) and losses[2] > losses[1]  # the photo in the middle is the best, not the last
    assert evaluate.best.loss == losses[1] and evaluate.best.terms == seen[1][1]
    np.testing.assert_array_equal(evaluate.best.image, images[1])
    evaluate.start_round()
    assert evaluate.best.image is None and evaluate.best.loss == np.inf


def test_evaluator_refuses_non_finite_values(tiny_ns):
    real, calls = tiny_ns.stage.evaluate, []

    def poisoned(image, round=0):  # a stage whose loss turns to NaN after its first evaluation
        total, grad, terms = real(image, round)
        calls.append(image)
        return total * (1.0 if len(calls) == 1 else float("nan")), grad, terms

    evaluate = Evaluator(dataclasses.replace(tiny_ns.stage, evaluate=poisoned))
    X = noise(tiny_ns.dims)
    good, _ = evaluate(X)
    with pytest.raises(NonFiniteLossError, match="non-finite.*content_weight"):
        evaluate(X)
    assert evaluate.best.loss == good  # the bad value never became the best


# -- the optimiser table -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimiser_lowers_the_loss_in_a_round(tiny_ns, name):
    optimizer = make_optimizer(resolve_settings({"optimizer": name}))
    assert isinstance(optimizer, OPTIMIZERS[name])
    evaluate = Evaluator(tiny_ns.stage)
    X = noise(tiny_ns.dims)
    start, _ = evaluate(X)
    evaluate.start_round()
    end = optimizer.round(evaluate, X, 6)
    assert end.shape == X.shape and not np.array_equal(end, X)
    assert evaluate.best.loss < 0.9 * start


def test_adams_first_step_moves_each_pixel_by_the_learning_rate(tiny_ns):
    adam = make_optimizer(resolve_settings({"optimizer": "adam", "learning_rate": 4.0}))
    start = tiny_ns.content.astype(np.float64).ravel()
    moved = np.abs(adam.round(Evaluator(tiny_ns.stage), start, 1) - start)
    assert np.median(moved) == pytest.approx(4.0, rel=0.05)  # whatever the gradient's scale


def test_adam_keeps_its_moments_across_rounds(tiny_ns):
    """Two rounds of one Adam are one run of steps; a fresh Adam (a new stage) starts over."""
    settings = resolve_settings({"optimizer": "adam"})
    X = noise(tiny_ns.dims)
    kept = make_optimizer(settings)
    first = kept.round(Evaluator(tiny_ns.stage), X, 2)
    second = kept.round(Evaluator(tiny_ns.stage), X, 2)  # continues from its own pixels, not from X
    straight = make_optimizer(settings).round(Evaluator(tiny_ns.stage), X, 4)
    np.testing.assert_allclose(second, straight, rtol=1e-5, atol=1e-3)
    assert not np.allclose(first, second)


# -- the run folder ----------------------------------------------------------------------------

def rgb(value):
    return np.full((6, 8, 3), value, np.uint8)


def test_run_folder_writes_every_nth_iteration_and_the_last(tmp_path):
    folder = RunFolder(str(tmp_path), {"settings": {}, "max_evals": 2}, save_every=2)
    folder.claim(overwrite=False)
    for i in range(5):
        folder.keep(i, rgb(i), 10.0 - i, last=i == 4)
    assert sorted(p.name for p in tmp_path.glob("iter_*.png")) == ["iter_1.png", "iter_3.png", "iter_4.png"]
    assert read_record(str(tmp_path / "settings.json"))["losses"] == [10.0, 9.0, 8.0, 7.0, 6.0]


def test_an_interrupted_run_folder_keeps_the_last_finished_iteration_and_the_partial(tmp_path):
    folder = RunFolder(str(tmp_path), {"settings": {}}, save_every=5)
    folder.claim(overwrite=False)
    for i in range(2):
        folder.keep(i, rgb(i), 1.0)
    path = folder.interrupted(2, rgb(99))
    assert path == str(tmp_path / "iter_2_partial.png")
    assert sorted(p.name for p in tmp_path.glob("iter_*.png")) == ["iter_1.png", "iter_2_partial.png"]
    assert np.asarray(Image.open(tmp_path / "iter_1.png"))[0, 0, 0] == 1  # the last finished one, not the first
    assert folder.interrupted(3, None) is None  # an iteration with no evaluation yet leaves no partial


def test_records_differ_only_in_what_shapes_the_picture():
    old = {"settings": {"style_weight": 100.0, "save_every": 1, "quiet": False, "output_path": "a"}, "max_evals": 20}
    neutral = {"settings": {"style_weight": 100.0, "save_every": 5, "quiet": True, "output_path": "b"},
               "max_evals": 20}
    assert differences(old, neutral) == []
    other = {"settings": {**old["settings"], "style_weight": 5.0}, "max_evals": 10}
    assert differences(old, other) == ["max_evals: 20 -> 10", "style_weight: 100.0 -> 5.0"]


def test_changing_only_save_every_or_quiet_reuses_the_output_folder(tiny_images, tmp_path):
    base = {**tiny_images, "output_path": str(tmp_path), "iterations": 2, "seed": 1}
    NeuralStyle(base).transfer(maxEvals=2)
    first = (tmp_path / "iter_0.png").read_bytes()
    NeuralStyle({**base, "save_every": 2, "quiet": True}).transfer(maxEvals=2)  # no refusal
    assert sorted(p.name for p in tmp_path.glob("iter_*.png")) == ["iter_0.png", "iter_1.png"]
    assert (tmp_path / "iter_0.png").read_bytes() == first  # kept: the folder was reused, not cleared
    assert json.loads((tmp_path / "settings.json").read_text())["settings"]["save_every"] == 2


# -- the run plan: every check, no network -------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to build a Keras VGG (and so to download weights) fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was built")

    monkeypatch.setattr(keras.applications, "VGG19", refuse)
    monkeypatch.setattr(keras.applications, "VGG16", refuse)
    monkeypatch.setattr(features, "CONSTRUCTORS", {"VGG19": refuse, "VGG16": refuse})


def test_a_plan_is_made_without_the_network(tiny_images, tmp_path, no_network):
    plan = plan_run({**tiny_images, "output_path": str(tmp_path / "out"), "weights": "imagenet",
                     "iterations": 5, "scales": [0.5, 1], "content_layer": "block3_conv1",
                     "style_layers": ["block1_conv1", "block2_conv1"], "max_size": 48})
    assert plan.final_dims == (36, 48) and plan.scale_dims == ((18, 24), (36, 48))
    assert plan.schedule() == [(18, 24)] * 2 + [(36, 48)] * 3  # the odd iteration goes to the finest
    assert plan.layers == ("block3_conv1", "block1_conv1", "block2_conv1")
    assert (tmp_path / "out").is_dir()


@pytest.mark.parametrize("settings, error, words", [
    ({"content_layer": "block4_conv9"}, SettingsError, ["block4_conv9", "valid layers", "block4_conv4"]),
    ({"weights": "nowhere.h5"}, WeightsError, ["nowhere.h5", "does not exist"]),
    ({"input_path": "missing.png"}, ImageError, ["missing.png", "does not exist"]),
    ({"init": "missing.png"}, ImageError, ["missing.png", "does not exist"]),
    ({"style_size": 20}, ImageError, ["style image", "starry_night.png", "style_size", "20x12 px",
                                      "at least 32 px on each side"]),
    ({"scales": [0.5, 1]}, ImageError, ["scale 0.5", "scales", "32x24 px", "at least 32 px on each side"]),
    ({"max_size": 24}, ImageError, ["content image", "tubingen.png", "24x18 px", "at least 32 px on each side"]),
])
def test_a_plan_refuses_bad_input_by_name_without_the_network(tiny_images, tmp_path, no_network, settings, error,
                                                              words):
    with pytest.raises(error) as e:
        plan_run({**tiny_images, "output_path": str(tmp_path), **settings})
    for word in words:
        assert word in str(e.value)


def test_too_small_is_one_check_with_one_error_class(tiny_images, tmp_path):
    """Content, style and scale sizes are refused by the same check, in the same words."""
    messages = []
    for settings in ({"max_size": 24}, {"style_size": 20}, {"scales": [0.5, 1]}):
        with pytest.raises(ImageError) as e:
            plan_run({**tiny_images, "output_path": str(tmp_path), **settings})
        assert type(e.value) is ImageError
        messages.append(str(e.value))
    assert all("need at least 32 px on each side" in m for m in messages)


# -- the start image -----------------------------------------------------------------------------

def test_start_images_follow_the_init_setting(tiny_ns, tiny_images):
    (h, w) = tiny_ns.dims

    def start(**fields):  # the start image of the same run with other init / seed settings
        return dataclasses.replace(tiny_ns.run, **fields).start_image(tiny_ns.stage)

    np.testing.assert_array_equal(start(init="content"), tiny_ns.content)
    seeded = [start(init="noise", seed=4) for _ in range(2)]
    np.testing.assert_array_equal(*seeded)
    assert seeded[0].shape == (1, h, w, 3) and -128 <= seeded[0].min() and seeded[0].max() <= 127
    by_name = start(init="style")
    by_path = start(init=tiny_images["style_path"])
    np.testing.assert_array_equal(by_name, by_path)


def test_objective_from_settings_reads_the_loss_settings():
    objective = Objective.from_settings(resolve_settings({"content_layer": ["block4_conv2", "block5_conv2"],
                                                          "style_weight": 7.0, "style_layer_weights": [1, 1, 0, 0, 0],
                                                          "loss_normalization": "size_invariant"}))
    assert objective.content_layers == ("block4_conv2", "block5_conv2")
    assert objective.weights == (1.0, 7.0, 10.0) and objective.normalization == "size_invariant"
    assert objective.style_layer_weights == (0.5, 0.5, 0.0, 0.0, 0.0)


# -- a real run of the other network -------------------------------------------------------------

def vgg16_weights(path) -> str:
    """VGG16 weights made from the VGG19 file (its first convolutions of each block): no download."""
    vgg19 = keras.applications.VGG19(weights=os.environ["NEURALSTYLE_WEIGHTS"], include_top=False)
    vgg16 = keras.applications.VGG16(weights=None, include_top=False)
    for layer in vgg16.layers:
        if layer.weights:
            layer.set_weights(vgg19.get_layer(layer.name).get_weights())
    vgg16.save_weights(str(path))
    return str(path)


def test_a_real_vgg16_run(tiny_images, tmp_path):
    weights = vgg16_weights(tmp_path / "vgg16.weights.h5")
    ns = NeuralStyle({**tiny_images, "output_path": str(tmp_path / "out"), "net": "VGG16", "weights": weights,
                      "iterations": 2, "seed": 0, "quiet": True})
    assert [layer.name for layer in ns.model.layers if "conv" in layer.name][-1] == "block5_conv1"
    assert "block3_conv4" not in {layer.name for layer in ns.model.layers}  # VGG16 has three per block there
    image = ns.transfer(maxEvals=8)
    assert image.shape == (48, 64, 3) and ns.losses[1] < ns.losses[0]
    assert read_record(str(tmp_path / "out" / "settings.json"))["settings"]["net"] == "VGG16"
    assert np.isfinite(np.asarray(ns.stage.styleGrams["block5_conv1"])).all()


def test_traces_per_network_are_capped_and_a_stage_keeps_its_own(tiny_ns):
    """A long sweep in one process makes a trace per objective; only the most recent few are kept, and a stage
    whose trace left the cache still evaluates (it holds its function)."""
    from pyimagesearch.nn.conv import stage as stage_module

    content, style = tiny_ns.stage.contentRGB[:32, :32], tiny_ns.stage.styles[0]
    X = noise((32, 32))
    first = build_stage(tiny_ns.model, tiny_ns.objective.with_weights(content=1.0, style=1.0, tv=1.0), content,
                        [style])
    expected = Evaluator(first)(X)[0]
    for k in range(2, 12):
        build_stage(tiny_ns.model, tiny_ns.objective.with_weights(content=float(k), style=1.0, tv=1.0), content,
                    [style])
    assert len(stage_module._COMPILED[tiny_ns.model]) <= stage_module._TRACES_KEPT
    assert Evaluator(first)(X)[0] == pytest.approx(expected, rel=1e-6)
