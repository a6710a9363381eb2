//! Differential test: 1,000 random well-typed programs, reference interpreter vs the CPU
//! JIT (LLVM at O3, bounds-checked launches), outputs compared exactly or, for values
//! that went through sums/dots/exp/log, within the tolerance of `harness::floats_agree`.

use aqua_runtime::{LaunchMode, Runtime, RuntimeOptions};
use aqua_tests::harness::{compare, run_interpreter, run_runtime};
use aqua_tests::random_program::generate;

fn runtime(mode: LaunchMode, opt_level: u8) -> Runtime {
    Runtime::cpu_with(RuntimeOptions { mode, opt_level, cache_dir: None, dump_dir: None, ..RuntimeOptions::default() })
}

fn run_seeds(rt: &Runtime, seeds: std::ops::Range<u64>) {
    let mut failures = Vec::new();
    for seed in seeds.clone() {
        let p = generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let reference = run_interpreter(&p).unwrap_or_else(|e| panic!("seed {seed}: interpreter: {e}"));
        match run_runtime(rt, &p) {
            Ok(got) => {
                if let Err(e) = compare(&p, &reference, &got) {
                    failures.push(format!("seed {seed}: {e}\n{}", p.kernel));
                }
            }
            Err(e) => failures.push(format!("seed {seed}: backend error: {e}\n{}", p.kernel)),
        }
    }
    let n = seeds.end - seeds.start;
    assert!(failures.is_empty(), "{} of {n} programs disagree; first:\n{}", failures.len(), failures[0]);
}

#[test]
fn random_programs_checked_o3() {
    run_seeds(&runtime(LaunchMode::Checked, 3), 0..700);
}

#[test]
fn random_programs_unchecked_o3() {
    run_seeds(&runtime(LaunchMode::Unchecked, 3), 700..1000);
}
