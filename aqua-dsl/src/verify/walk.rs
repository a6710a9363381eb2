//! Definitions and scopes: every value is defined once, every operand is defined before
//! its use and visible there (values defined in a region, and its arguments, are not
//! visible after it ends), `yield` ends exactly the regions of `for` and `if`, and the
//! value table agrees with each op's typing rule.

use crate::error::KernelError;
use crate::ir::{Inst, Op, Region, ValueId};

use super::control::{check_region_args, check_yield, region_arg_types};
use super::shape::check_type;
use super::{result_types, Cx};

pub(super) fn check_body(cx: &Cx) -> Result<(), KernelError> {
    let n = cx.k.values.len();
    let mut defined_anywhere = vec![false; n];
    mark_definitions(&cx.k.body, &mut defined_anywhere);
    let mut w = Walk {
        cx,
        defined_anywhere,
        defined: vec![false; n],
        visible: vec![false; n],
        scope: Vec::new(),
    };
    w.region(&cx.k.body, None)
}

fn mark_definitions(r: &Region, out: &mut [bool]) {
    let results = r.insts.iter().flat_map(|i| &i.results);
    for &v in r.args.iter().chain(results) {
        if let Some(slot) = out.get_mut(v.0 as usize) {
            *slot = true;
        }
    }
    for inst in &r.insts {
        for sub in inst.op.regions() {
            mark_definitions(sub, out);
        }
    }
}

struct Walk<'c, 'k> {
    cx: &'c Cx<'k>,
    /// Values some op or region defines, to tell a use before the definition from a
    /// value that is never defined.
    defined_anywhere: Vec<bool>,
    defined: Vec<bool>,
    visible: Vec<bool>,
    /// Visible values in definition order; a region truncates it back when it ends.
    scope: Vec<ValueId>,
}

impl Walk<'_, '_> {
    /// An error about `owner`, or about the kernel for its parameters.
    fn error(&self, owner: Option<&Inst>, message: String) -> KernelError {
        match owner {
            Some(inst) => self.cx.op_error(inst, message),
            None => self.cx.kernel_error(message),
        }
    }

    fn define(&mut self, owner: Option<&Inst>, v: ValueId) -> Result<(), KernelError> {
        let cx = self.cx;
        if !cx.in_table(v) {
            return Err(self.error(owner, format!("defines {} outside the value table", cx.v(v))));
        }
        let i = v.0 as usize;
        if self.defined[i] {
            return Err(self.error(owner, format!("{} is defined twice", cx.v(v))));
        }
        check_type(cx.ty(v)).map_err(|m| self.error(owner, format!("{}: {m}", cx.v(v))))?;
        self.defined[i] = true;
        self.visible[i] = true;
        self.scope.push(v);
        Ok(())
    }

    fn use_operand(&self, inst: &Inst, v: ValueId) -> Result<(), KernelError> {
        let cx = self.cx;
        let i = v.0 as usize;
        let problem = if !cx.in_table(v) {
            "is not in the value table"
        } else if self.visible[i] {
            return Ok(());
        } else if !self.defined_anywhere[i] {
            "is never defined"
        } else if !self.defined[i] {
            "is used before its definition"
        } else {
            "is defined in a region that has ended (not visible here)"
        };
        Err(cx.op_error(inst, format!("operand {} {problem}", cx.v(v))))
    }

    /// Defines `r`'s arguments, walks its ops, and ends its scope. `owner` is the `for` or
    /// `if` that holds it, `None` for the kernel body.
    fn region(&mut self, r: &Region, owner: Option<&Inst>) -> Result<(), KernelError> {
        let mark = self.scope.len();
        for &a in &r.args {
            self.define(owner, a)?;
        }
        for (i, inst) in r.insts.iter().enumerate() {
            if matches!(inst.op, Op::Yield(_)) {
                if owner.is_none() {
                    return Err(self
                        .cx
                        .op_error(inst, "`yield` outside of a `for` body or an `if` branch"));
                }
                if i + 1 != r.insts.len() {
                    return Err(self.cx.op_error(inst, "`yield` must be the last op of its region"));
                }
            }
            self.inst(inst)?;
        }
        if let Some(o) = owner {
            if !matches!(r.insts.last(), Some(Inst { op: Op::Yield(_), .. })) {
                let what = if matches!(o.op, Op::For { .. }) {
                    "the loop body"
                } else {
                    "each branch"
                };
                return Err(self.cx.op_error(o, format!("{what} must end in `yield`")));
            }
        }
        for v in self.scope.drain(mark..) {
            self.visible[v.0 as usize] = false;
        }
        Ok(())
    }

    fn inst(&mut self, inst: &Inst) -> Result<(), KernelError> {
        let cx = self.cx;
        for v in inst.op.operands() {
            self.use_operand(inst, v)?;
        }
        if let Some(&r) = inst.results.iter().find(|&&r| !cx.in_table(r)) {
            return Err(cx.op_error(inst, format!("result {} is not in the value table", cx.v(r))));
        }
        let expected = result_types(cx, inst).map_err(|m| cx.op_error(inst, m))?;
        if inst.results.len() != expected.len() {
            let msg = format!("has {} results, but produces {}", inst.results.len(), expected.len());
            return Err(cx.op_error(inst, msg));
        }
        for (&r, t) in inst.results.iter().zip(&expected) {
            if cx.ty(r) != t {
                let msg = format!(
                    "result {} has type {} in the value table, but the op produces {t}",
                    cx.v(r),
                    cx.ty(r)
                );
                return Err(cx.op_error(inst, msg));
            }
        }
        match &inst.op {
            Op::For { body, .. } => {
                let want = region_arg_types(cx, inst);
                check_region_args(cx, inst, body, &want)?;
                self.region(body, Some(inst))?;
                check_yield(cx, inst, body, &want[1..])?;
            }
            Op::If {
                then_body, else_body, ..
            } => {
                for branch in [then_body, else_body] {
                    check_region_args(cx, inst, branch, &[])?;
                    self.region(branch, Some(inst))?;
                    check_yield(cx, inst, branch, &expected)?;
                }
            }
            _ => {}
        }
        for &r in &inst.results {
            self.define(Some(inst), r)?;
        }
        Ok(())
    }
}
