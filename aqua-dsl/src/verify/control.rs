//! Structured control flow: typing of `for` bounds and `if` conditions, the arguments of
//! their regions, and the `yield` that ends each region.

use crate::error::KernelError;
use crate::ir::{Inst, Op, Region, Type, ValueId};

use super::{Cx, Rule};

/// `for lo, hi, step iter(init...)`: bounds are scalar integers of one dtype; the results
/// are the carried values, typed as `init`.
pub(super) fn for_results(cx: &Cx, lo: ValueId, hi: ValueId, step: ValueId, init: &[ValueId]) -> Rule {
    let t = cx.ty(lo);
    if t.is_ptr() || !t.is_scalar() || !t.dtype().is_int() {
        return Err(format!("loop bounds must be integer scalars, got {} ({t})", cx.v(lo)));
    }
    for v in [hi, step] {
        if cx.ty(v) != t {
            return Err(format!(
                "loop bounds must share one type: {} is {t} but {} is {}",
                cx.v(lo),
                cx.v(v),
                cx.ty(v)
            ));
        }
    }
    Ok(init.iter().map(|&v| cx.ty(v).clone()).collect())
}

/// `if cond`: a scalar bool. The results are as the value table says; both branches
/// yield values of those types ([`check_yield`]).
pub(super) fn if_results(cx: &Cx, cond: ValueId, results: &[ValueId]) -> Rule {
    let t = cx.ty(cond);
    if *t != Type::scalar(crate::ir::DType::Bool) {
        return Err(format!(
            "`if` condition must be a scalar bool, got {} ({t})",
            cx.v(cond)
        ));
    }
    Ok(results.iter().map(|&v| cx.ty(v).clone()).collect())
}

/// The types the arguments of `inst`'s regions must have: the induction variable (the
/// bounds' type) and the carried values for a `for`, none for an `if`.
pub(super) fn region_arg_types(cx: &Cx, inst: &Inst) -> Vec<Type> {
    match &inst.op {
        Op::For { lo, init, .. } => std::iter::once(lo).chain(init).map(|&v| cx.ty(v).clone()).collect(),
        _ => vec![],
    }
}

/// Checks the arguments of a region of `owner` against `want` (count, table, types).
pub(super) fn check_region_args(cx: &Cx, owner: &Inst, region: &Region, want: &[Type]) -> Result<(), KernelError> {
    let what = if matches!(owner.op, Op::For { .. }) {
        "the loop body takes the induction variable and the carried values"
    } else {
        "`if` branches take no arguments"
    };
    if region.args.len() != want.len() {
        return Err(cx.op_error(
            owner,
            format!("{what}: {} expected, got {}", want.len(), region.args.len()),
        ));
    }
    for (i, (&a, t)) in region.args.iter().zip(want).enumerate() {
        if !cx.in_table(a) {
            return Err(cx.op_error(owner, format!("region argument {i} is not in the value table")));
        }
        if cx.ty(a) != t {
            return Err(cx.op_error(
                owner,
                format!("region argument {} must be {t}, got {}", cx.v(a), cx.ty(a)),
            ));
        }
    }
    Ok(())
}

/// The `yield` ending `region` (the walk has checked it is there) gives values of types
/// `want`: the carried values of a `for`, the results of an `if`.
pub(super) fn check_yield(cx: &Cx, owner: &Inst, region: &Region, want: &[Type]) -> Result<(), KernelError> {
    let Some(
        inst @ Inst {
            op: Op::Yield(vals), ..
        },
    ) = region.insts.last()
    else {
        return Err(cx.op_error(owner, "the region does not end in `yield`"));
    };
    let what = match owner.op {
        Op::For { .. } => "the carried values of the enclosing `for`",
        _ => "the results of the enclosing `if`",
    };
    if vals.len() != want.len() {
        return Err(cx.op_error(
            inst,
            format!("yields {} values, but {what} are {}", vals.len(), want.len()),
        ));
    }
    for (i, (&v, t)) in vals.iter().zip(want).enumerate() {
        if cx.ty(v) != t {
            return Err(cx.op_error(
                inst,
                format!(
                    "yields {} ({}) as value {i}, but {what} have type {t}",
                    cx.v(v),
                    cx.ty(v)
                ),
            ));
        }
    }
    Ok(())
}
