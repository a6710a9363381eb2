//! Global memory addressed by runs.
//!
//! A thread's neighbouring elements of a load or store are adjacent in memory when the
//! offsets run consecutively along the last dim (`analysis::runs`). Their addresses are
//! then built as one start per run of up to [`RUN_BITS`] elements plus a constant step:
//! `gep(gep(base, offset(run start)), k)`. The back end's load/store vectorizer merges
//! such accesses into 64- and 128-bit ones whatever arithmetic produced the offsets, where
//! `sext(offset(start) + k)` computed per element hid the adjacency behind the
//! sign extension of a wrapping add. The start's alignment, known from the offsets'
//! divisibility and the buffers' [`BUFFER_ALIGN`], is stated by masking the start offset's low bits.
//!
//! The CPU does the same, without the alignment claim, for runs of at least 4 offsets in
//! a block that is not one run over all its rows (`analysis::one_run_blocks`): a KIVI
//! tile's rows, a tensor's run-time row length apart, and its packed codes, 4 or 8 words
//! a row at 4 or 8 bits. There the per-element `sext(offset)` kept LLVM's loop vectorizer
//! off the dequantizer's store loop (its 4-bit form scalar, the 2-bit one through a
//! buffer of offsets), and loaded the codes' words one by one. A block that is one
//! run over all its rows is addressed from one start, its first element, by its linear
//! index: runs from a start per row made the vectorizer choose 4 lanes instead of 16 for
//! the uniform dequantizer's store, and `sext(offset)` per element hid the stride of the
//! 8-bit quantizer's packing (four codes a word, its f16 values read at stride 4), which
//! LLVM then loaded one by one instead of as an interleaved group (one-core 8-bit
//! quantize 2.8 to 8.5-8.9 GB/s).

use inkwell::attributes::Attribute;
use inkwell::context::Context;
use inkwell::values::{OperandBundle, PointerValue};

use super::element::Idx;
use super::index::{self, Field};
use super::{types, Lowerer};
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{Elem, ValueId};

/// Bytes every buffer starts aligned to on GPU targets (device allocations are 256-byte
/// aligned, the emulation's host buffers 64).
pub(crate) const BUFFER_ALIGN: u32 = 16;

/// The `align` attribute every buffer parameter of GPU code carries ([`BUFFER_ALIGN`]).
pub(crate) fn buffer_align(cx: &Context) -> Attribute {
    cx.create_enum_attribute(Attribute::get_named_enum_kind_id("align"), u64::from(BUFFER_ALIGN))
}

/// The longest run addressed from one start: a thread's unrolled group (`vector.rs`).
const RUN_BITS: u32 = 3;

/// On the CPU, runs of at least 4 elements are addressed by runs, up to 64 from one
/// start (runs of 16 and more only made the 4- and 8-bit KIVI codes' rows of 4 and 8
/// words a load each: dequantize 1.17x, 4-bit quantize 1.07x).
const CPU_MIN_RUN_BITS: u32 = 2;
const CPU_RUN_BITS: u32 = 6;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The address of element `idx` of the pointer block `ptr` into `base`, and the
    /// alignment an access there may assume.
    pub(crate) fn element_address(
        &mut self,
        ptr: ValueId,
        base: PointerValue<'ctx>,
        elem: Elem,
        idx: &Idx<'ctx>,
    ) -> Lower<(PointerValue<'ctx>, u32)> {
        let size = types::mem_size(elem);
        let gpu = self.threads.is_some();
        let axis = self.runs.get(&ptr).map(|r| r.last());
        let whole = idx.iter().map(|t| t.lo + t.bits).max().unwrap_or(0);
        let bits = match axis {
            Some(a) if gpu => a.contig.min(RUN_BITS),
            _ if self.one_run(ptr) => whole,
            Some(a) if a.contig >= CPU_MIN_RUN_BITS => a.contig.min(CPU_RUN_BITS),
            _ => 0,
        };
        if bits == 0 {
            let off = self.elem(ptr, idx)?.into_int_value();
            return Ok((self.address(base, elem, off)?, size));
        }
        let total = whole.max(bits);
        let above = [Field { src: bits, len: total - bits, dst: bits }];
        let start_idx = index::remap(idx, &above, self)?;
        let step_idx = index::remap(idx, &[Field { src: 0, len: bits, dst: 0 }], self)?;
        let mut off = self.elem(ptr, &start_idx)?.into_int_value();
        let start_align =
            axis.filter(|_| gpu).map_or(size, |a| (size << a.div_at(bits).min(4)).min(BUFFER_ALIGN));
        if start_align > size {
            // Said as a mask of the offset's low bits, which LLVM folds away where it sees
            // them zero and otherwise keeps as one `and`: the step below is a loop variable
            // until unrolling, so no access can carry the alignment itself, and LLVM's own
            // inference gives up on long offset expressions. A wrong claim then reads the
            // wrong element, which the SIMT emulation's tests see, instead of faulting
            // only on a GPU.
            let low = u64::from(start_align / size) - 1;
            off = self.b.build_and(off, off.get_type().const_int(!low, false), "aligned")?;
        }
        let ty = types::mem(self.cx, elem);
        // A run's first element may be masked off and outside the buffer (a block at
        // `i - 1`), so its address, and each element's from it, is a plain one: `inbounds`
        // would make them poison there (the code LLVM makes is the same either way).
        // SAFETY (of the generated code): `gep` without `inbounds` only computes.
        let start = unsafe { self.b.build_gep(ty, base, &[off], "start")? };
        if start_align > size {
            self.assume_aligned(start, start_align)?;
        }
        let step = self.linear(&step_idx)?;
        // SAFETY (of the generated code): the run's elements are `start + k`, which the
        // access reaches only where the element `offset(start + k)` is in the buffer.
        let at = unsafe { self.b.build_gep(ty, start, &[step], "run")? };
        let align = match step.get_zero_extended_constant() {
            Some(0) => start_align,
            Some(k) => start_align.min(1 << (k * u64::from(size)).trailing_zeros().min(4)),
            None => size,
        };
        Ok((at, align.max(size)))
    }

    /// CPU: whether the offsets of the pointer block `ptr` are one run over the whole
    /// block (`analysis::one_run_blocks`), addressed from one start.
    fn one_run(&self, ptr: ValueId) -> bool {
        self.one_run.contains(&ptr)
    }

    /// `llvm.assume(true) ["align"(p, align)]`: the alignment of a run's start, for the
    /// load/store vectorizer, whose own inference stops a few operations deep into the
    /// offset (the mask above says the same to the rest of LLVM, then folds away).
    fn assume_aligned(&self, p: PointerValue<'ctx>, align: u32) -> Lower<()> {
        let assume = inkwell::intrinsics::Intrinsic::find("llvm.assume")
            .and_then(|i| i.get_declaration(self.module, &[]))
            .ok_or_else(|| LowerError::Builder("LLVM has no intrinsic llvm.assume".into()))?;
        let yes = self.cx.bool_type().const_all_ones();
        let bundle =
            OperandBundle::create("align", &[p.into(), self.cx.i64_type().const_int(align.into(), false).into()]);
        self.b.build_direct_call_with_operand_bundles(assume, &[yes.into()], &[bundle], "")?;
        Ok(())
    }
}
