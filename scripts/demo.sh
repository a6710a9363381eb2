#!/usr/bin/env bash
# The main job: build aqua and run `aqua demo` on its built-in default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --release --quiet -p aqua-kernels --bin aqua -- demo "$@"
