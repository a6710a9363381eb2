#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU and its driver: sets up and builds
# (or, without a Rust toolchain, unpacks what scripts/gpu-bundle.sh built), runs the GPU
# tests (the CUDA backend with host and device buffers, the GPU benchmarks, ptxas on every
# generated variant, division and tensor-core dot on the hardware, the registry kernels
# against the CPU, the HIGGS kernels against their reference, the random-program
# differential suite on the GPU) and
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

# Where the executables come from: cargo, where the Rust toolchain is (scripts/setup.sh
# installs the rest), else the bundle scripts/gpu-bundle.sh built on another machine
# (.gpu-bundle/bundle.tar.xz, carried beside the checkout): the GPU machines lent to
# sessions have no toolchain and no network. AQUA_GPU_CHECK_BUNDLE=1 takes the bundle even
# where cargo is.
# Tests and benchmarks that skip without a GPU elsewhere fail here instead.
export AQUA_REQUIRE_GPU=1
bundle_tar="$root/.gpu-bundle/bundle.tar.xz"
bundle="${TMPDIR:-/tmp}/aqua-gpu-bundle"
if command -v cargo >/dev/null 2>&1 && [ "${AQUA_GPU_CHECK_BUNDLE:-0}" != 1 ]; then
    mode=cargo
elif [ -f "$bundle_tar" ]; then
    mode=bundle
else
    echo "aqua gpu-check: no cargo and no $bundle_tar: build the bundle with scripts/gpu-bundle.sh" >&2
    exit 2
fi

# tests_of PACKAGE TEST [FILTER]: sets `cmd` to run that test target (its tests whose
# names contain FILTER), its ignored (GPU) tests too.
tests_of() {
    local filter=("${@:3}")
    if [[ $mode == cargo ]]; then
        cmd=(cargo test --quiet -p "$1" --test "$2" -- "${filter[@]}" --include-ignored --nocapture)
    else
        local dir
        case $1 in aqua-tests) dir=tests ;; aqua-kernels) dir=kernels ;; *) dir=$1 ;; esac
        cmd=(env -C "$root/$dir" "$bundle/bin/$2" "${filter[@]}" --include-ignored --nocapture)
    fi
}
if [[ $mode == cargo ]]; then
    aqua=(cargo run --quiet -p aqua-kernels --bin aqua --)
else
    aqua=("$bundle/bin/aqua")
fi

echo "# aqua GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), executables from $mode" | tee -a "$out"
if [[ $mode == cargo ]]; then
    section "setup" 90 bash scripts/setup.sh
    # One build (the dev profile the tests use) for every section below.
    section "build" 150 bash -c 'cargo build --quiet -p aqua-kernels --bin aqua &&
        cargo test --quiet --no-run -p aqua-runtime --test cuda &&
        cargo test --quiet --no-run -p aqua-tests --test differential_cuda --test gpu_division --test gpu_casts --test dot_mma --test xor_permute --test ptxas &&
        cargo test --quiet --no-run -p aqua-kernels --test higgs_kernels --test uniform'
else
    # Unpacked outside the checkout; the libraries it carries come first, and ptxas is
    # the machine's CUDA one unless AQUA_PTXAS names another.
    section "unpack the bundle" 60 bash -c 'set -e
        rm -rf "$2" && mkdir -p "$2"
        if command -v xz >/dev/null; then tar -C "$2" -xJf "$1"
        else python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$1" "$2"; fi
        cat "$2/MANIFEST"
        built=$(sed -n "s/^commit \([0-9a-f]*\).*/\1/p" "$2/MANIFEST")
        head=$(git -C "$3" rev-parse HEAD 2>/dev/null || true)
        if [ -n "$head" ] && [ "$built" != "$head" ]; then
            echo "WARNING: the bundle was built from $built, this checkout is $head: rebuild it with scripts/gpu-bundle.sh"
        fi
        missing=$(LD_LIBRARY_PATH="$2/lib" ldd "$2"/bin/* | grep "not found" | sort -u || true)
        [ -z "$missing" ] || { echo "libraries not found: $missing"; exit 1; }' _ "$bundle_tar" "$bundle" "$root"
    export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if [ -z "${AQUA_PTXAS:-}" ]; then
        for p in "$(command -v ptxas || true)" /usr/local/cuda/bin/ptxas; do
            if [ -n "$p" ] && [ -x "$p" ]; then
                export AQUA_PTXAS=$p
                break
            fi
        done
    fi
    echo "ptxas: ${AQUA_PTXAS:-none found (PTX goes to the driver; the ptxas section fails)}" | tee -a "$out"
fi
section "gpu" 15 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
tests_of aqua-runtime cuda
section "runtime tests (CUDA backend, device buffers)" 60 "${cmd[@]}"
section "GPU benchmarks (aqua bench --gpu)" 75 "${aqua[@]}" bench --gpu
tests_of aqua-tests ptxas
section "ptxas on every generated variant" 60 "${cmd[@]}"
tests_of aqua-tests gpu_division
section "f32 division in f64 on the GPU (190k quotients vs Rust)" 30 "${cmd[@]}"
tests_of aqua-tests gpu_casts
section "float-to-integer casts as PTX conversions (41k values from f32, f16, bf16 vs Rust's as)" 30 "${cmd[@]}"
tests_of aqua-tests dot_mma
section "tensor-core dot (mma.sync) within the summation bound" 30 "${cmd[@]}"
tests_of aqua-tests xor_permute cuda
section "butterfly partners by warp shuffle equal the interpreter's" 30 "${cmd[@]}"
tests_of aqua-tests differential_cuda registry
section "registry kernels on the GPU equal the CPU's, bit for bit" 60 "${cmd[@]}"
tests_of aqua-kernels higgs_kernels cuda
section "HIGGS kernels on the GPU equal the reference (every grid, groups of 32 to 1024)" 60 "${cmd[@]}"
tests_of aqua-kernels uniform cuda
section "uniform kernels on the GPU equal the reference (both groupings, tiles to 4096)" 60 "${cmd[@]}"
tests_of aqua-tests differential_cuda random_programs
section "differential suite on the GPU (random programs)" 150 "${cmd[@]}"
# Which tile and CTA size each 2-bit variant runs best at (the defaults are guesses from
# the PTX): the autotuner times every candidate; every candidate is checked against the CPU.
section "GPU autotuning of tiles and CTA sizes (aqua tune --backend cuda)" 90 "${aqua[@]}" tune --backend cuda --bits 2 --mib 256 --retune --check-all
# Throughput again with ptxas's full optimization (the default is --Ofast-compile=min):
# what the faster cold compile costs at run time. Last, as the least essential.
section "GPU benchmarks, ptxas -O3 (AQUA_PTXAS_OPT=full)" 60 env AQUA_PTXAS_OPT=full "${aqua[@]}" bench --gpu --mib 256

if ((${#failed[@]} == 0)); then
    echo "# all sections passed in ${SECONDS}s" | tee -a "$out"
else
    echo "# ${#failed[@]} section(s) did not pass in ${SECONDS}s: $(IFS=';'; echo "${failed[*]}")" | tee -a "$out"
fi
echo "aqua gpu-check: results in $out" >&2
((${#failed[@]} == 0))
