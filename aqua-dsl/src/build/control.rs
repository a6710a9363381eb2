//! Runtime control flow: `for` loops with carried values and `if` with results.
//!
//! `#[kernel]` turns a `for`/`if` over runtime values into these calls; the variables the
//! body assigns become carried values (loop) or results (branch). Loops and branches over
//! compile-time values never get here: they run while the kernel is built.

use crate::ir::{DType, Inst, Loc, Op, Type, ValueId};

use super::context::{self, Builder};
use super::value::{IntoOperand, Value};

impl Builder {
    fn yield_checked(&mut self, yielded: &[Value], expected: &[Type], what: &str, loc: Loc) {
        if yielded.len() != expected.len() {
            self.fail(loc, format!("{what} yields {} values, expected {}", yielded.len(), expected.len()));
        }
        for (i, (v, t)) in yielded.iter().zip(expected).enumerate() {
            let vt = self.ty(*v).clone();
            if vt != *t {
                self.fail(loc, format!("{what}: carried value {i} changes type from {t} to {vt}"));
            }
        }
        self.emit_void(Op::Yield(yielded.iter().map(|v| v.id).collect()), loc);
    }
}

/// A runtime loop `for i in (lo..hi).step_by(step)`, carrying `init` through the body.
/// `body(i, carried)` returns the next carried values; the result is their final values.
#[track_caller]
pub fn for_range(
    lo: impl IntoOperand,
    hi: impl IntoOperand,
    step: impl IntoOperand,
    init: &[Value],
    body: impl FnOnce(Value, &[Value]) -> Vec<Value>,
) -> Vec<Value> {
    let loc = Loc::caller();
    let bounds = [lo.into_operand(), hi.into_operand(), step.into_operand()];
    let (bounds, iv, args, types) = context::with(|b| {
        let v = b.unify(&bounds, "for", loc);
        let ty = b.ty(v[0]).clone();
        if !ty.is_scalar() || !ty.dtype().is_int() || ty.is_ptr() {
            b.fail(loc, format!("runtime `for` bounds must be integer scalars, got {ty}"));
        }
        let iv = b.new_value(Type::scalar(if ty.dtype().is_int() { ty.dtype() } else { DType::I32 }));
        let types: Vec<Type> = init.iter().map(|v| b.ty(*v).clone()).collect();
        let args: Vec<Value> = types.iter().map(|t| b.new_value(t.clone())).collect();
        let mut region_args = vec![iv.id];
        region_args.extend(args.iter().map(|a| a.id));
        b.open_region(region_args);
        (v, iv, args, types)
    });
    let next = body(iv, &args);
    context::with(|b| {
        b.yield_checked(&next, &types, "loop body", loc);
        let region = b.close_region();
        let results: Vec<Value> = types.iter().map(|t| b.new_value(t.clone())).collect();
        b.push(Inst {
            op: Op::For {
                lo: bounds[0].id,
                hi: bounds[1].id,
                step: bounds[2].id,
                init: init.iter().map(|v| v.id).collect(),
                body: region,
            },
            results: results.iter().map(|v| v.id).collect(),
            loc,
        });
        results
    })
}

/// A runtime branch. Both closures return values of the same types; the result is the
/// taken branch's values.
#[track_caller]
pub fn if_else(
    cond: impl IntoOperand,
    then_branch: impl FnOnce() -> Vec<Value>,
    else_branch: impl FnOnce() -> Vec<Value>,
) -> Vec<Value> {
    branch(cond, then_branch, else_branch, false)
}

/// `fast()` when `cond` holds, else `general()`, with the promise that `general` is
/// correct whatever `cond` is and that `fast` does the same (same stores, same results)
/// when `cond` holds: the way a kernel runs an unmasked body on the tiles inside a tensor
/// and a masked one on the last tile. Backends may compile `general` for size, outline it,
/// or run it always (a GPU, whose per-access masks are cheap); the interpreter branches.
#[track_caller]
pub fn specialize(
    cond: impl IntoOperand,
    fast: impl FnOnce() -> Vec<Value>,
    general: impl FnOnce() -> Vec<Value>,
) -> Vec<Value> {
    branch(cond, fast, general, true)
}

#[track_caller]
fn branch(
    cond: impl IntoOperand,
    then_branch: impl FnOnce() -> Vec<Value>,
    else_branch: impl FnOnce() -> Vec<Value>,
    specialized: bool,
) -> Vec<Value> {
    let loc = Loc::caller();
    let cond = cond.into_operand();
    let cond: ValueId = context::with(|b| {
        let c = b.weak_to(cond, DType::Bool, loc);
        let t = b.ty(c).clone();
        if t != Type::scalar(DType::Bool) {
            b.fail(loc, format!("runtime `if` needs a scalar bool condition, got {t}"));
        }
        b.open_region(vec![]);
        c.id
    });
    let then_vals = then_branch();
    let types = context::with(|b| {
        let types: Vec<Type> = then_vals.iter().map(|v| b.ty(*v).clone()).collect();
        b.yield_checked(&then_vals, &types, "`if` branch", loc);
        types
    });
    let then_body = context::with(|b| {
        let r = b.close_region();
        b.open_region(vec![]);
        r
    });
    let else_vals = else_branch();
    context::with(|b| {
        b.yield_checked(&else_vals, &types, "`else` branch", loc);
        let else_body = b.close_region();
        let results: Vec<Value> = types.iter().map(|t| b.new_value(t.clone())).collect();
        b.push(Inst {
            op: Op::If { cond, then_body, else_body, specialized },
            results: results.iter().map(|v| v.id).collect(),
            loc,
        });
        results
    })
}

/// A runtime branch without results.
#[track_caller]
pub fn if_then(cond: impl IntoOperand, then_branch: impl FnOnce()) {
    if_else(
        cond,
        || {
            then_branch();
            vec![]
        },
        Vec::new,
    );
}

