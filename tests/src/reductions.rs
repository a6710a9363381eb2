//! Reductions by name, for tests that run every reduction op on every dtype.

use aqua_dsl::build::Value;
use aqua_dsl::ir::DType;

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
