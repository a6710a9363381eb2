//! Prefetching the next program's tiles (CPU).
//!
//! On the host a thread runs a contiguous range of programs, one after the other, and a
//! quantizer's program loads its tile, then computes for longer than the load took. The
//! hardware prefetchers follow a stream only within a 4 KiB page and only while it is
//! being read, so each program started by waiting for memory. So the fast form of a
//! specialized branch (the interior tiles) asks, at each of its top-level loads, for
//! what the next program will read: for each unmasked load of at least [`MIN_BYTES`]
//! whose elements are contiguous (checked at run time from its first and last offsets),
//! the same number of bytes right after it, into L2, one prefetch per cache line.
//! Prefetches never fault, so a guess past the end of a buffer costs nothing but the
//! request.
//!
//! Measured on the 2-bit uniform quantizer from memory (64 MiB, one thread, five
//! alternating runs) on a Rocket Lake Xeon: 0.61-0.70 of memcpy without, 0.69-0.76 with;
//! L1 (`prefetcht0`) was no better than L2, and prefetching two tiles ahead helped less
//! than one. An AMD Zen 4 stalls on a burst of more prefetches than it keeps misses in
//! flight: its 8 KiB tiles were 1.6x faster without (medians of 12 alternating runs:
//! 8.5 against 5.2 GB/s; the first 1 KiB only, 8.2; 2 KiB, 7.6; 4 KiB, 5.6), while the
//! HIGGS quantizer's 2 KiB tiles were 1.2x faster with (1.61 against 1.32 GB/s). So the
//! target caps the tiles it prefetches ([`TargetInfo::prefetch_bytes`](super::TargetInfo)).
//!
//! A tile whose rows are runs a run-time stride apart (a KIVI tile: `cols` channels of
//! `group` tokens, rows a tensor's channels apart) is many short streams, one a row, which
//! the hardware prefetchers do not follow: a program's first pass over it waited on memory
//! for half the 2-bit KIVI quantizer's time. The next program along grid axis 0 reads the
//! same rows' next `cols` channels, so each row prefetches the bytes right after it, with
//! no cap: on the Zen 4, the 8 KiB tile's 128 requests made the one-core 2-bit KIVI
//! quantize 1.16x (192 channels) to 1.49x (1024) faster, 1.08-1.17x at every width in
//! `aqua bench`. Where the tile is the last of its rows, the requests fetch the next
//! rows' first channels, which the next program reads anyway. Stores get none: prefetched
//! for writing at the store, the next tile's rows slowed the KIVI dequantizer (0.72x).

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::index::{shape_bits, Term};
use super::{types, Lowerer, ParamVal};
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{Elem, Inst, Op, ValueId};

/// Tiles smaller than this are not worth the requests (the parameters of a group).
const MIN_BYTES: u64 = 1024;

/// Bytes per prefetch request (a cache line).
const LINE: u64 = 64;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// At a top-level load of the fast form being lowered (where its pointer's scalars
    /// are defined): prefetches, into L2, the bytes after it when it is unmasked, of at
    /// least [`MIN_BYTES`] and contiguous, or after each of its rows when they are runs a
    /// run-time stride apart (see the module docs).
    pub(crate) fn prefetch_next_tile(&mut self, inst: &'a Inst) -> Lower<()> {
        let Op::Load { ptr, mask: None, .. } = inst.op else { return Ok(()) };
        if self.threads.is_some() {
            return Ok(());
        }
        let Some(&param) = self.bases.get(&ptr) else { return Ok(()) };
        let ParamVal::Ptr { base, .. } = self.params[param] else { return Ok(()) };
        let shape = &self.k.ty(ptr).shape;
        let (numel, bits) = (shape.numel() as u64, shape_bits(shape));
        let size = u64::from(types::mem_size(Elem::Val(self.k.ty(ptr).dtype())));
        let bytes = numel * size;
        if bytes < MIN_BYTES {
            return Ok(());
        }
        if let Some(row_bits) = self.strided_rows(ptr, size) {
            return self.prefetch_after_rows(ptr, base, bits, row_bits, size);
        }
        if self.prefetch_bytes.is_some_and(|most| bytes > most) {
            return Ok(());
        }
        let at = |l: &mut Self, k: u64| -> Lower<IntValue<'ctx>> {
            let idx = [Term { var: l.ic(k), lo: 0, bits }];
            Ok(l.elem(ptr, &idx)?.into_int_value())
        };
        let (first, last) = (at(self, 0)?, at(self, numel - 1)?);
        self.memo.clear();
        let span = self.b.build_int_sub(last, first, "span")?;
        let contiguous = self.b.build_int_compare(IntPredicate::EQ, span, self.ic(numel - 1), "contiguous")?;
        let (fetch, done) = (self.block("prefetch"), self.block("prefetch.end"));
        self.b.build_conditional_branch(contiguous, fetch, done)?;
        self.b.position_at_end(fetch);
        let i8t = self.cx.i8_type();
        let next = self.b.build_int_mul(self.b.build_int_add(last, self.ic(1), "next")?, self.ic(size), "at")?;
        // SAFETY (of the generated code): a prefetch of any address is harmless.
        let start = unsafe { self.b.build_gep(i8t, base, &[next], "next")? };
        self.prefetch_lines(start, (numel * size).div_ceil(LINE))?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        self.memo.clear();
        Ok(())
    }

    /// `log2` of the row length of the pointer block `ptr` when its rows are runs of at
    /// least a cache line that are not one run together (`analysis::runs`,
    /// `analysis::one_run_blocks`): rows a run-time stride apart.
    fn strided_rows(&self, ptr: ValueId, size: u64) -> Option<u32> {
        let shape = &self.k.ty(ptr).shape;
        let row_bits = shape.dims().last()?.trailing_zeros();
        let rows_are_runs = self.runs.get(&ptr).is_some_and(|r| r.last().contig >= row_bits);
        let row_bytes = size << row_bits;
        (shape.rank() >= 2 && !self.one_run.contains(&ptr) && rows_are_runs && row_bytes >= LINE).then_some(row_bits)
    }

    /// Prefetches, into L2, the bytes right after each row of `ptr` (`2^bits` elements in
    /// rows of `2^row_bits`, each a run): what the next program reads of the same rows.
    fn prefetch_after_rows(
        &mut self,
        ptr: ValueId,
        base: PointerValue<'ctx>,
        bits: u32,
        row_bits: u32,
        size: u64,
    ) -> Lower<()> {
        let lines = (size << row_bits).div_ceil(LINE);
        let last_col = self.ic((1 << row_bits) - 1);
        self.counted_loop(1 << (bits - row_bits), None, &mut |l, row| {
            let idx =
                [Term { var: row, lo: row_bits, bits: bits - row_bits }, Term { var: last_col, lo: 0, bits: row_bits }];
            let last = l.elem(ptr, &idx)?.into_int_value();
            l.memo.clear();
            let next = l.b.build_int_mul(l.b.build_int_add(last, l.ic(1), "next")?, l.ic(size), "at")?;
            // SAFETY (of the generated code): a prefetch of any address is harmless.
            let start = unsafe { l.b.build_gep(l.cx.i8_type(), base, &[next], "next")? };
            l.prefetch_lines(start, lines)
        })?;
        self.memo.clear();
        Ok(())
    }

    /// `lines` prefetches into L2 of the cache lines from `start` on.
    fn prefetch_lines(&mut self, start: PointerValue<'ctx>, lines: u64) -> Lower<()> {
        let decl = inkwell::intrinsics::Intrinsic::find("llvm.prefetch")
            .and_then(|i| i.get_declaration(self.module, &[start.get_type().into()]))
            .ok_or_else(|| LowerError::Builder("LLVM has no llvm.prefetch".into()))?;
        let i32t = self.cx.i32_type();
        // Read, locality 2 (L2 on x86: `prefetcht1`), data cache.
        let flags = [i32t.const_zero().into(), i32t.const_int(2, false).into(), i32t.const_int(1, false).into()];
        let i8t = self.cx.i8_type();
        self.counted_loop(lines, None, &mut |l, i| {
            let off = l.b.build_int_mul(i, l.ic(LINE), "off")?;
            // SAFETY (of the generated code): a prefetch of any address is harmless.
            let p = unsafe { l.b.build_gep(i8t, start, &[off], "line")? };
            l.b.build_call(decl, &[p.into(), flags[0], flags[1], flags[2]], "")?;
            Ok(())
        })
    }
}
