//! Specialized branches (`Op::If { specialized: true }`): a fast form (`then`) and a
//! general form (`else`) of the same work, and which of them each module keeps.
//!
//! - **GPU targets** (and their SIMT emulation) keep only the general form: masks cost
//!   little there, since every sink with masked accesses is versioned on its own
//!   (`vector.rs`), and one form halves the PTX and the time ptxas spends on it.
//! - **The host CPU** keeps both, compiled apart. The first specialized `if` of the
//!   kernel's top-level region, when no instruction before it writes memory, is split:
//!   the main module keeps the fast form inline and, where the condition fails, calls
//!   `aqua_program_general` and returns its status; a second module defines that function
//!   as the whole program with the general form taken unconditionally (the instructions
//!   before the branch run again there, which is why they must not write memory).
//!   `codegen::compile` optimizes and emits the two modules on two threads, so the
//!   general form, which only the last tile of a launch runs, no longer doubles the
//!   compile time. Other specialized `if`s lower as plain branches.

use inkwell::values::FunctionValue;

use super::Lowerer;
use crate::ir::{Inst, Kernel, Op, Region};

/// The symbol of the outlined general form (hidden: only the kernel's own object calls it).
pub(crate) const GENERAL_SYMBOL: &str = "aqua_program_general";

/// Which part of a kernel one module holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Everything: `aqua_program` and the entry point.
    Whole,
    /// `aqua_program` and the entry point, calling [`GENERAL_SYMBOL`] for the general form
    /// of the specialized `if` at this index of the top-level region.
    Fast { at: usize },
    /// [`GENERAL_SYMBOL`] alone: the program with that `if`'s general form.
    General { at: usize },
}

/// The index in the kernel's top-level region of the specialized `if` the host CPU splits
/// into two modules, if there is one with no memory writes before it.
pub(crate) fn split_point(k: &Kernel) -> Option<usize> {
    for (i, inst) in k.body.insts.iter().enumerate() {
        match &inst.op {
            Op::If { specialized: true, .. } => return Some(i),
            op if op.has_side_effects() => return None,
            _ => {}
        }
    }
    None
}

/// The forms of specialized `if`s that a module does not lower, which placement leaves
/// out, so that the values both forms read are placed for the one form the module runs
/// (read by both, they looked shared and got buffers): on GPU targets every fast form; on
/// the host, of the split `if`, the general form in the main module (which calls it) and
/// the fast form in the general one.
pub(crate) fn skipped_forms(k: &Kernel, unit: Unit, gpu: bool) -> Vec<&Region> {
    let mut skipped = Vec::new();
    if gpu {
        k.walk(&mut |i| {
            if let Op::If { then_body, specialized: true, .. } = &i.op {
                skipped.push(then_body);
            }
        });
        return skipped;
    }
    let (at, fast) = match unit {
        Unit::Whole => return skipped,
        Unit::Fast { at } => (at, false),
        Unit::General { at } => (at, true),
    };
    if let Some(Op::If { then_body, else_body, specialized: true, .. }) = k.body.insts.get(at).map(|i| &i.op) {
        skipped.push(if fast { then_body } else { else_body });
    }
    skipped
}

/// How one specialized `if` is lowered.
pub(crate) enum Form<'ctx> {
    /// A plain branch between the two forms.
    Both,
    /// The general form only.
    General,
    /// The fast form inline; where the condition fails, a tail call of the outlined
    /// general form.
    FastElseCall(FunctionValue<'ctx>),
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// How to lower `inst`, a specialized `if`.
    pub(crate) fn specialized_form(&self, inst: &Inst) -> Form<'ctx> {
        if self.threads.is_some() {
            return Form::General;
        }
        let is_at = |at: usize| self.k.body.insts.get(at).is_some_and(|i| std::ptr::eq(i, inst));
        match (self.unit, self.general_fn) {
            (Unit::Fast { at }, Some(callee)) if is_at(at) => Form::FastElseCall(callee),
            (Unit::General { at }, _) if is_at(at) => Form::General,
            _ => Form::Both,
        }
    }
}
