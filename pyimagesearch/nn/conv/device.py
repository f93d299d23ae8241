"""Where a run runs, in words: the backend, and the GPU it uses or the CPU with its cores and vector extensions.

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


def gpu_memory_gib() -> list[float]:
    """Each NVIDIA GPU's total memory, where nvidia-smi tells (TensorFlow does not report it)."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10, check=True)
        return [float(v) / 1024 for v in done.stdout.split()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return []


def gpu_bfloat16_problem(capability: tuple[int, ...]) -> str | None:
    """Why bfloat16 would not pay on a GPU of this compute capability; None from 8.0 on (Ampere, Hopper, ...)."""
    if tuple(capability) >= (8, 0):
        return None
    return (f"this GPU (compute capability {capability[0]}.{capability[1]}) has no fast bfloat16; "
            "Ampere or newer has")


def cpu_bfloat16_problem() -> str | None:
    """Why bfloat16 would not pay on this CPU: without bfloat16 units it is emulated, or cannot run at all."""
    flags = set(_cpuinfo().get("flags", "").split())
    if not flags & set(BFLOAT16_FLAGS):
        return (f"this CPU ({describe_cpu()}) has no bfloat16 units (AVX-512 BF16 or AMX), where it runs "
                "slower or not at all")
    return None


def describe_backend() -> str:
    """'TensorFlow 2.21.0 on CPU: ...': the Keras backend a run uses, its version, and where it runs."""
    from .backends import LABELS, active, entry

    version = next(iter(entry().versions().values()))
    return f"{LABELS[active()]} {version} on {describe_device()}"


def describe_device() -> str:
    """Where the active backend runs: 'GPU: <name>, <memory> GiB' (Apple's MPS on PyTorch) or
    'CPU: <describe_cpu()>' (TensorFlow adds whether its oneDNN kernels are off)."""
    from .backends import entry

    return entry().describe_device()


def bfloat16_problem() -> str | None:
    """Why running the network in bfloat16 would not pay here, or None when it does.

    It pays on a GPU of compute capability 8.0 or newer (Ampere, Hopper, ...) and on a CPU with
    bfloat16 units that the backend can use.
    """
    from .backends import entry

    return entry().bfloat16_problem()
