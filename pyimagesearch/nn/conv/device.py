"""Where a run runs, in words: the GPU TensorFlow uses, or the CPU with its cores and vector extensions.

Speed differs by a factor of two between 2-core CPUs that look alike (AVX-512 or AVX2 only), so
every run and every benchmark says which machine it ran on.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

# The vector extensions that decide convolution speed, as /proc/cpuinfo flags and as we print them.
VECTOR_FLAGS = {"avx": "AVX", "avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512F", "avx512_vnni": "AVX-512 VNNI",
                "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX", "neon": "NEON", "asimd": "NEON"}


# CPU flags of bfloat16 arithmetic units: without them oneDNN emulates bfloat16 (2.6x slower than
# float32 on an AVX-512 EPYC held to AVX-512 without BF16) or cannot run it at all (AVX2 only).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (Linux); empty elsewhere."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def describe_cpu() -> str:
    """'AMD EPYC (family 25 model 17), 2 cores, AVX, AVX2, FMA, AVX-512F, ...' as far as the OS tells."""
    info = _cpuinfo()
    name = info.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']} model {info['model']})"
    flags = set((info.get("flags") or info.get("Features") or "").split())
    vector = list(dict.fromkeys(label for flag, label in VECTOR_FLAGS.items() if flag in flags))
    cores = os.cpu_count() or 1
    return f"{name}, {cores} core{'s' * (cores != 1)}" + (f", {', '.join(vector)}" if vector else "")


def _gpu_memory_gib() -> list[float]:
    # TensorFlow does not report a GPU's total memory; nvidia-smi does, where it is installed.
    if not shutil.which("nvidia-smi"):
        return []
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10, check=True)
        return [float(v) / 1024 for v in done.stdout.split()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return []


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its CPU kernels on oneDNN; None where this TensorFlow cannot say."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own check, not public API
    except ImportError:
        return None
    check = getattr(_pywrap_util_port, "IsMklEnabled", None)
    return bool(check()) if check else None


def _kernels() -> str:
    """'' where oneDNN is on (or TensorFlow has none), else how to turn it on: an x86 CPU without it is slower."""
    if onednn_enabled() is not False or platform.machine().lower() not in ("x86_64", "amd64"):
        return ""
    # pyimagesearch asks for oneDNN when it loads; off means TF_ENABLE_ONEDNN_OPTS=0, or TensorFlow
    # was imported before pyimagesearch (it reads the variable once, when it starts).
    return ("; TensorFlow's oneDNN kernels are off, which is slower: set TF_ENABLE_ONEDNN_OPTS=1, or import "
            "pyimagesearch before tensorflow")


def describe_device() -> str:
    """Where TensorFlow runs: 'GPU: <name>, <memory> GiB' or 'CPU: <describe_cpu()>' (and whether oneDNN is off)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU: {describe_cpu()}{_kernels()}"
    memory = _gpu_memory_gib()
    names = []
    for i, gpu in enumerate(gpus):
        name = tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        names.append(name + (f", {memory[i]:.0f} GiB" if i < len(memory) else ""))
    return f"GPU: {'; '.join(names)}"


def bfloat16_problem() -> str | None:
    """Why running the network in bfloat16 would not pay here, or None when it does.

    It pays on a GPU of compute capability 8.0 or newer (Ampere, Hopper, ...) and on a CPU with
    bfloat16 units that TensorFlow can use (checked by running one small convolution).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        if tuple(capability) >= (8, 0):
            return None
        return (f"this GPU (compute capability {capability[0]}.{capability[1]}) has no fast bfloat16; "
                "Ampere or newer has")
    flags = set(_cpuinfo().get("flags", "").split())
    if not flags & set(BFLOAT16_FLAGS):
        return (f"this CPU ({describe_cpu()}) has no bfloat16 units (AVX-512 BF16 or AMX), where it runs "
                "slower or not at all")
    try:
        x = tf.zeros((1, 8, 8, 8), tf.bfloat16)
        tf.nn.conv2d(x, tf.zeros((3, 3, 8, 8), tf.bfloat16), 1, "SAME").numpy()
        tf.nn.conv2d_transpose(x, tf.zeros((3, 3, 8, 8), tf.bfloat16), (1, 8, 8, 8), 1, "SAME").numpy()
    except tf.errors.OpError as e:
        return f"TensorFlow cannot run bfloat16 convolutions on this CPU ({type(e).__name__})"
    return None
