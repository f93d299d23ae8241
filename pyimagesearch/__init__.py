"""PyImageSearch deep-learning helpers: here, Gatys et al. neural style transfer.

Three TensorFlow/Keras settings are read once, when those libraries start, so they are asked for
here, before either loads, and only where the user has not chosen (an existing value always wins).
"""

import os
import platform

# Keras 3 picks its backend once, at its first import: TensorFlow, the default, unless the user chose
# otherwise (KERAS_BACKEND=torch or jax; the scripts' --backend sets it before Keras loads).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# TensorFlow's x86 Linux wheels use their oneDNN kernels only on CPUs with AVX-512 VNNI/BF16,
# AVX-VNNI or AMX; on AVX2-only CPUs (AMD Zen 1-3, Intel before Ice Lake) they fall back to Eigen
# kernels, whose convolution input gradient and matmul are slow. On a CPU held to AVX2, oneDNN made
# one evaluation 1.2-1.3x faster (README, "Speed and memory"). Ask for it everywhere on x86.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# TensorFlow takes nearly all of a GPU's memory in the first process that uses it, so a sweep's
# second worker on the same GPU would find none: each process takes what it needs instead.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
