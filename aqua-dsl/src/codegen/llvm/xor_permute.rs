//! `xor_permute`: element `i` along an axis read from `i ^ mask`, the partner of a
//! butterfly step.
//!
//! Indices are bit fields (`index.rs`), so the partner's index is the element's with the
//! mask's bits flipped in the terms that hold them: a read of the operand there, like
//! any view. That is what the CPU does: from the operand's buffer, or from the copy of
//! the sink's loop body that computes the partner (a one-bit mask is a loop level of its
//! own, `element.rs`), where the memo finds it; the plan (`plan/partner.rs`) keeps the
//! operand lazy only then.
//!
//! On the GPU a sink spreads its flat index over the CTA: the top bits are the thread id
//! (`gpu.rs`). When the flat mask flips only bits of the lane inside the warp, and the
//! element is evaluated at its sink's own index, the partner is the same element of the
//! same loop iteration of another lane: the operand is computed in registers at the own
//! index and exchanged with `shfl.sync.bfly` (`shuffle.rs`), with no shared memory and no
//! barrier. (A partner inside the thread's own run is a copy of the loop body, as on the
//! CPU.) [`SinkLanes`] records, for a sink whose control flow is uniform (no masks, no
//! idle threads), the index it evaluates, which [`Lowerer::xor_permute_elem`] compares
//! with the one it is asked for (up to the copy of the body, whose partners are read in
//! the same order by every lane); the plan makes the same decision from shapes to keep
//! such operands lazy.

use inkwell::values::{BasicValueEnum, IntValue};

use super::element::{index_key, Idx, IndexKey};
use super::index::Term;
use super::shuffle::WARP;
use super::Lowerer;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{Kernel, ValueId};

/// The mask of `xor_permute(axis, mask)` on `arg` in the flat (row-major) index.
pub(crate) fn flat_mask(k: &Kernel, arg: ValueId, axis: u8, mask: u32) -> u64 {
    let inner: u64 = k.ty(arg).shape.dims()[axis as usize + 1..].iter().map(|&d| d as u64).product();
    mask as u64 * inner
}

/// The lane mask of a shuffle that reads the partner at flat mask `flat`, in a sink of
/// `2^total` elements spread over `2^thread_bits` threads (the top bits of the index):
/// `Some` when every bit of `flat` is a bit of the lane within the warp.
pub(crate) fn lane_mask(flat: u64, total: u32, thread_bits: u32) -> Option<u32> {
    let lo = total.checked_sub(thread_bits)?;
    let lanes = thread_bits.min(WARP.trailing_zeros());
    let lane = flat >> lo;
    (flat != 0 && lane << lo == flat && lane < 1 << lanes).then_some(lane as u32)
}

/// Bits of a sink's flat index of `2^total` elements below the thread id's `thread_bits`
/// (`None` on the CPU, where the program is one thread): the thread's own run, where a
/// partner is a copy of the loop body rather than another thread's.
pub(crate) fn run_bits(total: u32, thread_bits: Option<u32>) -> u32 {
    thread_bits.map_or(u32::MAX, |t| total.saturating_sub(t))
}

/// A sink whose element computation may use warp shuffles: every thread of the CTA runs
/// its loop nest with the same trip counts and no per-lane branch.
pub(crate) struct SinkLanes {
    /// Bits of the sink's flat index, and of the thread id among them.
    total: u32,
    thread_bits: u32,
    /// The index the sink's body evaluates now.
    current: IndexKey,
    /// How many of `current`'s last terms are the constant bits of a copy of the body
    /// (`element.rs`).
    copies: usize,
}

impl SinkLanes {
    pub(crate) fn new(total: u32, thread_bits: u32) -> Self {
        SinkLanes { total, thread_bits, current: Vec::new(), copies: 0 }
    }

    /// The body now evaluates `idx`, whose last `copies` terms pick a copy of the body.
    pub(crate) fn enter(&mut self, idx: &Idx<'_>, copies: usize) {
        self.current = index_key(idx);
        self.copies = copies;
    }

    /// Whether every lane evaluates its own element at `idx` here: the current index, or
    /// the same with other constants picking the copy (the partner of a butterfly inside
    /// the run). All lanes run the same copies in the same order, so the lane's partner
    /// evaluates the same position at the same point, which is what a shuffle needs.
    fn uniform_at(&self, idx: &Idx<'_>) -> bool {
        let key = index_key(idx);
        if key.len() != self.current.len() {
            return false;
        }
        let own = key.len() - self.copies;
        key[..own] == self.current[..own]
            && idx[own..]
                .iter()
                .zip(&self.current[own..])
                .all(|(t, c)| t.var.is_const() && (t.lo, t.bits) == (c.1, c.2))
    }
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The element of `xor_permute(arg, axis, mask)` at `idx`: a warp shuffle of the
    /// operand at `idx` where the module docs allow, else the operand at the partner index.
    pub(crate) fn xor_permute_elem(
        &mut self,
        arg: ValueId,
        axis: u8,
        mask: u32,
        idx: &Idx<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        let flat = flat_mask(self.k, arg, axis, mask);
        let lane = self
            .sink_lanes
            .as_ref()
            .and_then(|s| s.uniform_at(idx).then(|| lane_mask(flat, s.total, s.thread_bits)).flatten());
        if let Some(lane) = lane {
            let x = self.elem(arg, idx)?;
            // One exchange per shuffle: in the SIMT emulation its closing barrier keeps a
            // thread's next loop iteration from overwriting slots a partner still reads.
            let mut ex = self.begin_exchange(1)?;
            let got = self.shuffle_xor(&mut ex, &[x], lane)?;
            self.end_exchange(ex)?;
            return Ok(got[0]);
        }
        let partner = self.xor_index(idx, flat)?;
        self.elem(arg, &partner)
    }

    /// `idx` with the bits of `flat` flipped.
    fn xor_index(&self, idx: &Idx<'ctx>, flat: u64) -> Lower<Vec<Term<IntValue<'ctx>>>> {
        let mut covered = 0u64;
        let mut out = Vec::with_capacity(idx.len());
        for t in idx {
            let field = ((1u64 << t.bits) - 1) << t.lo;
            covered |= field;
            let flip = (flat & field) >> t.lo;
            let var = if flip == 0 {
                t.var
            } else {
                self.b.build_xor(t.var, t.var.get_type().const_int(flip, false), "partner")?
            };
            out.push(Term { var, lo: t.lo, bits: t.bits });
        }
        if flat & !covered != 0 {
            return Err(LowerError::Builder(format!("xor_permute: mask {flat:#x} outside the index")));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::lane_mask;

    #[test]
    fn only_masks_within_the_lane_bits_shuffle() {
        // 1024 elements on 128 threads: runs of 8 (bits 0..3), lanes bits 3..8, warps 8..10.
        assert_eq!(lane_mask(16, 10, 7), Some(2));
        assert_eq!(lane_mask(8 | 128, 10, 7), Some(17));
        assert_eq!(lane_mask(4, 10, 7), None, "inside a thread's run");
        assert_eq!(lane_mask(256, 10, 7), None, "another warp");
        assert_eq!(lane_mask(8 | 4, 10, 7), None, "partly inside the run");
        assert_eq!(lane_mask(0, 10, 7), None);
        // Fewer elements than threads: no sink lanes at all.
        assert_eq!(lane_mask(1, 5, 7), None);
    }
}
