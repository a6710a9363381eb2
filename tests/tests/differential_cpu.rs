//! Differential test: 1,000 random well-typed programs, reference interpreter vs the CPU
//! JIT (LLVM at O3, bounds-checked launches), outputs compared exactly or, for values
//! that went through sums/dots/exp/log, within the tolerance of `harness::floats_agree`.

use aqua_runtime::{LaunchMode, Runtime, RuntimeOptions};
use aqua_tests::harness::check_seeds;

fn runtime(mode: LaunchMode, opt_level: u8) -> Runtime {
    Runtime::cpu_with(RuntimeOptions { mode, opt_level, cache_dir: None, dump_dir: None, ..RuntimeOptions::default() })
}

#[test]
fn random_programs_checked_o3() {
    check_seeds(&runtime(LaunchMode::Checked, 3), 0..700);
}

#[test]
fn random_programs_unchecked_o3() {
    check_seeds(&runtime(LaunchMode::Unchecked, 3), 700..1000);
}
