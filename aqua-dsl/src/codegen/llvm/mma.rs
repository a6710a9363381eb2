//! Tensor-core tile products: `mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.f32`
//! (sm_80 and later), `D = A B + C` for a 16x16 tile of A, a 16x8 tile of B and a 16x8
//! f32 tile of C and D, each spread over the 32 lanes of a warp.
//!
//! **Fragments** (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point
//! type"), with `g = lane / 4` and `t = lane % 4`, as [`Fragment`] spells them:
//!
//! - A: `a[i]`, `i < 8`, is element `(g + 8 * (i / 2 % 2), 2t + i % 2 + 8 * (i / 4))`;
//! - B: `b[i]`, `i < 4`, is element `(2t + i % 2 + 8 * (i / 2), g)`;
//! - C and D: `c[i]`, `i < 4`, is element `(g + 8 * (i / 2), 2t + i % 2)`.
//!
//! **NVPTX**: `llvm.nvvm.mma.m16n8k16.row.col.f32.f32` (f16 operands) or `.bf16`, the
//! operands packed two to a 32-bit register, the lower-numbered element in the low half.
//!
//! **SIMT emulation**: every lane publishes its A and B elements, widened to f32, to the
//! exchange's slots (`shuffle.rs`), then computes its own four D elements from its warp's
//! slots, each as `d = c; d = d + a[r][k] * b[k][c]` for `k = 0, 1, ... 15`: every
//! product is exact in f32 (two significands of at most 11 bits) and every sum rounded,
//! the interpreter's order for `dot`, so the emulation matches it bit for bit. A second
//! barrier closes the reads: unlike a shuffle, an mma runs in loops, where every run
//! publishes to the same half of the slots. Its reads
//! invert the fragment maps by hand ([`owner_of_a`], [`owner_of_b`]); a unit test checks
//! them against [`Fragment`], so a wrong inverse cannot hide a wrong load.
//!
//! The hardware sums a tile in an order and with roundings of its own, so on a GPU `dot`
//! agrees with the interpreter within a tolerance, not bit for bit (`tests/tests/dot_mma.rs`).
//! Like a shuffle, an mma is emitted only where control flow is uniform over the CTA:
//! the hardware needs the whole warp, and the emulation waits at a CTA barrier.

use inkwell::values::{BasicValueEnum, FloatValue, IntValue};

use super::shuffle::Exchange;
use super::Lowerer;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::DType;

/// Rows of the A, C and D tiles.
pub(crate) const TILE_M: u32 = 16;
/// Columns of the B, C and D tiles.
pub(crate) const TILE_N: u32 = 8;
/// Columns of A and rows of B.
pub(crate) const TILE_K: u32 = 16;
/// Values a lane publishes in the SIMT emulation: its 8 A and 4 B elements.
pub(crate) const PUBLISHED: usize = 12;

/// Where a lane's fragment elements sit in their tiles, as offsets from the lane's own
/// `(g, 2t)` row and column bases: element `(row_base + row, col_base + col)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Offset {
    pub row: u32,
    pub col: u32,
}

/// The fragment maps (module docs). For A and C, rows are based at `g` and columns at
/// `2t`; for B, rows at `2t` and columns at `g`.
pub(crate) struct Fragment;

impl Fragment {
    pub(crate) fn a(i: u32) -> Offset {
        Offset { row: 8 * (i / 2 % 2), col: i % 2 + 8 * (i / 4) }
    }

    pub(crate) fn b(i: u32) -> Offset {
        Offset { row: i % 2 + 8 * (i / 2), col: 0 }
    }

    pub(crate) fn c(i: u32) -> Offset {
        Offset { row: 8 * (i / 2), col: i % 2 }
    }
}

/// The lane (of the warp) and index of the A element at `(row, col)`.
pub(crate) fn owner_of_a(row: u32, col: u32) -> (u32, u32) {
    (row % 8 * 4 + col % 8 / 2, col % 2 + 2 * (row / 8) + 4 * (col / 8))
}

/// The lane and index of the B element at `(row, col)`.
pub(crate) fn owner_of_b(row: u32, col: u32) -> (u32, u32) {
    (col * 4 + row % 8 / 2, row % 2 + 2 * (row / 8))
}

/// A lane's operands of one mma: 8 A and 4 B elements of the operands' dtype (register
/// form, `types.rs`) and 4 f32 C elements.
pub(crate) struct Operands<'ctx> {
    pub a: [BasicValueEnum<'ctx>; 8],
    pub b: [BasicValueEnum<'ctx>; 4],
    pub c: [FloatValue<'ctx>; 4],
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The lane's `(g, t)`: its row of 4 lanes in the warp, and its place in that row.
    pub(crate) fn mma_lane(&self) -> Lower<(IntValue<'ctx>, IntValue<'ctx>)> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("mma off the GPU".into()))?;
        let g = self.b.build_right_shift(th.tid, self.ic(2), false, "g")?;
        let g = self.b.build_and(g, self.ic(7), "g")?;
        let t = self.b.build_and(th.tid, self.ic(3), "t")?;
        Ok((g, t))
    }

    /// This lane's 4 elements of `D = A B + C` for operands of `dtype` (f16 or bf16).
    /// `ex` (from `begin_exchange(PUBLISHED)`) carries the SIMT emulation's slots.
    pub(crate) fn mma(
        &mut self,
        ex: &mut Exchange<'ctx>,
        dtype: DType,
        ops: &Operands<'ctx>,
    ) -> Lower<[FloatValue<'ctx>; 4]> {
        if self.simt.is_some() {
            return self.mma_emulated(ex, dtype, ops);
        }
        let (name, a, b) = match dtype {
            DType::F16 => ("llvm.nvvm.mma.m16n8k16.row.col.f32.f32", self.pack_f16(&ops.a)?, self.pack_f16(&ops.b)?),
            DType::BF16 => ("llvm.nvvm.mma.m16n8k16.row.col.bf16", self.pack_bf16(&ops.a)?, self.pack_bf16(&ops.b)?),
            d => return Err(LowerError::Builder(format!("no mma for {d} operands"))),
        };
        let args: Vec<BasicValueEnum> = a.into_iter().chain(b).chain(ops.c.iter().map(|&c| c.into())).collect();
        let d = self.intrinsic(name, &[], &args)?.into_struct_value();
        let mut out = ops.c;
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.b.build_extract_value(d, i as u32, "d")?.into_float_value();
        }
        Ok(out)
    }

    /// Pairs of f16 values as `<2 x half>` registers.
    fn pack_f16(&self, vals: &[BasicValueEnum<'ctx>]) -> Lower<Vec<BasicValueEnum<'ctx>>> {
        let ty = self.cx.f16_type().vec_type(2);
        vals.chunks(2)
            .map(|pair| {
                let mut v = ty.get_undef();
                for (j, &x) in pair.iter().enumerate() {
                    v = self.b.build_insert_element(v, x, self.cx.i32_type().const_int(j as u64, false), "pk")?;
                }
                Ok(v.into())
            })
            .collect()
    }

    /// Pairs of bf16 values (`i16` bits) as `i32` registers, the first in the low half.
    fn pack_bf16(&self, vals: &[BasicValueEnum<'ctx>]) -> Lower<Vec<BasicValueEnum<'ctx>>> {
        let i32t = self.cx.i32_type();
        vals.chunks(2)
            .map(|pair| {
                let lo = self.b.build_int_z_extend(pair[0].into_int_value(), i32t, "lo")?;
                let hi = self.b.build_int_z_extend(pair[1].into_int_value(), i32t, "hi")?;
                let hi = self.b.build_left_shift(hi, i32t.const_int(16, false), "hi")?;
                Ok(self.b.build_or(hi, lo, "pk")?.into())
            })
            .collect()
    }

    /// The SIMT emulation of [`Self::mma`] (module docs).
    fn mma_emulated(
        &mut self,
        ex: &mut Exchange<'ctx>,
        dtype: DType,
        ops: &Operands<'ctx>,
    ) -> Lower<[FloatValue<'ctx>; 4]> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("mma off the GPU".into()))?;
        let mut vals = Vec::with_capacity(PUBLISHED);
        for &x in ops.a.iter().chain(&ops.b) {
            vals.push(self.widen(dtype, x)?.into());
        }
        let published = self.publish(ex, &vals)?;
        let f32t = self.cx.f32_type();
        // Lane 0 of this thread's row of four, and of its warp.
        let row_lanes = self.b.build_and(th.tid, self.ic(!3u64), "row")?;
        let warp = self.b.build_and(th.tid, self.ic(!31u64), "warp")?;
        let (_, t) = self.mma_lane()?;
        let two_t = self.b.build_left_shift(t, self.ic(1), "2t")?;
        let mut out = ops.c;
        for (i, d) in out.iter_mut().enumerate() {
            let at = Fragment::c(i as u32);
            // This D element's column `2t + at.col`, as a lane offset for B's owner.
            let col = self.b.build_int_add(two_t, self.ic(at.col as u64), "col")?;
            let b_row = self.b.build_left_shift(col, self.ic(2), "brow")?;
            let b_row = self.b.build_int_add(warp, b_row, "brow")?;
            for k in 0..TILE_K {
                // Row `g + at.row`: A's owner is lane `4g + k % 8 / 2` (`at.row % 8 == 0`).
                let (a_lane, a_i) = owner_of_a(at.row, k);
                let (b_lane, b_i) = owner_of_b(k, 0);
                let a_at = self.b.build_int_add(row_lanes, self.ic(a_lane as u64), "al")?;
                let b_at = self.b.build_int_add(b_row, self.ic(b_lane as u64), "bl")?;
                let av = self.b.build_load(f32t, published.slot(self, a_i as usize, a_at)?, "a")?.into_float_value();
                let bv = self.b.build_load(f32t, published.slot(self, 8 + b_i as usize, b_at)?, "b")?;
                let p = self.b.build_float_mul(av, bv.into_float_value(), "p")?;
                *d = self.b.build_float_add(*d, p, "d")?;
            }
        }
        // The call sits in loops, where every run publishes to the same half of the
        // slots: no lane may write it again before the warp is done reading.
        self.sync()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written inverses name, for every element of A and B, the lane and index
    /// whose fragment holds it according to [`Fragment`].
    #[test]
    fn owners_invert_the_fragment_maps() {
        for lane in 0..32 {
            let (g, t) = (lane / 4, lane % 4);
            for i in 0..8 {
                let p = Fragment::a(i);
                assert_eq!(owner_of_a(g + p.row, 2 * t + p.col), (lane, i), "A lane {lane} index {i}");
            }
            for i in 0..4 {
                let p = Fragment::b(i);
                assert_eq!(owner_of_b(2 * t + p.row, g + p.col), (lane, i), "B lane {lane} index {i}");
            }
        }
        // And the maps cover each tile once.
        let mut a = [[0; TILE_K as usize]; TILE_M as usize];
        let mut c = [[0; TILE_N as usize]; TILE_M as usize];
        for lane in 0..32 {
            let (g, t) = (lane / 4, lane % 4);
            for i in 0..8 {
                let p = Fragment::a(i);
                a[(g + p.row) as usize][(2 * t + p.col) as usize] += 1;
            }
            for i in 0..4 {
                let p = Fragment::c(i);
                c[(g + p.row) as usize][(2 * t + p.col) as usize] += 1;
            }
        }
        assert!(a.iter().flatten().chain(c.iter().flatten()).all(|&n| n == 1));
    }
}
