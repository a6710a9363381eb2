//! Kernels shared by the runtime's tests, written with the builder API.
#![allow(dead_code)] // each test binary uses some of these

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::{ComptimeValue, Params};

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

fn scalar(name: &str, dtype: DType) -> Param {
    Param { name: name.into(), kind: ParamKind::Scalar(dtype) }
}

/// `y[i] = a * x[i] + y[i]` for `i < n`, `block` elements per program.
pub struct Axpy;

impl KernelSource for Axpy {
    fn name(&self) -> &'static str {
        "axpy"
    }
    fn params(&self) -> Vec<Param> {
        vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true), scalar("a", DType::F32), scalar("n", DType::I32)]
    }
    fn comptime_params(&self) -> Vec<ComptimeParam> {
        vec![ComptimeParam { name: "block", ty: ComptimeType::U32, default: Some(ComptimeValue::Int(64)) }]
    }
    fn body(&self, args: &[Value], p: &Params) {
        let block: u32 = comptime_arg(p, "block");
        let (x, y, a, n) = (args[0], args[1], args[2], args[3]);
        let offs = program_id(0) * block + arange(block);
        let m = offs.lt(n);
        let xv = load_masked(x + offs, m);
        let yv = load_masked(y + offs, m);
        store_masked(y + offs, a * xv + yv, m);
    }
    /// Stateless, like a `#[kernel]` unit struct.
    fn identity(&self) -> Option<std::any::TypeId> {
        Some(std::any::TypeId::of::<Self>())
    }
}

/// Copies `block` elements per program with no mask: reads and writes past the end of
/// buffers shorter than the grid covers.
pub struct Unmasked;

impl KernelSource for Unmasked {
    fn name(&self) -> &'static str {
        "unmasked_copy"
    }
    fn params(&self) -> Vec<Param> {
        vec![ptr("src", DType::I32, false), ptr("dst", DType::I32, true)]
    }
    fn comptime_params(&self) -> Vec<ComptimeParam> {
        vec![ComptimeParam { name: "block", ty: ComptimeType::U32, default: Some(ComptimeValue::Int(16)) }]
    }
    fn body(&self, args: &[Value], p: &Params) {
        let block: u32 = comptime_arg(p, "block");
        let offs = program_id(0) * block + arange(block);
        store(args[1] + offs, load(args[0] + offs));
    }
}

/// Reference axpy on the host.
pub fn axpy_reference(a: f32, x: &[f32], y: &[f32]) -> Vec<f32> {
    x.iter().zip(y).map(|(x, y)| a * x + y).collect()
}

/// Deterministic test data: `n` values in [-2, 2).
pub fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            ((i.wrapping_mul(2654435761).wrapping_add(seed.wrapping_mul(40503)) >> 8) % 4096) as f32 / 1024.0 - 2.0
        })
        .collect()
}
