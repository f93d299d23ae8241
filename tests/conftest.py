"""Shared fixtures: the VGG weights to use, and tiny images made from the samples."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pyimagesearch  # noqa: F401  (before any test loads TensorFlow: the environment it asks for, as for users)

# Importing JAX (Keras looks for it, and the backend tests use it) sets TF_CPP_MIN_LOG_LEVEL=1 in this process,
# which the scripts the tests start would inherit as a user's request for TensorFlow's native log. A user's
# shell has it unset; the scripts then set 2, as here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SHARED_WEIGHTS = ROOT.parent / "shared" / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Tests (and the scripts they start) use a local weights file when one is there; a user with
# internet and no such file gets Keras's normal "imagenet" download instead.
if "NEURALSTYLE_WEIGHTS" not in os.environ and SHARED_WEIGHTS.is_file():
    os.environ["NEURALSTYLE_WEIGHTS"] = str(SHARED_WEIGHTS)
if os.environ.get("CI") == "true" and "NEURALSTYLE_WEIGHTS" not in os.environ:
    raise RuntimeError(f"CI expects the VGG19 weights at {SHARED_WEIGHTS}")


# `python -m pytest -m quick`: the modules of the maths and the settings (losses, gradients, kernels, regions,
# settings, images, the chapter's helpers), a few minutes at most, for one's own iterations; the whole suite
# (runs, tiles, videos, sweeps, the page, the scripts) before a submission.
QUICK_MODULES = ("test_losses", "test_convolution", "test_device", "test_settings", "test_images", "test_core",
                 "test_neuralstyle", "test_regions", "test_size_invariance")


# `KERAS_BACKEND=torch python -m pytest -m portable` (or jax): the modules that check the core on whichever
# backend Keras runs (the maths, real transfers, regions, style losses), and tests marked portable elsewhere
# (tiles and their worker processes, a video and the driver, which run on the backend they inherit). CI runs
# them on PyTorch and JAX besides the whole suite on TensorFlow. A test about TensorFlow itself is marked
# `tensorflow` and skipped on the others; TENSORFLOW_MODULES are about TensorFlow only.
PORTABLE_MODULES = ("test_losses", "test_core", "test_neuralstyle", "test_regions", "test_style_losses")
# Left out there to keep CI's PyTorch and JAX runs short: a tiled print is covered by test_tiles' portable tests.
PORTABLE_LEFT_OUT = ("test_a_tiled_print_with_the_sliced_loss",)
TENSORFLOW_MODULES = ("test_convolution",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import keras

    on_tensorflow = keras.backend.backend() == "tensorflow"
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
        if module in QUICK_MODULES:
            item.add_marker(pytest.mark.quick)
        if module in PORTABLE_MODULES and item.originalname not in PORTABLE_LEFT_OUT:
            item.add_marker(pytest.mark.portable)
        if not on_tensorflow and (module in TENSORFLOW_MODULES or item.get_closest_marker("tensorflow")):
            item.add_marker(pytest.mark.skip(reason=f"about TensorFlow; Keras runs on {keras.backend.backend()}"))


def small_copy(name: str, folder: Path, long_side: int) -> str:
    """A PNG copy of a sample input with the given long side."""
    image = Image.open(ROOT / "inputs" / name).convert("RGB")
    image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    path = folder / (Path(name).stem + ".png")
    image.save(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Content (64x48) and style (64x40) PNGs made from the sample inputs."""
    folder = tmp_path_factory.mktemp("tiny")
    return {"input_path": small_copy("tubingen.jpg", folder, 64),
            "style_path": small_copy("starry_night.jpg", folder, 64)}


@pytest.fixture(scope="session")
def tiny_ns(tiny_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """One NeuralStyle on the tiny images, shared by the tests that only evaluate losses."""
    from pyimagesearch.nn.conv import NeuralStyle

    return NeuralStyle({**tiny_images, "output_path": str(tmp_path_factory.mktemp("out")),
                        "iterations": 1})


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def ray_cluster():
    """A Ray cluster of our own on loopback, shared by the tests that use one (starting and stopping one takes
    10 s): (its address, the environment its clients need)."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("ray")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Ray 2.59+ wants a token shared by the cluster and its clients.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    started = subprocess.run([ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                              "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                             capture_output=True, text=True, timeout=180, env=env)
    assert started.returncode == 0, started.stderr
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120, env=env)


def on_a_terminal(argv: list[str], timeout: float = 600) -> tuple[int, str]:
    """Run a command in ROOT on a pseudo-terminal 120 columns wide: (its exit status, all it showed there)."""
    import fcntl
    import pty
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=child, stdout=child, stderr=child, close_fds=True)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    status = proc.wait(timeout=timeout)
    os.close(main)
    return status, b"".join(chunks).decode(errors="replace")


def tensor(value, dtype=None):
    """A tensor of the backend Keras runs on (tests are written once for every backend)."""
    from keras import ops

    if ops.is_tensor(value):
        return value if dtype is None else ops.cast(value, dtype)
    array = np.asarray(value)
    if dtype is None and array.dtype == np.float64 and not isinstance(value, np.ndarray):
        dtype = "float32"  # a Python number or list, as tf.constant would make it
    return ops.convert_to_tensor(array, dtype)


def gradient(function, *xs):
    """function(*xs) and its gradient with respect to each x, on the backend Keras runs on (backends/)."""
    from pyimagesearch.nn.conv.backends import entry

    return entry().gradient(function, *xs)
