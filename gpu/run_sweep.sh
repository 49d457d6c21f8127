#!/usr/bin/env bash
# The exhaustive float32 sweep on a CUDA GPU, in one go: torch/functional and jax/nn on the
# "cuda" device, forward and derivative, all 2^32 inputs each, and torch/functional on the
# same machine's CPU for comparison. The implementation runs on the GPU; the reference and
# the measurement run on the CPU cores, one worker process per core (--jobs). Writes
# sweeps-cuda.json and the log to ${OUT:-gpu/results}.
source "$(dirname "$0")/common.sh"
jobs=${JOBS:-$(nproc)}
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  python3 -c "import torch, jax, numpy; print('torch', torch.__version__, 'jax', jax.__version__, 'numpy', numpy.__version__)"
  echo "cpu cores: $(nproc), jobs: $jobs"
} | tee "$out/sweep-gpu.txt"
run() {
  timeout "${LIMIT:-300}" python3 -m conformance sweep --quiet --jobs "$jobs" \
    --json "$out/sweeps-cuda.json" "$@" 2>&1 | tee -a "$out/sweep-cuda.log" | head -2
}
for q in forward gradient; do
  run --impl torch/functional --device cuda --quantity $q
done
run --impl torch/functional --device cpu --quantity forward
run --impl jax/nn --device cuda --quantity forward
