//! The verifier: checks that a kernel is well typed and well shaped before anything
//! compiles or runs it, and explains the first mistake with a [`KernelError`] naming the
//! kernel, the op and the op's source location.
//!
//! One file per concern: the kernel's signature and tables (`signature`), definitions and
//! scopes (`walk`), and the typing rule of each op family (`constant`, `elementwise`,
//! `shape`, `reduce`, `memory`, `control`). Values in messages are named as in the
//! canonical text (`%N`), so a message can be read next to `kernel.to_string()`.

mod constant;
mod control;
mod elementwise;
mod memory;
mod reduce;
mod shape;
mod signature;
mod walk;

use crate::error::KernelError;
use crate::ir::{Inst, Kernel, Loc, Op, Type, ValueId};
use crate::text::{Numbering, ValueName};

/// Checks `kernel`; `Ok` means every backend and the interpreter may assume it is
/// well formed (the rules are those of each op's documentation in `crate::ir`).
pub fn verify(kernel: &Kernel) -> Result<(), KernelError> {
    let cx = Cx {
        k: kernel,
        names: Numbering::of(kernel),
    };
    signature::check(&cx)?;
    walk::check_body(&cx)?;
    memory::check_pointers(&cx)
}

/// The result types of one op, or what is wrong with its operands and attributes.
type Rule = Result<Vec<Type>, String>;

/// What every check needs: the kernel and the printed names of its values.
struct Cx<'k> {
    k: &'k Kernel,
    names: Numbering,
}

impl Cx<'_> {
    /// The type of a value already checked to be in the value table.
    fn ty(&self, v: ValueId) -> &Type {
        &self.k.values[v.0 as usize]
    }

    fn in_table(&self, v: ValueId) -> bool {
        (v.0 as usize) < self.k.values.len()
    }

    /// How `v` is written in the canonical text.
    fn v(&self, v: ValueId) -> ValueName {
        self.names.name(v)
    }

    fn op_error(&self, inst: &Inst, message: impl Into<String>) -> KernelError {
        KernelError::new(self.k.name.clone(), inst.loc, message).with_op(inst.op.name())
    }

    fn kernel_error(&self, message: impl Into<String>) -> KernelError {
        KernelError::new(self.k.name.clone(), Loc::UNKNOWN, message)
    }
}

/// The typing rule of `inst`'s op: its result types from its operands' types and its
/// attributes. Operands are in the value table (checked by the walk). The regions of
/// `for` and `if` are checked by the walk with `control`.
fn result_types(cx: &Cx, inst: &Inst) -> Rule {
    match &inst.op {
        Op::Const(c) => constant::constant(c),
        Op::ProgramId(axis) | Op::NumPrograms(axis) => constant::grid_axis(*axis),
        Op::Arange { start, end } => constant::arange(*start, *end),
        Op::Splat { value, shape } => shape::splat(cx, *value, shape),
        Op::Binary { op, lhs, rhs } => elementwise::binary(cx, *op, *lhs, *rhs),
        Op::Unary { op, arg } => elementwise::unary(cx, *op, *arg),
        Op::Cmp { lhs, rhs, .. } => elementwise::cmp(cx, *lhs, *rhs),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => elementwise::select(cx, *cond, *on_true, *on_false),
        Op::Fma { a, b, c } => elementwise::fma(cx, *a, *b, *c),
        Op::Cast { arg, to } => elementwise::cast(cx, *arg, *to),
        Op::Bitcast { arg, to } => elementwise::bitcast(cx, *arg, *to),
        Op::Broadcast { arg, shape } => shape::broadcast(cx, *arg, shape),
        Op::ExpandDims { arg, axis } => shape::expand_dims(cx, *arg, *axis),
        Op::Reshape { arg, shape } => shape::reshape(cx, *arg, shape),
        Op::Trans { arg } => shape::trans(cx, *arg),
        Op::XorPermute { arg, axis, mask } => shape::xor_permute(cx, *arg, *axis, *mask),
        Op::Reduce { op, arg, axis } => reduce::reduce(cx, *op, *arg, *axis),
        Op::Dot { a, b, acc } => reduce::dot(cx, *a, *b, *acc),
        Op::PtrAdd { ptr, offset } => memory::ptr_add(cx, *ptr, *offset),
        Op::Load { ptr, mask, other } => memory::load(cx, *ptr, *mask, *other),
        Op::Store { ptr, value, mask, .. } => memory::store(cx, *ptr, *value, *mask),
        Op::Gather { table, index } => memory::gather(cx, *table, *index),
        Op::For { lo, hi, step, init, .. } => control::for_results(cx, *lo, *hi, *step, init),
        Op::If { cond, .. } => control::if_results(cx, *cond, &inst.results),
        Op::Yield(_) => Ok(vec![]),
    }
}
