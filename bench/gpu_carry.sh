#!/usr/bin/env bash
# Fill gpu/ (ignored by git) with what bench/gpu_check.sh needs on a borrowed GPU machine that has PyTorch and
# JAX but neither TensorFlow nor Keras, and no internet: the Keras wheels and the VGG19 weights from ../shared,
# pastiche (the peer) and pytest as wheels. Then, with the device tool:
#   run(command="bash bench/gpu_check.sh", carry=["gpu"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
mkdir -p gpu
cp "$shared"/gpu-wheels/*.whl "$shared/weights/vgg19_notop_q8.npz" "$shared/weights/rebuild_h5.py" gpu/
# Pure-Python wheels (pip downloads them here; the GPU machine has no internet).
python3 -m pip download --quiet --no-deps --dest gpu pastiche==1.6.0 pytest pluggy iniconfig
du -sh gpu
