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
