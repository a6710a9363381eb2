//! Differential test on a real GPU: random well-typed programs, the reference interpreter
//! vs the CUDA backend, compared like the CPU's differential test, and every registry
//! kernel against the CPU backend, bit for bit. Ignored (counted as skipped) unless
//! `scripts/test.sh` finds a GPU.

use aqua_tests::harness::check_seeds;
use aqua_tests::registry::registry_matches_the_cpu;
use aqua_tests::runtimes::cuda;

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn random_programs_on_the_gpu() {
    check_seeds(&cuda(), 0..1000);
}

/// Every registry kernel on the GPU equals the CPU backend bit for bit
/// (`aqua_tests::registry`).
#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn registry_kernels_on_the_gpu_match_the_cpu() {
    registry_matches_the_cpu(&cuda());
}
