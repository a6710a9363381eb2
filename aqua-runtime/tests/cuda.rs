//! The CUDA backend. Without a GPU (or driver) the probe must say why instead of
//! panicking and `best_available` must fall back to the CPU and say so. The GPU tests are
//! ignored (counted as skipped) unless `scripts/test.sh` finds a GPU; then kernels run on
//! it and must match the CPU backend.

mod common;

use aqua_runtime::backend::cuda::{CudaDevice, CudaError};
use aqua_runtime::{Arg, BackendKind, HostBuffer, Runtime, RuntimeOptions};

fn options() -> RuntimeOptions {
    RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() }
}

#[test]
fn probing_never_panics_and_best_available_says_what_it_picked() {
    let rt = Runtime::best_available();
    match CudaDevice::probe() {
        Ok(dev) => {
            assert_eq!(rt.backend(), BackendKind::Cuda);
            assert!(rt.describe().contains(dev.name()), "{}", rt.describe());
        }
        Err(e) => {
            assert!(
                matches!(
                    e,
                    CudaError::NoDriver(_)
                        | CudaError::NoDevice
                        | CudaError::Unsupported { .. }
                        | CudaError::Driver { .. }
                ),
                "{e:?}"
            );
            assert_eq!(rt.backend(), BackendKind::Cpu);
            assert!(rt.describe().contains("no GPU:"), "{}", rt.describe());
            assert!(Runtime::cuda().is_err());
        }
    }
}

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn axpy_on_the_gpu_matches_the_cpu() {
    let gpu = Runtime::cuda_with(options(), 4).unwrap_or_else(|e| panic!("no CUDA device: {e}"));
    let cpu = Runtime::cpu_with(options());
    let n = 10_000usize;
    let xs: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let ys: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
    let params = aqua_dsl::Params::new().with("block", 256u32);
    let mut outs = Vec::new();
    for rt in [&cpu, &gpu] {
        let k = rt.compile(&common::Axpy, &params).unwrap_or_else(|e| panic!("{e}"));
        let x = HostBuffer::from_slice(&xs);
        let mut y = HostBuffer::from_slice(&ys);
        let grid = [n.div_ceil(256) as u32, 1, 1];
        rt.launch(&k, grid, &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(n as i32)])
            .unwrap_or_else(|e| panic!("{e}"));
        outs.push(y.to_vec::<f32>().unwrap());
    }
    assert_eq!(outs[0], outs[1]);
}
