//! A float max and min of the same lines (a quantizer's range) need no rescans.
//!
//! Float max and min skip NaN, and a line without a number is NaN. Their states start at
//! an infinity, so a line whose state is still there holds only that infinity and NaN,
//! and every reduction path rescans such a line to tell which (`mod.rs`): a loop of
//! element loads per job and line, rarely run but compiled, optimized and emitted each
//! time. With both a max and a min of the line there is nothing to scan for: only a line
//! without numbers leaves both at their starting infinities (a number `v` takes the max
//! above -inf, or, being -inf, the min below +inf). So both become NaN exactly there,
//! by two compares and two selects, on scalars or on a joint group's vectors (`joint.rs`).

use inkwell::types::VectorType;
use inkwell::values::{BasicValue, BasicValueEnum, FloatMathValue, IntValue, VectorValue};
use inkwell::FloatPredicate;

use super::super::index::Term;
use super::super::Lowerer;
use super::state::State;
use super::Job;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{ReduceOp, ValueId};

/// The positions of a float max and a float min among `jobs` (reductions of the same
/// lines), when there are both.
pub(super) fn range_pair(jobs: &[Job<'_>]) -> Option<(usize, usize)> {
    let find = |op: ReduceOp| jobs.iter().position(|j| j.red.float() && j.red.op == op);
    Some((find(ReduceOp::Max)?, find(ReduceOp::Min)?))
}

/// Whether job `i` of `jobs` rescans the lines still at its starting infinity: a float
/// max or min that is not part of a range.
pub(super) fn rescans(jobs: &[Job<'_>], i: usize) -> bool {
    jobs[i].red.needs_rescan() && !range_pair(jobs).is_some_and(|(max, min)| i == max || i == min)
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The merged states of a float max and min of the same lines (f32 scalars, or
    /// vectors of one line a lane), with NaN for both in the lines without numbers.
    pub(super) fn nan_without_numbers<T>(&self, max: T, min: T, splat: impl Fn(f64) -> T) -> Lower<(T, T)>
    where
        T: FloatMathValue<'ctx> + BasicValue<'ctx> + TryFrom<BasicValueEnum<'ctx>> + Copy,
    {
        // The mask type has no `Copy` bound to name here: each select builds its own,
        // which LLVM merges.
        let nan_where_none = |v: T, name: &str| -> Lower<T> {
            let no_max = self.b.build_float_compare(FloatPredicate::OEQ, max, splat(f64::NEG_INFINITY), "no.max")?;
            let no_min = self.b.build_float_compare(FloatPredicate::OEQ, min, splat(f64::INFINITY), "no.min")?;
            let none = self.b.build_and(no_max, no_min, "no.number")?;
            let picked = self.b.build_select(none, splat(f64::NAN), v, name)?;
            T::try_from(picked).map_err(|_| LowerError::Builder("a range's select changed its type".into()))
        };
        Ok((nan_where_none(max, "max")?, nan_where_none(min, "min")?))
    }

    /// A vector of `lanes` copies of the f32 `v`.
    pub(super) fn f32_splat(&self, v: f64, lanes: u32) -> VectorValue<'ctx> {
        VectorType::const_vector(&vec![self.cx.f32_type().const_float(v); lanes as usize])
    }

    /// A range's merged scalar states (`states`, in job order) with NaN for both where
    /// its line holds no number ([`Self::nan_without_numbers`]); nothing without a range.
    pub(super) fn range_nan(&self, jobs: &[Job<'ctx>], states: &mut [State<'ctx>]) -> Lower<()> {
        if let Some((max, min)) = range_pair(jobs) {
            let f32t = self.cx.f32_type();
            let (hi, lo) = (states[max].0.into_float_value(), states[min].0.into_float_value());
            let (hi, lo) = self.nan_without_numbers(hi, lo, |v| f32t.const_float(v))?;
            (states[max].0, states[min].0) = (hi.into(), lo.into());
        }
        Ok(())
    }

    /// Each job's result from its merged state (`states`, in job order) for the line
    /// `line` (the reduced axis at `axis`): a range's two from [`Self::nan_without_numbers`],
    /// any other float max or min rescanning its line when still at its starting infinity.
    pub(super) fn finish_states(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        line: &[Term<IntValue<'ctx>>],
        axis: (u32, u32),
        states: &[State<'ctx>],
    ) -> Lower<Vec<BasicValueEnum<'ctx>>> {
        let mut states = states.to_vec();
        self.range_nan(jobs, &mut states)?;
        let mut results = Vec::with_capacity(jobs.len());
        for (i, (j, s)) in jobs.iter().zip(states).enumerate() {
            let r = if rescans(jobs, i) { self.finish_state(j, arg, line, axis, s)? } else { j.red.finish(self, s)? };
            results.push(r);
        }
        Ok(results)
    }
}
