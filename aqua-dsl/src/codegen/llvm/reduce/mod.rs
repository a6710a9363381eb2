//! Reductions along an axis (and `dot`, in `dot.rs` and `dot_mma.rs`).
//!
//! Reductions of one block along one axis in the same region (`min` and `max` of a group,
//! say) are emitted together, at the first one's position: one pass over the input
//! updates every state. (Moving the later ones up is safe: their operand is the same
//! value, so it is a buffer or a pure recomputation, see `plan.rs`.)
//!
//! Along the last (contiguous) axis of length n, a reduction keeps P = min(8, n) partial
//! states (min(16, n) when no float sum is in the group: the order does not matter then,
//! and a short line fits one step), lane k taking the elements i = k (mod P) in
//! increasing order, and merges them
//! at the end with a halving tree (lane k with lane k + P/2, then P/4, ...). The lane loop
//! is force-vectorized at width P, so the partial states live in one vector register;
//! no reassociation flag is ever used. For `max`/`min` (IEEE maxNum/minNum), integer sums
//! and the arg reductions the result does not depend on the order; for float sums this
//! order is the documented one (`docs/codegen.md`). Along another axis every output
//! element has one state, updated in increasing index order (`outer.rs`: strips of
//! outputs with their states in registers). Reductions along an axis of at most 4
//! elements are computed element-wise where they are used (`fused.rs`), in the same
//! order. On the CPU, exact integer reductions of many lines merge the lanes of 16 lines
//! in one shuffle tree (`joint.rs`). `state.rs` holds the per-op rules; `range.rs` spares
//! a float max and min of the same lines their rescans.

mod dot;
mod dot_mma;
mod fused;
mod joint;
mod outer;
mod range;
mod split;
mod state;

use inkwell::types::{BasicTypeEnum, VectorType};
use inkwell::values::{AsValueRef, BasicValueEnum, IntValue, PointerValue, VectorValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::index::{self, log2, Term};
use super::loops::{self, Level};
use super::plan::Place;
use super::specialized::Unit;
use super::{Lowered, Lowerer};
use crate::codegen::error::Lower;
use crate::ir::{DType, Elem, Inst, Op, ReduceOp, ValueId};
use state::{Red, State};

/// Partial states along the last axis: float sums (whose result depends on it) use 8;
/// order-insensitive reductions 16, which covers a short line in one step.
const SUM_LANES: u32 = 8;
const LANES: u32 = 16;

/// Order-insensitive lanes of a GPU thread: enough independent chains to hide latency,
/// few enough that the unrolled lanes stay small (they are registers, not a vector).
const GPU_LANES: u32 = 4;

/// The most elements of a line a GPU thread reduces with its loop fully unrolled: a
/// packing unit's codes (16 of 2 bits to a word, or a thread's share of them), whose
/// shift amounts then fold into the adds.
const GPU_UNROLLED_LINE: u32 = 16;

/// The partial-state count of a group of reductions over lines of length `n`.
fn lane_count(jobs: &[Red], n: u32, gpu: bool) -> u32 {
    let float_sum = jobs.iter().any(|r| r.float() && r.op == ReduceOp::Sum);
    n.min(match (float_sum, gpu) {
        (true, _) => SUM_LANES,
        (false, true) => GPU_LANES,
        (false, false) => LANES,
    })
}

/// One reduction of a group: its rules, result, output buffer and state storage.
struct Job<'ctx> {
    red: Red,
    result: ValueId,
    out: Option<PointerValue<'ctx>>,
    out_elem: Elem,
    st_v: PointerValue<'ctx>,
    /// The index states of an arg reduction (others keep none).
    st_i: Option<PointerValue<'ctx>>,
    st_ty: BasicTypeEnum<'ctx>,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Emits reductions sharing one operand and axis (`group` is non-empty).
    pub(crate) fn emit_reduce(&mut self, group: &[&'a Inst]) -> Lower<()> {
        // Fused reductions are computed where they are used, or fill their buffer in one
        // element-wise pass.
        let (fused, group): (Vec<&'a Inst>, Vec<&'a Inst>) =
            group.iter().copied().partition(|i| self.is_fused_reduce(i));
        for inst in fused {
            let v = inst.results[0];
            if self.place(v) == Place::Buffer {
                let p = self.alloc_for(v)?;
                self.materialize(inst, p)?;
                self.set(v, Lowered::Buffer(p));
            }
        }
        let Some(&first) = group.first() else { return Ok(()) };
        let Op::Reduce { arg, axis, .. } = &first.op else {
            return Err(self.op_error(first, "is not a reduction"));
        };
        let (arg, axis) = (*arg, *axis as usize);
        let ty = self.k.ty(arg).clone();
        if ty.is_ptr() || axis >= ty.shape.rank() {
            return Err(self.op_error(first, format!("cannot reduce {ty} along axis {axis}")));
        }
        let last = axis + 1 == ty.shape.rank();
        let mut reds = Vec::with_capacity(group.len());
        for inst in &group {
            let Op::Reduce { op, .. } = &inst.op else {
                return Err(self.op_error(inst, "is not a reduction"));
            };
            reds.push(Red { op: *op, d: ty.dtype() });
        }
        let n = ty.shape.dims()[axis];
        let gpu = self.threads.is_some();
        let lanes = match (last, gpu) {
            (true, gpu) => lane_count(&reds, n, gpu) as u64,
            // One state per thread (GPU, see reduce_outer_by_output) or per strip lane.
            (false, true) => 1,
            (false, false) => 1u64 << self.outer_strip(arg, axis)?.0.bits(),
        };
        let all_buffers = group.iter().all(|i| self.place(i.results[0]) == Place::Buffer);
        let line_bits = index::shape_bits(&ty.shape) - log2(n);
        // The general form of a split kernel runs once per launch: not worth the code.
        let general = matches!(self.unit, Unit::General { .. });
        let joint = last && !general && joint::merges_jointly(&reds, lanes as u32, line_bits, gpu, all_buffers);
        // A joint merge keeps the states of a group's lines side by side.
        let slots = if joint { u64::from(joint::LINES) * lanes } else { lanes };
        let mut jobs = Vec::with_capacity(group.len());
        for (inst, red) in group.iter().zip(reds) {
            if red.d == DType::Bool && !matches!(red.op, ReduceOp::ArgMax | ReduceOp::ArgMin) {
                return Err(self.op_error(inst, "is not defined on bool"));
            }
            let v = inst.results[0];
            let out = match self.place(v) {
                Place::Buffer => Some(self.alloc_for(v)?),
                _ if last => None,
                _ => return Err(self.op_error(inst, "reduces a block to a scalar along an inner axis")),
            };
            let st_ty = red.state_type(self);
            let st_v = self.alloc_raw(st_ty, slots)?;
            let st_i = if red.is_arg() { Some(self.alloc_raw(self.cx.i32_type().into(), slots)?) } else { None };
            let out_elem = Elem::Val(if red.is_arg() { DType::I32 } else { red.d });
            jobs.push(Job { red, result: v, out, out_elem, st_v, st_i, st_ty });
        }
        if joint {
            self.reduce_last_joint(&jobs, arg, lanes as u32)?;
            for job in &jobs {
                let p = job.out.ok_or_else(|| self.op_error(first, "has no result buffer"))?;
                self.set(job.result, Lowered::Buffer(p));
            }
            return Ok(());
        }
        let split = if last { self.split_threads(&jobs, arg) } else { None };
        let scalars = match (last, split, gpu) {
            (true, Some(s_bits), _) => self.reduce_last_split(&jobs, arg, s_bits)?,
            (true, None, _) => self.reduce_last(&jobs, arg)?,
            (false, _, false) => self.reduce_outer(&jobs, arg, axis)?,
            (false, _, true) => self.reduce_outer_by_output(&jobs, arg, axis)?,
        };
        for (job, scalar) in jobs.iter().zip(scalars) {
            match (job.out, scalar) {
                (Some(p), _) => self.set(job.result, Lowered::Buffer(p)),
                (None, Some(x)) => self.set(job.result, Lowered::Scalar(x)),
                (None, None) => return Err(self.op_error(first, "produced no result")),
            }
        }
        Ok(())
    }

    /// On a GPU, marks the chunk loops of a thread's `elements` of a line for a full unroll
    /// when they are few ([`GPU_UNROLLED_LINE`]); a vectorization request is a full unroll
    /// there (`loops.rs`).
    fn unroll_short_line(&self, chunks: &mut [Level], elements: u32) {
        if self.threads.is_some() && elements <= GPU_UNROLLED_LINE {
            for level in chunks {
                level.vectorize = Some(1 << level.bits);
            }
        }
    }

    /// Along the last axis, with vectorized partial states; returns each job's value
    /// when results are scalars.
    fn reduce_last(&mut self, jobs: &[Job<'ctx>], arg: ValueId) -> Lower<Vec<Option<BasicValueEnum<'ctx>>>> {
        let shape = self.k.ty(arg).shape.clone();
        let total = index::shape_bits(&shape);
        let n = *shape.dims().last().unwrap_or(&1);
        let reds: Vec<Red> = jobs.iter().map(|j| j.red).collect();
        let (nb, lanes) = (log2(n), lane_count(&reds, n, self.threads.is_some()));
        let pb = log2(lanes);
        let out_levels = self.sink_levels(&[arg], nb, total)?;
        let mut inner = self.sink_levels(&[arg], pb, nb)?;
        self.unroll_short_line(&mut inner, n);
        // Two lanes are not worth a vector (and LLVM often cannot honour the request).
        inner.push(Level { lo: 0, bits: pb, vectorize: (lanes >= 4).then_some(lanes) });
        let mut results = vec![None; jobs.len()];
        self.memo.clear();
        // Block results: each line by the thread owning its output (GPU). Scalar results:
        // every thread computes them (they must be defined on all).
        let spread = jobs.iter().all(|j| j.out.is_some());
        let mut per_line = |l: &mut Self, out_idx: &[Term<IntValue<'ctx>>]| -> Lower<()> {
            let out_idx = out_idx.to_vec();
            let merged = l.accumulate(jobs, arg, &out_idx, &[], &inner, lanes as u64)?;
            let finished = l.finish_states(jobs, arg, &out_idx, (0, nb), &merged)?;
            for (ji, (j, r)) in jobs.iter().zip(finished).enumerate() {
                match j.out {
                    Some(p) => {
                        let shifted: Vec<_> =
                            out_idx.iter().map(|t| Term { var: t.var, lo: t.lo - nb, bits: t.bits }).collect();
                        let o = l.linear(&shifted)?;
                        l.store_elem(p, j.out_elem, o, r)?;
                    }
                    None => results[ji] = Some(r),
                }
            }
            Ok(())
        };
        if spread {
            self.dist_nest(&out_levels, &mut per_line)?;
        } else {
            self.nest(&out_levels, &mut per_line)?;
            self.sync()?;
        }
        self.memo.clear();
        Ok(results)
    }

    /// Runs every job over the elements of `arg` at `fixed` (terms of the bits outside the
    /// loops) and `part` (terms inside the line that also count in the position arg
    /// reductions report), looping over `inner` (the lane level last, `lanes` states per
    /// job); returns each job's lanes merged in the halving tree.
    fn accumulate(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        fixed: &[Term<IntValue<'ctx>>],
        part: &[Term<IntValue<'ctx>>],
        inner: &[Level],
        lanes: u64,
    ) -> Lower<Vec<State<'ctx>>> {
        self.accumulate_lanes(jobs, arg, fixed, part, inner, lanes, self.ic(0))?;
        let mut merged = Vec::with_capacity(jobs.len());
        for j in jobs {
            if let Some(state) = self.merge_lanes_as_vector(j, lanes)? {
                merged.push(state);
                continue;
            }
            let mut states = Vec::with_capacity(lanes as usize);
            for k in 0..lanes {
                let v = self.get(j.st_ty, j.st_v, self.ic(k))?;
                let i = self.get_index(j, self.ic(k))?;
                states.push((v, i));
            }
            let mut half = states.len() / 2;
            while half > 0 {
                for k in 0..half {
                    states[k] = j.red.join(self, states[k], states[k + half], true)?;
                }
                half /= 2;
            }
            merged.push(states[0]);
        }
        Ok(merged)
    }

    /// The loop of [`Self::accumulate`] without the merge: the `lanes` states of each job
    /// start from its identity at slots `base..base + lanes`, and take the line's elements
    /// (the loop bits from `inner`'s last level's up to `lanes`' pick the slot: that level
    /// alone, or a joint group's levels over whole lines).
    #[allow(clippy::too_many_arguments)]
    fn accumulate_lanes(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        fixed: &[Term<IntValue<'ctx>>],
        part: &[Term<IntValue<'ctx>>],
        inner: &[Level],
        lanes: u64,
        base: IntValue<'ctx>,
    ) -> Lower<()> {
        let lane_bits = log2(lanes as u32);
        // The lane level is `inner`'s last: its bits start the state slot's.
        let lane_lo = inner.last().map_or(0, |level| level.lo);
        // Positions only matter to arg reductions.
        let any_arg = jobs.iter().any(|j| j.red.is_arg());
        // A loop of the lane level alone gives each slot one element. An integer sum, max
        // or min's state is then the element itself (its identity joined with it), stored
        // without the identity first: LLVM's dead-store pass runs before the loop
        // vectorizer turns the lane loop into one vector store, so that store would stay
        // (packing code words: one of the two 64-byte stores a 16-code word took).
        let once = inner.iter().map(|level| level.bits).sum::<u32>() == lane_bits
            && jobs.iter().all(|j| !j.red.float() && !j.red.is_arg());
        for j in jobs.iter().filter(|_| !once) {
            self.fill_states(j.st_ty, j.st_v, base, lanes, j.red.identity(self))?;
            if let Some(p) = j.st_i {
                self.fill_states(self.cx.i32_type().into(), p, base, lanes, self.i32c(0).into())?;
            }
        }
        self.nest(inner, &mut |l, in_idx| {
            let idx: Vec<Term<IntValue<'ctx>>> = fixed.iter().chain(part).chain(in_idx).cloned().collect();
            let x = l.elem(arg, &idx)?;
            // The slot: the loop bits of the lanes (one lane level, or the levels of a
            // joint group's whole lines).
            let lane: Vec<_> = in_idx
                .iter()
                .filter(|t| (lane_lo..lane_lo + lane_bits).contains(&t.lo))
                .map(|t| Term { var: t.var, lo: t.lo - lane_lo, bits: t.bits })
                .collect();
            let lane = l.linear(&lane)?;
            let at = l.b.build_int_nuw_add(base, lane, "slot")?;
            let pos = if any_arg {
                let in_line: Vec<_> = part.iter().chain(in_idx).cloned().collect();
                let pos = l.linear(&in_line)?;
                l.b.build_int_truncate(pos, l.cx.i32_type(), "pos")?
            } else {
                l.i32c(0)
            };
            if once {
                return jobs.iter().try_for_each(|j| l.put(j.st_ty, j.st_v, at, x));
            }
            l.fold_into_states(jobs, x, pos, at)
        })
    }

    /// On the CPU, the lanes of a job whose merge order cannot show (integer sums, max and
    /// min: their states are never NaN, and the sign of a zero from max/min is free) merged
    /// by one LLVM vector reduction, which the back end lowers to the halving tree on whole
    /// registers (8 instructions for 16 lanes; the scalar tree came out as 17); `None` for
    /// other jobs, the GPU, or a single lane.
    fn merge_lanes_as_vector(&mut self, j: &Job<'ctx>, lanes: u64) -> Lower<Option<State<'ctx>>> {
        let Some(name) = j.red.vector_reduction() else { return Ok(None) };
        if self.threads.is_some() || lanes < 2 {
            return Ok(None);
        }
        // The states are an array of scalars: the load may assume one scalar's alignment.
        let (vector, align) = match j.st_ty {
            BasicTypeEnum::FloatType(t) => (t.vec_type(lanes as u32), 4),
            BasicTypeEnum::IntType(t) => (t.vec_type(lanes as u32), t.get_bit_width().div_ceil(8)),
            _ => return Ok(None),
        };
        let v = self.b.build_load(vector, j.st_v, "lanes")?;
        if let Some(i) = v.into_vector_value().as_instruction() {
            i.set_alignment(align).map_err(|e| crate::codegen::error::LowerError::Builder(e.to_string()))?;
        }
        let r = self.intrinsic(name, &[vector.into()], &[v])?;
        if let BasicValueEnum::FloatValue(f) = r {
            // The one place with fast-math flags, and they promise only what holds: the
            // states hold no NaN, and max/min may return either zero. Without them LLVM
            // merges the lanes one by one with NaN checks.
            if let Some(call) = f.as_instruction() {
                let flags = inkwell::llvm_sys::LLVMFastMathNoNaNs | inkwell::llvm_sys::LLVMFastMathNoSignedZeros;
                // SAFETY: `call` is a live floating-point call instruction.
                unsafe { inkwell::llvm_sys::core::LLVMSetFastMathFlags(call.as_value_ref(), flags) };
            }
        }
        Ok(Some((r, self.i32c(0))))
    }

    /// Folds element `x` (at position `pos` along the reduced axis) into every job's state
    /// slot `at`.
    fn fold_into_states(
        &mut self,
        jobs: &[Job<'ctx>],
        x: BasicValueEnum<'ctx>,
        pos: IntValue<'ctx>,
        at: IntValue<'ctx>,
    ) -> Lower<()> {
        for j in jobs {
            let x = j.red.lift(self, x)?;
            let s = (self.get(j.st_ty, j.st_v, at)?, self.get_index(j, at)?);
            let (v, i) = j.red.join(self, s, (x, pos), false)?;
            self.put(j.st_ty, j.st_v, at, v)?;
            self.put_index(j, at, i.into())?;
        }
        Ok(())
    }

    /// A job's result from its merged state; a float reduction whose state is still its
    /// starting infinity first rescans its line (`line`, the reduced axis at `axis`).
    fn finish_state(
        &mut self,
        j: &Job<'ctx>,
        arg: ValueId,
        line: &[Term<IntValue<'ctx>>],
        axis: (u32, u32),
        mut s: State<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        if j.red.needs_rescan() {
            s = self.rescan(j.red, arg, line, axis, s)?;
        }
        j.red.finish(self, s)
    }

    /// Whether any lane of `states` (float max/min states of `red`, one line a lane) is
    /// still the starting infinity: its line needs [`Self::rescan`]. One vector compare.
    fn any_still_at_identity(&self, red: Red, states: VectorValue<'ctx>) -> Lower<IntValue<'ctx>> {
        let id = red.identity(self).into_float_value();
        let ids = VectorType::const_vector(&vec![id; states.get_type().get_size() as usize]);
        let still = self.b.build_float_compare(FloatPredicate::OEQ, states, ids, "still")?;
        Ok(self.intrinsic("llvm.vector.reduce.or", &[still.get_type().into()], &[still.into()])?.into_int_value())
    }

    /// The state `s` of the line of `arg` at `base` (terms of the other dims) along the
    /// axis bits `(lo, bits)`, corrected by [`Red::rescanned`] when it is still the
    /// starting infinity (a rare path: a line of infinities or NaN): the line is scanned
    /// for the position of its first number.
    fn rescan(
        &mut self,
        red: Red,
        arg: ValueId,
        base: &[Term<IntValue<'ctx>>],
        (lo, bits): (u32, u32),
        s: State<'ctx>,
    ) -> Lower<State<'ctx>> {
        let id = red.identity(self).into_float_value();
        let from = self.current_block()?;
        let (scan, done) = (self.block("rescan"), self.block("rescan.end"));
        let still = self.b.build_float_compare(FloatPredicate::OEQ, s.0.into_float_value(), id, "still")?;
        self.b.build_conditional_branch(still, scan, done)?;
        self.b.position_at_end(scan);
        let i32t: BasicTypeEnum = self.cx.i32_type().into();
        let first = self.alloc_raw(i32t, 1)?;
        let zero = self.ic(0);
        let none = self.cx.i32_type().const_all_ones();
        self.put(i32t, first, zero, none.into())?;
        let levels = loops::levels(lo, lo + bits, &Default::default());
        let base = base.to_vec();
        self.nest(&levels, &mut |l, idx| {
            let full: Vec<_> = base.iter().chain(idx).cloned().collect();
            let x = l.elem(arg, &full)?;
            let x = red.lift(l, x)?.into_float_value();
            let num = l.b.build_float_compare(FloatPredicate::ORD, x, x, "num")?;
            let f = l.get(i32t, first, zero)?.into_int_value();
            let unset = l.b.build_int_compare(IntPredicate::EQ, f, none, "unset")?;
            let take = l.b.build_and(num, unset, "take")?;
            let shifted: Vec<_> = idx.iter().map(|t| Term { var: t.var, lo: t.lo - lo, bits: t.bits }).collect();
            let pos = l.linear(&shifted)?;
            let pos = l.b.build_int_truncate(pos, l.cx.i32_type(), "pos")?;
            l.put(i32t, first, zero, l.b.build_select(take, pos, f, "first")?)
        })?;
        let f = self.get(i32t, first, zero)?.into_int_value();
        let s2 = red.rescanned(self, s, f)?;
        let scan_end = self.current_block()?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        self.memo.clear();
        let v = self.b.build_phi(s.0.get_type(), "r")?;
        v.add_incoming(&[(&s.0, from), (&s2.0, scan_end)]);
        let i = self.b.build_phi(self.cx.i32_type(), "ri")?;
        i.add_incoming(&[(&s.1, from), (&s2.1, scan_end)]);
        Ok((v.as_basic_value(), i.as_basic_value().into_int_value()))
    }

    /// Sets slots `base..base + n` of the state buffer `p` (of `ty`) to `v`: on the CPU one
    /// vector store, which leaves the optimizer less to merge than `n` scalar ones (not
    /// for `i1` states, whose vectors are bit-packed in memory).
    fn fill_states(
        &self,
        ty: BasicTypeEnum<'ctx>,
        p: PointerValue<'ctx>,
        base: IntValue<'ctx>,
        n: u64,
        v: BasicValueEnum<'ctx>,
    ) -> Lower<()> {
        let bytes = match (ty, v) {
            (BasicTypeEnum::IntType(t), BasicValueEnum::IntValue(_)) if t.get_bit_width() >= 8 => t.get_bit_width() / 8,
            (BasicTypeEnum::FloatType(_), BasicValueEnum::FloatValue(_)) => 4,
            _ => 0,
        };
        if self.threads.is_some() || n == 1 || bytes == 0 {
            for k in 0..n {
                let at = self.b.build_int_nuw_add(base, self.ic(k), "slot")?;
                self.put(ty, p, at, v)?;
            }
            return Ok(());
        }
        let value: BasicValueEnum<'ctx> = match v {
            BasicValueEnum::IntValue(x) => VectorType::const_vector(&vec![x; n as usize]).into(),
            _ => VectorType::const_vector(&vec![v.into_float_value(); n as usize]).into(),
        };
        // SAFETY (of the generated code): the slots lie inside the state buffer.
        let addr = unsafe { self.b.build_in_bounds_gep(ty, p, &[base], "st")? };
        let st = self.b.build_store(addr, value)?;
        st.set_alignment(bytes).map_err(|e| crate::codegen::error::LowerError::Builder(e.to_string()))?;
        Ok(())
    }

    fn get(&self, ty: BasicTypeEnum<'ctx>, p: PointerValue<'ctx>, i: IntValue<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        // SAFETY (of the generated code): `i` indexes a state buffer allocated for it.
        let addr = unsafe { self.b.build_in_bounds_gep(ty, p, &[i], "st")? };
        Ok(self.b.build_load(ty, addr, "s")?)
    }

    /// Job `j`'s index state at `i` (0 for reductions that keep none).
    fn get_index(&self, j: &Job<'ctx>, i: IntValue<'ctx>) -> Lower<IntValue<'ctx>> {
        match j.st_i {
            Some(p) => Ok(self.get(self.cx.i32_type().into(), p, i)?.into_int_value()),
            None => Ok(self.i32c(0)),
        }
    }

    /// Sets job `j`'s index state at `i` (nothing for reductions that keep none).
    fn put_index(&self, j: &Job<'ctx>, i: IntValue<'ctx>, v: BasicValueEnum<'ctx>) -> Lower<()> {
        match j.st_i {
            Some(p) => self.put(self.cx.i32_type().into(), p, i, v),
            None => Ok(()),
        }
    }

    fn put(
        &self,
        ty: BasicTypeEnum<'ctx>,
        p: PointerValue<'ctx>,
        i: IntValue<'ctx>,
        v: BasicValueEnum<'ctx>,
    ) -> Lower<()> {
        let addr = unsafe { self.b.build_in_bounds_gep(ty, p, &[i], "st")? };
        self.b.build_store(addr, v)?;
        Ok(())
    }
}
