"""The settings beyond the chapter: each changes what it should, checked on tiny real runs."""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import ImageError, NeuralStyle
from pyimagesearch.nn.conv.colors import luminance_transfer, match_colors, rgb_to_ycbcr, ycbcr_to_rgb
from pyimagesearch.nn.conv.features import deprocess_bgr
from pyimagesearch.nn.conv.images import load_rgb


@pytest.fixture(scope="module")
def pixels(tiny_images):
    return {"content": load_rgb(tiny_images["input_path"]).astype(np.uint8),
            "style": load_rgb(tiny_images["style_path"]).astype(np.uint8)}


def make(tiny_images, tmp_path, **settings):
    return NeuralStyle({**tiny_images, "output_path": str(tmp_path / "out"), "iterations": 2, "seed": 3,
                        "quiet": True, **settings})


def run(tiny_images, tmp_path, max_evals=8, **settings):
    ns = make(tiny_images, tmp_path, **settings)
    return ns, ns.transfer(maxEvals=max_evals)


# -- init ----------------------------------------------------------------------------------

def test_init_content_starts_lower_than_noise(tiny_images, tmp_path):
    starts = {}
    for init in ("noise", "content"):
        ns = make(tiny_images, tmp_path / init, init=init)
        starts[init] = (ns.loss(ns.run.start_image(ns.stage).ravel()), ns.lastTerms)
    assert starts["content"][0] < 0.75 * starts["noise"][0]
    assert starts["content"][1]["content"] == 0.0 and starts["noise"][1]["content"] > 0


def test_init_content_style_and_path_start_from_those_pixels(tiny_images, tmp_path, pixels):
    ns = make(tiny_images, tmp_path / "c", init="content")
    np.testing.assert_array_equal(ns.run.start_image(ns.stage), ns.content)
    by_name = make(tiny_images, tmp_path / "s", init="style")
    by_path = make(tiny_images, tmp_path / "p", init=tiny_images["style_path"])
    np.testing.assert_array_equal(by_name.run.start_image(by_name.stage), by_path.run.start_image(by_path.stage))
    start = by_path.deprocess(by_path.run.start_image(by_path.stage))[..., ::-1]  # the style at the output's size
    expected = load_rgb(tiny_images["style_path"], size=(ns.dims[1], ns.dims[0]))
    assert np.abs(start.astype(float) - expected).max() <= 1
    # With preserve_colors match the start is the painting in the photo's colours, as its targets are.
    matched = make(tiny_images, tmp_path / "m", init="style", preserve_colors="match")
    start = matched.deprocess(matched.run.start_image(matched.stage))[..., ::-1]
    assert np.abs(start.astype(float) - match_colors(expected, matched.contentRGB)).max() <= 1


def test_init_content_reaches_a_lower_loss_in_the_same_evaluations(tiny_images, tmp_path):
    noise, _ = run(tiny_images, tmp_path / "n", init="noise")
    content, _ = run(tiny_images, tmp_path / "c", init="content")
    assert content.losses[-1] < noise.losses[-1]
    assert content.losses[1] < content.losses[0]  # and it still improves


def test_missing_init_image_names_the_file_before_any_work(tiny_images, tmp_path):
    with pytest.raises(ImageError, match="nope.png"):
        make(tiny_images, tmp_path, init=str(tmp_path / "nope.png"))
    assert not (tmp_path / "out" / "settings.json").exists()


# -- style size, several styles ---------------------------------------------------------------

def test_style_scale_rescales_grams_to_the_output_size(tiny_images, tmp_path, pixels):
    # A 2x2 tiling of the style at twice the scale holds the same texture with 4x the pixels: its
    # Gram matrices, brought to the output's pixel count, match the single copy's (shallow layers;
    # deep ones see the seams). Unscaled they would be 4x as large.
    style = np.asarray(Image.fromarray(pixels["style"]).resize((64, 48)))
    one = make(tiny_images, tmp_path / "one", style_path=style, style_scale=1.0)
    tiled = make(tiny_images, tmp_path / "tiled", style_path=np.tile(style, (2, 2, 1)), style_scale=2.0)
    for layer in ("block1_conv1", "block2_conv1"):
        a, b = np.asarray(one.styleGrams[layer]), np.asarray(tiled.styleGrams[layer])
        assert np.linalg.norm(b - a) / np.linalg.norm(a) < 0.1


def test_style_at_the_contents_size_keeps_the_chapters_targets(tiny_images, tmp_path, pixels):
    same_shape = np.asarray(Image.fromarray(pixels["style"]).resize((64, 48)))
    chapter = make(tiny_images, tmp_path / "a", style_path=same_shape)
    sized = make(tiny_images, tmp_path / "b", style_path=same_shape, style_size=64)
    for layer in chapter.styleGrams:
        np.testing.assert_array_equal(chapter.styleGrams[layer], sized.styleGrams[layer])


def test_style_size_keeps_the_style_images_own_proportions(tiny_images, tmp_path):
    ns = make(tiny_images, tmp_path, style_size=96)
    assert ns.style.shape == (1, 60, 96, 3)  # the 64x40 style image at 96 px, not the 64x48 output


def test_style_too_small_for_the_layers_names_file_and_setting(tiny_images, tmp_path):
    with pytest.raises(ImageError) as e:
        make(tiny_images, tmp_path, style_size=40)
    assert os.path.basename(tiny_images["style_path"]) in str(e.value) and "style_size" in str(e.value)


def test_blend_weights_one_and_zero_equal_the_single_style_run(tiny_images, tmp_path, pixels):
    _, single = run(tiny_images, tmp_path / "single")
    _, blend = run(tiny_images, tmp_path / "blend", style_path=[tiny_images["style_path"], tiny_images["input_path"]],
                   style_blend_weights=[1.0, 0.0])
    np.testing.assert_array_equal(single, blend)


def test_blend_of_two_styles_targets_the_weighted_mean_of_their_grams(tiny_images, tmp_path):
    a = make(tiny_images, tmp_path / "a")
    b = make(tiny_images, tmp_path / "b", style_path=tiny_images["input_path"])
    mix = make(tiny_images, tmp_path / "mix", style_path=[tiny_images["style_path"], tiny_images["input_path"]],
               style_blend_weights=[3, 1])
    for layer in a.styleGrams:
        expected = 0.75 * np.asarray(a.styleGrams[layer]) + 0.25 * np.asarray(b.styleGrams[layer])
        np.testing.assert_allclose(mix.styleGrams[layer], expected, rtol=1e-5)


# -- multi-scale --------------------------------------------------------------------------------

SHALLOW = {"content_layer": "block4_conv2", "style_layers": ["block1_conv1", "block2_conv1", "block3_conv1",
                                                            "block4_conv1"]}  # 16 px suffice, so 0.5 of 64x48 runs


def test_scales_run_coarse_to_fine(tiny_images, tmp_path):
    single, _ = run(tiny_images, tmp_path / "single", iterations=4, **SHALLOW)
    ns, final = run(tiny_images, tmp_path / "multi", iterations=5, scales=[0.5, 1], **SHALLOW)
    sizes = [Image.open(tmp_path / "multi" / "out" / f"iter_{i}.png").size for i in range(5)]
    assert sizes == [(32, 24), (32, 24), (64, 48), (64, 48), (64, 48)]  # the odd iteration goes to the finest
    assert final.shape == (48, 64, 3) and ns.dims == ns.finalDims == (48, 64)
    assert ns.losses[1] < ns.losses[0] and ns.losses[4] < ns.losses[2]
    # The full-size stage starts from the enlarged coarse result, far below a start from noise.
    assert ns.losses[2] < single.losses[0]


def test_a_scale_too_small_for_the_layers_is_refused(tiny_images, tmp_path):
    with pytest.raises(ImageError, match="scales"):
        make(tiny_images, tmp_path, scales=[0.5, 1])  # block5 needs 32 px; 0.5 of 48 is 24


@pytest.mark.parametrize("extra", [{"style_scale": 1.0}, {"init": "STYLE_FILE"}, {"preserve_colors": "match"},
                                   {"optimizer": "adam"}], ids=["style_scale", "init-image", "match", "adam"])
def test_scales_work_with_the_other_settings(tiny_images, tmp_path, extra):
    extra = {k: tiny_images["style_path"] if v == "STYLE_FILE" else v for k, v in extra.items()}
    ns, final = run(tiny_images, tmp_path, iterations=4, scales=[0.5, 1], **SHALLOW, **extra)
    sizes = [Image.open(tmp_path / "out" / f"iter_{i}.png").size for i in range(4)]
    assert sizes == [(32, 24), (32, 24), (64, 48), (64, 48)] and final.shape == (48, 64, 3)
    assert ns.losses[1] < ns.losses[0] and ns.losses[3] < ns.losses[2]  # each scale improves on its start
    coarse = ns.run.stage((24, 32))
    assert ns.run.start_image(coarse).shape == (1, 24, 32, 3)
    if "style_scale" in extra:  # the style is drawn relative to each scale's size: 32 px long at 0.5
        assert coarse.styles[0].shape == (20, 32, 3) and ns.stage.styles[0].shape == (40, 64, 3)
    if "preserve_colors" in extra:  # each scale's style is recoloured to that scale's photo
        np.testing.assert_allclose(coarse.styles[0].reshape(-1, 3).mean(axis=0),
                                   coarse.contentRGB.reshape(-1, 3).mean(axis=0), atol=2.0)
    if "init" in extra:  # the start image is the file at the coarse size
        expected = load_rgb(tiny_images["style_path"], size=(32, 24))
        start = deprocess_bgr(ns.run.start_image(coarse), (24, 32))[..., ::-1]
        assert np.abs(start.astype(float) - expected).max() <= 1


# -- colours ---------------------------------------------------------------------------------

def test_ycbcr_round_trip(rng):
    rgb = rng.uniform(0, 255, (5, 7, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-9)
    assert rgb_to_ycbcr(np.full((1, 3), 255.0)) == pytest.approx(np.array([[255.0, 128.0, 128.0]]), abs=1e-3)


def test_match_colors_gives_the_contents_mean_and_covariance(pixels):
    matched = match_colors(pixels["style"], pixels["content"]).reshape(-1, 3).astype(np.float64)
    content = pixels["content"].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(matched.mean(axis=0), content.mean(axis=0), atol=2.0)  # clipping moves it a bit
    np.testing.assert_allclose(np.cov(matched, rowvar=False), np.cov(content, rowvar=False), rtol=0.1, atol=20)
    style = pixels["style"].reshape(-1, 3).astype(np.float64)
    assert np.abs(style.mean(axis=0) - content.mean(axis=0)).max() > 10  # so the test is not trivial


def test_luminance_transfer_takes_luminance_from_output_and_chroma_from_content(pixels):
    output = np.asarray(Image.fromarray(pixels["style"]).resize((64, 48)))
    out = rgb_to_ycbcr(luminance_transfer(output, pixels["content"]))
    assert np.abs(out[..., 0] - rgb_to_ycbcr(output)[..., 0]).mean() < 1.0
    assert np.abs(out[..., 1:] - rgb_to_ycbcr(pixels["content"])[..., 1:]).mean() < 1.5


def test_preserve_colors_luminance_keeps_the_contents_chroma(tiny_images, tmp_path, pixels):
    _, plain = run(tiny_images, tmp_path / "plain")
    _, kept = run(tiny_images, tmp_path / "kept", preserve_colors="luminance")
    chroma = {name: rgb_to_ycbcr(image)[..., 1:] for name, image in
              (("content", pixels["content"]), ("plain", plain), ("kept", kept))}
    assert np.abs(chroma["kept"] - chroma["content"]).mean() < 1.5
    assert np.abs(chroma["plain"] - chroma["content"]).mean() > 5
    # The strokes (luminance) are the plain run's: the colours are changed only at the end.
    assert np.abs(rgb_to_ycbcr(kept)[..., 0] - rgb_to_ycbcr(plain)[..., 0]).mean() < 1.5
    saved = np.asarray(Image.open(tmp_path / "kept" / "out" / "iter_1.png").convert("RGB"))
    np.testing.assert_array_equal(saved, kept)


def test_preserve_colors_match_recolours_the_style_targets(tiny_images, tmp_path, pixels):
    ns = make(tiny_images, tmp_path, preserve_colors="match")
    style = ns.deprocess(ns.style)[..., ::-1].reshape(-1, 3).astype(np.float64)
    content = pixels["content"].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(style.mean(axis=0), content.mean(axis=0), atol=2.0)


# -- network and optimiser ---------------------------------------------------------------------

def test_avg_pooling_swaps_every_pooling_layer_and_still_transfers(tiny_images, tmp_path):
    ns, _ = run(tiny_images, tmp_path, pooling="avg")
    kinds = {type(layer).__name__ for layer in ns.model.layers}
    assert "AveragePooling2D" in kinds and "MaxPooling2D" not in kinds
    plain = make(tiny_images, tmp_path / "max")
    assert not np.allclose(plain.styleGrams["block5_conv1"], ns.styleGrams["block5_conv1"])
    assert ns.losses[-1] < ns.losses[0]


def test_extractor_stops_at_the_deepest_layer_used(tiny_images, tmp_path):
    ns = make(tiny_images, tmp_path, content_layer="block2_conv2", style_layers=["block1_conv1", "block3_conv1"])
    assert ns.model.layers[-1].name == "block3_conv1"


def test_adam_lowers_the_loss_over_rounds(tiny_images, tmp_path):
    ns, _ = run(tiny_images, tmp_path / "adam", optimizer="adam", learning_rate=10.0, iterations=3)
    assert ns.losses[2] < ns.losses[1] < ns.losses[0]


def test_style_layer_weights_reach_the_loss(tiny_images, tmp_path, rng):
    only_first = make(tiny_images, tmp_path / "a", style_layer_weights=[1, 0, 0, 0, 0])
    X = rng.uniform(-100, 100, (1, *only_first.dims, 3))
    only_first.loss(X.ravel())
    image = keras.ops.convert_to_tensor(X.astype(np.float32))
    first = only_first.styleReconLoss(only_first.model(only_first.style)["block1_conv1"][0],
                                      only_first.model(image)["block1_conv1"][0])
    assert only_first.lastTerms["style"] == pytest.approx(100.0 * float(first), rel=1e-4)


# -- writing, progress, notebooks ---------------------------------------------------------------

def test_save_every_writes_every_nth_and_the_last(tiny_images, tmp_path):
    ns, _ = run(tiny_images, tmp_path, max_evals=3, iterations=5, save_every=2)
    folder = tmp_path / "out"
    assert sorted(p.name for p in folder.glob("iter_*.png")) == ["iter_1.png", "iter_3.png", "iter_4.png"]
    assert len(json.loads((folder / "settings.json").read_text())["losses"]) == 5


def test_ctrl_c_with_save_every_still_keeps_the_last_finished_iteration(tiny_images, tmp_path):
    ns = make(tiny_images, tmp_path, iterations=10, save_every=5)
    finished, third = [], []

    def ctrl_c(loss, terms):  # Ctrl-C at the third iteration's second evaluation
        if len(finished) == 2:
            third.append(loss)
            if len(third) == 2:
                raise KeyboardInterrupt

    ns.observers.append(ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        ns.transfer(maxEvals=3, callback=lambda i, image, losses: finished.append(i))
    names = sorted(p.name for p in (tmp_path / "out").glob("iter_*.png"))
    assert names == ["iter_1.png", "iter_2_partial.png"]


def test_the_saved_image_is_the_rounds_lowest_loss_not_its_last(tiny_images, tmp_path):
    # Adam with a large step from the photo overshoots: its first round ends far above its best
    # evaluation (measured: 5.8x), the photo it started from.
    ns = make(tiny_images, tmp_path, optimizer="adam", learning_rate=60.0, init="content", iterations=2)
    rounds = [[]]
    ns.observers.append(lambda loss, terms: rounds[-1].append(loss))

    def next_round(i, image, losses):
        assert losses["total"] == min(rounds[-1])
        rounds.append([])

    ns.transfer(maxEvals=6, callback=next_round)
    assert ns.losses == [min(r) for r in rounds[:-1]]
    ended_higher = [i for i, r in enumerate(rounds[:-1]) if r[-1] > 2 * min(r)]
    assert ended_higher, rounds  # else this run could not tell the best from the last
    i = ended_higher[0]
    saved = ns.loss(ns.preprocess(str(tmp_path / "out" / f"iter_{i}.png")).astype(np.float64).ravel())
    assert abs(saved - min(rounds[i])) < abs(saved - rounds[i][-1])


def test_callback_sees_each_iteration_and_can_stop_the_run(tiny_images, tmp_path):
    seen = []

    def show(iteration, image, losses):
        seen.append((iteration, image.copy(), losses))
        return iteration < 1  # False after the second iteration: stop

    ns = make(tiny_images, tmp_path, iterations=4)
    final = ns.transfer(maxEvals=4, callback=show)
    assert [i for i, _, _ in seen] == [0, 1]
    assert ns.losses == [losses["total"] for _, _, losses in seen]
    np.testing.assert_array_equal(final, seen[-1][1])
    saved = np.asarray(Image.open(tmp_path / "out" / "iter_1.png"))
    np.testing.assert_array_equal(saved, final)
    assert not (tmp_path / "out" / "iter_2.png").exists()


def test_arrays_and_pillow_images_work_like_their_files(tiny_images, tmp_path, pixels):
    _, from_files = run(tiny_images, tmp_path / "files")
    ns, from_arrays = run(tiny_images, tmp_path / "arrays", input_path=pixels["content"],
                          style_path=Image.fromarray(pixels["style"]))
    np.testing.assert_array_equal(from_files, from_arrays)
    record = json.loads((tmp_path / "arrays" / "out" / "settings.json").read_text())
    assert record["settings"]["input_path"].startswith("<array 48x64x3 uint8 sha1:")
    # Floats in [0, 1], as matplotlib reads PNGs, are the same picture.
    floats = make(tiny_images, tmp_path / "floats", input_path=pixels["content"] / 255.0)
    np.testing.assert_array_equal(floats.content, ns.content)


def test_bad_array_is_one_clear_error(tiny_images, tmp_path):
    with pytest.raises(ImageError, match="shape"):
        make(tiny_images, tmp_path, input_path=np.zeros((48, 64, 5), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        make(tiny_images, tmp_path, input_path=np.full((48, 64, 3), np.nan))
