#!/usr/bin/env bash
# The conformance gate on a CUDA GPU, in one go: every torch and jax implementation on the
# "cuda" device. Runs on a machine with a GPU, torch and jax (no TensorFlow needed), from
# the checkout; writes results to ${OUT:-gpu/results}. Each framework gets its own time
# limit so that one slow compiler cannot take the other's results with it.
source "$(dirname "$0")/common.sh"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, jax, numpy; print('torch', torch.__version__, 'jax', jax.__version__, 'numpy', numpy.__version__)" | tee -a "$out/gpu.txt"
for group in torch jax; do
  impls=$(python3 -c "from conformance.registry import SPECS; print(' '.join('--impl ' + s.id for s in SPECS if s.framework == '$group'))")
  timeout "${LIMIT:-240}" python3 -m conformance run --device cuda $impls --jobs 1 \
    --json "$out/conformance-cuda-$group.json" > "$out/conformance-cuda-$group.log" 2>&1
  echo "$group: exit $? ($(tail -1 "$out/conformance-cuda-$group.log"))"
done
