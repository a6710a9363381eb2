//! `exp`, `log` and `fmod` for targets without a libm (the GPU), so results match the
//! CPU and the interpreter, which compute `exp` and `log` in f64 and round to f32, and
//! `fmod` exactly (`docs/semantics.md`).
//!
//! Both take an f32 value widened to f64 and are accurate to a few f64 ulps (about
//! 1e-16 relative), far inside the f32 rounding that follows: the rounded result equals
//! libm's except in double-rounding cases of the kind the tolerance allows.
//!
//! - `exp`: `x = k ln2 + r` with `k = roundeven(x / ln2)` and `ln2` split in two parts
//!   (Cody-Waite), `|r| <= 0.35`; `e^r` by its Taylor series to degree 13 (remainder below
//!   4e-18); times `2^k` as two exact powers of two (k reaches about ±1443 for f32
//!   inputs, beyond one f64 exponent).
//! - `log`: `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))`; `log m = 2 atanh(s)`,
//!   `s = (m - 1) / (m + 1)`, `|s| <= 0.1716`, by its series to `s^25` (remainder below
//!   1e-18); plus `e ln2` in two parts.
//!
//! - `fmod` (exact, like C's): on `|x|` and `|y|` in f64, while `r >= |y|`, subtract
//!   `q s` where `s` is `|y|` scaled by a power of two to within 2^26 of `r` and
//!   `q = trunc(r / s)` (below 2^27): `r - q s` is then exact in one `fma` (every value is
//!   a multiple of the smaller of the inputs' ulps and below 2^25 of them), and a
//!   quotient one too large (the division rounded up) is undone by adding `s` back. At
//!   most about 11 steps for f32 inputs.
//!
//! NaN, infinities, zeros and negative inputs take IEEE's results by selects.

use inkwell::values::{FloatValue, IntValue};
use inkwell::FloatPredicate;

use super::Lowerer;
use crate::codegen::error::Lower;

/// ln 2 = LN2_HI + LN2_LO, the high part with its low 21 bits zero (so `k * LN2_HI` is
/// exact for |k| < 2^21): fdlibm's split.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    fn fmul(&self, a: FloatValue<'ctx>, b: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        Ok(self.b.build_float_mul(a, b, "m")?)
    }

    fn fadd(&self, a: FloatValue<'ctx>, b: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        Ok(self.b.build_float_add(a, b, "a")?)
    }

    fn f64c(&self, v: f64) -> FloatValue<'ctx> {
        self.cx.f64_type().const_float(v)
    }

    /// `2^j` for `j` in `[-1022, 1023]` (an `i64`), exactly.
    fn pow2(&self, j: IntValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let biased = self.b.build_int_add(j, self.i64c(1023), "bias")?;
        let bits = self.b.build_left_shift(biased, self.i64c(52), "bits")?;
        Ok(self.b.build_bit_cast(bits, self.cx.f64_type(), "p2")?.into_float_value())
    }

    /// Horner's rule with the coefficients from the highest degree down.
    fn horner(&self, x: FloatValue<'ctx>, coeffs: &[f64]) -> Lower<FloatValue<'ctx>> {
        let mut acc = self.f64c(coeffs[0]);
        for &c in &coeffs[1..] {
            acc = self.fadd(self.fmul(acc, x)?, self.f64c(c))?;
        }
        Ok(acc)
    }

    pub(crate) fn exp_f64(&self, x: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let f64t = self.cx.f64_type();
        let call = |name: &str, args: &[FloatValue<'ctx>]| -> Lower<FloatValue<'ctx>> {
            let args: Vec<_> = args.iter().map(|&a| a.into()).collect();
            Ok(self.intrinsic(name, &[f64t.into()], &args)?.into_float_value())
        };
        // Beyond ±1000 the result is 0 or inf anyway; clamping keeps k small (NaN is
        // restored at the end).
        let xc = call("llvm.maxnum", &[x, self.f64c(-1000.0)])?;
        let xc = call("llvm.minnum", &[xc, self.f64c(1000.0)])?;
        let k = call("llvm.roundeven", &[self.fmul(xc, self.f64c(std::f64::consts::LOG2_E))?])?;
        let r = self.b.build_float_sub(xc, self.fmul(k, self.f64c(LN2_HI))?, "r")?;
        let r = self.b.build_float_sub(r, self.fmul(k, self.f64c(LN2_LO))?, "r")?;
        let mut coeffs = [0.0f64; 14];
        let mut fact = 1.0f64;
        for (n, c) in coeffs.iter_mut().rev().enumerate() {
            if n > 0 {
                fact *= n as f64;
            }
            *c = 1.0 / fact;
        }
        let p = self.horner(r, &coeffs)?;
        let ki = self.b.build_float_to_signed_int(k, self.cx.i64_type(), "k")?;
        let k1 = self.b.build_right_shift(ki, self.i64c(1), true, "k1")?;
        let k2 = self.b.build_int_sub(ki, k1, "k2")?;
        let y = self.fmul(self.fmul(p, self.pow2(k1)?)?, self.pow2(k2)?)?;
        let nan = self.b.build_float_compare(FloatPredicate::UNO, x, x, "nan")?;
        Ok(self.b.build_select(nan, x, y, "exp")?.into_float_value())
    }

    /// C's `fmodf` on f32 values, exactly.
    pub(crate) fn fmod_f32(&self, x: FloatValue<'ctx>, y: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let (f32t, f64t, i64t) = (self.cx.f32_type(), self.cx.f64_type(), self.cx.i64_type());
        let fabs = |l: &Self, v: FloatValue<'ctx>| -> Lower<FloatValue<'ctx>> {
            Ok(l.intrinsic("llvm.fabs", &[v.get_type().into()], &[v.into()])?.into_float_value())
        };
        let ax = self.b.build_float_ext(fabs(self, x)?, f64t, "ax")?;
        let ay = self.b.build_float_ext(fabs(self, y)?, f64t, "ay")?;
        let exponent = |l: &Self, v: FloatValue<'ctx>| -> Lower<IntValue<'ctx>> {
            let bits = l.b.build_bit_cast(v, i64t, "bits")?.into_int_value();
            Ok(l.b.build_right_shift(bits, l.i64c(52), false, "e")?)
        };
        let ey = exponent(self, ay)?;
        // Loop while r >= |y| (false at once for NaN or |x| < |y|).
        let pre = self.current_block()?;
        let (head, body, done) = (self.block("fmod"), self.block("fmod.step"), self.block("fmod.end"));
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let r = self.b.build_phi(f64t, "r")?;
        let rv = r.as_basic_value().into_float_value();
        let more = self.b.build_float_compare(FloatPredicate::OGE, rv, ay, "more")?;
        // Infinite |x| or zero |y| would never finish: those are NaN below anyway.
        let finite = self.b.build_float_compare(FloatPredicate::ONE, ax, self.f64c(f64::INFINITY), "fin")?;
        let nonzero = self.b.build_float_compare(FloatPredicate::ONE, ay, self.f64c(0.0), "nz")?;
        let go = self.b.build_and(more, self.b.build_and(finite, nonzero, "ok")?, "go")?;
        self.b.build_conditional_branch(go, body, done)?;

        self.b.position_at_end(body);
        let gap = self.b.build_int_sub(exponent(self, rv)?, ey, "gap")?;
        let gap = self.b.build_int_sub(gap, self.i64c(26), "gap")?;
        let big = self.b.build_int_compare(inkwell::IntPredicate::SGT, gap, self.i64c(0), "big")?;
        let shift = self.b.build_select(big, gap, self.i64c(0), "shift")?.into_int_value();
        let s = self.fmul(ay, self.pow2(shift)?)?;
        let q = self.b.build_float_div(rv, s, "q")?;
        let q = self.intrinsic("llvm.trunc", &[f64t.into()], &[q.into()])?.into_float_value();
        let nq = self.b.build_float_neg(q, "nq")?;
        let next = self.intrinsic("llvm.fma", &[f64t.into()], &[nq.into(), s.into(), rv.into()])?.into_float_value();
        let neg = self.b.build_float_compare(FloatPredicate::OLT, next, self.f64c(0.0), "neg")?;
        let fixed = self.fadd(next, s)?;
        let next = self.b.build_select(neg, fixed, next, "r")?.into_float_value();
        let latch = self.current_block()?;
        self.b.build_unconditional_branch(head)?;
        r.add_incoming(&[(&ax, pre), (&next, latch)]);

        self.b.position_at_end(done);
        let mag = self.b.build_float_trunc(rv, f32t, "mag")?;
        let res = self.intrinsic("llvm.copysign", &[f32t.into()], &[mag.into(), x.into()])?.into_float_value();
        // NaN when y is 0 or NaN, or x is infinite or NaN.
        let x_ok = self.b.build_float_compare(FloatPredicate::ONE, ax, self.f64c(f64::INFINITY), "xok")?;
        let y_ok = self.b.build_float_compare(FloatPredicate::ONE, ay, self.f64c(0.0), "yok")?;
        let ok = self.b.build_and(x_ok, y_ok, "ok")?;
        // The NaN C's fmodf makes, `(x * y) / (x * y)`: an input NaN propagates, else the
        // machine's default NaN (what the CPU backend's libm returns, too).
        let xy = self.fmul(x, y)?;
        let nan = self.b.build_float_div(xy, xy, "nan")?;
        Ok(self.b.build_select(ok, res, nan, "fmod")?.into_float_value())
    }

    pub(crate) fn log_f64(&self, x: FloatValue<'ctx>) -> Lower<FloatValue<'ctx>> {
        let (f64t, i64t) = (self.cx.f64_type(), self.cx.i64_type());
        let bits = self.b.build_bit_cast(x, i64t, "bits")?.into_int_value();
        let e = self.b.build_right_shift(bits, self.i64c(52), false, "e")?;
        let e = self.b.build_and(e, self.i64c(0x7ff), "e")?;
        let e = self.b.build_int_sub(e, self.i64c(1023), "e")?;
        let mant = self.b.build_and(bits, self.i64c((1u64 << 52) - 1), "mant")?;
        let mant = self.b.build_or(mant, self.i64c(1023u64 << 52), "mant")?;
        let m = self.b.build_bit_cast(mant, f64t, "m")?.into_float_value();
        let big = self.b.build_float_compare(FloatPredicate::OGT, m, self.f64c(std::f64::consts::SQRT_2), "big")?;
        let m = self.b.build_select(big, self.fmul(m, self.f64c(0.5))?, m, "m")?.into_float_value();
        let e = self.b.build_int_add(e, self.b.build_int_z_extend(big, i64t, "inc")?, "e")?;
        let one = self.f64c(1.0);
        let s = self.b.build_float_div(self.b.build_float_sub(m, one, "num")?, self.fadd(m, one)?, "s")?;
        let z = self.fmul(s, s)?;
        // 2 (s + s^3/3 + ... + s^25/25) = 2 s (1 + z/3 + ... + z^12/25)
        let coeffs: Vec<f64> = (0..13).rev().map(|n| 1.0 / (2 * n + 1) as f64).collect();
        let series = self.fmul(self.fmul(self.horner(z, &coeffs)?, s)?, self.f64c(2.0))?;
        let ef = self.b.build_signed_int_to_float(e, f64t, "ef")?;
        let low = self.fadd(self.fmul(ef, self.f64c(LN2_LO))?, series)?;
        let y = self.fadd(self.fmul(ef, self.f64c(LN2_HI))?, low)?;
        // Special inputs: NaN and +inf give themselves, 0 gives -inf, negatives NaN.
        let special = |pred, v: f64, acc: FloatValue<'ctx>| -> Lower<FloatValue<'ctx>> {
            let c = self.b.build_float_compare(pred, x, self.f64c(0.0), "c")?;
            Ok(self.b.build_select(c, self.f64c(v), acc, "log")?.into_float_value())
        };
        let y = special(FloatPredicate::OEQ, f64::NEG_INFINITY, y)?;
        // Negative inputs: `(x - x) / 0`, the machine's default NaN (like libm's log).
        let neg = self.b.build_float_compare(FloatPredicate::OLT, x, self.f64c(0.0), "neg")?;
        let nan = self.b.build_float_div(self.b.build_float_sub(x, x, "d")?, self.f64c(0.0), "nan")?;
        let y = self.b.build_select(neg, nan, y, "log")?.into_float_value();
        let pass = self.b.build_float_compare(FloatPredicate::UEQ, x, self.f64c(f64::INFINITY), "pass")?;
        Ok(self.b.build_select(pass, x, y, "log")?.into_float_value())
    }
}
