#!/usr/bin/env bash
# Installs what aqua needs on a Debian machine, and nothing twice: LLVM 19 (inkwell links
# against it) and a linker for host kernels. Safe to run any number of times.
set -euo pipefail

need_apt=()
[ -x /usr/lib/llvm-19/bin/llvm-config ] || need_apt+=(llvm-19-dev libpolly-19-dev)
dpkg -s libzstd-dev >/dev/null 2>&1 || need_apt+=(libzstd-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need_apt+=(zlib1g-dev)
command -v ld >/dev/null 2>&1 || need_apt+=(binutils)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "aqua setup: installing ${need_apt[*]} from Debian's packages" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || {
    echo "aqua setup: cargo not found; install Rust (rustup) first" >&2
    exit 1
}

# ptxas (from PyPI's nvidia-cuda-nvcc-cu12) into the project-local, git-ignored .tools/cuda:
# the test suite assembles every generated PTX kernel with it (tests skip, saying so, when
# it is missing). Set AQUA_SKIP_PTXAS=1 to skip this step.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${AQUA_SKIP_PTXAS:-0}" != 1 ] && ! compgen -G "$root/.tools/cuda/nvidia/*/bin/ptxas" >/dev/null; then
    echo "aqua setup: installing ptxas (nvidia-cuda-nvcc-cu12 from PyPI) into .tools/cuda" >&2
    # Optional: without it the tests that assemble PTX say they skipped.
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --root-user-action=ignore \
        --target "$root/.tools/cuda" nvidia-cuda-nvcc-cu12 ||
        echo "aqua setup: warning: could not install ptxas; PTX assembly tests will skip" >&2
fi
# nvdisasm (PyPI's nvidia-cuda-nvdisasm) into .tools/nvdisasm, a folder of its own (pip's
# --target would not merge a second `nvidia` package into .tools/cuda): `aqua compile
# --emit sass` and the tests of SASS read the GPU's machine code with it.
if [ "${AQUA_SKIP_PTXAS:-0}" != 1 ] && ! compgen -G "$root/.tools/nvdisasm/nvidia/*/bin/nvdisasm" >/dev/null; then
    echo "aqua setup: installing nvdisasm (nvidia-cuda-nvdisasm from PyPI) into .tools/nvdisasm" >&2
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --root-user-action=ignore \
        --target "$root/.tools/nvdisasm" nvidia-cuda-nvdisasm ||
        echo "aqua setup: warning: could not install nvdisasm; SASS tests will fail" >&2
fi
