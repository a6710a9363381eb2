#!/usr/bin/env bash
# The test suite: every crate's unit, integration, differential and compile-fail tests.
# Tests that need a GPU print that they skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --no-fail-fast "$@"
