//! The CUDA backend. Without a GPU (or driver) the probe must say why instead of
//! panicking, `best_available` must fall back to the CPU and say so, and device buffers
//! must be a clear error. The GPU tests are ignored (counted as skipped) unless
//! `scripts/test.sh` finds a GPU; then kernels run on it, on host and device buffers, and
//! must match the CPU backend. Run by hand without a GPU, they print `skipped: ...`.

mod common;

use aqua_dsl::{DType, Params};
use aqua_runtime::backend::cuda::{CudaDevice, CudaError};
use aqua_runtime::{Arg, BackendKind, Error, HostBuffer, LaunchError, Memory, Runtime, RuntimeOptions};
use common::{axpy_reference, data, Axpy};

fn options() -> RuntimeOptions {
    RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() }
}

/// The GPU runtime, or `None` after printing why the test skips; with
/// `AQUA_REQUIRE_GPU=1` (set by `scripts/gpu-check.sh`) a missing GPU fails the test.
fn gpu() -> Option<Runtime> {
    match Runtime::cuda_with(options(), 4) {
        Ok(rt) => Some(rt),
        Err(e) if std::env::var_os("AQUA_REQUIRE_GPU").is_some_and(|v| v == "1") => {
            panic!("no CUDA device, and AQUA_REQUIRE_GPU=1: {e}")
        }
        Err(e) => {
            println!("skipped: no CUDA device ({e})");
            None
        }
    }
}

fn axpy_grid(n: usize) -> [u32; 3] {
    [n.div_ceil(256) as u32, 1, 1]
}

fn block() -> Params {
    Params::new().with("block", 256u32)
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
fn host_runtimes_refuse_device_buffers_with_a_clear_error() {
    let simt = Runtime::simt_with(options(), 1);
    for rt in [Runtime::cpu_with(options()), Runtime::interpreter(), simt] {
        let backend = rt.backend();
        let not_cuda = |e: Error| match e {
            Error::Cuda(CudaError::NotCuda { backend: b }) => {
                assert_eq!(b, backend);
                let text = e.to_string();
                assert!(text.contains("device buffers need the CUDA runtime"), "{text}");
                assert!(text.contains(&format!("on the {backend} backend")), "{text}");
            }
            e => panic!("{backend}: expected NotCuda, got {e:?}"),
        };
        not_cuda(rt.alloc(DType::F32, 16).unwrap_err());
        not_cuda(rt.upload(&HostBuffer::from_slice(&[1.0f32; 4])).unwrap_err());
        // Host launches always wait, so there is never anything to wait for.
        rt.synchronize().unwrap();
    }
}

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn axpy_on_the_gpu_matches_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let cpu = Runtime::cpu_with(options());
    let n = 10_000usize;
    let (xs, ys) = (data(n, 1), data(n, 2));
    let mut outs = Vec::new();
    for rt in [&cpu, &gpu] {
        let k = rt.compile(&Axpy, &block()).unwrap_or_else(|e| panic!("{e}"));
        let x = HostBuffer::from_slice(&xs);
        let mut y = HostBuffer::from_slice(&ys);
        rt.launch(&k, axpy_grid(n), &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(n as i32)])
            .unwrap_or_else(|e| panic!("{e}"));
        outs.push(y.to_vec::<f32>().unwrap());
    }
    assert_eq!(outs[0], outs[1]);
}

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn device_buffers_stay_on_the_gpu_across_launches() {
    let Some(gpu) = gpu() else { return };
    let n = 10_000usize;
    let (xs, ys) = (data(n, 3), data(n, 4));
    let k = gpu.compile(&Axpy, &block()).unwrap_or_else(|e| panic!("{e}"));
    let x = gpu.upload(&HostBuffer::from_slice(&xs)).unwrap_or_else(|e| panic!("{e}"));
    let mut y = gpu.upload(&HostBuffer::from_slice(&ys)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((x.dtype(), x.len(), x.size_bytes()), (DType::F32, n, 4 * n));
    // Three launches queued back to back, one download: y = ((y + a x) + a x) + a x.
    for _ in 0..3 {
        gpu.launch(&k, axpy_grid(n), &mut [Arg::DevBuf(&x), Arg::DevBufMut(&mut y), Arg::f32(0.5), Arg::i32(n as i32)])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let got = gpu.download(&y).unwrap_or_else(|e| panic!("{e}")).to_vec::<f32>().unwrap();
    let mut expected = ys.clone();
    for _ in 0..3 {
        expected = axpy_reference(0.5, &xs, &expected);
    }
    assert_eq!(got, expected);

    // A launch may mix host and device buffers; the host one is copied back.
    let mut host_y = HostBuffer::from_slice(&ys);
    gpu.launch(&k, axpy_grid(n), &mut [Arg::DevBuf(&x), Arg::BufMut(&mut host_y), Arg::f32(0.5), Arg::i32(n as i32)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(host_y.to_vec::<f32>().unwrap(), axpy_reference(0.5, &xs, &ys));
}

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn device_buffers_alloc_copy_and_refuse_mismatches() {
    let Some(gpu) = gpu() else { return };
    let zeros = gpu.alloc(DType::I32, 1000).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gpu.download(&zeros).unwrap().to_vec::<i32>().unwrap(), vec![0; 1000]);
    let empty = gpu.alloc(DType::F16, 0).unwrap_or_else(|e| panic!("{e}"));
    assert!(empty.is_empty() && gpu.download(&empty).unwrap().is_empty());
    assert!(matches!(gpu.alloc(DType::I64, usize::MAX / 4), Err(Error::Cuda(CudaError::Driver { .. }))));

    let values: Vec<i32> = (0..1000).collect();
    let mut a = gpu.alloc(DType::I32, 1000).unwrap();
    a.copy_from_host(&HostBuffer::from_slice(&values)).unwrap();
    let mut b = gpu.alloc(DType::I32, 1000).unwrap();
    b.copy_from_device(&a).unwrap();
    let mut back = HostBuffer::zeros(DType::I32, 1000);
    b.copy_to_host(&mut back).unwrap();
    assert_eq!(back.to_vec::<i32>().unwrap(), values);
    let bools = [true, false, true];
    assert_eq!(
        gpu.download(&gpu.upload(&HostBuffer::from_slice(&bools)).unwrap()).unwrap().to_vec::<bool>().unwrap(),
        bools
    );

    let e = a.copy_from_host(&HostBuffer::from_slice(&[1.0f32; 1000])).unwrap_err();
    assert!(matches!(e, CudaError::Shape { copy: "copy_from_host", .. }), "{e:?}");
    assert_eq!(e.to_string(), "copy_from_host: the device buffer holds 1000 i32 elements, the other buffer 1000 f32");
    let e = a.copy_to_host(&mut HostBuffer::zeros(DType::I32, 10)).unwrap_err();
    assert!(matches!(e, CudaError::Shape { copy: "copy_to_host", .. }), "{e:?}");
    let e = b.copy_from_device(&gpu.alloc(DType::I32, 10).unwrap()).unwrap_err();
    assert!(matches!(e, CudaError::Shape { copy: "copy_from_device", .. }), "{e:?}");
}

#[test]
#[ignore = "needs a CUDA device: scripts/test.sh runs it where one is present"]
fn launches_check_device_buffers_like_host_buffers() {
    let Some(gpu) = gpu() else { return };
    let n = 256usize;
    let k = gpu.compile(&Axpy, &block()).unwrap_or_else(|e| panic!("{e}"));
    let x = gpu.upload(&HostBuffer::from_slice(&data(n, 5))).unwrap();
    let mut y = gpu.alloc(DType::F32, n).unwrap();
    let x16 = gpu.alloc(DType::F16, n).unwrap();

    let e = gpu.launch(&k, [1, 1, 1], &mut [Arg::DevBuf(&x), Arg::DevBufMut(&mut y), Arg::f32(1.0)]).unwrap_err();
    assert!(matches!(e, LaunchError::ArgCount { expected: 4, given: 3, .. }), "{e:?}");
    let e = gpu
        .launch(&k, [1, 1, 1], &mut [Arg::DevBuf(&x16), Arg::DevBufMut(&mut y), Arg::f32(1.0), Arg::i32(n as i32)])
        .unwrap_err();
    assert_eq!(e.to_string(), "kernel `axpy`, argument `x`: expects ptr<f32>, got a read-only f16 device buffer");
    let e = gpu
        .launch(&k, [1, 1, 1], &mut [Arg::DevBuf(&x), Arg::DevBuf(&x), Arg::f32(1.0), Arg::i32(n as i32)])
        .unwrap_err();
    assert!(matches!(&e, LaunchError::ReadOnly { param, memory: Memory::Device, .. } if param == "y"), "{e:?}");
    assert!(gpu.download(&y).unwrap().to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0), "a refused launch ran");

    // The CPU backend cannot read GPU memory.
    let cpu = Runtime::cpu_with(options());
    let k = cpu.compile(&Axpy, &block()).unwrap_or_else(|e| panic!("{e}"));
    let mut host_y = HostBuffer::zeros(DType::F32, n);
    let e = cpu
        .launch(&k, [1, 1, 1], &mut [Arg::DevBuf(&x), Arg::BufMut(&mut host_y), Arg::f32(1.0), Arg::i32(n as i32)])
        .unwrap_err();
    assert!(matches!(&e, LaunchError::Memory { param, backend: BackendKind::Cpu, .. } if param == "x"), "{e:?}");
}
