#!/usr/bin/env bash
# The conformance gate on a CUDA GPU, in one go: every torch and jax implementation on the
# "cuda" device. Runs on a machine with a GPU, torch and jax (no TensorFlow needed), from
# the checkout; writes results to ${OUT:-gpu/results}. Each framework gets its own time
# limit so that one slow compiler cannot take the other's results with it.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu/results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then  # wheels carried to a machine without an index
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, jax, numpy; print('torch', torch.__version__, 'jax', jax.__version__, 'numpy', numpy.__version__)" | tee -a "$out/gpu.txt"
for group in torch jax; do
  impls=$(python3 -c "from conformance.registry import SPECS; print(' '.join('--impl ' + s.id for s in SPECS if s.framework == '$group'))")
  timeout "${LIMIT:-240}" python3 -m conformance run --device cuda $impls --jobs 1 \
    --json "$out/conformance-cuda-$group.json" > "$out/conformance-cuda-$group.log" 2>&1
  echo "$group: exit $? ($(tail -1 "$out/conformance-cuda-$group.log"))"
done
