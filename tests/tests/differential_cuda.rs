//! Differential test on a real GPU: random well-typed programs, the reference interpreter
//! vs the CUDA backend, compared like the CPU's differential test. Ignored (counted as
//! skipped) unless `scripts/test.sh` finds a GPU.

use aqua_runtime::{Runtime, RuntimeOptions};
use aqua_tests::harness::{compare, run_interpreter, run_runtime};
use aqua_tests::random_program::generate;

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn random_programs_on_the_gpu() {
    let options = RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() };
    let rt = Runtime::cuda_with(options, 4).unwrap_or_else(|e| panic!("no CUDA device: {e}"));
    println!("{}", rt.describe());
    let mut failures = Vec::new();
    for seed in 0..1000 {
        let p = generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let reference = run_interpreter(&p).unwrap_or_else(|e| panic!("seed {seed}: interpreter: {e}"));
        match run_runtime(&rt, &p) {
            Ok(got) => {
                if let Err(e) = compare(&p, &reference, &got) {
                    failures.push(format!("seed {seed}: {e}\n{}", p.kernel));
                }
            }
            Err(e) => failures.push(format!("seed {seed}: backend error: {e}\n{}", p.kernel)),
        }
    }
    assert!(failures.is_empty(), "{} of 1000 programs disagree; first:\n{}", failures.len(), failures[0]);
}
