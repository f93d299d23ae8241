"""SETTINGS checks: every bad value is a SettingsError that names its key."""

import pytest
from keras.applications import VGG16, VGG19

from pyimagesearch.nn.conv import NeuralStyle, SettingsError, WeightsError
from pyimagesearch.nn.conv.settings import DEFAULTS, resolve_settings, weights_source


def test_defaults_are_the_chapters():
    s = resolve_settings({})
    assert (s["content_weight"], s["style_weight"], s["tv_weight"], s["iterations"]) == (1.0, 100.0, 10.0, 50)
    assert s["content_layer"] == "block4_conv2" and s["net"] == "VGG19"
    assert s["style_layers"] == [f"block{i}_conv1" for i in range(1, 6)]


@pytest.mark.parametrize("net, name", [(VGG19, "VGG19"), (VGG16, "VGG16"), ("vgg16", "VGG16")])
def test_net_accepts_constructor_or_name(net, name):
    assert resolve_settings({"net": net})["net"] == name


@pytest.mark.parametrize("settings, words", [
    ({"style_weigth": 1.0}, ["style_weigth", "did you mean 'style_weight'"]),
    ({"content_weight": -1}, ["content_weight", ">= 0"]),
    ({"tv_weight": "lots"}, ["tv_weight", "number"]),
    ({"style_weight": float("nan")}, ["style_weight"]),
    ({"iterations": 0}, ["iterations", ">= 1"]),
    ({"iterations": 2.5}, ["iterations"]),
    ({"net": "ResNet50"}, ["net", "VGG19"]),
    ({"style_layers": []}, ["style_layers"]),
    ({"input_path": None}, ["input_path"]),
    ({"style_size": 64, "style_scale": 1.0}, ["style_size", "style_scale", "not both"]),
    ({"style_scale": 0}, ["style_scale", "> 0"]),
    ({"style_size": -5}, ["style_size", ">= 1"]),
    ({"style_path": ["a.jpg", "b.jpg"], "style_blend_weights": [1.0]}, ["style_blend_weights", "2 numbers"]),
    ({"style_blend_weights": [0.0]}, ["style_blend_weights", "all zero"]),
    ({"style_path": []}, ["style_path", "at least one"]),
    ({"style_layer_weights": [1, 2]}, ["style_layer_weights", "5 numbers", "style layer"]),
    ({"content_layer_weights": [-1]}, ["content_layer_weights", ">= 0"]),
    ({"preserve_colors": "sepia"}, ["preserve_colors", "luminance", "match"]),
    ({"pooling": "min"}, ["pooling", "max, avg"]),
    ({"optimizer": "sgd"}, ["optimizer", "lbfgs, adam"]),
    ({"learning_rate": 0}, ["learning_rate", "> 0"]),
    ({"init": ""}, ["init"]),
    ({"init": 3}, ["init"]),
    ({"save_every": 0}, ["save_every", ">= 1"]),
    ({"quiet": "yes"}, ["quiet", "True or False"]),
    ({"content_layer": []}, ["content_layer"]),
    ({"scales": [0.5]}, ["scales", "exactly 1"]),
    ({"scales": [1, 0.5]}, ["scales", "rise"]),
    ({"scales": [0, 1]}, ["scales"]),
    ({"scales": [0.25, 0.5, 1], "iterations": 2}, ["scales", "iterations", "at least one iteration"]),
    ({"seed": -1}, ["seed", ">= 0"]),
    ({"weights": ""}, ["weights", "file path"]),
    ({"output_path": 3}, ["output_path", "file path"]),
    ({"loss_normalization": "per_pixel"}, ["loss_normalization", "chapter, size_invariant"]),
])
def test_bad_settings_name_the_key(settings, words):
    with pytest.raises(SettingsError) as e:
        resolve_settings(settings)
    for word in words:
        assert word in str(e.value)


def test_weights_source_order(monkeypatch):
    monkeypatch.delenv("NEURALSTYLE_WEIGHTS", raising=False)
    assert weights_source(None) == "imagenet"
    monkeypatch.setenv("NEURALSTYLE_WEIGHTS", "/env.h5")
    assert weights_source(None) == "/env.h5"
    assert weights_source("/setting.h5") == "/setting.h5"


def test_unknown_layer_lists_the_valid_ones(tiny_images, tmp_path):
    with pytest.raises(SettingsError, match="no layer 'block4_conv9'.*block4_conv4"):
        NeuralStyle({**tiny_images, "output_path": str(tmp_path), "content_layer": "block4_conv9"})


def test_missing_weights_file_names_setting_and_variable(tiny_images, tmp_path):
    with pytest.raises(WeightsError, match="nope.h5.*'weights'.*NEURALSTYLE_WEIGHTS"):
        NeuralStyle({**tiny_images, "output_path": str(tmp_path), "weights": str(tmp_path / "nope.h5")})


def test_weights_of_another_network_are_refused(tiny_images, tmp_path):
    # The VGG19 file does not fit VGG16 (16 vs 19 layers): a clear error, not a Keras traceback.
    with pytest.raises(WeightsError, match="holds VGG19 weights, while setting 'net' is VGG16"):
        NeuralStyle({**tiny_images, "output_path": str(tmp_path), "net": "VGG16"})


def test_the_schema_is_the_one_description_of_the_settings():
    from pyimagesearch.nn.conv.settings import HELP, NEUTRAL_KEYS, SCHEMA

    keys = [row.key for row in SCHEMA]
    assert list(DEFAULTS) == keys and list(HELP) == keys and len(set(keys)) == len(keys)
    assert all(row.help for row in SCHEMA)
    assert set(NEUTRAL_KEYS) == {"output_path", "overwrite", "quiet", "save_every", "backend"}
    # Every default passes its own check and comes out as itself.
    assert resolve_settings({}) == DEFAULTS


def test_readme_and_the_driver_show_every_setting():
    import style_transfer
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for key, default in DEFAULTS.items():
        assert f"| `{key}` / `--{key.replace('_', '-')}` |" in readme, key
        value = style_transfer.SETTINGS[key]
        assert (value.__name__ if key == "net" else value) == default, key


def test_new_settings_normalise():
    s = resolve_settings({"style_path": ["a.jpg", "b.jpg"], "style_blend_weights": [3, 1],
                          "content_layer": ["block4_conv2"], "style_layer_weights": [2, 2, 0, 0, 0],
                          "preserve_colors": True})
    assert s["style_blend_weights"] == [0.75, 0.25]
    assert s["style_layer_weights"] == [0.5, 0.5, 0.0, 0.0, 0.0]
    assert s["content_layer"] == "block4_conv2"  # one layer reads as the chapter writes it
    assert s["preserve_colors"] == "luminance"  # True: jcjohnson's -original_colors 1
    assert resolve_settings({"style_path": ["a.jpg"]})["style_path"] == "a.jpg"
    assert resolve_settings({"preserve_colors": False})["preserve_colors"] == "none"
