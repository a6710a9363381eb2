//! Differential test on a real GPU: random well-typed programs, the reference interpreter
//! vs the CUDA backend, compared like the CPU's differential test. Ignored (counted as
//! skipped) unless `scripts/test.sh` finds a GPU.

use aqua_runtime::{Runtime, RuntimeOptions};
use aqua_tests::harness::check_seeds;

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn random_programs_on_the_gpu() {
    let options = RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() };
    let rt = Runtime::cuda_with(options, 4).unwrap_or_else(|e| panic!("no CUDA device: {e}"));
    println!("{}", rt.describe());
    check_seeds(&rt, 0..1000);
}
