#!/usr/bin/env bash
# Builds, here, what scripts/gpu-check.sh runs, for a GPU machine that has no Rust
# toolchain, no LLVM 19 and no network (such as the H200 machines lent to sessions):
# the `aqua` binary and the GPU test executables (release), with every shared library
# they load that is not part of glibc or libstdc++ (libLLVM 19 and its own needs), packed
# as .gpu-bundle/bundle.tar.xz (git-ignored; about 50 MB). Carry `.gpu-bundle` to the GPU
# machine beside the checkout; gpu-check.sh there finds it, unpacks it and runs the
# executables instead of cargo. ptxas comes from the GPU machine's CUDA (or AQUA_PTXAS).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
out="$root/.gpu-bundle"
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"

cargo build --release --quiet -p aqua-kernels --bin aqua
cp target/release/aqua "$stage/bin/"
# The GPU test executables, by target name (what gpu-check.sh calls them).
for spec in "aqua-runtime cuda" "aqua-tests differential_cuda gpu_division gpu_casts dot_mma xor_permute ptxas" "aqua-kernels higgs_kernels uniform"; do
    set -- $spec
    pkg=$1
    shift
    tests=()
    for t in "$@"; do tests+=(--test "$t"); done
    cargo test --release --quiet --no-run -p "$pkg" "${tests[@]}" --message-format=json |
        python3 -c '
import json, shutil, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        shutil.copy(m["executable"], sys.argv[1] + "/" + m["target"]["name"])
' "$stage/bin"
done

# Shared libraries: everything the executables load except the C and C++ runtimes,
# which every Linux with a GPU driver has (in a version at least as new).
ldd "$stage"/bin/* | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
    while read -r soname path; do
        case $soname in
            libc.so.* | libm.so.* | libgcc_s.so.* | libstdc++.so.* | ld-linux* | libpthread.so.* | libdl.so.* | librt.so.*) ;;
            *) cp -L "$path" "$stage/lib/$soname" ;;
        esac
    done

{
    echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) $(. /etc/os-release && echo "$PRETTY_NAME"), $(rustc --version)"
    echo "root $root"
    (cd "$stage" && ls bin lib | sed '/^$/d')
} >"$stage/MANIFEST"

tar -C "$stage" -cf - . | xz -T0 -6 >"$out/bundle.tar.xz.part"
mv "$out/bundle.tar.xz.part" "$out/bundle.tar.xz"
rm -rf "$stage"
echo "aqua gpu-bundle: $(du -h "$out/bundle.tar.xz" | cut -f1) in $out/bundle.tar.xz; carry .gpu-bundle with scripts/gpu-check.sh" >&2
