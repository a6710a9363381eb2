//! Warp shuffles: values exchanged between the lanes of a warp in registers, without
//! shared memory or a CTA barrier. Split reductions (`reduce/split.rs`) merge the partial
//! states of the threads that share a line with them.
//!
//! **Invariant: a shuffle is emitted only where control flow is uniform over the CTA**,
//! the places where a barrier may go (`gpu.rs`): after the join of any per-thread branch,
//! outside loops whose trip count differs between threads. On the GPU every lane of the
//! warp must execute it (the member mask is the full warp, `0xffffffff`); in the SIMT
//! emulation a shuffle waits at a CTA barrier, so every thread of the CTA must reach it.
//! Threads without a value of their own take part with a placeholder.
//!
//! - **NVPTX**: `llvm.nvvm.shfl.sync.bfly.{i32,f32}`. Booleans, 8- and 16-bit integers and
//!   f16 travel zero-extended in an i32 (f16 as its bits); 64-bit values as two 32-bit
//!   shuffles.
//! - **SIMT emulation**: host threads have no warps, so an [`Exchange`] holds slots in the
//!   CTA's shared memory, two halves of `values x T` slots of 8 bytes. A step writes each
//!   value to the thread's slot in one half, waits at the barrier and reads the partner's
//!   slot. Steps alternate halves, so one barrier per step is enough: a thread writes a
//!   half again only two steps later, after passing a barrier that every thread reaches
//!   only once done reading that half. [`Lowerer::end_exchange`] adds a last barrier
//!   before the slots go back to the allocator. The partner is `tid ^ mask` with
//!   `mask < 32`, which stays inside the thread's group of 32 (its warp on the GPU).

use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};

use super::Lowerer;
use crate::codegen::error::{Lower, LowerError};

/// Lanes of a warp.
pub(crate) const WARP: u32 = 32;
/// `shfl.sync`'s `c` operand for a butterfly over the whole warp: the clamp is the last
/// lane and no sub-warp segments.
const BFLY_CLAMP: u64 = 0x1f;
/// Bytes of one SIMT exchange slot (the widest value shuffled is 64 bits).
const SLOT: u64 = 8;

/// Shuffles of up to `values` values at a time; from [`Lowerer::begin_exchange`].
pub(crate) struct Exchange<'ctx> {
    /// SIMT emulation only: the two halves of slots in shared memory.
    slots: Option<PointerValue<'ctx>>,
    values: u64,
    /// Steps taken so far (their parity is the half the next one writes).
    steps: u64,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Prepares shuffles of up to `values` values per step (the SIMT emulation's slots).
    pub(crate) fn begin_exchange(&mut self, values: usize) -> Lower<Exchange<'ctx>> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("warp shuffle off the GPU".into()))?;
        let values = values as u64;
        let slots = match self.simt {
            Some(_) => Some(self.shared_alloc(2 * values * (1u64 << th.log2) * SLOT)?),
            None => None,
        };
        Ok(Exchange { slots, values, steps: 0 })
    }

    /// Each of `vals` as held by lane `lane ^ mask` of this thread's warp (`mask < 32`).
    /// Uniform control flow only (module docs).
    pub(crate) fn shuffle_xor(
        &mut self,
        ex: &mut Exchange<'ctx>,
        vals: &[BasicValueEnum<'ctx>],
        mask: u32,
    ) -> Lower<Vec<BasicValueEnum<'ctx>>> {
        if mask == 0 || mask >= WARP || vals.len() as u64 > ex.values {
            return Err(LowerError::Builder(format!("bad warp shuffle: mask {mask}, {} values", vals.len())));
        }
        match ex.slots {
            Some(_) => self.exchange_step(ex, vals, mask),
            None => vals.iter().map(|&v| self.shfl_bfly(v, mask)).collect(),
        }
    }

    /// Ends `ex`: in the SIMT emulation, a barrier (every thread has read its last
    /// partner) and the slots go back to the allocator; nothing on the GPU.
    pub(crate) fn end_exchange(&mut self, ex: Exchange<'ctx>) -> Lower<()> {
        if let Some(slots) = ex.slots {
            self.sync()?;
            self.release(slots);
        }
        Ok(())
    }

    /// One SIMT step: write, barrier, read the partner's slots (module docs).
    fn exchange_step(
        &mut self,
        ex: &mut Exchange<'ctx>,
        vals: &[BasicValueEnum<'ctx>],
        mask: u32,
    ) -> Lower<Vec<BasicValueEnum<'ctx>>> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("warp shuffle off the GPU".into()))?;
        let partner = self.b.build_xor(th.tid, self.ic(mask as u64), "partner")?;
        let published = self.publish(ex, vals)?;
        let mut out = Vec::with_capacity(vals.len());
        for (k, &v) in vals.iter().enumerate() {
            out.push(self.b.build_load(v.get_type(), published.slot(self, k, partner)?, "shfl")?);
        }
        Ok(out)
    }

    /// The SIMT emulation's half of a step: writes `vals` to this thread's slots of the
    /// next half and waits at the barrier; then any thread's slots of that half may be
    /// read until the step after next (module docs).
    pub(crate) fn publish(&mut self, ex: &mut Exchange<'ctx>, vals: &[BasicValueEnum<'ctx>]) -> Lower<Published<'ctx>> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("warp shuffle off the GPU".into()))?;
        let slots = ex.slots.ok_or_else(|| LowerError::Builder("an exchange through slots on the GPU".into()))?;
        if vals.len() as u64 > ex.values {
            return Err(LowerError::Builder(format!("{} values published, {} slots", vals.len(), ex.values)));
        }
        let threads = 1u64 << th.log2;
        let published = Published { slots, first: (ex.steps % 2) * ex.values * threads, threads };
        ex.steps += 1;
        for (k, &v) in vals.iter().enumerate() {
            self.b.build_store(published.slot(self, k, th.tid)?, v)?;
        }
        self.sync()?;
        Ok(published)
    }
}

/// The half of a SIMT exchange written by one step ([`Lowerer::publish`]).
pub(crate) struct Published<'ctx> {
    slots: PointerValue<'ctx>,
    first: u64,
    threads: u64,
}

impl<'ctx> Published<'ctx> {
    /// The address of value `k` of `thread` (`k` below the exchange's `values`).
    pub(crate) fn slot(&self, l: &Lowerer<'_, 'ctx>, k: usize, thread: IntValue<'ctx>) -> Lower<PointerValue<'ctx>> {
        let at = l.b.build_int_add(thread, l.ic(self.first + k as u64 * self.threads), "slot")?;
        let i64t = l.cx.i64_type();
        // SAFETY (of the generated code): `begin_exchange` sized the slots for every
        // (half, value, thread).
        Ok(unsafe { l.b.build_in_bounds_gep(i64t, self.slots, &[at], "slot")? })
    }
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// `shfl.sync.bfly` of one value of any state type (module docs).
    fn shfl_bfly(&self, v: BasicValueEnum<'ctx>, mask: u32) -> Lower<BasicValueEnum<'ctx>> {
        let (i16t, i32t, i64t) = (self.cx.i16_type(), self.cx.i32_type(), self.cx.i64_type());
        match v.get_type() {
            BasicTypeEnum::FloatType(t) if t == self.cx.f32_type() => self.shfl_call("f32", v, mask),
            BasicTypeEnum::FloatType(t) if t == self.cx.f16_type() => {
                let bits = self.b.build_bit_cast(v, i16t, "bits")?;
                let got = self.shfl_bfly(bits, mask)?;
                Ok(self.b.build_bit_cast(got, t, "f16")?)
            }
            BasicTypeEnum::FloatType(t) if t == self.cx.f64_type() => {
                let bits = self.b.build_bit_cast(v, i64t, "bits")?;
                let got = self.shfl_bfly(bits, mask)?;
                Ok(self.b.build_bit_cast(got, t, "f64")?)
            }
            BasicTypeEnum::IntType(t) if t.get_bit_width() == 32 => self.shfl_call("i32", v, mask),
            BasicTypeEnum::IntType(t) if t.get_bit_width() < 32 => {
                let wide = self.b.build_int_z_extend(v.into_int_value(), i32t, "wide")?;
                let got = self.shfl_call("i32", wide.into(), mask)?.into_int_value();
                Ok(self.b.build_int_truncate(got, t, "narrow")?.into())
            }
            BasicTypeEnum::IntType(t) if t.get_bit_width() == 64 => {
                let v = v.into_int_value();
                let lo = self.b.build_int_truncate(v, i32t, "lo")?;
                let hi = self.b.build_right_shift(v, i64t.const_int(32, false), false, "hi")?;
                let hi = self.b.build_int_truncate(hi, i32t, "hi")?;
                let lo = self.shfl_call("i32", lo.into(), mask)?.into_int_value();
                let hi = self.shfl_call("i32", hi.into(), mask)?.into_int_value();
                let lo = self.b.build_int_z_extend(lo, i64t, "lo")?;
                let hi = self.b.build_int_z_extend(hi, i64t, "hi")?;
                let hi = self.b.build_left_shift(hi, i64t.const_int(32, false), "hi")?;
                Ok(self.b.build_or(hi, lo, "v")?.into())
            }
            t => Err(LowerError::Builder(format!("no warp shuffle for values of type {t}"))),
        }
    }

    /// `llvm.nvvm.shfl.sync.bfly.<suffix>(full warp, v, mask, clamp)`.
    fn shfl_call(&self, suffix: &str, v: BasicValueEnum<'ctx>, mask: u32) -> Lower<BasicValueEnum<'ctx>> {
        let i32t = self.cx.i32_type();
        let args = [
            i32t.const_all_ones().into(),
            v,
            i32t.const_int(mask as u64, false).into(),
            i32t.const_int(BFLY_CLAMP, false).into(),
        ];
        self.intrinsic(&format!("llvm.nvvm.shfl.sync.bfly.{suffix}"), &[], &args)
    }
}
