//! Pointer provenance: which kernel parameter every pointer value points into.
//!
//! aqua requires this to be known statically (every pointer is a parameter plus offsets),
//! so checked launches can bound every access by its buffer's extent and code generators
//! can keep pointers as (parameter, element offset) pairs.

use std::collections::HashMap;

use crate::ir::{Kernel, Loc, Op, Region, ValueId};

/// For every pointer-typed value, the index of the pointer parameter it derives from.
pub type PointerBases = HashMap<ValueId, usize>;

/// Computes the base parameter of every pointer value, or the location and description of
/// the first pointer whose base is not a single parameter.
pub fn pointer_bases(kernel: &Kernel) -> Result<PointerBases, (Loc, String)> {
    let mut bases = PointerBases::new();
    for (i, &arg) in kernel.body.args.iter().enumerate() {
        if kernel.ty(arg).is_ptr() {
            bases.insert(arg, i);
        }
    }
    visit(kernel, &kernel.body, &mut bases)?;
    Ok(bases)
}

fn visit(kernel: &Kernel, region: &Region, bases: &mut PointerBases) -> Result<(), (Loc, String)> {
    for inst in &region.insts {
        let base_of = |v: &ValueId, bases: &PointerBases| bases.get(v).copied();
        let one = |v: ValueId, bases: &PointerBases| -> Result<usize, (Loc, String)> {
            base_of(&v, bases).ok_or_else(|| (inst.loc, format!("pointer {v} has no known base")))
        };
        match &inst.op {
            Op::For { init, body, .. } => {
                // Carried pointers keep the base of their initial value; the yielded value
                // must have the same base.
                for (k, v) in init.iter().enumerate() {
                    if let Some(b) = base_of(v, bases) {
                        bases.insert(body.args[k + 1], b);
                        bases.insert(inst.results[k], b);
                    }
                }
                visit(kernel, body, bases)?;
                if let Some(last) = body.insts.last() {
                    if let Op::Yield(ys) = &last.op {
                        for (k, y) in ys.iter().enumerate() {
                            if kernel.ty(*y).is_ptr() && base_of(y, bases) != base_of(&init[k], bases) {
                                return Err((inst.loc, "a loop-carried pointer changes its base parameter".into()));
                            }
                        }
                    }
                }
            }
            Op::If { then_body, else_body, .. } => {
                visit(kernel, then_body, bases)?;
                visit(kernel, else_body, bases)?;
                let yields = |r: &Region| match r.insts.last().map(|i| &i.op) {
                    Some(Op::Yield(ys)) => ys.clone(),
                    _ => vec![],
                };
                let (ty, ey) = (yields(then_body), yields(else_body));
                for (k, res) in inst.results.iter().enumerate() {
                    if kernel.ty(*res).is_ptr() {
                        let (a, b) = (ty.get(k).and_then(|v| base_of(v, bases)), ey.get(k).and_then(|v| base_of(v, bases)));
                        match (a, b) {
                            (Some(a), Some(b)) if a == b => {
                                bases.insert(*res, a);
                            }
                            _ => return Err((inst.loc, "the branches of an `if` yield pointers into different parameters".into())),
                        }
                    }
                }
            }
            Op::PtrAdd { ptr, .. }
            | Op::Splat { value: ptr, .. }
            | Op::Broadcast { arg: ptr, .. }
            | Op::ExpandDims { arg: ptr, .. }
            | Op::Reshape { arg: ptr, .. }
            | Op::Trans { arg: ptr }
            | Op::XorPermute { arg: ptr, .. } => {
                if kernel.ty(*ptr).is_ptr() {
                    let b = one(*ptr, bases)?;
                    bases.insert(inst.results[0], b);
                }
            }
            Op::Select { on_true, on_false, .. } => {
                if kernel.ty(*on_true).is_ptr() {
                    let (a, b) = (one(*on_true, bases)?, one(*on_false, bases)?);
                    if a != b {
                        return Err((inst.loc, "`where_` between pointers into different parameters".into()));
                    }
                    bases.insert(inst.results[0], a);
                }
            }
            _ => {
                for r in &inst.results {
                    if kernel.ty(*r).is_ptr() {
                        return Err((inst.loc, format!("`{}` cannot produce pointers", inst.op.name())));
                    }
                }
            }
        }
    }
    Ok(())
}
