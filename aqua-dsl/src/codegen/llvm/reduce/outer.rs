//! Reductions along an axis other than the last: every output element keeps one state,
//! which takes the elements of its line in increasing index order.
//!
//! On the CPU the outputs go in strips of up to 64 contiguous elements: a strip's states
//! are set, the whole axis is walked with the strip innermost (up to four copies of a
//! loop vectorized at 16 lanes: each copy's states are one vector, kept in registers
//! across the walk, and the copies are independent chains the processor overlaps), and
//! the strip's results are written, rescanning lines only when a vector compare finds a
//! state still at its starting infinity. Values that do not depend on the axis (a query
//! compared with every grid point) are then loaded once per strip, not once per element.
//! On the GPU each output is reduced by the thread that owns it, in the same order, so
//! with the same result.

use std::collections::BTreeSet;

use inkwell::values::{BasicValueEnum, IntValue};

use super::super::element::set_align;
use super::super::index::{self, dim_fields, Field, Term};
use super::super::loops::{self, Level};
use super::super::Lowerer;
use super::range::rescans;
use super::Job;
use crate::codegen::error::Lower;
use crate::ir::ValueId;

/// log2 of the most outputs a strip holds: 64, four independent vectors of states.
const STRIP_BITS: u32 = 6;

/// log2 of the widest vector of states: 16 lanes (one AVX-512 or two AVX registers).
const VECTOR_BITS: u32 = 4;

/// The strip of a reduction: its lowest `vector` bits form one loop vectorized at that
/// width, the next `copies` bits are emitted as that many copies of the loop (independent
/// chains of states for the processor to overlap).
#[derive(Clone, Copy)]
pub(super) struct Strip {
    pub vector: u32,
    pub copies: u32,
}

impl Strip {
    pub(super) fn bits(self) -> u32 {
        self.vector + self.copies
    }
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The strip of a reduction of `arg` along `axis` (not the last), within the
    /// contiguous outputs below the axis; its vector loop stops at the first cut of the
    /// operand's shape ops, so it stays one affine loop. Also the cuts of the walk's nest.
    pub(super) fn outer_strip(&self, arg: ValueId, axis: usize) -> Lower<(Strip, BTreeSet<u32>)> {
        let (pos, nb) = dim_fields(&self.k.ty(arg).shape)[axis];
        let mut cuts = self.sink_cuts(&[arg])?;
        let vector = cuts.range(1..pos.max(1)).next().copied().unwrap_or(pos).min(VECTOR_BITS);
        let copies = pos.min(STRIP_BITS) - vector;
        cuts.extend([vector, vector + copies, pos, pos + nb]);
        Ok((Strip { vector, copies }, cuts))
    }

    /// Along an outer axis on the CPU, strip by strip (see the module docs).
    pub(super) fn reduce_outer(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        axis: usize,
    ) -> Lower<Vec<Option<BasicValueEnum<'ctx>>>> {
        let shape = self.k.ty(arg).shape.clone();
        let total = index::shape_bits(&shape);
        let (pos, nb) = dim_fields(&shape)[axis];
        let (strip, cuts) = self.outer_strip(arg, axis)?;
        let mut strips = loops::levels(pos + nb, total, &cuts);
        strips.extend(loops::levels(strip.bits(), pos, &cuts));
        let along = loops::levels(pos, pos + nb, &cuts);
        let vectorize = (strip.vector >= 2).then_some(1 << strip.vector);
        let lanes = [Level { lo: 0, bits: strip.vector, vectorize }];
        let all_lanes = [Level { lo: 0, bits: strip.bits(), vectorize }];
        self.memo.clear();
        self.nest(&strips, &mut |l, strip_idx| {
            l.nest(&all_lanes, &mut |l, lane_idx| {
                let lane = l.linear(lane_idx)?;
                for j in jobs {
                    l.put(j.st_ty, j.st_v, lane, j.red.identity(l))?;
                    l.put_index(j, lane, l.i32c(0).into())?;
                }
                Ok(())
            })?;
            l.nest(&along, &mut |l, a_idx| {
                let shifted: Vec<_> = a_idx.iter().map(|t| Term { var: t.var, lo: t.lo - pos, bits: t.bits }).collect();
                let a = l.linear(&shifted)?;
                let a = l.b.build_int_truncate(a, l.cx.i32_type(), "pos")?;
                for copy in 0..1u64 << strip.copies {
                    let copy_term = Term { var: l.ic(copy), lo: strip.vector, bits: strip.copies };
                    l.nest(&lanes, &mut |l, lane_idx| {
                        let lane_idx: Vec<_> = lane_idx.iter().cloned().chain([copy_term.clone()]).collect();
                        let idx: Vec<_> = strip_idx.iter().chain(a_idx).chain(&lane_idx).cloned().collect();
                        let x = l.elem(arg, &idx)?;
                        let lane = l.linear(&lane_idx)?;
                        l.fold_into_states(jobs, x, a, lane)
                    })?;
                }
                Ok(())
            })?;
            // Every lane's result; then, only when some state is still a starting
            // infinity, those lines again with their rescans (a branch per lane).
            l.finish_strip(jobs, arg, strip_idx, &all_lanes, (pos, nb), false)?;
            let Some(pending) = l.strip_pending(jobs, strip)? else { return Ok(()) };
            let (fix, done) = (l.block("rescan.strip"), l.block("rescan.strip.end"));
            l.b.build_conditional_branch(pending, fix, done)?;
            l.b.position_at_end(fix);
            let scalar = [Level { vectorize: None, ..all_lanes[0] }];
            l.finish_strip(jobs, arg, strip_idx, &scalar, (pos, nb), true)?;
            l.b.build_unconditional_branch(done)?;
            l.b.position_at_end(done);
            l.memo.clear();
            Ok(())
        })?;
        self.memo.clear();
        Ok(vec![None; jobs.len()])
    }

    /// Writes the results of a strip's lanes (`lanes`, the strip's bits) from their
    /// states: without rescans (a vectorizable loop), or with them, for the jobs that
    /// have them.
    fn finish_strip(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        strip_idx: &[Term<IntValue<'ctx>>],
        lanes: &[Level],
        (pos, nb): (u32, u32),
        rescan: bool,
    ) -> Lower<()> {
        let total = index::shape_bits(&self.k.ty(arg).shape);
        let to_out = [Field { src: 0, len: pos, dst: 0 }, Field { src: pos + nb, len: total - pos - nb, dst: pos }];
        self.nest(lanes, &mut |l, lane_idx| {
            let lane = l.linear(lane_idx)?;
            // The line's terms in the operand's index, and the output's index.
            let line: Vec<_> = strip_idx.iter().chain(lane_idx).cloned().collect();
            let o = index::remap(&line, &to_out, l)?;
            let o = l.linear(&o)?;
            let states = jobs.iter().map(|j| Ok((l.get(j.st_ty, j.st_v, lane)?, l.get_index(j, lane)?)));
            let mut states = states.collect::<Lower<Vec<_>>>()?;
            if !rescan {
                l.range_nan(jobs, &mut states)?;
            }
            for (i, (j, s)) in jobs.iter().zip(states).enumerate() {
                let r = match rescan {
                    true if rescans(jobs, i) => l.finish_state(j, arg, &line, (pos, nb), s)?,
                    true => continue,
                    false => j.red.finish(l, s)?,
                };
                if let Some(out) = j.out {
                    l.store_elem(out, j.out_elem, o, r)?;
                }
            }
            Ok(())
        })
    }

    /// Whether a lane of the strip has a state still equal to its starting infinity, for
    /// the jobs that rescan such lines (one vector compare per job); `None` without such
    /// jobs.
    fn strip_pending(&self, jobs: &[Job<'ctx>], strip: Strip) -> Lower<Option<IntValue<'ctx>>> {
        let width = 1u32 << strip.bits();
        let mut pending: Option<IntValue<'ctx>> = None;
        for j in jobs.iter().enumerate().filter(|&(i, _)| rescans(jobs, i)).map(|(_, j)| j) {
            let f32t = self.cx.f32_type();
            let ty = f32t.vec_type(width);
            let states = self.b.build_load(ty, j.st_v, "states")?;
            set_align(states, 64)?;
            let any = self.any_still_at_identity(j.red, states.into_vector_value())?;
            pending = Some(match pending {
                None => any,
                Some(p) => self.b.build_or(p, any, "pending")?,
            });
        }
        Ok(pending)
    }

    /// Along an outer axis on the GPU: each output by the thread that owns it (blocked
    /// layout over the outputs), one state walking the axis in increasing order: the
    /// same order per output as [`Self::reduce_outer`], so the same results.
    pub(super) fn reduce_outer_by_output(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        axis: usize,
    ) -> Lower<Vec<Option<BasicValueEnum<'ctx>>>> {
        let shape = self.k.ty(arg).shape.clone();
        let total = index::shape_bits(&shape);
        let (pos, nb) = dim_fields(&shape)[axis];
        let all = loops::levels(0, total - nb, &Default::default());
        let along = loops::levels(pos, pos + nb, &Default::default());
        let to_arg = [Field { src: 0, len: pos, dst: 0 }, Field { src: pos, len: total - nb - pos, dst: pos + nb }];
        self.memo.clear();
        self.dist_nest(&all, &mut |l, idx| {
            let zero = l.ic(0);
            for j in jobs {
                l.put(j.st_ty, j.st_v, zero, j.red.identity(l))?;
                l.put_index(j, zero, l.i32c(0).into())?;
            }
            let base = index::remap(idx, &to_arg, l)?;
            l.nest(&along, &mut |l, a_idx| {
                let full: Vec<_> = base.iter().chain(a_idx).cloned().collect();
                let x = l.elem(arg, &full)?;
                let a = l.linear(&a_idx.iter().map(|t| Term { var: t.var, lo: t.lo - pos, bits: t.bits }).collect::<Vec<_>>())?;
                let a = l.b.build_int_truncate(a, l.cx.i32_type(), "pos")?;
                l.fold_into_states(jobs, x, a, zero)
            })?;
            let o = l.linear(idx)?;
            let states = jobs.iter().map(|j| Ok((l.get(j.st_ty, j.st_v, zero)?, l.get_index(j, zero)?)));
            let states = states.collect::<Lower<Vec<_>>>()?;
            let finished = l.finish_states(jobs, arg, &base, (pos, nb), &states)?;
            for (j, r) in jobs.iter().zip(finished) {
                if let Some(out) = j.out {
                    l.store_elem(out, j.out_elem, o, r)?;
                }
            }
            Ok(())
        })?;
        self.memo.clear();
        Ok(vec![None; jobs.len()])
    }
}
