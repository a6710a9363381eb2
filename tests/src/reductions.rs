//! Reductions by name, for tests that run every reduction op on every dtype, and running
//! one such kernel on the interpreter and a runtime to compare their outputs.

use aqua_dsl::build::Value;
use aqua_dsl::interp::{self, ArgValue};
use aqua_dsl::ir::DType;
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, Runtime};

/// The reduction ops defined on `dtype` (only the arg reductions on bool); float sums are
/// left out when `float_sums` is false (suites whose results must be bit-equal across
/// summation orders).
pub fn ops(dtype: DType, float_sums: bool) -> Vec<&'static str> {
    match dtype {
        DType::Bool => vec!["argmax", "argmin"],
        d if d.is_float() && !float_sums => vec!["max", "min", "argmax", "argmin"],
        _ => vec!["max", "min", "argmax", "argmin", "sum"],
    }
}

/// The op sets a suite compiles on `dtype`, one kernel each: every op of [`ops`]
/// together, where a float max and min of the same lines form a range (no rescans), and
/// for floats max and min apart, each with its arg twin, so that their lines still at a
/// starting infinity take the rescan.
pub fn op_sets(dtype: DType, float_sums: bool) -> Vec<Vec<&'static str>> {
    let mut sets = vec![ops(dtype, float_sums)];
    if dtype.is_float() {
        sets.extend([vec!["max", "argmax"], vec!["min", "argmin"]]);
    }
    sets
}

/// `x` reduced along `axis` by the op named `op` (one of [`ops`]).
pub fn reduce(x: Value, op: &str, axis: u32) -> Value {
    match op {
        "max" => x.max(axis),
        "min" => x.min(axis),
        "argmax" => x.argmax(axis),
        "argmin" => x.argmin(axis),
        _ => x.sum(axis),
    }
}

/// The result dtype of `op` on `dtype`.
pub fn out_dtype(dtype: DType, op: &str) -> DType {
    if op.starts_with("arg") {
        DType::I32
    } else {
        dtype
    }
}

/// Appends one element of `dtype` holding `v` (converted as `as` does) to `out`.
pub fn encode(dtype: DType, v: f64, out: &mut Vec<u8>) {
    match dtype {
        DType::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
        DType::F16 => out.extend_from_slice(&half::f16::from_f64(v).to_le_bytes()),
        DType::BF16 => out.extend_from_slice(&half::bf16::from_f64(v).to_le_bytes()),
        DType::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
        d => out.extend_from_slice(&(v as i64).to_le_bytes()[..d.size_bytes()]),
    }
}

/// Whether two outputs of `op` (results of `dtype`) agree: bit for bit, except that NaN
/// matches NaN, the sign of a zero from max/min is free, and float sums of more than two
/// `terms` may differ by rounding (`docs/semantics.md`).
pub fn agree(dtype: DType, op: &str, terms: u32, want: &[u8], got: &[u8]) -> Result<(), String> {
    let size = dtype.size_bytes();
    let value = |b: &[u8]| match dtype {
        DType::F32 => f32::from_le_bytes(b.try_into().unwrap()) as f64,
        DType::F16 => half::f16::from_le_bytes(b.try_into().unwrap()).to_f64(),
        _ => half::bf16::from_le_bytes(b.try_into().unwrap()).to_f64(),
    };
    for (k, (w, g)) in want.chunks_exact(size).zip(got.chunks_exact(size)).enumerate() {
        if w == g {
            continue;
        }
        let (a, b) = if dtype.is_float() && !op.starts_with("arg") { (value(w), value(g)) } else { (0.0, 1.0) };
        let close = op == "sum" && terms > 2 && (a == b || (a - b).abs() <= 1e-2 * a.abs().max(b.abs()).max(1.0));
        if !(a == b || (a.is_nan() && b.is_nan()) || close) {
            return Err(format!("element {k}: interpreter {w:?}, backend {g:?}"));
        }
    }
    Ok(())
}

/// Runs `k` (input `x` of `dtype`, then one output buffer per `(dtype, len)` of `outs`)
/// over `programs` programs on the interpreter and on `rt`; returns both sets of outputs.
/// Outputs start filled with a pattern (bool: true), so an unwritten lane shows.
pub fn run_both(
    rt: &Runtime,
    k: &Kernel,
    programs: u32,
    dtype: DType,
    x: &[u8],
    outs: &[(DType, usize)],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let fresh = |(d, n): (DType, usize)| vec![if d == DType::Bool { 1 } else { 0xa5u8 }; n * d.size_bytes()];
    let mut want_x = x.to_vec();
    let mut want: Vec<Vec<u8>> = outs.iter().map(|&o| fresh(o)).collect();
    let mut args = vec![ArgValue::Buffer(&mut want_x)];
    args.extend(want.iter_mut().map(|b| ArgValue::Buffer(b)));
    interp::run(k, [programs, 1, 1], &mut args).unwrap_or_else(|e| panic!("{}: interpreter: {e}", k.name));
    let compiled = rt.compile_kernel(k).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    let xb = HostBuffer::from_bytes(dtype, x).expect("sized for the dtype");
    let mut got: Vec<HostBuffer> =
        outs.iter().map(|&(d, n)| HostBuffer::from_bytes(d, &fresh((d, n))).expect("sized")).collect();
    let mut launch_args = vec![Arg::Buf(&xb)];
    launch_args.extend(got.iter_mut().map(Arg::BufMut));
    rt.launch(&compiled, [programs, 1, 1], &mut launch_args).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    drop(launch_args);
    (want, got.iter().map(|b| b.as_bytes().to_vec()).collect())
}
