//! Typing of element-wise ops: arithmetic, logic, comparisons, `select`, `fma`, casts.
//! Operands have identical types (the builder broadcasts and converts weak numbers);
//! pointers take part only in `select` (pointer arithmetic is `ptr_add`).

use crate::ir::{BinOp, DType, Type, UnOp, ValueId};

use super::{Cx, Rule};

/// All `vals` have one type, which is not a pointer type; returns it.
fn same_numeric<'c>(cx: &'c Cx, what: &str, vals: &[ValueId]) -> Result<&'c Type, String> {
    let t = cx.ty(vals[0]);
    if let Some(&v) = vals[1..].iter().find(|&&v| cx.ty(v) != t) {
        return Err(format!(
            "`{what}` needs operands of one type, got {} ({t}) and {} ({})",
            cx.v(vals[0]),
            cx.v(v),
            cx.ty(v)
        ));
    }
    if t.is_ptr() {
        return Err(format!(
            "`{what}` is not defined on pointers ({t}); offsets go through `ptr_add`"
        ));
    }
    Ok(t)
}

/// Arithmetic on numbers; bitwise ops and shifts on integers and bool; on bool only
/// `and`, `or`, `xor`, `min`, `max`.
pub(super) fn binary(cx: &Cx, op: BinOp, lhs: ValueId, rhs: ValueId) -> Rule {
    let t = same_numeric(cx, op.name(), &[lhs, rhs])?;
    let d = t.dtype();
    if op.is_bitwise() && d.is_float() {
        return Err(format!("`{op}` needs integer or bool operands, got {t}"));
    }
    if d.is_bool() && !matches!(op, BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Min | BinOp::Max) {
        return Err(format!("`{op}` is not defined on bool"));
    }
    Ok(vec![t.clone()])
}

/// Math ops on floats, `not` on integers and bool, `neg` and `abs` on numbers.
pub(super) fn unary(cx: &Cx, op: UnOp, arg: ValueId) -> Rule {
    let t = same_numeric(cx, op.name(), &[arg])?;
    let d = t.dtype();
    if op.is_float_only() && !d.is_float() {
        return Err(format!("`{op}` needs a float operand, got {t}"));
    }
    if op == UnOp::Not && d.is_float() {
        return Err(format!("`not` needs an integer or bool operand, got {t}"));
    }
    if matches!(op, UnOp::Neg | UnOp::Abs) && d.is_bool() {
        return Err(format!("`{op}` is not defined on bool"));
    }
    Ok(vec![t.clone()])
}

/// Operands of one type; the result is bool of their shape.
pub(super) fn cmp(cx: &Cx, lhs: ValueId, rhs: ValueId) -> Rule {
    let t = same_numeric(cx, "cmp", &[lhs, rhs])?;
    Ok(vec![t.with_dtype(DType::Bool)])
}

/// A bool condition of the shape of the two alternatives, which share a type (pointers
/// into one parameter allowed).
pub(super) fn select(cx: &Cx, cond: ValueId, on_true: ValueId, on_false: ValueId) -> Rule {
    let (tc, tt, tf) = (cx.ty(cond), cx.ty(on_true), cx.ty(on_false));
    if tt != tf {
        return Err(format!("`select` alternatives differ: {tt} and {tf}"));
    }
    if *tc != tt.with_dtype(DType::Bool) {
        return Err(format!(
            "`select` condition must be {}, got {tc}",
            tt.with_dtype(DType::Bool)
        ));
    }
    Ok(vec![tt.clone()])
}

/// Three floats of one type.
pub(super) fn fma(cx: &Cx, a: ValueId, b: ValueId, c: ValueId) -> Rule {
    let t = same_numeric(cx, "fma", &[a, b, c])?;
    if !t.dtype().is_float() {
        return Err(format!("`fma` needs float operands, got {t}"));
    }
    Ok(vec![t.clone()])
}

/// Any number to any dtype, same shape.
pub(super) fn cast(cx: &Cx, arg: ValueId, to: DType) -> Rule {
    let t = same_numeric(cx, "cast", &[arg])?;
    Ok(vec![t.with_dtype(to)])
}

/// Numbers (not bool) to a dtype of the same width.
pub(super) fn bitcast(cx: &Cx, arg: ValueId, to: DType) -> Rule {
    let t = same_numeric(cx, "bitcast", &[arg])?;
    let from = t.dtype();
    if from.is_bool() || to.is_bool() {
        return Err(format!("cannot bitcast {t} to {to}: bool has no bit layout"));
    }
    if from.bits() != to.bits() {
        return Err(format!(
            "cannot bitcast {t} to {to}: {} bits vs {} bits",
            from.bits(),
            to.bits()
        ));
    }
    Ok(vec![t.with_dtype(to)])
}
