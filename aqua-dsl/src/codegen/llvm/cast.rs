//! Conversions: `cast` and `bitcast`, and the exact widening and single-rounding
//! narrowing every f16/bf16 op goes through.
//!
//! Rules (`ir::Op::Cast`): float to int truncates and saturates, NaN to 0; int to float and float to narrower float round once to
//! nearest-even; to bool is `!= 0` (true for NaN); int to int wraps. Where one LLVM
//! instruction would round twice (int to bf16, f16/bf16 `fma`) the code rounds to odd
//! first, which makes the last rounding the correct single one. bf16 is handled with
//! integer code (`types.rs`), f16 with LLVM's `half` (native conversions on the host).

use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::{types, Lowerer};
use crate::codegen::error::Lower;
use crate::ir::{DType, Elem};

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// A float of dtype `d` as an exact `f32`.
    pub(crate) fn widen(&self, d: DType, v: BasicValueEnum<'ctx>) -> Lower<FloatValue<'ctx>> {
        let f32t = self.cx.f32_type();
        Ok(match d {
            DType::F32 => v.into_float_value(),
            DType::F16 => self.b.build_float_ext(v.into_float_value(), f32t, "f16.f32")?,
            _ => {
                let i32t = self.cx.i32_type();
                let w = self.b.build_int_z_extend(v.into_int_value(), i32t, "bf")?;
                let w = self.b.build_left_shift(w, i32t.const_int(16, false), "bf")?;
                self.b.build_bit_cast(w, f32t, "bf16.f32")?.into_float_value()
            }
        })
    }

    /// An `f32` rounded once, to nearest-even, to float dtype `d`.
    pub(crate) fn narrow(&self, d: DType, x: FloatValue<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        Ok(match d {
            DType::F32 => x.into(),
            DType::F16 => self.b.build_float_trunc(x, self.cx.f16_type(), "f16")?.into(),
            _ => self.f32_to_bf16(x)?.into(),
        })
    }

    /// Round to nearest-even on the bits; NaN stays NaN (quiet).
    fn f32_to_bf16(&self, x: FloatValue<'ctx>) -> Lower<IntValue<'ctx>> {
        let i32t = self.cx.i32_type();
        let c = |v: u64| i32t.const_int(v, false);
        let bits = self.b.build_bit_cast(x, i32t, "bits")?.into_int_value();
        let hi = self.b.build_right_shift(bits, c(16), false, "hi")?;
        let lsb = self.b.build_and(hi, c(1), "lsb")?;
        let r = self.b.build_int_add(bits, c(0x7fff), "r")?;
        let r = self.b.build_int_add(r, lsb, "r")?;
        let r = self.b.build_right_shift(r, c(16), false, "r")?;
        let nan = self.b.build_or(hi, c(0x40), "qnan")?;
        let is_nan = self.b.build_float_compare(FloatPredicate::UNO, x, x, "isnan")?;
        let r = self.b.build_select(is_nan, nan, r, "r")?.into_int_value();
        Ok(self.b.build_int_truncate(r, self.cx.i16_type(), "bf16")?)
    }

    pub(crate) fn cast(&mut self, from: DType, to: DType, v: BasicValueEnum<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        if from == to {
            return Ok(v);
        }
        let f32t = self.cx.f32_type();
        if to == DType::Bool {
            return Ok(if from.is_float() {
                let x = self.widen(from, v)?;
                self.b.build_float_compare(FloatPredicate::UNE, x, f32t.const_zero(), "nz")?.into()
            } else {
                let x = v.into_int_value();
                self.b.build_int_compare(IntPredicate::NE, x, x.get_type().const_zero(), "nz")?.into()
            });
        }
        let to_int = || types::int(self.cx, to);
        if from == DType::Bool {
            let x = v.into_int_value();
            return Ok(if to.is_float() {
                let f = self.b.build_unsigned_int_to_float(x, f32t, "b.f")?;
                self.narrow(to, f)?
            } else {
                self.b.build_int_z_extend(x, to_int(), "b.i")?.into()
            });
        }
        match (from.is_float(), to.is_float()) {
            (true, true) => {
                let x = self.widen(from, v)?;
                self.narrow(to, x)
            }
            (true, false) => {
                let x = self.widen(from, v)?;
                Ok(self.float_to_int(x, to)?.into())
            }
            (false, true) => {
                let x = v.into_int_value();
                if to == DType::BF16 {
                    return Ok(self.int_to_bf16(from, x)?.into());
                }
                // Exact in f32 below 2^24, and every larger integer is beyond f16's range,
                // so going through f32 rounds once.
                let f = if from.is_signed() {
                    self.b.build_signed_int_to_float(x, f32t, "i.f")?
                } else {
                    self.b.build_unsigned_int_to_float(x, f32t, "u.f")?
                };
                self.narrow(to, f)
            }
            (false, false) => {
                let x = v.into_int_value();
                let (fw, tw) = (from.bits(), to.bits());
                Ok(if tw < fw {
                    self.b.build_int_truncate(x, to_int(), "trunc")?.into()
                } else if tw == fw {
                    x.into()
                } else if from.is_signed() {
                    self.b.build_int_s_extend(x, to_int(), "sext")?.into()
                } else {
                    self.b.build_int_z_extend(x, to_int(), "zext")?.into()
                })
            }
        }
    }

    /// An `f32` truncated toward zero to integer dtype `to`, saturating, NaN to 0.
    ///
    /// The same as `llvm.fpto[su]i.sat`, which x86 lowers one lane at a time (and NVPTX
    /// as seven instructions): clamp into the range of floats exactly convertible, convert
    /// (now defined), then select the limits for inputs beyond them. PTX has the rule
    /// built in ([`Self::ptx_float_to_int`]).
    fn float_to_int(&self, x: FloatValue<'ctx>, to: DType) -> Lower<IntValue<'ctx>> {
        if self.threads.is_some() && self.simt.is_none() && to.bits() <= 32 {
            return self.ptx_float_to_int(x, to);
        }
        let f32t = self.cx.f32_type();
        let w = to.bits();
        let signed = to.is_signed();
        let t = types::int(self.cx, to);
        // Beyond `top` every float saturates; `hi` is the largest float below it.
        let top = if signed { 2f64.powi(w as i32 - 1) } else { 2f64.powi(w as i32) };
        let hi = f64::from(f32::from_bits((top as f32).to_bits() - 1));
        let lo = if signed { -2f64.powi(w as i32 - 1) } else { 0.0 };
        let c = self.intrinsic("llvm.maxnum", &[f32t.into()], &[x.into(), f32t.const_float(lo).into()])?;
        let c = self.intrinsic("llvm.minnum", &[f32t.into()], &[c, f32t.const_float(hi).into()])?.into_float_value();
        let mut r = if w <= 16 {
            let r = self.b.build_float_to_signed_int(c, self.cx.i32_type(), "cvt")?;
            self.b.build_int_truncate(r, t, "cvt")?
        } else if signed {
            self.b.build_float_to_signed_int(c, t, "cvt")?
        } else {
            // In range, so defined; one instruction with AVX-512, a short sequence without.
            self.b.build_float_to_unsigned_int(c, t, "cvt")?
        };
        if hi.trunc() < top - 1.0 {
            let max = if signed { (1u64 << (w - 1)) - 1 } else { u64::MAX >> (64 - w) };
            let big = self.b.build_float_compare(FloatPredicate::OGE, x, f32t.const_float(top), "big")?;
            r = self.b.build_select(big, t.const_int(max, false), r, "sat")?.into_int_value();
        }
        if signed {
            let nan = self.b.build_float_compare(FloatPredicate::UNO, x, x, "nan")?;
            r = self.b.build_select(nan, t.const_zero(), r, "nan0")?.into_int_value();
        }
        Ok(r)
    }

    /// [`Self::float_to_int`] on NVPTX: `cvt.rzi.{s32,u32}.f32` (`llvm.nvvm.f2[u]i.rz`)
    /// clamps to the destination's range and turns NaN into 0 for an f32 source and a
    /// destination narrower than 64 bits (PTX ISA, `cvt`: "for float-to-integer
    /// conversions, the result is clamped to the destination range by default"), exactly
    /// the rule; 8- and 16-bit results are clamped further in integers.
    fn ptx_float_to_int(&self, x: FloatValue<'ctx>, to: DType) -> Lower<IntValue<'ctx>> {
        let i32t = self.cx.i32_type();
        let (w, signed) = (to.bits(), to.is_signed());
        let name = if signed { "llvm.nvvm.f2i.rz" } else { "llvm.nvvm.f2ui.rz" };
        let r = self.intrinsic(name, &[], &[x.into()])?.into_int_value();
        if w == 32 {
            return Ok(r);
        }
        let c = |v: i64| i32t.const_int(v as u64, true).into();
        let r = if signed {
            let r = self.intrinsic("llvm.smax", &[i32t.into()], &[r.into(), c(-(1 << (w - 1)))])?;
            self.intrinsic("llvm.smin", &[i32t.into()], &[r, c((1 << (w - 1)) - 1)])?
        } else {
            self.intrinsic("llvm.umin", &[i32t.into()], &[r.into(), c((1 << w) - 1)])?
        };
        Ok(self.b.build_int_truncate(r.into_int_value(), types::int(self.cx, to), "cvt")?)
    }

    /// An integer rounded once to bf16: rounded to 8 significant bits in integer
    /// arithmetic (exact in f32 afterwards), then converted.
    fn int_to_bf16(&self, from: DType, x: IntValue<'ctx>) -> Lower<IntValue<'ctx>> {
        let i64t = self.cx.i64_type();
        let c = |v: u64| i64t.const_int(v, false);
        let x = self.widen_int(from, x)?;
        let neg = if from.is_signed() {
            self.b.build_int_compare(IntPredicate::SLT, x, c(0), "neg")?
        } else {
            self.cx.bool_type().const_zero()
        };
        let minus = self.b.build_int_neg(x, "minus")?;
        let m = self.b.build_select(neg, minus, x, "mag")?.into_int_value();
        let f = self.cx.bool_type().const_zero();
        let lz = self.intrinsic("llvm.ctlz", &[i64t.into()], &[m.into(), f.into()])?.into_int_value();
        let small = self.b.build_int_compare(IntPredicate::UGE, lz, c(56), "small")?;
        let sh = self.b.build_int_sub(c(56), lz, "sh")?;
        let sh = self.b.build_select(small, c(0), sh, "sh")?.into_int_value();
        let mant = self.b.build_right_shift(m, sh, false, "mant")?;
        let unit = self.b.build_left_shift(c(1), sh, "unit")?;
        let mask = self.b.build_int_sub(unit, c(1), "mask")?;
        let rem = self.b.build_and(m, mask, "rem")?;
        let half = self.b.build_right_shift(unit, c(1), false, "half")?;
        let above = self.b.build_int_compare(IntPredicate::UGT, rem, half, "above")?;
        let tie = self.b.build_int_compare(IntPredicate::EQ, rem, half, "tie")?;
        let nonzero = self.b.build_int_compare(IntPredicate::NE, half, c(0), "nz")?;
        let tie = self.b.build_and(tie, nonzero, "tie")?;
        let lsb = self.b.build_and(mant, c(1), "lsb")?;
        let odd = self.b.build_int_compare(IntPredicate::NE, lsb, c(0), "odd")?;
        let tie_up = self.b.build_and(tie, odd, "tieup")?;
        let up = self.b.build_or(above, tie_up, "up")?;
        let up = self.b.build_int_z_extend(up, i64t, "up")?;
        let mant = self.b.build_int_add(mant, up, "mant")?;
        let r = self.b.build_left_shift(mant, sh, "r")?;
        let f = self.b.build_unsigned_int_to_float(r, self.cx.f32_type(), "f")?;
        let nf = self.b.build_float_neg(f, "nf")?;
        let f = self.b.build_select(neg, nf, f, "f")?.into_float_value();
        self.f32_to_bf16(f)
    }

    pub(crate) fn bitcast(&self, to: DType, v: BasicValueEnum<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        let ty = types::reg(self.cx, Elem::Val(to));
        if v.get_type() == ty {
            return Ok(v);
        }
        Ok(self.b.build_bit_cast(v, ty, "bitcast")?)
    }

    /// `p + c` rounded to f64 with round-to-odd (error term from Knuth's TwoSum).
    pub(crate) fn add_f64_odd(&self, p: FloatValue<'ctx>, c: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let s = self.b.build_float_add(p, c, "s")?;
        let bb = self.b.build_float_sub(s, p, "bb")?;
        let t = self.b.build_float_sub(s, bb, "t")?;
        let e1 = self.b.build_float_sub(p, t, "e1")?;
        let e2 = self.b.build_float_sub(c, bb, "e2")?;
        let err = self.b.build_float_add(e1, e2, "err")?;
        self.to_odd(s, err)
    }

    /// `x` rounded to f32 with round-to-odd.
    pub(crate) fn f64_to_f32_odd(&self, x: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let f = self.b.build_float_trunc(x, self.cx.f32_type(), "f")?;
        let back = self.b.build_float_ext(f, self.cx.f64_type(), "back")?;
        let err = self.b.build_float_sub(x, back, "err")?;
        self.to_odd(f, err)
    }

    /// `r` (a round-to-nearest result) moved one ulp toward `r + err` when it is inexact
    /// and even, which gives the round-to-odd result. Infinite and NaN `r` stay.
    fn to_odd(&self, r: FloatValue<'ctx>, err: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let ft = r.get_type();
        let it = if ft == self.cx.f64_type() { self.cx.i64_type() } else { self.cx.i32_type() };
        let abs = self.intrinsic("llvm.fabs", &[ft.into()], &[r.into()])?.into_float_value();
        let finite = self.b.build_float_compare(FloatPredicate::OLT, abs, ft.const_float(f64::INFINITY), "fin")?;
        let err_zero = err.get_type().const_zero();
        let inexact = self.b.build_float_compare(FloatPredicate::UNE, err, err_zero, "inexact")?;
        let bits = self.b.build_bit_cast(r, it, "bits")?.into_int_value();
        let lsb = self.b.build_and(bits, it.const_int(1, false), "lsb")?;
        let even = self.b.build_int_compare(IntPredicate::EQ, lsb, it.const_zero(), "even")?;
        let fix = self.b.build_and(finite, inexact, "fix")?;
        let fix = self.b.build_and(fix, even, "fix")?;
        // Away from zero (one more in the bits) when the error has the result's sign
        // bit (which a zero result keeps from the exact value).
        let err_pos = self.b.build_float_compare(FloatPredicate::OGT, err, err_zero, "errpos")?;
        let r_neg = self.b.build_int_compare(IntPredicate::SLT, bits, it.const_zero(), "rneg")?;
        let away = self.b.build_xor(err_pos, r_neg, "away")?;
        let up = self.b.build_int_add(bits, it.const_int(1, false), "up")?;
        let down = self.b.build_int_sub(bits, it.const_int(1, false), "down")?;
        let moved = self.b.build_select(away, up, down, "moved")?;
        let bits = self.b.build_select(fix, moved, bits.into(), "odd")?;
        Ok(self.b.build_bit_cast(bits, ft, "r")?.into_float_value())
    }
}
