//! Small tables looked up in registers (CPU with AVX-512).
//!
//! A `gather` from a constant table compiles to LLVM loads at computed addresses, which
//! the vectorizer turns into hardware gathers: 16 loads per vector. The HIGGS
//! dequantizer's codebook lookups (two 16-entry tables for EDEN2-16, one per
//! coordinate) were a quarter of its time that way. A table of at most 16 elements of
//! 32 bits fits one vector register, and one `vpermps` looks up 16 indices in it; up to
//! 32 fit two, read by one `vpermi2ps`, up to 64 four, read by two of those and a
//! select on the index's bit 5 (EDEN2-64), and up to 256 sixteen, read by eight and a
//! tree of selects on bits 5 to 7 (EDEN2-256: HIGGS 4-bit quantize and dequantize about
//! 1.27x faster than with hardware gathers). So a gather whose result fills a buffer from a
//! buffered block of 32-bit indices (or a reshape of one; a multiple of 16 elements) is
//! emitted as an explicit vector loop: load 16 indices, clamp them into the table as
//! every gather does (`docs/semantics.md`), permute, store.

use inkwell::types::VectorType;
use inkwell::IntPredicate;
use inkwell::values::{BasicValueEnum, PointerValue, VectorValue};

use super::element::set_align;
use super::plan::Place;
use super::Lowerer;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{DType, Kernel, Op, TableId, ValueId};

/// Lanes of one lookup, and the table elements one register holds.
const LANES: u32 = 16;

/// The longest table looked up in registers (sixteen of them: eight two-register
/// permutes and a tree of seven selects, against a hardware gather of 16 loads).
const MAX_LEN: usize = 256;

/// Whether `gather(table, index)` has a table and indices a register lookup takes (on a
/// CPU that has one, when the indices are a buffer in row-major order).
pub(crate) fn fits_registers(k: &Kernel, table: TableId, index: ValueId) -> bool {
    let Some(t) = k.tables.get(table.0 as usize) else { return false };
    let ty = k.ty(index);
    matches!(t.dtype, DType::F32 | DType::I32 | DType::U32)
        && (1..=MAX_LEN).contains(&t.data.len())
        && matches!(ty.dtype(), DType::I32 | DType::U32)
        && ty.shape.numel().is_multiple_of(LANES as usize)
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Whether `gather(table, index)` into a buffer is looked up in registers.
    pub(crate) fn lookup_in_registers(&self, table: TableId, index: ValueId) -> bool {
        self.permute16
            && self.threads.is_none()
            && fits_registers(self.k, table, index)
            && self.row_major_buffer(index).is_some()
    }

    /// The buffered value holding `v`'s elements in row-major order: `v`, or what it
    /// reshapes (reshapes and `expand_dims` keep the linear index and index their
    /// operand's buffer in place, `plan.rs`).
    fn row_major_buffer(&self, mut v: ValueId) -> Option<ValueId> {
        loop {
            match self.place(v) {
                Place::Buffer => return Some(v),
                Place::Lazy => match self.def(v).ok()?.op {
                    Op::Reshape { arg, .. } | Op::ExpandDims { arg, .. } => v = arg,
                    _ => return None,
                },
                Place::Scalar => return None,
            }
        }
    }

    /// Fills `dst` with `gather(table, index)` (see the module docs).
    pub(crate) fn lookup_table(&mut self, table: TableId, index: ValueId, dst: PointerValue<'ctx>) -> Lower<()> {
        let t = &self.k.tables[table.0 as usize];
        let (float, signed, len) = (t.dtype == DType::F32, self.k.ty(index).dtype() == DType::I32, t.data.len());
        let src = self
            .row_major_buffer(index)
            .ok_or_else(|| LowerError::Builder("a lookup index without a buffer".into()))?;
        let src = self.buffer(src)?;
        let mut vals = self.table_values(table);
        // Registers of 16 elements; lanes past the table are never read (indices are
        // clamped first).
        let registers = len.div_ceil(LANES as usize);
        vals.resize(registers * LANES as usize, vals[len - 1]);
        let regs: Vec<VectorValue<'ctx>> = vals
            .chunks(LANES as usize)
            .map(|part| match part[0] {
                BasicValueEnum::FloatValue(_) => {
                    VectorType::const_vector(&part.iter().map(|v| v.into_float_value()).collect::<Vec<_>>())
                }
                _ => VectorType::const_vector(&part.iter().map(|v| v.into_int_value()).collect::<Vec<_>>()),
            })
            .collect();
        let i32t = self.cx.i32_type();
        let idx_ty = i32t.vec_type(LANES);
        let splat = |v: u64| VectorType::const_vector(&vec![i32t.const_int(v, false); LANES as usize]);
        let (zero, last) = (splat(0), splat(len as u64 - 1));
        let out_ty = regs[0].get_type();
        let n = (self.k.ty(index).shape.numel() / LANES as usize) as u64;
        self.counted_loop(n, None, &mut |l, i| {
            let at = l.b.build_int_mul(i, l.ic(u64::from(LANES)), "at")?;
            // SAFETY (of the generated code): `at + 16 <= numel` in both buffers.
            let p = unsafe { l.b.build_in_bounds_gep(i32t, src, &[at], "ix")? };
            let ix = l.b.build_load(idx_ty, p, "ix")?;
            set_align(ix, 4)?;
            let clamped = if signed {
                let lo = l.intrinsic("llvm.smax", &[idx_ty.into()], &[ix, zero.into()])?;
                l.intrinsic("llvm.smin", &[idx_ty.into()], &[lo, last.into()])?
            } else {
                l.intrinsic("llvm.umin", &[idx_ty.into()], &[ix, last.into()])?
            };
            let x = match regs.len() {
                1 => {
                    let name = if float { "llvm.x86.avx512.permvar.sf.512" } else { "llvm.x86.avx512.permvar.si.512" };
                    l.intrinsic(name, &[], &[regs[0].into(), clamped])?
                }
                _ => {
                    // Each pair of registers is a 32-element table read with the index's
                    // low 5 bits; the bits above pick the pair.
                    let name = if float { "llvm.x86.avx512.vpermi2var.ps.512" } else { "llvm.x86.avx512.vpermi2var.d.512" };
                    let mut halves = Vec::new();
                    for pair in regs.chunks(2) {
                        let hi = *pair.get(1).unwrap_or(&pair[0]);
                        halves.push(l.intrinsic(name, &[], &[pair[0].into(), clamped, hi.into()])?);
                    }
                    // Then a tree of selects on the index's bits 5, 6 and 7 (the last pair
                    // repeated up to a power of two: clamped indices never pick the copies).
                    halves.resize(halves.len().next_power_of_two(), halves[halves.len() - 1]);
                    let mut bit = 5;
                    while halves.len() > 1 {
                        let test = l.b.build_and(clamped.into_vector_value(), splat(1 << bit), "bit")?;
                        let set = l.b.build_int_compare(IntPredicate::NE, test, zero, "set")?;
                        let mut picked = Vec::with_capacity(halves.len() / 2);
                        for pair in halves.chunks(2) {
                            picked.push(l.b.build_select(set, pair[1], pair[0], "x")?);
                        }
                        halves = picked;
                        bit += 1;
                    }
                    halves[0]
                }
            };
            let q = unsafe { l.b.build_in_bounds_gep(out_ty.get_element_type(), dst, &[at], "out")? };
            let st = l.b.build_store(q, x)?;
            st.set_alignment(4).map_err(|e| LowerError::Builder(e.to_string()))?;
            Ok(())
        })?;
        self.memo.clear();
        Ok(())
    }
}
