//! GPU reductions along the last axis with fewer lines than threads: each line is split
//! over `S` threads, so the whole CTA works (a quantizer's 16 groups of 64 on 128
//! threads: 8 threads a group instead of one).
//!
//! 1. Thread `t = line * S + part` reduces the contiguous chunk `part` of its line with
//!    the usual lanes (`accumulate`). A group with a float sum, whose order is fixed (the
//!    CPU's 8 lanes, merged in a halving tree: lane `k` with `k + 4`, then `k + 2`, then
//!    `k + 1`), is split by lanes instead (`S <= 8`): the thread takes lanes `part + S k`
//!    as its own lanes `k` and merges them in the same tree, which leaves the tree's last
//!    `log2 S` steps. Threads past the last line hold the identity.
//! 2. Within a warp, the threads of a line merge their states with butterfly shuffles
//!    (`shuffle.rs`): at step `m = min(S, 32) / 2, ..., 2, 1`, thread `part` joins its
//!    state with the one of `part ^ m`, the lower part's state on the left (for a float
//!    sum: the halving tree's last steps). So every thread of a group of `min(S, 32)`
//!    ends with the same bits: the states merged in a tree in increasing `part` order.
//! 3. With `S <= 32` and block results, the line's first thread finishes the line and
//!    stores its result: no shared memory, no barrier besides the one after the sink.
//!    With `S > 32` (or a scalar result, which every thread of the CTA needs), the first
//!    thread of each group writes the group's state to shared memory and, after a
//!    barrier, the line's owner (for scalars: every thread) merges those in increasing
//!    order. A scalar reduced by exactly one warp (`S = T = 32`) skips this: every thread
//!    already holds the state.
//!
//! The merge is `state.rs`'s join with ties to the lower index. For arg reductions the
//! lower part's state is always on the left, so the result is the one of merging the
//! parts' states in increasing order: the lowest best index. The other joins are
//! commutative (sums; max and min by maxNum and minNum on GPU targets), so either side
//! may be the left: the first best value for max/min up to the sign of a zero. That
//! equals the CPU's result bit for bit (up to the sign of a zero from max/min, which
//! `semantics.md` leaves free), and so does a float sum, whose lanes and tree are the
//! CPU's.

use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, IntValue};
use inkwell::IntPredicate;

use super::super::index::{self, log2, Term};
use super::super::loops::{self, Level};
use super::super::shuffle::WARP;
use super::state::State;
use super::{lane_count, Job, Red};
use crate::codegen::error::{Lower, LowerError};
use crate::codegen::llvm::Lowerer;
use crate::ir::{ReduceOp, ValueId};

/// Bytes of one shared-memory slot for a state (the widest state type is 8 bytes).
const SLOT: u64 = 8;

/// How a split reduction's threads sit over the lines (bits of counts, see the module docs).
#[derive(Clone, Copy)]
struct Split<'ctx> {
    /// Bits of the line count, of `S` and of the line length.
    line_bits: u32,
    s_bits: u32,
    nb: u32,
    /// Bits of the threads merged by shuffles (`min(S, 32)`) and of the groups per line.
    warp_bits: u32,
    rest_bits: u32,
    line: IntValue<'ctx>,
    part: IntValue<'ctx>,
    /// Whether the thread reduces a chunk (`t < lines * S`).
    active: IntValue<'ctx>,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The threads per line to split `arg`'s last axis over, when worth it (GPU, fewer
    /// lines than threads; order-insensitive groups: chunks of at least the lanes; float
    /// sums: at most one thread per lane).
    pub(super) fn split_threads(&self, jobs: &[Job<'ctx>], arg: ValueId) -> Option<u32> {
        let th = self.threads?;
        let shape = &self.k.ty(arg).shape;
        let n = *shape.dims().last()?;
        let lines_bits = index::shape_bits(shape) - log2(n);
        let reds: Vec<Red> = jobs.iter().map(|j| j.red).collect();
        let lanes = lane_count(&reds, n, true);
        let most = if by_lanes(jobs) { log2(lanes) } else { log2(n) - log2(lanes) };
        let s_bits = th.log2.saturating_sub(lines_bits).min(most);
        (s_bits >= 1).then_some(s_bits)
    }

    /// The split reduction (see the module docs); `s_bits` from [`Self::split_threads`].
    pub(super) fn reduce_last_split(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        s_bits: u32,
    ) -> Lower<Vec<Option<BasicValueEnum<'ctx>>>> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("split reduction off the GPU".into()))?;
        let shape = self.k.ty(arg).shape.clone();
        let nb = log2(*shape.dims().last().unwrap_or(&1));
        let line_bits = index::shape_bits(&shape) - nb;
        let warp_bits = s_bits.min(log2(WARP));
        let busy = 1u64 << (line_bits + s_bits);
        let sp = Split {
            line_bits,
            s_bits,
            nb,
            warp_bits,
            rest_bits: s_bits - warp_bits,
            line: self.b.build_right_shift(th.tid, self.ic(s_bits as u64), false, "line")?,
            part: self.b.build_and(th.tid, self.ic((1u64 << s_bits) - 1), "part")?,
            active: self.b.build_int_compare(IntPredicate::ULT, th.tid, self.ic(busy), "active")?,
        };
        let states = self.chunk_states(jobs, arg, &sp, busy < 1u64 << th.log2)?;
        let states = self.merge_in_warp(jobs, states, &sp)?;
        let spread = jobs.iter().all(|j| j.out.is_some());
        if sp.rest_bits > 0 || (!spread && s_bits < th.log2) {
            return self.merge_across_warps(jobs, arg, &sp, &states, spread);
        }
        let mut results = vec![None; jobs.len()];
        if spread {
            self.finish_by_first_thread(jobs, arg, &sp, &states)?;
            self.sync()?;
        } else {
            // One warp reduced the scalar: every thread holds the same state.
            let finished = self.finish_states(jobs, arg, &[], (0, nb), &states)?;
            for (ji, (j, r)) in jobs.iter().zip(finished).enumerate() {
                match j.out {
                    Some(p) => self.store_elem(p, j.out_elem, self.ic(0), r)?,
                    None => results[ji] = Some(r),
                }
            }
            if jobs.iter().any(|j| j.out.is_some()) {
                self.sync()?;
            }
        }
        self.memo.clear();
        Ok(results)
    }

    /// Step 1: each active thread's state over its chunk; the identity on the others
    /// (`inactive_threads`: whether there are any).
    fn chunk_states(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        sp: &Split<'ctx>,
        inactive_threads: bool,
    ) -> Lower<Vec<State<'ctx>>> {
        let reds: Vec<Red> = jobs.iter().map(|j| j.red).collect();
        let lanes = lane_count(&reds, 1 << sp.nb, true);
        let pb = log2(lanes);
        self.memo.clear();
        let before = self.current_block()?;
        let (on, join) = (self.block("split.on"), self.block("split.end"));
        if inactive_threads {
            self.b.build_conditional_branch(sp.active, on, join)?;
        } else {
            self.b.build_unconditional_branch(on)?;
        }
        self.b.position_at_end(on);
        let fixed: Vec<Term<IntValue<'ctx>>> =
            if sp.line_bits > 0 { vec![Term { var: sp.line, lo: sp.nb, bits: sp.line_bits }] } else { vec![] };
        let (part_term, inner, lanes) = if by_lanes(jobs) {
            // Element `j` of the line is in lane `j % lanes`; the thread takes the lanes
            // `part + S k` (the low bits of `j`), as its lanes `k`, and loops over the rest.
            let mut inner = self.sink_levels(&[arg], pb, sp.nb)?;
            let own = pb - sp.s_bits;
            if own > 0 {
                inner.push(Level { lo: sp.s_bits, bits: own, vectorize: None });
            }
            ([Term { var: sp.part, lo: 0, bits: sp.s_bits }], inner, 1u64 << own)
        } else {
            let chunk_bits = sp.nb - sp.s_bits;
            let mut inner = self.sink_levels(&[arg], pb, chunk_bits)?;
            self.unroll_short_line(&mut inner, 1 << chunk_bits);
            inner.push(Level { lo: 0, bits: pb, vectorize: (lanes >= 4).then_some(lanes) });
            ([Term { var: sp.part, lo: chunk_bits, bits: sp.s_bits }], inner, lanes as u64)
        };
        let states = self.accumulate(jobs, arg, &fixed, &part_term, &inner, lanes)?;
        let on_end = self.current_block()?;
        self.b.build_unconditional_branch(join)?;
        self.b.position_at_end(join);
        self.memo.clear();
        if !inactive_threads {
            return Ok(states);
        }
        let mut merged = Vec::with_capacity(jobs.len());
        for (j, &(v, i)) in jobs.iter().zip(&states) {
            let pv = self.b.build_phi(j.st_ty, "chunk")?;
            pv.add_incoming(&[(&v, on_end), (&j.red.identity(self), before)]);
            let pi = self.b.build_phi(self.cx.i32_type(), "chunk.i")?;
            pi.add_incoming(&[(&i, on_end), (&self.i32c(0), before)]);
            merged.push((pv.as_basic_value(), pi.as_basic_value().into_int_value()));
        }
        Ok(merged)
    }

    /// Step 2: butterfly shuffles within groups of `min(S, 32)` threads, the lower part's
    /// state on the left of every join. Uniform control flow: every thread takes part.
    fn merge_in_warp(
        &mut self,
        jobs: &[Job<'ctx>],
        mut states: Vec<State<'ctx>>,
        sp: &Split<'ctx>,
    ) -> Lower<Vec<State<'ctx>>> {
        let values = jobs.iter().map(|j| 1 + j.red.is_arg() as usize).sum();
        let mut ex = self.begin_exchange(values)?;
        // Descending, as the lanes' halving tree merges: lane k with k + half.
        for step in (0..sp.warp_bits).rev() {
            let m = 1u64 << step;
            let mut mine = Vec::with_capacity(values);
            for (j, &(v, i)) in jobs.iter().zip(&states) {
                mine.push(v);
                if j.red.is_arg() {
                    mine.push(i.into());
                }
            }
            let mut theirs = self.shuffle_xor(&mut ex, &mine, m as u32)?.into_iter();
            let bit = self.b.build_and(sp.part, self.ic(m), "bit")?;
            let upper = self.b.build_int_compare(IntPredicate::NE, bit, self.ic(0), "upper")?;
            for (j, s) in jobs.iter().zip(states.iter_mut()) {
                let v = theirs.next().ok_or_else(|| LowerError::Builder("shuffle lost a value".into()))?;
                let i = if j.red.is_arg() {
                    theirs.next().ok_or_else(|| LowerError::Builder("shuffle lost an index".into()))?.into_int_value()
                } else {
                    s.1
                };
                // Only an arg reduction's merge depends on which side is the lower part (a
                // NaN state keeps the left): sums are commutative, and max and min join by
                // maxNum and minNum here, whose only asymmetry is a zero's sign.
                *s = if j.red.is_arg() {
                    let lo = self.ordered(upper, (v, i), *s)?;
                    let hi = self.ordered(upper, *s, (v, i))?;
                    j.red.join(self, lo, hi, true)?
                } else {
                    j.red.join(self, *s, (v, i), true)?
                };
            }
        }
        self.end_exchange(ex)?;
        Ok(states)
    }

    /// `a` if `flip`, else `b`.
    fn ordered(&self, flip: IntValue<'ctx>, a: State<'ctx>, b: State<'ctx>) -> Lower<State<'ctx>> {
        let v = self.b.build_select(flip, a.0, b.0, "ord")?;
        let i = self.b.build_select(flip, a.1, b.1, "ord.i")?.into_int_value();
        Ok((v, i))
    }

    /// Step 3 with `S <= 32` and block results: the line's first thread (part 0)
    /// finishes the line from its state and stores the result.
    fn finish_by_first_thread(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        sp: &Split<'ctx>,
        states: &[State<'ctx>],
    ) -> Lower<()> {
        let first = self.b.build_int_compare(IntPredicate::EQ, sp.part, self.ic(0), "first")?;
        let owner = self.b.build_and(first, sp.active, "owner")?;
        let (on, join) = (self.block("split.finish"), self.block("split.finished"));
        self.b.build_conditional_branch(owner, on, join)?;
        self.b.position_at_end(on);
        self.memo.clear();
        let line: Vec<Term<IntValue<'ctx>>> =
            if sp.line_bits > 0 { vec![Term { var: sp.line, lo: sp.nb, bits: sp.line_bits }] } else { vec![] };
        let finished = self.finish_states(jobs, arg, &line, (0, sp.nb), states)?;
        for (j, r) in jobs.iter().zip(finished) {
            let out = j.out.ok_or_else(|| LowerError::Builder("split reduction without its output".into()))?;
            self.store_elem(out, j.out_elem, sp.line, r)?;
        }
        self.b.build_unconditional_branch(join)?;
        self.b.position_at_end(join);
        self.memo.clear();
        Ok(())
    }

    /// Step 3 through shared memory: one state per group of `min(S, 32)` threads, then the
    /// line's owner (scalars: every thread) merges a line's groups in order.
    fn merge_across_warps(
        &mut self,
        jobs: &[Job<'ctx>],
        arg: ValueId,
        sp: &Split<'ctx>,
        states: &[State<'ctx>],
        spread: bool,
    ) -> Lower<Vec<Option<BasicValueEnum<'ctx>>>> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("split reduction off the GPU".into()))?;
        let (nb, rest_bits) = (sp.nb, sp.rest_bits);
        let groups = 1u64 << (sp.line_bits + rest_bits);
        let i32t: BasicTypeEnum = self.cx.i32_type().into();
        let mut parts = Vec::with_capacity(jobs.len());
        for _ in jobs {
            parts.push((self.shared_alloc(groups * SLOT)?, self.shared_alloc(groups * 4)?));
        }
        let low = self.b.build_and(th.tid, self.ic((1u64 << sp.warp_bits) - 1), "lane")?;
        let leader = self.b.build_int_compare(IntPredicate::EQ, low, self.ic(0), "leader")?;
        let writes = self.b.build_and(leader, sp.active, "writes")?;
        let group = self.b.build_right_shift(th.tid, self.ic(sp.warp_bits as u64), false, "group")?;
        let (on, join) = (self.block("split.put"), self.block("split.put.end"));
        self.b.build_conditional_branch(writes, on, join)?;
        self.b.position_at_end(on);
        for (j, (&(v, i), &(pv, pi))) in jobs.iter().zip(states.iter().zip(&parts)) {
            self.put(j.st_ty, pv, group, v)?;
            self.put(i32t, pi, group, i.into())?;
        }
        self.b.build_unconditional_branch(join)?;
        self.b.position_at_end(join);
        self.memo.clear();
        self.sync()?;

        let out_levels = loops::levels(nb, nb + sp.line_bits, &Default::default());
        let mut results = vec![None; jobs.len()];
        let mut per_line = |l: &mut Self, out_idx: &[Term<IntValue<'ctx>>]| -> Lower<()> {
            let shifted: Vec<_> = out_idx.iter().map(|t| Term { var: t.var, lo: t.lo - nb, bits: t.bits }).collect();
            let o = l.linear(&shifted)?;
            let first = l.b.build_left_shift(o, l.ic(rest_bits as u64), "first")?;
            let mut merged = Vec::with_capacity(jobs.len());
            for (j, &(pv, pi)) in jobs.iter().zip(&parts) {
                let read = |l: &Self, k: u64| -> Lower<State<'ctx>> {
                    let at = l.b.build_int_add(first, l.ic(k), "at")?;
                    Ok((l.get(j.st_ty, pv, at)?, l.get(i32t, pi, at)?.into_int_value()))
                };
                let mut s = read(l, 0)?;
                for k in 1..1u64 << rest_bits {
                    s = j.red.join(l, s, read(l, k)?, true)?;
                }
                merged.push(s);
            }
            let finished = l.finish_states(jobs, arg, out_idx, (0, nb), &merged)?;
            for (ji, (j, r)) in jobs.iter().zip(finished).enumerate() {
                match j.out {
                    Some(p) => l.store_elem(p, j.out_elem, o, r)?,
                    None => results[ji] = Some(r),
                }
            }
            Ok(())
        };
        if spread {
            self.dist_nest(&out_levels, &mut per_line)?;
        } else {
            // A scalar result: every thread merges (it must be defined on all).
            self.nest(&out_levels, &mut per_line)?;
            self.sync()?;
        }
        self.memo.clear();
        for (pv, pi) in parts {
            self.release(pv);
            self.release(pi);
        }
        Ok(results)
    }
}

/// Whether a group is split by lanes rather than by chunks: when it holds a float sum,
/// whose order is fixed (the CPU's lanes and their halving tree).
fn by_lanes(jobs: &[Job]) -> bool {
    jobs.iter().any(|j| j.red.float() && j.red.op == ReduceOp::Sum)
}
