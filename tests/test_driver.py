"""style_transfer.py: flags override SETTINGS, and a real run from the command line."""

import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import style_transfer
from pyimagesearch.cli import apply_flags, settings_parser
from pyimagesearch.nn.conv.settings import DEFAULTS
from tests.conftest import ROOT, on_a_terminal


def parse(argv):
    return apply_flags(style_transfer.SETTINGS, settings_parser(style_transfer.SETTINGS).parse_args(argv))


def test_no_flags_leave_settings_as_written():
    settings, max_evals = parse([])
    assert settings == style_transfer.SETTINGS and max_evals == 20


def test_flags_override_settings():
    settings, max_evals = parse(["--input-path", "a.png", "--style-path", "b.png", "--output-path", "o",
                            "--content-weight", "2.5", "--style-weight", "7", "--tv-weight", "0",
                            "--iterations", "3", "--content-layer", "block5_conv2",
                            "--style-layers", "block1_conv1", "block2_conv1", "--net", "vgg16",
                            "--weights", "w.h5", "--overwrite", "--seed", "7", "--max-evals", "5"])
    given = {"input_path": "a.png", "style_path": "b.png", "output_path": "o",
             "net": "VGG16", "content_layer": "block5_conv2",
             "style_layers": ["block1_conv1", "block2_conv1"], "content_weight": 2.5,
             "style_weight": 7.0, "tv_weight": 0.0, "iterations": 3, "weights": "w.h5",
             "overwrite": True, "seed": 7}
    assert settings == {**style_transfer.SETTINGS, **given}
    assert max_evals == 5
    assert style_transfer.SETTINGS["iterations"] == 50  # the module's dict is not changed


def sample_flag(row) -> tuple[list[str], object]:
    """A flag setting row's key to a value other than its default: (argv, the value expected)."""
    flag = f"--{row.key.replace('_', '-')}"
    if isinstance(row.default, bool):
        return [flag], True
    if row.choices:
        return [flag, row.choices[-1]], row.choices[-1]
    one = {int: "3", float: "0.5"}.get(row.type, "x.png")
    if row.many:
        return [flag, one, one], [row.type(one)] * 2
    return [flag, one], row.type(one)


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_every_setting_has_its_own_flag(key):
    """Parsed, not searched for in the help text (where --content-layer is in --content-layer-weights)."""
    from pyimagesearch.nn.conv.settings import ROWS

    argv, expected = sample_flag(ROWS[key])
    settings, _ = parse(argv)
    changed = {k: v for k, v in settings.items() if v != style_transfer.SETTINGS.get(k)}
    assert changed == {key: expected}


def test_flags_of_the_settings_beyond_the_chapter():
    settings, _ = parse(["--style-path", "a.png", "b.png", "--style-blend-weights", "2", "1",
                         "--style-scale", "0.5", "--content-layer", "block4_conv2", "block5_conv2",
                         "--content-layer-weights", "1", "3", "--style-layer-weights", "1", "1", "1", "1", "0",
                         "--preserve-colors", "luminance", "--pooling", "avg", "--optimizer", "adam",
                         "--learning-rate", "5", "--init", "content", "--save-every", "3", "--quiet"])
    expected = {"style_path": ["a.png", "b.png"], "style_blend_weights": [2.0, 1.0], "style_scale": 0.5,
                "content_layer": ["block4_conv2", "block5_conv2"], "content_layer_weights": [1.0, 3.0],
                "style_layer_weights": [1.0, 1.0, 1.0, 1.0, 0.0], "preserve_colors": "luminance",
                "pooling": "avg", "optimizer": "adam", "learning_rate": 5.0, "init": "content",
                "save_every": 3, "quiet": True}
    assert {k: settings[k] for k in expected} == expected


def test_config_file_then_flags(tmp_path):
    record = {"settings": {**style_transfer.SETTINGS, "net": "VGG19", "style_weight": 42.0, "seed": 3},
              "max_evals": 7}
    (tmp_path / "settings.json").write_text(json.dumps(record))
    settings, max_evals = parse(["--config", str(tmp_path / "settings.json")])
    assert settings["style_weight"] == 42.0 and settings["seed"] == 3 and max_evals == 7
    settings, max_evals = parse(["--config", str(tmp_path / "settings.json"), "--seed", "4", "--max-evals", "2"])
    assert settings["style_weight"] == 42.0 and settings["seed"] == 4 and max_evals == 2


def test_rerun_from_settings_json_gives_the_same_image(tiny_images, tmp_path):
    first = run_driver("--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"],
                       "--output-path", str(tmp_path / "a"), "--iterations", "1", "--max-evals", "3",
                       "--seed", "5", "--style-weight", "300")
    assert first.returncode == 0, first.stderr
    again = run_driver("--config", str(tmp_path / "a" / "settings.json"), "--output-path", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert "up to 3 evaluations" in again.stdout
    a = np.asarray(Image.open(tmp_path / "a" / "iter_0.png"))
    b = np.asarray(Image.open(tmp_path / "b" / "iter_0.png"))
    np.testing.assert_array_equal(a, b)


def test_a_run_without_a_seed_records_the_seed_it_drew(tiny_images, tmp_path):
    """seed None still means a new noise image each run, and any such picture can be made again."""
    argv = ["--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"],
            "--output-path", str(tmp_path / "a"), "--iterations", "1", "--max-evals", "3"]
    first = run_driver(*argv)
    assert first.returncode == 0, first.stderr
    record = json.loads((tmp_path / "a" / "settings.json").read_text())
    seed = record["settings"]["seed"]
    assert isinstance(seed, int) and record["seed_drawn"] is True
    assert f"[INFO] noise seed {seed} (drawn; --seed {seed} starts from the same noise again)" in first.stdout
    image = (tmp_path / "a" / "iter_0.png").read_bytes()
    again = run_driver("--config", str(tmp_path / "a" / "settings.json"), "--output-path", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a" / "iter_0.png")),
                                  np.asarray(Image.open(tmp_path / "b" / "iter_0.png")))
    assert json.loads((tmp_path / "b" / "settings.json").read_text())["seed_drawn"] is False
    # The first command again, into its own folder: the same run as far as the folder goes (a new seed, as asked).
    third = run_driver(*argv)
    assert third.returncode == 0, third.stderr
    assert json.loads((tmp_path / "a" / "settings.json").read_text())["settings"]["seed"] != seed
    assert (tmp_path / "a" / "iter_0.png").read_bytes() != image


def run_driver(*argv):
    return subprocess.run([sys.executable, "style_transfer.py", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.portable
def test_driver_runs_a_transfer_with_flags(tiny_images, tmp_path):
    """On the backend of this test run (KERAS_BACKEND, which the script inherits)."""
    import keras

    out = tmp_path / "run"
    done = run_driver("--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"],
                      "--output-path", str(out), "--iterations", "2", "--max-evals", "3")
    assert done.returncode == 0, done.stderr
    # The backend, then the CPU model and cores, or the GPU.
    from pyimagesearch.nn.conv.backends import LABELS

    assert done.stdout.splitlines()[0].startswith(f"[INFO] running on {LABELS[keras.backend.backend()]} ")
    assert json.loads((out / "settings.json").read_text())["versions"]["backend"] == keras.backend.backend()
    assert "[INFO] end of iteration 2, loss:" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["iter_0.png", "iter_1.png", "settings.json"]
    assert Image.open(out / "iter_1.png").size == Image.open(tiny_images["input_path"]).size


def test_quiet_prints_nothing(tiny_images, tmp_path):
    done = run_driver("--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"],
                      "--output-path", str(tmp_path), "--iterations", "1", "--max-evals", "2", "--quiet")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert (tmp_path / "iter_0.png").is_file()


def test_progress_bar_on_a_terminal(tiny_images, tmp_path):
    # The bar goes to a terminal only (logs get the [INFO] lines alone); run the driver on a pty.
    (status, screen) = on_a_terminal([sys.executable, "style_transfer.py", "--input-path", tiny_images["input_path"],
                                      "--style-path", tiny_images["style_path"], "--output-path", str(tmp_path),
                                      "--iterations", "2", "--max-evals", "3"])
    assert status == 0
    assert "6/6" in screen and "eval" in screen  # evaluations done of iterations x max-evals
    for word in ("iteration 2/2", "content=", "style=", "tv=", "<"):  # the loss split, elapsed<remaining
        assert word in screen
    assert "[INFO] end of iteration 2" in screen


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_keeps_finished_iterations(tiny_images, tmp_path, sig, status):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "style_transfer.py", "--input-path", tiny_images["input_path"],
                             "--style-path", tiny_images["style_path"], "--output-path", str(out),
                             "--iterations", "1000", "--max-evals", "5"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "iter_1.png").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".tmp")]
    names.remove("settings.json")
    finished = [n for n in names if not n.endswith("_partial.png")]
    assert len(finished) >= 2 and "iter_1.png" in finished
    for name in names:  # every file left behind is a whole, readable PNG
        with Image.open(out / name) as image:
            image.load()
            assert image.size == (64, 48)
    partial = [n for n in names if n.endswith("_partial.png")]
    if partial:  # interrupted inside L-BFGS rather than between rounds
        assert partial == [f"iter_{len(finished)}_partial.png"]
        assert str(out / partial[0]) in stdout


def test_system_errors_are_one_line_too(capsys):
    from pyimagesearch.cli import run

    def main():
        raise OSError(28, "No space left on device", "output/iter_3.png")

    assert run(main, []) == 1
    assert capsys.readouterr().err == "error: [Errno 28] No space left on device: 'output/iter_3.png'\n"


def test_importing_the_library_changes_nothing_outside_it():
    """No side effects at import: a chosen KERAS_BACKEND stays, TensorFlow's log settings stay, a chosen oneDNN
    switch stays; unset, TensorFlow is asked for (and, on x86, its oneDNN kernels, which it leaves off on
    AVX2-only CPUs)."""
    code = ("import os; import pyimagesearch.nn.conv; print(os.environ['KERAS_BACKEND'], "
            "os.environ.get('TF_CPP_MIN_LOG_LEVEL'), os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**env, "KERAS_BACKEND": "torch", "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["torch", "None", "0"]
    loaded = code.replace("conv;", "conv; pyimagesearch.nn.conv.NeuralStyle;") + \
        "; from pyimagesearch.nn.conv.backends import on_tensorflow; print(on_tensorflow.onednn_enabled())"
    unset = subprocess.run([sys.executable, "-c", loaded], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={k: v for k, v in env.items() if k != "KERAS_BACKEND"})
    assert unset.returncode == 0, unset.stderr
    words = unset.stdout.split()
    # Set only when unset, and TensorFlow loaded quietly. Where JAX is installed, TensorFlow Lite imports it
    # when TensorFlow loads, and JAX sets TF_CPP_MIN_LOG_LEVEL=1: its doing, not ours.
    assert words[:2] == ["tensorflow", "1" if importlib.util.find_spec("jax") else "None"]
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert words[2:] == ["1", "True"]  # asked for, and TensorFlow runs on it


@pytest.mark.parametrize("script", ["style_transfer.py", "generate_examples.py"])
def test_an_unknown_keras_backend_is_one_clear_error(tiny_images, tmp_path, script):
    done = subprocess.run([sys.executable, script, "--input-path", tiny_images["input_path"],
                           "--style-path", tiny_images["style_path"], "--output-path", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KERAS_BACKEND": "mxnet"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: unknown backend 'mxnet' (--backend or KERAS_BACKEND): NeuralStyle runs on tensorflow, torch, jax"]
    assert not (tmp_path / "out").exists()


def test_the_backend_is_chosen_by_flag_then_config_then_variable(tmp_path, monkeypatch):
    from pyimagesearch.runtime import chosen_backend

    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"settings": {"backend": "jax"}}))
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert chosen_backend([]) == "torch"  # a user's KERAS_BACKEND wins over the default
    assert chosen_backend(["--config", str(config)]) == "jax"  # a run made on jax is made again there
    assert chosen_backend(["--config", str(config), "--backend=tensorflow"]) == "tensorflow"
    assert chosen_backend(["--backend", "tensorflow", "--config", str(config)]) == "tensorflow"
    monkeypatch.delenv("KERAS_BACKEND")
    assert chosen_backend(["--iterations", "2"]) == "tensorflow"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed here")
def test_a_config_made_on_another_backend_runs_there(tiny_images, tmp_path):
    first = run_driver("--input-path", tiny_images["input_path"], "--style-path", tiny_images["style_path"],
                       "--output-path", str(tmp_path / "a"), "--iterations", "1", "--max-evals", "2", "--seed", "1",
                       "--backend", "torch")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("[INFO] running on PyTorch ")
    again = run_driver("--config", str(tmp_path / "a" / "settings.json"), "--output-path", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("[INFO] running on PyTorch ")
    assert json.loads((tmp_path / "b" / "settings.json").read_text())["versions"]["backend"] == "torch"


def test_a_backend_that_is_not_installed_is_one_clear_error():
    # find_spec answering None is what Python says of a package that is not installed.
    code = ("import importlib.util; importlib.util.find_spec = lambda name: None; "
            "from pyimagesearch.runtime import start_backend; start_backend(['--backend', 'torch'])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: backend 'torch' is not installed here: pip install -e '.[torch]' "
                                   "(README, 'Installing': which build for which machine)")


def test_neuralstyle_refuses_keras_on_an_unknown_backend_or_another_than_asked(tiny_images, tmp_path, monkeypatch):
    """In a notebook whose Keras already runs on another backend, the constructor says so first."""
    import keras

    from pyimagesearch.nn.conv import NeuralStyle, NeuralStyleError, SettingsError

    other = next(name for name in ("torch", "jax") if name != keras.backend.backend())
    with pytest.raises(SettingsError, match=f"setting 'backend' \\(--backend\\) asks for {other}, but Keras in this "
                                            f"process already runs on {keras.backend.backend()}"):
        NeuralStyle({**tiny_images, "output_path": str(tmp_path / "out"), "backend": other})
    monkeypatch.setattr(keras.backend, "backend", lambda: "mxnet")
    with pytest.raises(NeuralStyleError, match="NeuralStyle runs on Keras's tensorflow, torch or jax backend, but "
                                               "Keras is using 'mxnet'"):
        NeuralStyle({**tiny_images, "output_path": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists()


def test_running_out_of_memory_is_one_line_naming_what_to_lower(capsys):
    """A picture too large for the GPU (TensorFlow's ResourceExhaustedError) ends with what to change."""
    from pyimagesearch.cli import run

    def main():
        raise tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__Conv2D}} OOM when allocating "
                                               "tensor with shape[1,4096,4096,64] and type float on GPU:0\nmore")

    assert run(main, []) == 1
    assert capsys.readouterr().err == (
        "error: TensorFlow ran out of memory (OOM when allocating tensor with shape[1,4096,4096,64] and type float "
        "on GPU:0); lower setting 'max_size' (--max-size), or render in tiles with setting 'tile_size' "
        "(--tile-size); every finished image is kept\n")
    import ray.exceptions

    def on_a_ray_worker():  # as `ray.get` raises it: Ray's error class made also an instance of the cause's
        oom = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[1,64,64,64]")
        raise ray.exceptions.RayTaskError("_call", "Traceback (most recent call last): ...", oom).as_instanceof_cause()

    assert run(on_a_ray_worker, []) == 1
    assert capsys.readouterr().err.startswith(
        "error: TensorFlow ran out of memory (OOM when allocating tensor with shape[1,64,64,64]); lower")

    def bug():
        raise ValueError("a bug of ours")

    with pytest.raises(ValueError):  # any other error keeps its traceback: it is for us to fix
        run(bug, [])
