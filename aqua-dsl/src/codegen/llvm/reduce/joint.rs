//! Lines reduced together (CPU): the lane merges of a group of consecutive lines share one
//! shuffle tree.
//!
//! Along the last axis each line ends with `lanes` partial states in a vector register,
//! merged by a halving tree of `log2(lanes)` shuffle-and-combine steps. Packing code
//! words is such a reduction over hundreds of 8- or 16-lane lines per tile (one per word
//! or piece), where those trees were most of the packing work; so is a quantizer's range,
//! a max and a min over each group. So when there are at least [`LINES`] lines and every
//! job is an integer sum, max or min, or an f32 max or min (any merge order gives the
//! same result, up to the sign of a zero from max/min, which the semantics leave free), a
//! group of [`LINES`] consecutive lines keeps its states side by side and the group is
//! merged at once, in vectors of [`LINES`] states: each step combines two vectors into
//! one holding half-length segments of both, so 16 lines of 16 lanes cost 30 two-input
//! shuffles and 15 combines instead of 64 of each, and the results come out as one
//! vector in line order. Lines of 8 lanes (the packings' pieces and the 5- to 7-bit
//! words) start two to a vector, and their elements are computed 16 at a time over two
//! lines ([`whole_lines`]), not in 8-lane vectors (the 3- to 7-bit quantizers 4-16%
//! faster). A range (a float max and min, `range.rs`) puts NaN where a line has no number
//! by two vector compares; a lone float max/min line still at its starting infinity (only
//! infinities and NaN) is rescanned, as on the per-line path, behind one vector compare
//! per group. The general form of a split kernel, which runs once per launch, keeps the
//! tree per line (less code to compile).

use std::collections::BTreeSet;

use inkwell::types::{BasicTypeEnum, VectorType};
use inkwell::values::{BasicValue, BasicValueEnum, IntValue, VectorValue};
use inkwell::FloatPredicate;

use super::super::index::{log2, shape_bits, Term};
use super::super::loops::{self, Level};
use super::super::{types, Lowerer};
use super::range::{range_pair, rescans};
use super::state::Red;
use super::Job;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{DType, ReduceOp, ValueId};

/// The lines of a joint group, and the width of its merge vectors: a 512-bit register of
/// 32-bit states.
pub(super) const LINES: u32 = 16;

/// Whether reductions `reds` over lines of `lanes` partial states (`line_bits`: log2 of
/// the number of lines) merge a group of [`LINES`] lines at once: on the CPU, for integer
/// sums, max and min, and f32 max and min (whose states are their results), whose results
/// all go to buffers.
pub(super) fn merges_jointly(reds: &[Red], lanes: u32, line_bits: u32, gpu: bool, all_buffers: bool) -> bool {
    let joins = |r: &Red| match r.op {
        ReduceOp::Sum => !r.float(),
        ReduceOp::Max | ReduceOp::Min => !r.float() || r.d == DType::F32,
        ReduceOp::ArgMax | ReduceOp::ArgMin => false,
    };
    !gpu && all_buffers
        && (8..=LINES).contains(&lanes)
        && lanes.is_power_of_two()
        && line_bits >= log2(LINES)
        && reds.iter().all(joins)
}

/// The loop levels over a group's elements (bits `[0, bits)`) when its lines are one
/// step each (`lanes` elements, fewer than [`LINES`]): the levels the sink's `cuts` give,
/// except that cuts below a vector's [`LINES`] lanes are dropped and the lowest level is
/// vectorized at [`LINES`], so two lines of 8 take one vector. Those cuts split a loop
/// variable with a shift and a mask instead (a line's shift amounts, broadcast over the
/// lines: `i & 7`), which fold into constants when the vector loop is unrolled: so the
/// lowest level then holds at most [`loops::UNROLL_VECTORS`] vectors. `None` where a cut
/// below the lanes is in `data_cuts`: a split index there would read memory (a buffer
/// broadcast over lines), by gathers or one element at a time.
fn whole_lines(bits: u32, cuts: &BTreeSet<u32>, data_cuts: &BTreeSet<u32>) -> Option<Vec<Level>> {
    let vector = log2(LINES);
    if data_cuts.range(1..vector).next().is_some() {
        return None;
    }
    let mut kept: BTreeSet<u32> = cuts.iter().copied().filter(|&c| c >= vector).collect();
    if cuts.range(1..vector).next().is_some() {
        kept.insert(vector + log2(loops::UNROLL_VECTORS as u32));
    }
    let mut levels = loops::levels(0, bits, &kept);
    if let Some(lowest) = levels.last_mut() {
        lowest.vectorize = Some(LINES);
    }
    Some(levels)
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Along the last axis, for jobs that [`merges_jointly`] accepts (each job's state
    /// buffer holds `LINES * lanes` slots): every group of [`LINES`] consecutive lines
    /// accumulates into its slots `line * lanes + lane`, then merges in one tree.
    pub(super) fn reduce_last_joint(&mut self, jobs: &[Job<'ctx>], arg: ValueId, lanes: u32) -> Lower<()> {
        let shape = self.k.ty(arg).shape.clone();
        let total = shape_bits(&shape);
        let nb = log2(*shape.dims().last().unwrap_or(&1));
        let gb = log2(lanes);
        let mut inner = self.sink_levels(&[arg], gb, nb)?;
        inner.push(Level { lo: 0, bits: gb, vectorize: Some(lanes) });
        let mut cuts = self.sink_cuts(&[arg])?;
        cuts.insert(nb + log2(LINES));
        let (group, outer): (Vec<Level>, Vec<Level>) =
            loops::levels(nb, total, &cuts).into_iter().partition(|level| level.lo < nb + log2(LINES));
        let whole = match nb == gb && lanes < LINES {
            true => whole_lines(nb + log2(LINES), &cuts, &self.sink_data_cuts(&[arg])?),
            false => None,
        };
        self.memo.clear();
        self.nest(&outer, &mut |l, outer_idx| {
            if let Some(whole) = &whole {
                // The group's elements are its slots, in order.
                let slots = u64::from(LINES * lanes);
                l.accumulate_lanes(jobs, arg, outer_idx, &[], whole, slots, l.ic(0))?;
            } else {
                l.nest(&group, &mut |l, group_idx| {
                    let line: Vec<Term<IntValue<'ctx>>> =
                        group_idx.iter().map(|t| Term { var: t.var, lo: t.lo - nb, bits: t.bits }).collect();
                    let slot = l.linear(&line)?;
                    let base = l.b.build_left_shift(slot, l.ic(u64::from(gb)), "base")?;
                    let fixed: Vec<_> = outer_idx.iter().chain(group_idx).cloned().collect();
                    l.accumulate_lanes(jobs, arg, &fixed, &[], &inner, u64::from(lanes), base)
                })?;
            }
            let first: Vec<Term<IntValue<'ctx>>> =
                outer_idx.iter().map(|t| Term { var: t.var, lo: t.lo - nb, bits: t.bits }).collect();
            let first = l.linear(&first)?;
            let mut merged = jobs.iter().map(|j| l.merge_group(j, lanes)).collect::<Lower<Vec<_>>>()?;
            if let Some((max, min)) = range_pair(jobs) {
                let splat = |v| l.f32_splat(v, LINES);
                (merged[max], merged[min]) = l.nan_without_numbers(merged[max], merged[min], splat)?;
            }
            for (i, (j, merged)) in jobs.iter().zip(merged).enumerate() {
                let out = j.out.ok_or_else(|| LowerError::Builder("a joint reduction without a buffer".into()))?;
                // The states are the results (integers, f32): one vector store.
                // SAFETY (of the generated code): the group's outputs are in the buffer.
                let p = unsafe { l.b.build_in_bounds_gep(j.st_ty, out, &[first], "out")? };
                let st = l.b.build_store(p, merged)?;
                st.set_alignment(types::mem_size(j.out_elem)).map_err(|e| LowerError::Builder(e.to_string()))?;
                if rescans(jobs, i) {
                    l.rescan_group(j, arg, merged, (outer_idx, &group), nb)?;
                }
            }
            Ok(())
        })?;
        self.memo.clear();
        Ok(())
    }

    /// After a float max/min group's results are stored from `merged`: the lines whose
    /// state is still the starting infinity, rescanned one by one behind one vector
    /// compare (a rare path: lines of only infinities and NaN). `outer` and `group` give
    /// the group's lines, whose axis has `nb` bits.
    fn rescan_group(
        &mut self,
        j: &Job<'ctx>,
        arg: ValueId,
        merged: VectorValue<'ctx>,
        (outer, group): (&[Term<IntValue<'ctx>>], &[Level]),
        nb: u32,
    ) -> Lower<()> {
        let any = self.any_still_at_identity(j.red, merged)?;
        let (scan, done) = (self.block("joint.rescan"), self.block("joint.rescanned"));
        self.b.build_conditional_branch(any, scan, done)?;
        self.b.position_at_end(scan);
        let out = j.out.ok_or_else(|| LowerError::Builder("a joint reduction without a buffer".into()))?;
        let outer = outer.to_vec();
        self.memo.clear();
        self.nest(group, &mut |l, group_idx| {
            let line: Vec<Term<IntValue<'ctx>>> = outer.iter().chain(group_idx).cloned().collect();
            let at: Vec<Term<IntValue<'ctx>>> =
                line.iter().map(|t| Term { var: t.var, lo: t.lo - nb, bits: t.bits }).collect();
            let at = l.linear(&at)?;
            let s = l.get(j.st_ty, out, at)?;
            let s = l.rescan(j.red, arg, &line, (0, nb), (s, l.i32c(0)))?;
            l.put(j.st_ty, out, at, j.red.finish(l, s)?)
        })?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        self.memo.clear();
        Ok(())
    }

    /// The merged states of job `j`'s [`LINES`] lines of `lanes` states (slots
    /// `line * lanes + lane`), as one vector in line order.
    fn merge_group(&self, j: &Job<'ctx>, lanes: u32) -> Lower<VectorValue<'ctx>> {
        let (ty, align) = match j.st_ty {
            BasicTypeEnum::IntType(int) => (int.vec_type(LINES), int.get_bit_width().div_ceil(8)),
            BasicTypeEnum::FloatType(float) => (float.vec_type(LINES), 4),
            _ => return Err(LowerError::Builder("a joint merge of a state neither integer nor float".into())),
        };
        let mut vs = Vec::with_capacity(lanes as usize);
        for first in (0..LINES * lanes).step_by(LINES as usize) {
            // SAFETY (of the generated code): the slots lie inside the state buffer.
            let p = unsafe { self.b.build_in_bounds_gep(j.st_ty, j.st_v, &[self.ic(u64::from(first))], "st")? };
            let v = self.b.build_load(ty, p, "lanes")?;
            super::super::element::set_align(v, align)?;
            vs.push(v.into_vector_value());
        }
        // Each vector holds `LINES / seg` segments of `seg` partial states, one per line;
        // a step halves the segments of two vectors into one, keeping line order.
        let i32t = self.cx.i32_type();
        let mut seg = lanes;
        while vs.len() > 1 {
            let per = LINES / seg;
            let half = seg / 2;
            let mask = |upper: u32| {
                let picks: Vec<_> = (0..LINES)
                    .map(|p| {
                        let (t, r) = (p / half, p % half);
                        let (src, t) = (t / per, t % per);
                        let lane = src * LINES + t * seg + upper * half + r;
                        i32t.const_int(u64::from(lane), false).as_basic_value_enum()
                    })
                    .collect();
                VectorType::const_vector(&picks)
            };
            let (lo, hi) = (mask(0), mask(1));
            let mut next = Vec::with_capacity(vs.len() / 2);
            for pair in vs.chunks(2) {
                let a = self.b.build_shuffle_vector(pair[0], pair[1], lo, "lo")?;
                let b = self.b.build_shuffle_vector(pair[0], pair[1], hi, "hi")?;
                next.push(self.combine_lanes(j.red, a, b)?);
            }
            vs = next;
            seg = half;
        }
        Ok(vs[0])
    }

    /// `a` and `b` combined lane by lane: an integer reduction, or an f32 max/min as the
    /// per-line merge does (`b` where it compares strictly better; states are never NaN).
    fn combine_lanes(&self, red: Red, a: VectorValue<'ctx>, b: VectorValue<'ctx>) -> Lower<VectorValue<'ctx>> {
        if red.float() {
            let p = match red.op {
                ReduceOp::Max => FloatPredicate::OGT,
                ReduceOp::Min => FloatPredicate::OLT,
                _ => return Err(LowerError::Builder("joint merge of a float sum or arg reduction".into())),
            };
            let take = self.b.build_float_compare(p, b, a, "take")?;
            return Ok(self.b.build_select(take, b, a, "m")?.into_vector_value());
        }
        let name = match (red.op, red.d.is_signed()) {
            (ReduceOp::Sum, _) => return Ok(self.b.build_int_add(a, b, "sum")?),
            (ReduceOp::Max, true) => "llvm.smax",
            (ReduceOp::Max, false) => "llvm.umax",
            (ReduceOp::Min, true) => "llvm.smin",
            (ReduceOp::Min, false) => "llvm.umin",
            _ => return Err(LowerError::Builder("joint merge of an inexact reduction".into())),
        };
        let args: [BasicValueEnum<'ctx>; 2] = [a.into(), b.into()];
        Ok(self.intrinsic(name, &[a.get_type().into()], &args)?.into_vector_value())
    }
}
