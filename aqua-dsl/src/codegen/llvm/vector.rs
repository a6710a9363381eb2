//! Vector memory access on the GPU by loop versioning.
//!
//! A GPU thread owns a contiguous run of each sink (blocked layout, `gpu.rs`), so its
//! loads and stores of a contiguous block are adjacent in memory; but each lane's mask is
//! its own branch, which keeps the back end from merging them. So a sink whose memory
//! accesses are masked runs in two versions: the thread first evaluates every mask over
//! its run; when all are true it runs a copy of the body with no mask branches
//! ([`Lowerer::unmasked`]), its innermost loop unrolled in groups of 8, where the NVPTX
//! load/store vectorizer merges adjacent accesses into 64- and 128-bit ones (pointer
//! arguments are 16-byte aligned, `entry.rs`); otherwise it runs the masked body. Only
//! the last, partial block of a launch takes the slow path. A mask `offsets < bound`
//! whose offsets run consecutively over the thread's run (`analysis::runs`) holds over
//! the whole run when it holds at the run's last element (and the run does not wrap):
//! that check is two compares instead of a loop over the run (the quantizers' input loads
//! and output stores). So is a mask constant over the run (checked once), and a
//! conjunction of such masks (a tile's valid rows and columns).

use std::collections::HashSet;

use inkwell::values::IntValue;
use inkwell::IntPredicate;

use super::index::{self, Term};
use super::loops::{Body, Level};
use super::plan::Place;
use super::Lowerer;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{BinOp, CmpPred, Op, ValueId};

/// Elements a thread handles per unrolled group (16 bytes of f16).
const GROUP_BITS: u32 = 3;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The masks of the loads computed inside a sink whose elements come from `roots`
    /// (through lazy values), plus `extra` (a store's own mask); empty (no versioning)
    /// when a masked load is reached through an op that moves elements (`trans`,
    /// `broadcast`, a fused reduction), `moved` saying whether the sink itself is one:
    /// its mask would be checked at the wrong lanes. Reshapes and `expand_dims` keep
    /// linear positions, so they are followed.
    pub(crate) fn sink_masks(&self, roots: &[ValueId], extra: Option<ValueId>, moved: bool) -> Vec<ValueId> {
        if self.threads.is_none() {
            return vec![];
        }
        let mut masks: Vec<ValueId> = extra.into_iter().collect();
        let mut seen = HashSet::new();
        // (value, whether reached through an element-moving shape op)
        let mut todo: Vec<(ValueId, bool)> = roots.iter().map(|&r| (r, moved)).collect();
        while let Some((v, moved)) = todo.pop() {
            if self.place(v) != Place::Lazy || !seen.insert((v, moved)) {
                continue;
            }
            let Ok(inst) = self.def(v) else { return vec![] };
            if let Op::Load { mask: Some(m), .. } = inst.op {
                if moved {
                    return vec![];
                }
                masks.push(m);
            }
            let moves =
                matches!(inst.op, Op::Trans { .. } | Op::XorPermute { .. } | Op::Broadcast { .. } | Op::Reduce { .. });
            todo.extend(inst.op.operands().into_iter().map(|o| (o, moved || moves)));
        }
        masks
    }

    /// Runs `body` over `loops` (with the thread's `fixed` terms first), versioned on
    /// `masks` being true over the whole run (see the module docs).
    pub(crate) fn versioned(
        &mut self,
        loops: &[Level],
        fixed: &[Term<IntValue<'ctx>>],
        masks: &[ValueId],
        body: &mut Body<'_, 'a, 'ctx>,
    ) -> Lower<()> {
        let mut with_fixed =
            |l: &mut Self, idx: &[Term<IntValue<'ctx>>]| body(l, &thread_index(fixed, idx.iter().cloned()));
        if masks.is_empty() || loops.is_empty() || self.unmasked {
            return self.nest(loops, &mut with_fixed);
        }
        // Are all masks true over this thread's run? Masks bounding a run of offsets are
        // checked at its ends; the others element by element.
        let top = loops.iter().map(|l| l.lo + l.bits).max().unwrap_or(0);
        let (by_ends, by_loop): (Vec<_>, Vec<_>) = masks.iter().partition(|&&m| self.ends_check(m, top).is_some());
        let ends = |l: &Self, last: bool| -> Vec<Term<IntValue<'ctx>>> {
            let at = |bits: u32| if last { (1u64 << bits) - 1 } else { 0 };
            thread_index(fixed, loops.iter().map(|lv| Term { var: l.ic(at(lv.bits)), lo: lv.lo, bits: lv.bits }))
        };
        self.memo.clear();
        let mut all = self.cx.bool_type().const_all_ones();
        let (first, last) = (ends(self, false), ends(self, true));
        for &m in &by_ends {
            let holds = self.holds_at_ends(m, top, &first, &last)?;
            all = self.b.build_and(all, holds, "all")?;
        }
        if !by_loop.is_empty() {
            let i8t = self.cx.i8_type();
            let flag = self.alloc_raw(i8t.into(), 1)?;
            self.b.build_store(flag, i8t.const_int(1, false))?;
            self.memo.clear();
            self.nest(loops, &mut |l, idx| {
                let full = thread_index(fixed, idx.iter().cloned());
                let mut all = l.b.build_load(i8t, flag, "all")?.into_int_value();
                for &m in &by_loop {
                    let v = l.elem(m, &full)?.into_int_value();
                    let v = l.b.build_int_z_extend(v, i8t, "m")?;
                    all = l.b.build_and(all, v, "all")?;
                }
                l.b.build_store(flag, all)?;
                Ok(())
            })?;
            let each = self.b.build_load(i8t, flag, "all")?.into_int_value();
            let each = self.b.build_int_compare(IntPredicate::NE, each, i8t.const_zero(), "all")?;
            all = self.b.build_and(all, each, "all")?;
        }
        self.memo.clear();
        let (fast, slow, join) = (self.block("unmasked"), self.block("masked"), self.block("versions.end"));
        self.b.build_conditional_branch(all, fast, slow)?;

        self.b.position_at_end(fast);
        self.unmasked = true;
        let grouped = unroll_groups(loops);
        let r = self.nest(&grouped, &mut with_fixed);
        self.unmasked = false;
        r?;
        self.b.build_unconditional_branch(join)?;
        self.memo.clear();

        self.b.position_at_end(slow);
        self.nest(loops, &mut with_fixed)?;
        self.b.build_unconditional_branch(join)?;
        self.b.position_at_end(join);
        self.memo.clear();
        Ok(())
    }

    /// The offsets `o` of a mask `o < bound` (or `<=`) that holds over a thread's whole
    /// run when it holds at the run's last element: `o` (signed) runs consecutively over
    /// the run's bits (below `top`) and `bound` is one value there (`analysis::runs`).
    fn bounded_run(&self, mask: ValueId, top: u32) -> Option<ValueId> {
        let Op::Cmp { pred: CmpPred::Lt | CmpPred::Le, lhs, rhs } = self.def(mask).ok()?.op else { return None };
        let (o, bound) = (self.runs.get(&lhs)?.last(), self.runs.get(&rhs)?.last());
        let signed = self.k.ty(lhs).dtype().is_int() && self.k.ty(lhs).dtype().is_signed();
        (signed && top > 0 && o.contig >= top && bound.same >= top).then_some(lhs)
    }

    /// How `mask` is known over a thread's run from the run's ends, if it is: a bounded
    /// run, a value constant over the run, a view of such a mask, or a conjunction of such
    /// (a tile's rows and columns).
    fn ends_check(&self, mask: ValueId, top: u32) -> Option<EndsCheck> {
        if top == 0 {
            return None;
        }
        if let Some(offs) = self.bounded_run(mask, top) {
            return Some(EndsCheck::Run(offs));
        }
        if self.runs.get(&mask).is_some_and(|r| r.last().same >= top) {
            return Some(EndsCheck::Constant);
        }
        if let Some(arg) = self.view_keeping_run(mask, top) {
            return self.ends_check(arg, top).map(|_| EndsCheck::View(arg));
        }
        match self.def(mask).ok()?.op {
            Op::Binary { op: BinOp::And, lhs, rhs } => {
                self.ends_check(lhs, top)?;
                self.ends_check(rhs, top)?;
                Some(EndsCheck::And(lhs, rhs))
            }
            _ => None,
        }
    }

    /// The operand of `v` when `v` is a view (broadcast, expand_dims, reshape) that keeps
    /// the low `top` bits of every linear index in place (its last dim and its operand's
    /// both have at least `2^top` elements, and are the same dim when broadcast).
    fn view_keeping_run(&self, v: ValueId, top: u32) -> Option<ValueId> {
        let inst = self.def(v).ok()?;
        let arg = match inst.op {
            Op::Broadcast { arg, .. } | Op::ExpandDims { arg, .. } | Op::Reshape { arg, .. } => arg,
            _ => return None,
        };
        let last = |x: ValueId| self.k.ty(x).shape.dims().last().copied().unwrap_or(1);
        let (outer, inner) = (last(v), last(arg));
        let kept = match inst.op {
            Op::Broadcast { .. } => outer == inner,
            _ => outer.min(inner) >= 1 << top,
        };
        (kept && outer >= 1 << top).then_some(arg)
    }

    /// `mask` over the thread's whole run, from its value at the run's ends `first` and
    /// `last` (its [`Self::ends_check`] must be `Some`).
    fn holds_at_ends(
        &mut self,
        mask: ValueId,
        top: u32,
        first: &[Term<IntValue<'ctx>>],
        last: &[Term<IntValue<'ctx>>],
    ) -> Lower<IntValue<'ctx>> {
        let check = self
            .ends_check(mask, top)
            .ok_or_else(|| LowerError::Builder(format!("mask {mask} is not checked at a run's ends")))?;
        match check {
            EndsCheck::Run(offs) => {
                let inside = self.elem(mask, last)?.into_int_value();
                let (lo, hi) = (self.elem(offs, first)?.into_int_value(), self.elem(offs, last)?.into_int_value());
                // The run does not wrap around the integer range, so its last offset is its largest.
                let ordered = self.b.build_int_compare(IntPredicate::SLE, lo, hi, "ordered")?;
                Ok(self.b.build_and(inside, ordered, "run")?)
            }
            EndsCheck::Constant => Ok(self.elem(mask, last)?.into_int_value()),
            EndsCheck::View(arg) => {
                let fields = self.view_fields(self.def(mask)?, arg);
                let first = index::remap(first, &fields, self)?;
                let last = index::remap(last, &fields, self)?;
                self.holds_at_ends(arg, top, &first, &last)
            }
            EndsCheck::And(lhs, rhs) => {
                let a = self.holds_at_ends(lhs, top, first, last)?;
                let b = self.holds_at_ends(rhs, top, first, last)?;
                Ok(self.b.build_and(a, b, "both")?)
            }
        }
    }
}

/// How a mask is known over a thread's run from the run's ends ([`Lowerer::ends_check`]).
enum EndsCheck {
    /// `offsets < bound` over consecutive offsets: at the last element, plus no wrap.
    Run(ValueId),
    /// One value over the run: at the last element.
    Constant,
    /// A view of a mask checked at the ends.
    View(ValueId),
    /// Both masks.
    And(ValueId, ValueId),
}

/// `loops` with the innermost cut so that its last `GROUP_BITS` bits are one fully
/// unrolled loop (the GPU's form of the vectorization request).
pub(crate) fn unroll_groups(loops: &[Level]) -> Vec<Level> {
    let mut out = loops.to_vec();
    let Some(inner) = out.pop() else { return out };
    let g = inner.bits.min(GROUP_BITS);
    if inner.bits > g {
        out.push(Level { lo: inner.lo + g, bits: inner.bits - g, vectorize: None });
    }
    out.push(Level { lo: inner.lo, bits: g, vectorize: Some(1 << g) });
    out
}

/// The index of a thread's run element: the thread's `fixed` terms, then the run's.
fn thread_index<'ctx>(
    fixed: &[Term<IntValue<'ctx>>],
    run: impl IntoIterator<Item = Term<IntValue<'ctx>>>,
) -> Vec<Term<IntValue<'ctx>>> {
    fixed.iter().cloned().chain(run).collect()
}
