//! `dot` on tensor cores: f16 or bf16 operands whose dims are multiples of the mma tile
//! (`mma.rs`), on the GPU targets and the SIMT emulation.
//!
//! The output's 16x8 tiles are dealt to the warps round-robin, `tile = round * W + warp`
//! in row-major tile order (neighbouring warps share rows of A). Every warp runs the same
//! number of rounds, so control flow stays uniform over the CTA; a warp past the last
//! tile computes tile 0 again and stores nothing. A tile starts from `acc` (or zero) and
//! takes the k dim 16 at a time, in increasing order; its lanes read their fragments
//! from the operands' shared-memory buffers and write D to the output buffer, which a
//! barrier then publishes to the CTA.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::super::index::{log2, Term};
use super::super::mma::{Fragment, Operands, PUBLISHED, TILE_K, TILE_M, TILE_N};
use super::super::shuffle::WARP;
use super::super::Lowerer;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{DType, Elem, ValueId};

/// The operands and shape of one `dot` (`a: [m, k]`, `b: [k, n]`).
pub(super) struct DotShape {
    pub a: ValueId,
    pub b: ValueId,
    pub acc: Option<ValueId>,
    pub m: u32,
    pub k: u32,
    pub n: u32,
}

/// An index from bit fields listed from the least significant up; fields of no bits
/// are left out.
fn fields<'ctx>(parts: &[(IntValue<'ctx>, u32)]) -> Vec<Term<IntValue<'ctx>>> {
    let mut lo = 0;
    let mut out = Vec::with_capacity(parts.len());
    for &(var, bits) in parts {
        if bits > 0 {
            out.push(Term { var, lo, bits });
        }
        lo += bits;
    }
    out
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Whether a `dot` of operands of dtypes `da` and `db` and this shape runs on tensor
    /// cores: a GPU target, both operands f16 or both bf16, and every dim a multiple of
    /// the mma tile's.
    pub(super) fn mma_fits(&self, da: DType, db: DType, s: &DotShape) -> bool {
        self.threads.is_some()
            && da == db
            && matches!(da, DType::F16 | DType::BF16)
            && s.m.is_multiple_of(TILE_M)
            && s.n.is_multiple_of(TILE_N)
            && s.k.is_multiple_of(TILE_K)
    }

    /// `a x b (+ acc)` into `out` (`m * n` f32 in shared memory) with mma (module docs).
    pub(super) fn emit_dot_mma(&mut self, dtype: DType, s: &DotShape, out: PointerValue<'ctx>) -> Lower<()> {
        let th = self.threads.ok_or_else(|| LowerError::Builder("mma off the GPU".into()))?;
        let warps = 1u64 << th.log2.saturating_sub(log2(WARP));
        let (tiles_m, tiles_n) = ((s.m / TILE_M) as u64, (s.n / TILE_N) as u64);
        let tiles = tiles_m * tiles_n;
        let warp = self.b.build_right_shift(th.tid, self.ic(log2(WARP) as u64), false, "warp")?;
        let (g, t) = self.mma_lane()?;
        let mut ex = self.begin_exchange(PUBLISHED)?;
        self.memo.clear();
        self.counted_loop(tiles.div_ceil(warps), None, &mut |l, round| {
            let tile = l.b.build_int_mul(round, l.ic(warps), "tile")?;
            let tile = l.b.build_int_add(tile, warp, "tile")?;
            let valid = l.b.build_int_compare(IntPredicate::ULT, tile, l.ic(tiles), "valid")?;
            let tile = if tiles.is_multiple_of(warps) {
                tile
            } else {
                l.b.build_select(valid, tile, l.ic(0), "tile")?.into_int_value()
            };
            let tn = l.b.build_and(tile, l.ic(tiles_n - 1), "tn")?;
            let tm = l.b.build_right_shift(tile, l.ic(log2(tiles_n as u32) as u64), false, "tm")?;
            let tile_at = TileAt { g, t, tm, tn };
            let cell = l.alloc_raw(l.cx.f32_type().into(), 4)?;
            for i in 0..4 {
                let c = match s.acc {
                    Some(acc) => l.elem(acc, &tile_at.c(l, s, i))?.into_float_value(),
                    None => l.cx.f32_type().const_zero(),
                };
                l.b.build_store(l.cell_at(cell, i)?, c)?;
            }
            l.counted_loop((s.k / TILE_K) as u64, None, &mut |l, kc| {
                let zero = l.cx.f32_type().const_zero();
                let mut ops = Operands { a: [zero.into(); 8], b: [zero.into(); 4], c: [zero; 4] };
                for (i, a) in ops.a.iter_mut().enumerate() {
                    *a = l.elem(s.a, &tile_at.a(l, s, kc, i as u32))?;
                }
                for (i, b) in ops.b.iter_mut().enumerate() {
                    *b = l.elem(s.b, &tile_at.b(l, s, kc, i as u32))?;
                }
                for (i, c) in ops.c.iter_mut().enumerate() {
                    *c = l.b.build_load(l.cx.f32_type(), l.cell_at(cell, i as u32)?, "c")?.into_float_value();
                }
                let d = l.mma(&mut ex, dtype, &ops)?;
                for (i, di) in d.iter().enumerate() {
                    l.b.build_store(l.cell_at(cell, i as u32)?, *di)?;
                }
                Ok(())
            })?;
            let (store, join) = (l.block("mma.store"), l.block("mma.store.end"));
            l.b.build_conditional_branch(valid, store, join)?;
            l.b.position_at_end(store);
            for i in 0..4 {
                let d = l.b.build_load(l.cx.f32_type(), l.cell_at(cell, i)?, "d")?;
                let o = l.linear(&tile_at.c(l, s, i))?;
                l.store_elem(out, Elem::Val(DType::F32), o, d)?;
            }
            l.b.build_unconditional_branch(join)?;
            l.b.position_at_end(join);
            l.memo.clear();
            Ok(())
        })?;
        self.end_exchange(ex)?;
        self.sync()
    }

    /// Element `i` of a 4-element stack cell.
    fn cell_at(&self, cell: PointerValue<'ctx>, i: u32) -> Lower<PointerValue<'ctx>> {
        // SAFETY (of the generated code): `i < 4`, the cell's length.
        Ok(unsafe { self.b.build_in_bounds_gep(self.cx.f32_type(), cell, &[self.ic(i as u64)], "cell")? })
    }
}

/// A lane's place in one output tile: `(g, t)` in the warp, the tile's row and column.
struct TileAt<'ctx> {
    g: IntValue<'ctx>,
    t: IntValue<'ctx>,
    tm: IntValue<'ctx>,
    tn: IntValue<'ctx>,
}

impl<'ctx> TileAt<'ctx> {
    /// The index in `a: [m, k]` of A element `i` of k-chunk `kc`: row `16 tm + g + r`,
    /// column `16 kc + 2t + c` (`Fragment::a`).
    fn a(&self, l: &Lowerer<'_, 'ctx>, s: &DotShape, kc: IntValue<'ctx>, i: u32) -> Vec<Term<IntValue<'ctx>>> {
        let at = Fragment::a(i);
        let bit = |v: u32| l.ic(v as u64);
        fields(&[
            (bit(at.col % 2), 1),
            (self.t, 2),
            (bit(at.col / 8), 1),
            (kc, log2(s.k / TILE_K)),
            (self.g, 3),
            (bit(at.row / 8), 1),
            (self.tm, log2(s.m / TILE_M)),
        ])
    }

    /// The index in `b: [k, n]` of B element `i` of k-chunk `kc`: row `16 kc + 2t + r`,
    /// column `8 tn + g` (`Fragment::b`).
    fn b(&self, l: &Lowerer<'_, 'ctx>, s: &DotShape, kc: IntValue<'ctx>, i: u32) -> Vec<Term<IntValue<'ctx>>> {
        let at = Fragment::b(i);
        let bit = |v: u32| l.ic(v as u64);
        fields(&[
            (self.g, 3),
            (self.tn, log2(s.n / TILE_N)),
            (bit(at.row % 2), 1),
            (self.t, 2),
            (bit(at.row / 8), 1),
            (kc, log2(s.k / TILE_K)),
        ])
    }

    /// The index in the `[m, n]` output (and `acc`) of C/D element `i`: row
    /// `16 tm + g + r`, column `8 tn + 2t + c` (`Fragment::c`).
    fn c(&self, l: &Lowerer<'_, 'ctx>, s: &DotShape, i: u32) -> Vec<Term<IntValue<'ctx>>> {
        let at = Fragment::c(i);
        let bit = |v: u32| l.ic(v as u64);
        fields(&[
            (bit(at.col), 1),
            (self.t, 2),
            (self.tn, log2(s.n / TILE_N)),
            (self.g, 3),
            (bit(at.row / 8), 1),
            (self.tm, log2(s.m / TILE_M)),
        ])
    }
}
