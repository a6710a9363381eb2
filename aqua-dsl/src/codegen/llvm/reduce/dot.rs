//! `dot`: `acc + a x b` with f32 products and sums, for k = 0, 1, ... in order (loops
//! m, k, n, so the inner loop is element-wise over a row of the output). On the GPU, f16
//! and bf16 operands of whole mma tiles go to the tensor cores (`dot_mma.rs`); any other
//! output is computed by the thread that owns it (operands in shared memory, the same
//! order over k, so the same result).

use super::super::index::{log2, Term};
use super::super::{Lowered, Lowerer};
use super::dot_mma::DotShape;
use crate::codegen::error::Lower;
use crate::ir::{DType, Elem, Inst, Op};

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// `a x b (+ acc)` into a new buffer.
    pub(crate) fn emit_dot(&mut self, inst: &'a Inst) -> Lower<()> {
        let Op::Dot { a, b, acc } = &inst.op else {
            return Err(self.op_error(inst, "is not a dot"));
        };
        let (a, b, acc) = (*a, *b, *acc);
        let (sa, sb) = (self.k.ty(a).shape.clone(), self.k.ty(b).shape.clone());
        let (&[m, k], &[k2, n]) = (sa.dims(), sb.dims()) else {
            return Err(self.op_error(inst, "needs 2-D operands"));
        };
        if k != k2 {
            return Err(self.op_error(inst, "inner dims differ"));
        }
        let (da, db) = (self.k.ty(a).dtype(), self.k.ty(b).dtype());
        let v = inst.results[0];
        let f32e = Elem::Val(DType::F32);
        let out = self.alloc(f32e, (m * n) as u64)?;
        let (mb, kb, nbits) = (log2(m), log2(k), log2(n));
        let term = |var, lo, bits| Term { var, lo, bits };
        let shape = DotShape { a, b, acc, m, k, n };
        if self.mma_fits(da, db, &shape) {
            self.emit_dot_mma(da, &shape, out)?;
            self.set(v, Lowered::Buffer(out));
            return Ok(());
        }
        if self.threads.is_some() {
            let levels = match acc {
                Some(c) => self.sink_levels(&[c], 0, mb + nbits)?,
                None => super::loops::levels(0, mb + nbits, &Default::default()),
            };
            self.memo.clear();
            self.dist_nest(&levels, &mut |l, idx| {
                let mut s = match acc {
                    Some(c) => l.elem(c, idx)?.into_float_value(),
                    None => l.cx.f32_type().const_zero(),
                };
                // Split the output index into its row (m) and column (n) fields.
                let o = l.linear(idx)?;
                let mi = l.b.build_right_shift(o, l.ic(nbits as u64), false, "m")?;
                let ni = l.b.build_and(o, l.ic((1u64 << nbits) - 1), "n")?;
                let cell = l.alloc_raw(l.cx.f32_type().into(), 1)?;
                l.b.build_store(cell, s)?;
                l.counted_loop(k as u64, None, &mut |l, ki| {
                    let av = l.elem(a, &[term(mi, kb, mb), term(ki, 0, kb)])?;
                    let bv = l.elem(b, &[term(ki, nbits, kb), term(ni, 0, nbits)])?;
                    let (av, bv) = (l.widen(da, av)?, l.widen(db, bv)?);
                    let c = l.b.build_load(l.cx.f32_type(), cell, "c")?.into_float_value();
                    let p = l.b.build_float_mul(av, bv, "p")?;
                    l.b.build_store(cell, l.b.build_float_add(c, p, "s")?)?;
                    Ok(())
                })?;
                s = l.b.build_load(l.cx.f32_type(), cell, "c")?.into_float_value();
                l.store_elem(out, f32e, o, s.into())
            })?;
            self.memo.clear();
            self.set(v, Lowered::Buffer(out));
            return Ok(());
        }
        let levels = match acc {
            Some(c) => self.sink_levels(&[c], 0, mb + nbits)?,
            None => super::loops::levels(0, mb + nbits, &Default::default()),
        };
        self.memo.clear();
        self.nest(&levels, &mut |l, idx| {
            let x = match acc {
                Some(c) => l.elem(c, idx)?,
                None => l.cx.f32_type().const_zero().into(),
            };
            let o = l.linear(idx)?;
            l.store_elem(out, f32e, o, x)
        })?;
        self.memo.clear();
        self.counted_loop(m as u64, None, &mut |l, mi| {
            l.counted_loop(k as u64, None, &mut |l, ki| {
                let av = l.elem(a, &[term(mi, kb, mb), term(ki, 0, kb)])?;
                let av = l.widen(da, av)?;
                l.counted_loop(n as u64, None, &mut |l, ni| {
                    let bv = l.elem(b, &[term(ki, nbits, kb), term(ni, 0, nbits)])?;
                    let bv = l.widen(db, bv)?;
                    let o = l.linear(&[term(mi, nbits, mb), term(ni, 0, nbits)])?;
                    let c = l.load_elem(out, f32e, o)?.into_float_value();
                    let p = l.b.build_float_mul(av, bv, "p")?;
                    let s = l.b.build_float_add(c, p, "s")?;
                    l.store_elem(out, f32e, o, s.into())
                })
            })
        })?;
        self.memo.clear();
        self.set(v, Lowered::Buffer(out));
        Ok(())
    }
}
