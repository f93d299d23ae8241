"""Where a run runs, and the bfloat16 network: real numbers where this machine can run it, a clear refusal where not."""

import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch.nn.conv import NeuralStyle, SettingsError, device
from pyimagesearch.nn.conv.backends import LABELS, active
from pyimagesearch.nn.conv.backends import on_tensorflow as tfe
from pyimagesearch.nn.conv.features import build_extractor


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return set()


def test_the_cpu_is_named_with_its_cores_and_vector_extensions():
    text = device.describe_cpu()
    assert f"{__import__('os').cpu_count()} core" in text
    flags = cpu_flags()
    for flag, name in device.VECTOR_FLAGS.items():
        if flag in flags:
            assert name in text, (flag, text)
    if "avx2" in flags and "avx512f" not in flags:
        assert "AVX-512" not in text  # an AVX2-only machine says so by what it leaves out


def test_the_device_line_names_the_backend_and_the_gpu_or_the_cpu():
    where = tfe.describe_device()
    assert where.startswith("GPU: " if tf.config.list_physical_devices("GPU") else "CPU: ")
    assert device.describe_backend().startswith(f"{LABELS[active()]} ")
    assert device.describe_backend().endswith(f" on {device.describe_device()}")


def test_an_x86_cpu_without_onednn_is_told_how_to_turn_it_on(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(tfe.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(tfe, "onednn_enabled", lambda: False)  # TF_ENABLE_ONEDNN_OPTS=0, or TensorFlow first
    assert tfe.describe_device() == (f"CPU: {device.describe_cpu()}; TensorFlow's oneDNN kernels are off, which "
                                        "is slower: set TF_ENABLE_ONEDNN_OPTS=1, or import pyimagesearch before "
                                        "tensorflow")
    monkeypatch.setattr(tfe, "onednn_enabled", lambda: True)
    assert tfe.describe_device() == f"CPU: {device.describe_cpu()}"  # on: nothing more to say
    monkeypatch.setattr(tfe.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(tfe, "onednn_enabled", lambda: False)
    assert tfe.describe_device() == f"CPU: {device.describe_cpu()}"  # off is usual there, and not ours to change


class FakeGpu:
    """What tf.config lists for a GPU: no GPU is needed to check what we make of it."""

    def __init__(self, name: str, capability: tuple[int, int]) -> None:
        self.name, self.details = "/physical_device:GPU:0", {"device_name": name, "compute_capability": capability}


def on_a_gpu(monkeypatch, name: str, capability: tuple[int, int], memory_gib: list[float]) -> None:
    gpu = FakeGpu(name, capability)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda device: device.details)
    monkeypatch.setattr(device, "gpu_memory_gib", lambda: memory_gib)


def test_a_gpu_is_named_with_its_memory_where_nvidia_smi_tells(monkeypatch):
    on_a_gpu(monkeypatch, "NVIDIA H200", (9, 0), [139.8])
    assert tfe.describe_device() == "GPU: NVIDIA H200, 140 GiB"
    on_a_gpu(monkeypatch, "NVIDIA H200", (9, 0), [])  # no nvidia-smi: the name alone
    assert tfe.describe_device() == "GPU: NVIDIA H200"


def test_bfloat16_pays_on_ampere_and_newer_gpus_only(monkeypatch):
    on_a_gpu(monkeypatch, "NVIDIA H200", (9, 0), [139.8])
    assert tfe.bfloat16_problem() is None
    on_a_gpu(monkeypatch, "NVIDIA GeForce GTX 1080", (6, 1), [8.0])
    assert tfe.bfloat16_problem() == ("this GPU (compute capability 6.1) has no fast bfloat16; Ampere or newer has")


def test_a_cpu_without_bfloat16_units_is_told_so(monkeypatch):
    monkeypatch.setattr(device, "_cpuinfo", lambda: {"model name": "Old CPU", "flags": "avx avx2 fma"})
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert "has no bfloat16 units" in tfe.bfloat16_problem()
    assert "has no bfloat16 units" in device.cpu_bfloat16_problem()  # what every backend's CPU answer starts from


def bfloat16_convolutions_run() -> bool:
    try:
        tf.nn.conv2d(tf.zeros((1, 4, 4, 4), tf.bfloat16), tf.zeros((3, 3, 4, 4), tf.bfloat16), 1, "SAME").numpy()
        return True
    except tf.errors.OpError:
        return False


@pytest.mark.skipif(not bfloat16_convolutions_run(), reason="TensorFlow cannot run bfloat16 convolutions here")
def test_a_bfloat16_network_gives_the_float32_features_to_its_precision(tiny_ns):
    layers = ["block1_conv1", "block3_conv1", "block5_conv1"]
    weights = tiny_ns.weightsSource
    full, half = (build_extractor("VGG19", weights, layers, precision=p) for p in ("float32", "bfloat16"))
    image = tiny_ns.content
    for layer in layers:
        a, b = np.asarray(full(image)[layer]), np.asarray(half(image)[layer])
        assert b.dtype == np.float32  # handed out in float32: Gram matrices and losses stay float32
        assert np.linalg.norm(b - a) / np.linalg.norm(a) < 0.03, layer  # bfloat16 keeps ~3 significant digits


def test_precision_bfloat16_runs_where_it_pays_and_is_refused_elsewhere(tiny_images, tmp_path):
    settings = {**tiny_images, "output_path": str(tmp_path), "iterations": 2, "seed": 0, "quiet": True}
    problem = device.bfloat16_problem()
    if problem:
        with pytest.raises(SettingsError, match=r"setting 'precision' .*'bfloat16' would not be faster here"):
            NeuralStyle({**settings, "precision": "bfloat16"})
        return
    full, half = NeuralStyle(settings), NeuralStyle({**settings, "precision": "bfloat16"})
    X = np.random.default_rng(0).uniform(-128, 128, full.dims[0] * full.dims[1] * 3)
    (loss, grad), (loss16, grad16) = full.lossAndGrads(X), half.lossAndGrads(X)
    assert loss16 == pytest.approx(loss, rel=0.02)
    assert grad16 @ grad / (np.linalg.norm(grad16) * np.linalg.norm(grad)) > 0.99  # the same direction
    half.transfer(maxEvals=8)
    assert half.losses[1] < half.losses[0] < loss
