//! The GPU-side runtimes the cross-crate tests run kernels on, all without a disk cache or
//! dumps (each test compiles what it checks).

use aqua_runtime::{Runtime, RuntimeOptions};

/// Options without a disk cache or dumps.
pub fn options() -> RuntimeOptions {
    RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() }
}

/// The SIMT emulation on `num_warps` warps.
pub fn simt(num_warps: u32) -> Runtime {
    Runtime::simt_with(options(), num_warps)
}

/// The CUDA runtime on 4 warps, after printing which GPU it found; panics without one
/// (its callers are tests ignored, and counted as skipped, where there is no GPU).
pub fn cuda() -> Runtime {
    let rt = Runtime::cuda_with(options(), 4).unwrap_or_else(|e| panic!("no CUDA device: {e}"));
    println!("{}", rt.describe());
    rt
}

/// A test of `check(&Runtime)` on the SIMT emulation (4 warps), and its twin on a GPU,
/// ignored (and counted as skipped) without one: `check: simt_name, cuda_name`, each
/// name with its doc comment.
#[macro_export]
macro_rules! simt_and_cuda_tests {
    ($check:ident: $(#[$simt_doc:meta])* $simt:ident, $(#[$cuda_doc:meta])* $cuda:ident $(,)?) => {
        $(#[$simt_doc])*
        #[test]
        fn $simt() {
            $check(&$crate::runtimes::simt(4));
        }

        $(#[$cuda_doc])*
        #[test]
        #[ignore = "needs a CUDA device: scripts/test.sh and scripts/gpu-check.sh run it where one is present"]
        fn $cuda() {
            $check(&$crate::runtimes::cuda());
        }
    };
}
