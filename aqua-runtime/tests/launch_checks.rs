//! Every kind of argument mismatch is caught before a kernel runs, and the error names
//! the kernel and the parameter.

mod common;

use aqua_dsl::ir::ParamKind;
use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::launch::{check_launch, Given};
use aqua_runtime::{Arg, HostBuffer, LaunchError, Runtime};
use common::Axpy;

fn axpy() -> aqua_dsl::Kernel {
    Axpy.build(&Params::new()).unwrap()
}

#[test]
fn correct_arguments_pass() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let mut y = HostBuffer::zeros(DType::F32, 8);
    check_launch(&k, [1, 1, 1], &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(8)]).unwrap();
    // A read-only parameter also takes a mutable buffer.
    let mut x2 = x.clone();
    check_launch(&k, [3, 2, 1], &[Arg::BufMut(&mut x2), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(8)]).unwrap();
}

#[test]
fn argument_count() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let e = check_launch(&k, [1, 1, 1], &[Arg::Buf(&x)]).unwrap_err();
    assert!(matches!(e, LaunchError::ArgCount { expected: 4, given: 1, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "kernel `axpy` takes 4 arguments (x: ptr<f32>, y: ptr<f32> mut, a: f32, n: i32), 1 given"
    );
}

#[test]
fn pointer_where_scalar_and_back() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let mut y = HostBuffer::zeros(DType::F32, 8);
    let e = check_launch(&k, [1, 1, 1], &[Arg::f32(1.0), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(8)]).unwrap_err();
    assert!(matches!(&e, LaunchError::Kind { param, given: Given::Scalar(DType::F32), .. } if param == "x"), "{e:?}");
    assert_eq!(e.to_string(), "kernel `axpy`, argument `x`: expects ptr<f32>, got a f32 scalar");
    let n = HostBuffer::from_slice(&[8i32]);
    let e = check_launch(&k, [1, 1, 1], &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::Buf(&n)]).unwrap_err();
    assert!(
        matches!(&e, LaunchError::Kind { param, expected: ParamKind::Scalar(DType::I32), .. } if param == "n"),
        "{e:?}"
    );
}

#[test]
fn buffer_dtype() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[half::f16::ONE; 8]);
    let mut y = HostBuffer::zeros(DType::F32, 8);
    let e = check_launch(&k, [1, 1, 1], &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(8)]).unwrap_err();
    assert!(
        matches!(&e, LaunchError::DType { param, given: Given::Buffer { dtype: DType::F16, .. }, .. } if param == "x"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "kernel `axpy`, argument `x`: expects ptr<f32>, got a read-only f16 buffer");
}

#[test]
fn scalar_dtype() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let mut y = HostBuffer::zeros(DType::F32, 8);
    let e = check_launch(&k, [1, 1, 1], &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i64(8)]).unwrap_err();
    assert!(matches!(&e, LaunchError::DType { param, given: Given::Scalar(DType::I64), .. } if param == "n"), "{e:?}");
    let e = check_launch(&k, [1, 1, 1], &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::i32(2), Arg::i32(8)]).unwrap_err();
    assert!(matches!(&e, LaunchError::DType { param, .. } if param == "a"), "{e:?}");
}

#[test]
fn written_parameter_needs_a_mutable_buffer() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let y = HostBuffer::zeros(DType::F32, 8);
    let e = check_launch(&k, [1, 1, 1], &[Arg::Buf(&x), Arg::Buf(&y), Arg::f32(2.0), Arg::i32(8)]).unwrap_err();
    assert!(matches!(&e, LaunchError::ReadOnly { kernel, param, .. } if kernel == "axpy" && param == "y"), "{e:?}");
    assert!(e.to_string().contains("Arg::BufMut"), "{e}");
}

#[test]
fn grid_axes() {
    let k = axpy();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let mut y = HostBuffer::zeros(DType::F32, 8);
    for grid in [[0, 1, 1], [1, 0, 1], [4, 4, 0]] {
        let e = check_launch(&k, grid, &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(8)]).unwrap_err();
        assert_eq!(e, LaunchError::EmptyGrid { kernel: "axpy".into(), grid });
    }
    for grid in [[1 << 31, 1, 1], [1 << 30, 1 << 30, 1 << 30]] {
        let e = check_launch(&k, grid, &[Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(8)]).unwrap_err();
        assert_eq!(e, LaunchError::GridTooLarge { kernel: "axpy".into(), grid });
    }
}

#[test]
fn the_runtime_checks_before_running() {
    // Through the public launch path (the interpreter backend needs no code generator).
    let rt = Runtime::interpreter();
    let k = rt.compile(&Axpy, &Params::new()).unwrap();
    let x = HostBuffer::from_slice(&[1.0f32; 8]);
    let mut y = HostBuffer::zeros(DType::F32, 8);
    let e = rt.launch(&k, [1, 1, 1], &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0)]).unwrap_err();
    assert!(matches!(e, LaunchError::ArgCount { .. }), "{e:?}");
    assert!(y.to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0));
}
