//! Transposes of stack buffers in tiles of vector registers (CPU).
//!
//! Read through a transposed index, a block is a strided access: LLVM's vectorizer turns
//! it into a gather or into one scalar load per element, which made the transposes of the
//! HIGGS kernels their most expensive steps. So a `trans` of a 2-D block with both dims
//! at least [`TILE`] gets a buffer of its own (`plan::tiled_trans`), filled from its
//! operand's buffer tile by tile: [`TILE`] row vectors are loaded, transposed in
//! registers with `log2(TILE)` rounds of two-input shuffles, and stored as the result's
//! rows. Consumers then read it in order. Elements are moved as integers of their size,
//! so every dtype transposes the same way, bit for bit.

use inkwell::types::VectorType;
use inkwell::values::{BasicValue, PointerValue, VectorValue};

use super::{types, Lowerer};
use crate::codegen::error::{Lower, LowerError};
use crate::ir::Elem;

/// log2 of the side of a tile.
const TILE_BITS: u32 = 3;

/// Rows and columns of a tile: eight vectors of eight elements.
pub(crate) const TILE: u32 = 1 << TILE_BITS;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Writes the transpose of `src` (`rows x cols` elements, row-major, both multiples
    /// of [`TILE`]) into `dst` (`cols x rows`).
    pub(crate) fn transpose_tiles(
        &mut self,
        src: PointerValue<'ctx>,
        dst: PointerValue<'ctx>,
        (rows, cols): (u32, u32),
        elem: Elem,
    ) -> Lower<()> {
        let bytes = types::mem_size(elem);
        let int = match bytes {
            1 => self.cx.i8_type(),
            2 => self.cx.i16_type(),
            4 => self.cx.i32_type(),
            _ => self.cx.i64_type(),
        };
        let row_ty = int.vec_type(TILE);
        let t = TILE as u64;
        self.counted_loop(u64::from(rows / TILE), None, &mut |l, rb| {
            l.counted_loop(u64::from(cols / TILE), None, &mut |l, cb| {
                // Tile (rb, cb) of the source: rows rb*T + i, columns cb*T + j.
                let first = l.b.build_int_add(
                    l.b.build_int_mul(rb, l.ic(t * u64::from(cols)), "r0")?,
                    l.b.build_int_mul(cb, l.ic(t), "c0")?,
                    "src0",
                )?;
                let mut tile = Vec::with_capacity(TILE as usize);
                for i in 0..t {
                    let at = l.b.build_int_add(first, l.ic(i * u64::from(cols)), "at")?;
                    let p = unsafe { l.b.build_in_bounds_gep(int, src, &[at], "row")? };
                    let v = l.b.build_load(row_ty, p, "row")?;
                    super::element::set_align(v, bytes)?;
                    tile.push(v.into_vector_value());
                }
                let tile = l.transpose_in_registers(tile)?;
                let first = l.b.build_int_add(
                    l.b.build_int_mul(cb, l.ic(t * u64::from(rows)), "r0")?,
                    l.b.build_int_mul(rb, l.ic(t), "c0")?,
                    "dst0",
                )?;
                for (j, v) in tile.into_iter().enumerate() {
                    let at = l.b.build_int_add(first, l.ic(j as u64 * u64::from(rows)), "at")?;
                    let p = unsafe { l.b.build_in_bounds_gep(int, dst, &[at], "col")? };
                    let st = l.b.build_store(p, v)?;
                    st.set_alignment(bytes).map_err(|e| LowerError::Builder(e.to_string()))?;
                }
                Ok(())
            })
        })?;
        self.memo.clear();
        Ok(())
    }

    /// The transpose of a square tile given as its row vectors: for each bit of the
    /// index, rows `i` and `i + s` (`s` that bit, `i` without it) exchange the columns
    /// with and without it, which swaps that bit between row and column indices.
    fn transpose_in_registers(&self, mut rows: Vec<VectorValue<'ctx>>) -> Lower<Vec<VectorValue<'ctx>>> {
        let n = rows.len() as u32;
        let i32t = self.cx.i32_type();
        let mask = |f: &dyn Fn(u32) -> u32| {
            let lanes: Vec<_> = (0..n).map(|p| i32t.const_int(u64::from(f(p)), false).as_basic_value_enum()).collect();
            VectorType::const_vector(&lanes)
        };
        let mut s = 1;
        while s < n {
            // Row i keeps its columns without bit s and takes row i + s's from column p - s;
            // row i + s takes row i's from column p + s and keeps its own with bit s.
            let low = mask(&|p| if p & s == 0 { p } else { n + p - s });
            let high = mask(&|p| if p & s == 0 { p + s } else { n + p });
            for i in (0..n).filter(|i| i & s == 0) {
                let (a, b) = (rows[i as usize], rows[(i + s) as usize]);
                rows[i as usize] = self.b.build_shuffle_vector(a, b, low, "lo")?;
                rows[(i + s) as usize] = self.b.build_shuffle_vector(a, b, high, "hi")?;
            }
            s *= 2;
        }
        Ok(rows)
    }
}
