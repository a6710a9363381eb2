//! Correctly rounded f32 division on GPU targets, in f64 and without a slow path.
//!
//! LLVM lowers an f32 `fdiv` to PTX `div.rn.f32` (`rcp.rn.f32` for `1 / x`), which ptxas
//! expands into a fast path plus a subroutine for extreme exponents: the uniform
//! quantizer's two cost ptxas about 12 of its 51 ms (`--Ofast-compile=min`, best of 15).
//! Here the quotient is computed in f64, where f32 operands are never near an exponent
//! limit:
//!
//! 1. `y ≈ 1 / b` from the hardware's approximate reciprocal (`rcp.approx.ftz.f64`,
//!    about 20 good bits), refined by three Newton steps `y += y (1 - b y)` (error
//!    squared each step: far below the f64 rounding after two);
//! 2. `q0 = a y`, `r = fma(-b, q0, a)`, `q = fma(r, y, q0)`: within about half an f64
//!    ulp of `a / b`, and exactly `a / b` when that is an f64 number (then `r` is exact);
//! 3. `q` rounded to f32. Rounding twice is harmless here: an f32 quotient that is not
//!    an f32 midpoint lies at least 2^-49 (relative) from one, far beyond `q`'s error, and
//!    a midpoint (possible only below 2^-126) is an f64 number, which `q` is exactly.
//!
//! Zero, infinite and NaN operands take `a * y'`, with `y'` exactly `±inf` for `b = ±0`,
//! `±0` for `b = ±inf` and `y` otherwise: IEEE's quotient in each case (for `a` zero,
//! infinite or NaN any nonzero `y` of `b`'s sign gives it).
//!
//! The SIMT emulation runs the same steps with `1 / b` cut to 12 bits of mantissa in place
//! of the hardware's approximation (worse than it, so its tests need every step). (`sqrt.rn.f32`
//! has a slow path too, but removing HIGGS's one made no difference measurable here.)

use inkwell::values::FloatValue;
use inkwell::FloatPredicate;

use super::Lowerer;
use crate::codegen::error::Lower;

/// Newton steps on the approximate reciprocal.
const NEWTON_STEPS: usize = 3;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// `x / y` for f32 `x` and `y`, correctly rounded: LLVM's `fdiv` on the host, the
    /// module's f64 route on GPU targets (NVPTX's `div.rn.f32` costs ptxas a slow-path
    /// subroutine).
    pub(crate) fn float_div(&self, x: FloatValue<'ctx>, y: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        match self.threads {
            Some(_) => self.div_f32(x, y),
            None => Ok(self.b.build_float_div(x, y, "fdiv")?),
        }
    }

    /// `x / y` for f32 `x` and `y`, correctly rounded (module docs).
    fn div_f32(&self, x: FloatValue<'ctx>, y: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let f64t = self.cx.f64_type();
        let (a, b) = (self.b.build_float_ext(x, f64t, "a")?, self.b.build_float_ext(y, f64t, "b")?);
        let fma =
            |l: &Self, p: FloatValue<'ctx>, q: FloatValue<'ctx>, s: FloatValue<'ctx>| -> Lower<FloatValue<'ctx>> {
                Ok(l.intrinsic("llvm.fma", &[f64t.into()], &[p.into(), q.into(), s.into()])?.into_float_value())
            };
        let c = |v: f64| f64t.const_float(v);
        let y0 = self.approx_reciprocal(b)?;
        let nb = self.b.build_float_neg(b, "nb")?;
        let mut r = y0;
        for _ in 0..NEWTON_STEPS {
            let e = fma(self, nb, r, c(1.0))?;
            r = fma(self, r, e, r)?;
        }
        let q0 = self.b.build_float_mul(a, r, "q0")?;
        let rem = fma(self, nb, q0, a)?;
        let q = fma(self, rem, r, q0)?;

        let abs = |l: &Self, v: FloatValue<'ctx>| -> Lower<FloatValue<'ctx>> {
            Ok(l.intrinsic("llvm.fabs", &[f64t.into()], &[v.into()])?.into_float_value())
        };
        let sign_of_b = |l: &Self, v: f64| -> Lower<FloatValue<'ctx>> {
            Ok(l.intrinsic("llvm.copysign", &[f64t.into()], &[c(v).into(), b.into()])?.into_float_value())
        };
        // Ordered compares: false for NaN, so NaN operands are special too.
        let nonzero_finite = |l: &Self, v: FloatValue<'ctx>| -> Lower<inkwell::values::IntValue<'ctx>> {
            let nz = l.b.build_float_compare(FloatPredicate::ONE, v, c(0.0), "nz")?;
            let fin = l.b.build_float_compare(FloatPredicate::ONE, abs(l, v)?, c(f64::INFINITY), "fin")?;
            Ok(l.b.build_and(nz, fin, "nzf")?)
        };
        let regular = self.b.build_and(nonzero_finite(self, a)?, nonzero_finite(self, b)?, "regular")?;
        let b_zero = self.b.build_float_compare(FloatPredicate::OEQ, b, c(0.0), "bz")?;
        let b_inf = self.b.build_float_compare(FloatPredicate::OEQ, abs(self, b)?, c(f64::INFINITY), "binf")?;
        let y_special = self.b.build_select(b_inf, sign_of_b(self, 0.0)?, y0, "ys")?.into_float_value();
        let y_special =
            self.b.build_select(b_zero, sign_of_b(self, f64::INFINITY)?, y_special, "ys")?.into_float_value();
        let special = self.b.build_float_mul(a, y_special, "qs")?;
        let q = self.b.build_select(regular, q, special, "q")?.into_float_value();
        Ok(self.b.build_float_trunc(q, self.cx.f32_type(), "div")?)
    }

    /// An approximation of `1 / b` (f64) with at least about 20 good bits, the sign of
    /// `b`, `±inf` for `±0` and `±0` for `±inf`.
    fn approx_reciprocal(&self, b: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        if self.simt.is_none() {
            return Ok(self.intrinsic("llvm.nvvm.rcp.approx.ftz.d", &[], &[b.into()])?.into_float_value());
        }
        // The emulation: the exact reciprocal with its low 40 mantissa bits cleared.
        let (f64t, i64t) = (self.cx.f64_type(), self.cx.i64_type());
        let exact = self.b.build_float_div(f64t.const_float(1.0), b, "recip")?;
        let bits = self.b.build_bit_cast(exact, i64t, "bits")?.into_int_value();
        let cut = self.b.build_and(bits, i64t.const_int(!((1u64 << 40) - 1), false), "cut")?;
        Ok(self.b.build_bit_cast(cut, f64t, "approx")?.into_float_value())
    }
}
