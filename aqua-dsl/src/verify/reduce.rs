//! Typing of reductions along an axis and of `dot`.

use crate::ir::{DType, ReduceOp, Type, ValueId};

use super::{Cx, Rule};

/// A numeric block reduced along an existing axis, which disappears from the shape.
/// `sum`, `max`, `min` keep the dtype and exclude bool; the arg variants give `i32`.
pub(super) fn reduce(cx: &Cx, op: ReduceOp, arg: ValueId, axis: u8) -> Rule {
    let t = cx.ty(arg);
    if t.is_ptr() || (t.dtype().is_bool() && !op.is_arg()) {
        return Err(format!("`{op}` is not defined on {t}"));
    }
    if axis as usize >= t.shape.rank() {
        return Err(format!("{t} has no axis {axis}"));
    }
    let mut s = t.shape.clone();
    s.0.remove(axis as usize);
    Ok(vec![if op.is_arg() {
        Type::scalar(DType::I32).with_shape(s)
    } else {
        t.with_shape(s)
    }])
}

/// Float blocks `[M,K]` and `[K,N]` of one dtype, optional accumulator `f32[M,N]`;
/// the result is `f32[M,N]`.
pub(super) fn dot(cx: &Cx, a: ValueId, b: ValueId, acc: Option<ValueId>) -> Rule {
    let (ta, tb) = (cx.ty(a), cx.ty(b));
    let (&[m, k1], &[k2, n]) = (ta.shape.dims(), tb.shape.dims()) else {
        return Err(format!("`dot` needs 2-D operands, got {ta} and {tb}"));
    };
    if ta.is_ptr() || tb.is_ptr() || ta.dtype() != tb.dtype() || !ta.dtype().is_float() {
        return Err(format!("`dot` needs float operands of one dtype, got {ta} and {tb}"));
    }
    if k1 != k2 {
        return Err(format!("`dot` of {ta} and {tb}: inner dims {k1} and {k2} differ"));
    }
    let out = Type::block(DType::F32, [m, n]);
    if let Some(c) = acc {
        if *cx.ty(c) != out {
            return Err(format!(
                "`dot` accumulator must be {out}, got {} ({})",
                cx.v(c),
                cx.ty(c)
            ));
        }
    }
    Ok(vec![out])
}
