#!/usr/bin/env bash
# The asv benchmarks on a CUDA GPU, in one go: every torch and jax implementation on the
# "cuda" device, forward and backward, every dtype and size (keras runs on the CPU only, and
# the GPU machine has no TensorFlow). Needs asv in the machine's python (carried as wheels in
# .whl/ where there is no package index: asv, asv_runner and their requirements). asv saves
# results only for a commit: a copy of the tree without .git becomes a one-commit repository.
# Writes to ${OUT:-gpu/results}: bench-gpu.txt (GPU, versions), bench-cuda.md (the table of
# `python -m benchmarks.speed summary`), bench-cuda.log, and asv's results and machine files.
source "$(dirname "$0")/common.sh"
machine=${MACHINE:-gpu-$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-')}
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch, jax, numpy; print('torch', torch.__version__, 'jax', jax.__version__, 'numpy', numpy.__version__)"
  echo "machine: $machine, cpu cores: $(nproc)"
} | tee "$out/bench-gpu.txt"
if [ ! -d .git ]; then
  git init -q && git add -A && git -c user.name=gpu -c user.email=gpu@localhost commit -qm "gpu run"
fi
commit=$(git rev-parse HEAD)
python3 -m asv machine --yes --machine "$machine" >/dev/null
timeout "${LIMIT:-540}" python3 -m asv run --environment "existing:$(command -v python3)" \
  --machine "$machine" --set-commit-hash "$commit" --record-samples -b bench_bandwidth \
  -b "bench_selu\..*'(torch|jax)/[a-z]+', '[a-z0-9]+', [0-9]+, 'cuda'\)" \
  > "$out/bench-cuda.log" 2>&1
echo "asv: exit $? ($(grep -c ' failed' "$out/bench-cuda.log") failed)" | tee -a "$out/bench-gpu.txt"
python3 -m benchmarks.speed environment "$out/bench-environment.json"
python3 -m benchmarks.speed summary --machine "$machine" > "$out/bench-cuda.md"
cp .asv/results/"$machine"/machine.json "$out/bench-machine.json"
cp .asv/results/"$machine"/"${commit:0:8}"-*.json "$out/bench-results.json"
