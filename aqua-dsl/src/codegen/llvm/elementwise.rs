//! Element-wise arithmetic, logic, math and comparisons on register values, with the
//! semantics of `ir/ops/arith.rs`: no operation may reach LLVM's undefined behaviour.
//!
//! - integer `div`/`rem` by zero and `MIN / -1` are guarded with selects;
//! - shift amounts are masked into range and out-of-range amounts selected away;
//! - floats: f16/bf16 widen exactly to f32, compute there and round once (`cast.rs`);
//!   `exp`/`log` compute in f64 and round to f32, like the reference interpreter, so the
//!   two agree bit for bit; no fast-math flags (the only ones in the lowering are on the
//!   merge of max/min lanes, `reduce/mod.rs`, and change no result).

use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::Lowerer;
use crate::codegen::error::Lower;
use crate::ir::{BinOp, CmpPred, DType, Elem, Inst, UnOp};

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    pub(crate) fn binary(
        &mut self,
        inst: &Inst,
        op: BinOp,
        d: DType,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        if self.k.ty(inst.results[0]).is_ptr() {
            return Err(self.op_error(inst, "is not defined on pointers"));
        }
        if d.is_float() {
            let (x, y) = (self.widen(d, a)?, self.widen(d, b)?);
            let f32t = self.cx.f32_type().into();
            let r: FloatValue = match op {
                BinOp::Add => self.b.build_float_add(x, y, "fadd")?,
                BinOp::Sub => self.b.build_float_sub(x, y, "fsub")?,
                BinOp::Mul => self.b.build_float_mul(x, y, "fmul")?,
                BinOp::Div => self.float_div(x, y)?,
                // NVPTX lowers `frem` to `x - trunc(x / y) * y`, which is not exact.
                BinOp::Rem if self.threads.is_some() => self.fmod_f32(x, y)?,
                BinOp::Rem => self.b.build_float_rem(x, y, "frem")?,
                BinOp::Min => self.intrinsic("llvm.minnum", &[f32t], &[x.into(), y.into()])?.into_float_value(),
                BinOp::Max => self.intrinsic("llvm.maxnum", &[f32t], &[x.into(), y.into()])?.into_float_value(),
                _ => return Err(self.op_error(inst, format!("is not defined on {d}"))),
            };
            return self.narrow(d, r);
        }
        let (x, y) = (a.into_int_value(), b.into_int_value());
        if d == DType::Bool {
            return Ok(match op {
                BinOp::And | BinOp::Min => self.b.build_and(x, y, "and")?,
                BinOp::Or | BinOp::Max => self.b.build_or(x, y, "or")?,
                BinOp::Xor => self.b.build_xor(x, y, "xor")?,
                _ => return Err(self.op_error(inst, "is not defined on bool")),
            }
            .into());
        }
        let signed = d.is_signed();
        let ty = x.get_type().into();
        Ok(match op {
            BinOp::Add => self.b.build_int_add(x, y, "add")?,
            BinOp::Sub => self.b.build_int_sub(x, y, "sub")?,
            BinOp::Mul => self.b.build_int_mul(x, y, "mul")?,
            BinOp::Div | BinOp::Rem => self.int_div(op == BinOp::Div, signed, x, y)?,
            BinOp::Min => {
                let name = if signed { "llvm.smin" } else { "llvm.umin" };
                self.intrinsic(name, &[ty], &[x.into(), y.into()])?.into_int_value()
            }
            BinOp::Max => {
                let name = if signed { "llvm.smax" } else { "llvm.umax" };
                self.intrinsic(name, &[ty], &[x.into(), y.into()])?.into_int_value()
            }
            BinOp::And => self.b.build_and(x, y, "and")?,
            BinOp::Or => self.b.build_or(x, y, "or")?,
            BinOp::Xor => self.b.build_xor(x, y, "xor")?,
            BinOp::Shl | BinOp::Shr => self.shift(op == BinOp::Shl, signed, x, y)?,
        }
        .into())
    }

    /// Total division: `x / 0 = 0`, `x % 0 = x`, `MIN / -1 = MIN`, `MIN % -1 = 0`.
    fn int_div(&self, div: bool, signed: bool, x: IntValue<'ctx>, y: IntValue<'ctx>) -> Lower<IntValue<'ctx>> {
        let t = x.get_type();
        let (zero, one) = (t.const_zero(), t.const_int(1, false));
        let by_zero = self.b.build_int_compare(IntPredicate::EQ, y, zero, "by0")?;
        let mut bad = by_zero;
        if signed {
            let min = t.const_int(1u64 << (t.get_bit_width() - 1), false);
            let is_min = self.b.build_int_compare(IntPredicate::EQ, x, min, "ismin")?;
            let minus1 = self.b.build_int_compare(IntPredicate::EQ, y, t.const_all_ones(), "ism1")?;
            let ovf = self.b.build_and(is_min, minus1, "ovf")?;
            bad = self.b.build_or(by_zero, ovf, "bad")?;
        }
        // MIN / 1 = MIN and MIN % 1 = 0 are the answers for MIN / -1.
        let safe = self.b.build_select(bad, one, y, "safe")?.into_int_value();
        let r = match (div, signed) {
            (true, true) => self.b.build_int_signed_div(x, safe, "div")?,
            (true, false) => self.b.build_int_unsigned_div(x, safe, "div")?,
            (false, true) => self.b.build_int_signed_rem(x, safe, "rem")?,
            (false, false) => self.b.build_int_unsigned_rem(x, safe, "rem")?,
        };
        let if_zero = if div { zero } else { x };
        Ok(self.b.build_select(by_zero, if_zero, r, "tot")?.into_int_value())
    }

    /// Total shifts: amounts that are negative or at least the width give 0 (or the sign).
    fn shift(&self, left: bool, signed: bool, x: IntValue<'ctx>, y: IntValue<'ctx>) -> Lower<IntValue<'ctx>> {
        let t = x.get_type();
        let w = t.get_bit_width() as u64;
        let too_far = self.b.build_int_compare(IntPredicate::UGE, y, t.const_int(w, false), "far")?;
        let amt = self.b.build_and(y, t.const_int(w - 1, false), "amt")?;
        if !left && signed {
            let amt = self.b.build_select(too_far, t.const_int(w - 1, false), amt, "amt")?.into_int_value();
            return Ok(self.b.build_right_shift(x, amt, true, "ashr")?);
        }
        let r = if left {
            self.b.build_left_shift(x, amt, "shl")?
        } else {
            self.b.build_right_shift(x, amt, false, "lshr")?
        };
        Ok(self.b.build_select(too_far, t.const_zero(), r, "sh")?.into_int_value())
    }

    pub(crate) fn unary(
        &mut self,
        inst: &Inst,
        op: UnOp,
        d: DType,
        a: BasicValueEnum<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        if self.k.ty(inst.results[0]).is_ptr() {
            return Err(self.op_error(inst, "is not defined on pointers"));
        }
        if !d.is_float() {
            let x = a.into_int_value();
            return Ok(match op {
                UnOp::Not => self.b.build_not(x, "not")?,
                UnOp::Neg if d != DType::Bool => self.b.build_int_neg(x, "neg")?,
                UnOp::Abs if d.is_signed() => {
                    let f = self.cx.bool_type().const_zero();
                    self.intrinsic("llvm.abs", &[x.get_type().into()], &[x.into(), f.into()])?.into_int_value()
                }
                UnOp::Abs if d != DType::Bool => x,
                _ => return Err(self.op_error(inst, format!("is not defined on {d}"))),
            }
            .into());
        }
        // Sign ops flip or clear the sign bit, also of NaN, without rounding.
        match (op, d) {
            (UnOp::Neg, DType::BF16) => {
                let bit = self.cx.i16_type().const_int(0x8000, false);
                return Ok(self.b.build_xor(a.into_int_value(), bit, "neg")?.into());
            }
            (UnOp::Abs, DType::BF16) => {
                let mask = self.cx.i16_type().const_int(0x7fff, false);
                return Ok(self.b.build_and(a.into_int_value(), mask, "abs")?.into());
            }
            (UnOp::Neg, _) => return Ok(self.b.build_float_neg(a.into_float_value(), "neg")?.into()),
            (UnOp::Abs, _) => return self.intrinsic("llvm.fabs", &[a.get_type()], &[a]),
            (UnOp::Not, _) => return Err(self.op_error(inst, format!("is not defined on {d}"))),
            _ => {}
        }
        let x = self.widen(d, a)?;
        let f32t = self.cx.f32_type();
        let call = |l: &Self, name: &str, x: FloatValue<'ctx>| -> Lower<FloatValue<'ctx>> {
            Ok(l.intrinsic(name, &[x.get_type().into()], &[x.into()])?.into_float_value())
        };
        let r = match op {
            UnOp::Sqrt => call(self, "llvm.sqrt", x)?,
            UnOp::Rsqrt => {
                let s = call(self, "llvm.sqrt", x)?;
                self.float_div(f32t.const_float(1.0), s)?
            }
            UnOp::Exp | UnOp::Log => {
                let wide = self.b.build_float_ext(x, self.cx.f64_type(), "wide")?;
                let r = match (op, self.threads.is_some()) {
                    // No libm on the GPU: aqua's own f64 routines.
                    (UnOp::Exp, true) => self.exp_f64(wide)?,
                    (_, true) => self.log_f64(wide)?,
                    (UnOp::Exp, false) => call(self, "llvm.exp", wide)?,
                    (_, false) => call(self, "llvm.log", wide)?,
                };
                self.b.build_float_trunc(r, f32t, "r")?
            }
            UnOp::Floor => call(self, "llvm.floor", x)?,
            UnOp::Ceil => call(self, "llvm.ceil", x)?,
            UnOp::Round => call(self, "llvm.roundeven", x)?,
            UnOp::Neg | UnOp::Abs | UnOp::Not => return Err(self.op_error(inst, "sign ops are lowered above")),
        };
        self.narrow(d, r)
    }

    /// Comparisons give `i1`; floats are ordered except `ne` (true on NaN).
    pub(crate) fn cmp(
        &mut self,
        inst: &Inst,
        pred: CmpPred,
        elem: Elem,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        let d = match elem {
            Elem::Val(d) => d,
            Elem::Ptr(_) => return Err(self.op_error(inst, "cannot compare pointers")),
        };
        if d.is_float() {
            let (x, y) = (self.widen(d, a)?, self.widen(d, b)?);
            let p = match pred {
                CmpPred::Eq => FloatPredicate::OEQ,
                CmpPred::Ne => FloatPredicate::UNE,
                CmpPred::Lt => FloatPredicate::OLT,
                CmpPred::Le => FloatPredicate::OLE,
                CmpPred::Gt => FloatPredicate::OGT,
                CmpPred::Ge => FloatPredicate::OGE,
            };
            return Ok(self.b.build_float_compare(p, x, y, "fcmp")?.into());
        }
        let s = d.is_signed();
        let p = match pred {
            CmpPred::Eq => IntPredicate::EQ,
            CmpPred::Ne => IntPredicate::NE,
            CmpPred::Lt if s => IntPredicate::SLT,
            CmpPred::Le if s => IntPredicate::SLE,
            CmpPred::Gt if s => IntPredicate::SGT,
            CmpPred::Ge if s => IntPredicate::SGE,
            CmpPred::Lt => IntPredicate::ULT,
            CmpPred::Le => IntPredicate::ULE,
            CmpPred::Gt => IntPredicate::UGT,
            CmpPred::Ge => IntPredicate::UGE,
        };
        Ok(self.b.build_int_compare(p, a.into_int_value(), b.into_int_value(), "icmp")?.into())
    }

    /// `a * b + c` rounded once to `d`.
    pub(crate) fn fma(
        &mut self,
        d: DType,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
        c: BasicValueEnum<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        let (x, y, z) = (self.widen(d, a)?, self.widen(d, b)?, self.widen(d, c)?);
        if d == DType::F32 {
            return self.intrinsic("llvm.fma", &[x.get_type().into()], &[x.into(), y.into(), z.into()]);
        }
        // The product of two 16-bit floats is exact in f64; the sum is rounded to odd in
        // f64 and then to f32, which makes the final rounding to 16 bits a single one.
        let f64t = self.cx.f64_type();
        let (x, y, z) = (
            self.b.build_float_ext(x, f64t, "x")?,
            self.b.build_float_ext(y, f64t, "y")?,
            self.b.build_float_ext(z, f64t, "z")?,
        );
        let p = self.b.build_float_mul(x, y, "p")?;
        let s = self.add_f64_odd(p, z)?;
        let f = self.f64_to_f32_odd(s)?;
        self.narrow(d, f)
    }
}
