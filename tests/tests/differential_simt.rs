//! Differential test of the GPU lowering without a GPU: random well-typed programs, the
//! reference interpreter vs the SIMT emulation (`Runtime::simt_with`: the thread-level
//! program the NVPTX target runs, compiled for the host and run with one host thread per
//! GPU thread, real barriers and shared memory as a host buffer). Outputs are compared
//! exactly or, for values that went through sums/dots/exp/log, within the tolerance of
//! `harness::floats_agree`, like the CPU's differential test.
//!
//! One host thread per GPU thread makes this slow (a barrier wakes every thread), so it
//! runs a sample of the CPU suite's programs: 1 warp (32 threads, so most blocks have
//! several elements per thread) on most, 4 warps (128 threads, blocks of fewer elements
//! than threads: masked threads) on the rest.

use aqua_tests::harness::check_seeds;
use aqua_tests::registry::registry_matches_the_cpu;
use aqua_tests::runtimes::simt;

fn run_seeds(num_warps: u32, seeds: impl Iterator<Item = u64>) {
    check_seeds(&simt(num_warps), seeds);
}

#[test]
fn random_programs_on_one_warp() {
    run_seeds(1, 0..300);
}

#[test]
fn random_programs_on_four_warps() {
    run_seeds(4, (300..1000).step_by(7));
}

/// Every registry kernel on the SIMT emulation equals the CPU backend bit for bit
/// (`aqua_tests::registry`).
#[test]
fn registry_kernels_match_the_cpu() {
    registry_matches_the_cpu(&simt(4));
}
