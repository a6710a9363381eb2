#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU and its driver: builds, runs the GPU
# tests (the CUDA backend, the random-program differential suite on the GPU, ptxas on
# every generated variant) and writes what they printed, with the GPU's name, to a
# results file (default $OUT/gpu-results.txt, else gpu-results.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${OUT:-$root}/gpu-results.txt}"
cd "$root"
bash scripts/setup.sh
{
    echo "# aqua GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
    cargo test --quiet -p aqua-runtime --test cuda -- --include-ignored --nocapture 2>&1
    cargo test --quiet -p aqua-tests --test differential_cuda -- --include-ignored --nocapture 2>&1
    cargo test --quiet -p aqua-tests --test ptxas 2>&1
} | tee "$out"
echo "aqua gpu-check: results in $out" >&2
