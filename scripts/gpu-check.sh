#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU and its driver: sets up, builds, runs
# the GPU tests (the CUDA backend with host and device buffers, the GPU benchmarks, the
# random-program differential suite on the GPU, ptxas on every generated variant) and
# writes what they printed, with the GPU's name, to a results file (default
# $OUT/gpu-results.txt, else gpu-results.txt).
#
# Each section runs under a time limit and ends with a status line in the results file
# ("== NAME: ok (12s)", "FAILED (exit 101, 12s)", "TIMED OUT after 60s" or "SKIPPED: time
# budget spent"); a failed section does not stop the others. The whole run fits in
# AQUA_GPU_CHECK_BUDGET seconds (default 290, under 5 minutes): a section gets at most
# what is left. Sections are ordered so the most telling results come first: the runtime
# tests and the benchmarks before the long differential suite. Exits 1 if any section
# did not pass, else 0.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${OUT:-$root}/gpu-results.txt}"
budget="${AQUA_GPU_CHECK_BUDGET:-290}"
cd "$root"
mkdir -p "$(dirname "$out")"
: >"$out"
failed=()

# section NAME LIMIT_SECONDS COMMAND...: runs COMMAND (an executable, not a shell
# function) for at most LIMIT seconds or what is left of the budget, appending its output
# and a status line to the results file.
section() {
    local name=$1 limit=$2
    shift 2
    local left=$((budget - SECONDS))
    ((limit > left)) && limit=$left
    echo "== $name" | tee -a "$out"
    if ((limit < 5)); then
        echo "== $name: SKIPPED: time budget spent (${budget}s)" | tee -a "$out"
        failed+=("$name")
        return
    fi
    local start=$SECONDS status
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$out"
    status=${PIPESTATUS[0]}
    local took=$((SECONDS - start))
    case $status in
        0) echo "== $name: ok (${took}s)" ;;
        124 | 137) echo "== $name: TIMED OUT after ${limit}s" ;;
        *) echo "== $name: FAILED (exit $status, ${took}s)" ;;
    esac | tee -a "$out"
    ((status == 0)) || failed+=("$name")
}

echo "# aqua GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" | tee -a "$out"
section "setup" 90 bash scripts/setup.sh
section "gpu" 15 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
# One build (the dev profile the tests use) for every section below.
section "build" 150 bash -c 'cargo build --quiet -p aqua-kernels --bin aqua &&
    cargo test --quiet --no-run -p aqua-runtime --test cuda &&
    cargo test --quiet --no-run -p aqua-tests --test differential_cuda --test gpu_division --test dot_mma --test ptxas'
section "runtime tests (CUDA backend, device buffers)" 60 \
    cargo test --quiet -p aqua-runtime --test cuda -- --include-ignored --nocapture
section "GPU benchmarks (aqua bench --gpu)" 75 cargo run --quiet -p aqua-kernels --bin aqua -- bench --gpu
section "ptxas on every generated variant" 60 cargo test --quiet -p aqua-tests --test ptxas
section "f32 division in f64 on the GPU (190k quotients vs Rust)" 30 \
    cargo test --quiet -p aqua-tests --test gpu_division -- --include-ignored --nocapture
section "tensor-core dot (mma.sync) within the summation bound" 30 \
    cargo test --quiet -p aqua-tests --test dot_mma -- --include-ignored --nocapture
section "differential suite on the GPU" 150 \
    cargo test --quiet -p aqua-tests --test differential_cuda -- --include-ignored --nocapture
# Throughput again with ptxas's full optimization (the default is --Ofast-compile=min):
# what the faster cold compile costs at run time. Last, as the least essential.
section "GPU benchmarks, ptxas -O3 (AQUA_PTXAS_OPT=full)" 60 \
    env AQUA_PTXAS_OPT=full cargo run --quiet -p aqua-kernels --bin aqua -- bench --gpu --mib 256

if ((${#failed[@]} == 0)); then
    echo "# all sections passed in ${SECONDS}s" | tee -a "$out"
else
    echo "# ${#failed[@]} section(s) did not pass in ${SECONDS}s: $(IFS=';'; echo "${failed[*]}")" | tee -a "$out"
fi
echo "aqua gpu-check: results in $out" >&2
((${#failed[@]} == 0))
