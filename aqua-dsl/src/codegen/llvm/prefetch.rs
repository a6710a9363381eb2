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

use inkwell::values::IntValue;
use inkwell::IntPredicate;

use super::index::{shape_bits, Term};
use super::{types, Lowerer, ParamVal};
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{Elem, Inst, Op};

/// Tiles smaller than this are not worth the requests (the parameters of a group).
const MIN_BYTES: u64 = 1024;

/// Bytes per prefetch request (a cache line).
const LINE: u64 = 64;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// At a top-level load of the fast form being lowered (where its pointer's scalars
    /// are defined): prefetches, into L2, the bytes after it when it is unmasked, of at
    /// least [`MIN_BYTES`] and contiguous (see the module docs).
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
        if bytes < MIN_BYTES || self.prefetch_bytes.is_some_and(|most| bytes > most) {
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
        let decl = inkwell::intrinsics::Intrinsic::find("llvm.prefetch")
            .and_then(|i| i.get_declaration(self.module, &[start.get_type().into()]))
            .ok_or_else(|| LowerError::Builder("LLVM has no llvm.prefetch".into()))?;
        let i32t = self.cx.i32_type();
        // Read, locality 2 (L2 on x86: `prefetcht1`), data cache.
        let flags = [i32t.const_zero().into(), i32t.const_int(2, false).into(), i32t.const_int(1, false).into()];
        self.counted_loop((numel * size).div_ceil(LINE), None, &mut |l, i| {
            let off = l.b.build_int_mul(i, l.ic(LINE), "off")?;
            let p = unsafe { l.b.build_gep(i8t, start, &[off], "line")? };
            l.b.build_call(decl, &[p.into(), flags[0], flags[1], flags[2]], "")?;
            Ok(())
        })?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        self.memo.clear();
        Ok(())
    }
}
