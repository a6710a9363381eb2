//! GPU reductions along the last axis with fewer lines than threads: each line is split
//! over `S` threads, so the whole CTA works (a quantizer's 16 groups of 64 on 128
//! threads: 8 threads a group instead of one).
//!
//! Thread `t = line * S + part` reduces the contiguous chunk `part` of its line with the
//! usual lanes (`accumulate`), writes its state to shared memory, and after a barrier the
//! thread owning the line's output merges the S states in increasing `part` order
//! (ties of arg reductions to the lower index), then rescans and finishes as usual.
//! Only order-insensitive groups are split (no float sum): their results do not depend on
//! how the line is cut, so they equal the CPU's bit for bit.

use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, IntValue};
use inkwell::IntPredicate;

use super::super::index::{self, log2, Term};
use super::super::loops::{self, Level};
use super::{lane_count, Job, Red};
use crate::codegen::error::{Lower, LowerError};
use crate::codegen::llvm::Lowerer;
use crate::ir::{ReduceOp, ValueId};

/// Bytes of one shared-memory slot for a state (the widest state type is 8 bytes).
const SLOT: u64 = 8;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The threads per line to split `arg`'s last axis over, when worth it (GPU,
    /// order-insensitive group, fewer lines than threads, chunks of at least the lanes).
    pub(super) fn split_threads(&self, jobs: &[Job<'ctx>], arg: ValueId) -> Option<u32> {
        let th = self.threads?;
        if jobs.iter().any(|j| j.red.float() && j.red.op == ReduceOp::Sum) {
            return None;
        }
        let shape = &self.k.ty(arg).shape;
        let n = *shape.dims().last()?;
        let lines_bits = index::shape_bits(shape) - log2(n);
        let reds: Vec<Red> = jobs.iter().map(|j| j.red).collect();
        let lanes = lane_count(&reds, n, true);
        let s_bits = th.log2.saturating_sub(lines_bits).min(log2(n) - log2(lanes));
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
        let total = index::shape_bits(&shape);
        let n = *shape.dims().last().unwrap_or(&1);
        let nb = log2(n);
        let line_bits = total - nb;
        let reds: Vec<Red> = jobs.iter().map(|j| j.red).collect();
        let lanes = lane_count(&reds, n, true);
        let pb = log2(lanes);
        let chunk_bits = nb - s_bits;
        let slots = 1u64 << (line_bits + s_bits);
        let i32t: BasicTypeEnum = self.cx.i32_type().into();
        let mut parts = Vec::with_capacity(jobs.len());
        for _ in jobs {
            parts.push((self.shared_alloc(slots * SLOT)?, self.shared_alloc(slots * 4)?));
        }

        // Phase 1: thread `line * S + part` reduces chunk `part` of `line`.
        self.memo.clear();
        let (line, part) = (
            self.b.build_right_shift(th.tid, self.i64c(s_bits as u64), false, "line")?,
            self.b.build_and(th.tid, self.i64c((1u64 << s_bits) - 1), "part")?,
        );
        let active = self.b.build_int_compare(IntPredicate::ULT, th.tid, self.i64c(slots), "active")?;
        let (on, join) = (self.block("split.on"), self.block("split.end"));
        self.b.build_conditional_branch(active, on, join)?;
        self.b.position_at_end(on);
        let fixed: Vec<Term<IntValue<'ctx>>> =
            if line_bits > 0 { vec![Term { var: line, lo: nb, bits: line_bits }] } else { vec![] };
        let part_term = [Term { var: part, lo: chunk_bits, bits: s_bits }];
        let mut inner = self.sink_levels(&[arg], pb, chunk_bits)?;
        inner.push(Level { lo: 0, bits: pb, vectorize: (lanes >= 4).then_some(lanes) });
        let states = self.accumulate(jobs, arg, &fixed, &part_term, &inner, lanes as u64)?;
        for (j, (&(v, i), &(pv, pi))) in jobs.iter().zip(states.iter().zip(&parts)) {
            self.put(j.st_ty, pv, th.tid, v)?;
            self.put(i32t, pi, th.tid, i.into())?;
        }
        self.b.build_unconditional_branch(join)?;
        self.b.position_at_end(join);
        self.memo.clear();
        self.sync()?;

        // Phase 2: the line's owner merges the S states in order.
        let out_levels = loops::levels(nb, total, &Default::default());
        let mut results = vec![None; jobs.len()];
        let spread = jobs.iter().all(|j| j.out.is_some());
        let mut per_line = |l: &mut Self, out_idx: &[Term<IntValue<'ctx>>]| -> Lower<()> {
            let shifted: Vec<_> = out_idx.iter().map(|t| Term { var: t.var, lo: t.lo - nb, bits: t.bits }).collect();
            let o = l.linear(&shifted)?;
            let first = l.b.build_left_shift(o, l.i64c(s_bits as u64), "first")?;
            for (ji, (j, &(pv, pi))) in jobs.iter().zip(&parts).enumerate() {
                let read = |l: &Self, k: u64| -> Lower<(BasicValueEnum<'ctx>, IntValue<'ctx>)> {
                    let at = l.b.build_int_add(first, l.i64c(k), "at")?;
                    Ok((l.get(j.st_ty, pv, at)?, l.get(i32t, pi, at)?.into_int_value()))
                };
                let mut s = read(l, 0)?;
                for k in 1..1u64 << s_bits {
                    s = j.red.join(l, s, read(l, k)?, true)?;
                }
                let r = l.finish_state(j, arg, out_idx, (0, nb), s)?;
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
