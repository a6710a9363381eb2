//! The element types as Rust types, and the scalar rules every interpreter op is built from.
//!
//! Each dtype maps to one Rust type implementing [`Prim`]; integers add [`Int`] (wrapping
//! arithmetic, total division and shifts) and floats add [`Float`]. Casts are written once,
//! generically ([`convert`]): a source is read as a bool, an `i64` or an `f32` (exact for
//! every dtype of its kind) and the target's `from_*` applies the one rule for that pair.
//!
//! f16/bf16 results are always rounded once, to nearest-even. From f32 `half`'s conversion
//! does that; from f64 or i64 we first round to f32 *to odd* and then to nearest-even, which
//! is a correct single rounding because f32 carries more than two extra bits (`half`'s own
//! f64 conversions drop sticky bits, so they are not used).

use half::{bf16, f16};

use super::value::Data;
use crate::ir::DType;

/// Which family a dtype belongs to (decides how casts read it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    Float,
}

/// A Rust type holding one element of a dtype.
pub(crate) trait Prim: Copy + PartialEq + Default + 'static {
    const DTYPE: DType;
    const KIND: Kind;
    /// `self != 0`.
    fn as_bool(self) -> bool;
    /// Bool as 0/1, integers sign- or zero-extended by their own type; floats truncated.
    fn as_i64(self) -> i64;
    /// Exact for bool and floats (f16/bf16 widen exactly); integers round to nearest.
    fn as_f32(self) -> f32;
    /// Cast from bool: 0 or 1.
    fn from_bool(b: bool) -> Self;
    /// Cast from an integer: wraps (integers), rounds to nearest-even (floats), `!= 0` (bool).
    fn from_i64(v: i64) -> Self;
    /// Cast from a float: truncates toward zero and saturates, NaN to 0 (integers), rounds
    /// to nearest-even (floats), `!= 0` (bool).
    fn from_f32(v: f32) -> Self;
    /// From a constant's f64: like `from_f32`, rounded once (integers truncate, saturate).
    fn from_f64(v: f64) -> Self;
    /// Reads one element from exactly `size_of::<Self>()` bytes (native byte order).
    fn read(bytes: &[u8]) -> Self;
    /// Writes one element to exactly `size_of::<Self>()` bytes (native byte order).
    fn write(self, out: &mut [u8]);
    fn wrap(v: Vec<Self>) -> Data;
    fn view(d: &Data) -> Option<&[Self]>;
}

/// Converts one element with the cast rules of [`crate::ir::Op::Cast`].
#[inline(always)]
pub(crate) fn convert<S: Prim, D: Prim>(x: S) -> D {
    match S::KIND {
        Kind::Bool => D::from_bool(x.as_bool()),
        Kind::Int => D::from_i64(x.as_i64()),
        Kind::Float => D::from_f32(x.as_f32()),
    }
}

/// Integer dtypes: wrapping arithmetic and the total division and shift rules.
pub(crate) trait Int:
    Prim
    + Ord
    + std::ops::BitAnd<Output = Self>
    + std::ops::BitOr<Output = Self>
    + std::ops::BitXor<Output = Self>
    + std::ops::Not<Output = Self>
{
    const ZERO: Self;
    fn wadd(self, o: Self) -> Self;
    fn wsub(self, o: Self) -> Self;
    fn wmul(self, o: Self) -> Self;
    fn wneg(self) -> Self;
    /// Truncating division; `x / 0 = 0`, `MIN / -1 = MIN`.
    fn div_total(self, o: Self) -> Self;
    /// Remainder with the dividend's sign; `x % 0 = x`, `MIN % -1 = 0`.
    fn rem_total(self, o: Self) -> Self;
    /// `self << amount`, or 0 when the amount is negative or at least the width.
    fn shl_total(self, amount: Self) -> Self;
    /// `self >> amount` (arithmetic on signed types); an amount that is negative or at
    /// least the width gives 0 or, for negative signed values, -1.
    fn shr_total(self, amount: Self) -> Self;
    /// `|self|`, wrapping (`abs(MIN) = MIN`); the identity on unsigned types.
    fn wabs(self) -> Self {
        if self < Self::ZERO {
            self.wneg()
        } else {
            self
        }
    }
}

macro_rules! int_types {
    ($($t:ty => $d:ident),*) => {$(
        impl Prim for $t {
            const DTYPE: DType = DType::$d;
            const KIND: Kind = Kind::Int;
            fn as_bool(self) -> bool { self != 0 }
            fn as_i64(self) -> i64 { self as i64 }
            fn as_f32(self) -> f32 { self as f32 }
            fn from_bool(b: bool) -> Self { b as $t }
            fn from_i64(v: i64) -> Self { v as $t }
            fn from_f32(v: f32) -> Self { v as $t }
            fn from_f64(v: f64) -> Self { v as $t }
            fn read(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(bytes);
                <$t>::from_ne_bytes(a)
            }
            fn write(self, out: &mut [u8]) { out.copy_from_slice(&self.to_ne_bytes()) }
            fn wrap(v: Vec<Self>) -> Data { Data::$d(v) }
            fn view(d: &Data) -> Option<&[Self]> {
                match d { Data::$d(v) => Some(v), _ => None }
            }
        }

        impl Int for $t {
            const ZERO: Self = 0;
            #[inline(always)]
            fn wadd(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)]
            fn wsub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)]
            fn wmul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)]
            fn wneg(self) -> Self { self.wrapping_neg() }
            #[inline(always)]
            fn div_total(self, o: Self) -> Self {
                if o == 0 { 0 } else { self.wrapping_div(o) }
            }
            #[inline(always)]
            fn rem_total(self, o: Self) -> Self {
                if o == 0 { self } else { self.wrapping_rem(o) }
            }
            #[inline(always)]
            fn shl_total(self, amount: Self) -> Self {
                let s = amount as i64;
                if s < 0 || s >= Self::BITS as i64 { 0 } else { self.wrapping_shl(s as u32) }
            }
            #[inline(always)]
            fn shr_total(self, amount: Self) -> Self {
                let s = amount as i64;
                if s < 0 || s >= Self::BITS as i64 {
                    // The sign fill: 0 for unsigned and non-negative values, -1 otherwise.
                    if self < Self::ZERO { !Self::ZERO } else { Self::ZERO }
                } else {
                    self.wrapping_shr(s as u32)
                }
            }
        }
    )*};
}
int_types!(i8 => I8, u8 => U8, i32 => I32, u32 => U32, i64 => I64);

impl Prim for bool {
    const DTYPE: DType = DType::Bool;
    const KIND: Kind = Kind::Bool;
    fn as_bool(self) -> bool {
        self
    }
    fn as_i64(self) -> i64 {
        self as i64
    }
    fn as_f32(self) -> f32 {
        self as u8 as f32
    }
    fn from_bool(b: bool) -> Self {
        b
    }
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    fn from_f32(v: f32) -> Self {
        v != 0.0
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    /// Any nonzero byte reads as `true`.
    fn read(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn write(self, out: &mut [u8]) {
        out[0] = self as u8;
    }
    fn wrap(v: Vec<Self>) -> Data {
        Data::Bool(v)
    }
    fn view(d: &Data) -> Option<&[Self]> {
        match d {
            Data::Bool(v) => Some(v),
            _ => None,
        }
    }
}

/// Float dtypes. Arithmetic is done on `as_f32()` values and rounded back with `from_f32`.
pub(crate) trait Float: Prim {
    /// Flips the sign bit (also of NaN).
    fn neg(self) -> Self;
    /// Clears the sign bit (also of NaN).
    fn abs(self) -> Self;
    /// `a * b + c` rounded once to this dtype.
    fn fma(a: Self, b: Self, c: Self) -> Self;
}

impl Prim for f32 {
    const DTYPE: DType = DType::F32;
    const KIND: Kind = Kind::Float;
    fn as_bool(self) -> bool {
        self != 0.0
    }
    fn as_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn as_f32(self) -> f32 {
        self
    }
    fn from_bool(b: bool) -> Self {
        b as u8 as f32
    }
    fn from_i64(v: i64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn read(bytes: &[u8]) -> Self {
        let mut a = [0u8; 4];
        a.copy_from_slice(bytes);
        f32::from_ne_bytes(a)
    }
    fn write(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_ne_bytes())
    }
    fn wrap(v: Vec<Self>) -> Data {
        Data::F32(v)
    }
    fn view(d: &Data) -> Option<&[Self]> {
        match d {
            Data::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl Float for f32 {
    fn neg(self) -> Self {
        -self
    }
    fn abs(self) -> Self {
        f32::abs(self)
    }
    fn fma(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
}

macro_rules! half_types {
    ($($t:ty => $d:ident),*) => {$(
        impl Prim for $t {
            const DTYPE: DType = DType::$d;
            const KIND: Kind = Kind::Float;
            fn as_bool(self) -> bool { self.to_f32() != 0.0 }
            fn as_i64(self) -> i64 { self.to_f32() as i64 }
            #[inline(always)]
            fn as_f32(self) -> f32 { self.to_f32() }
            fn from_bool(b: bool) -> Self { if b { <$t>::ONE } else { <$t>::ZERO } }
            fn from_i64(v: i64) -> Self { <$t>::from_f32(f64_to_f32_odd(i64_to_f64_odd(v))) }
            #[inline(always)]
            fn from_f32(v: f32) -> Self { <$t>::from_f32(v) }
            fn from_f64(v: f64) -> Self { <$t>::from_f32(f64_to_f32_odd(v)) }
            fn read(bytes: &[u8]) -> Self {
                <$t>::from_bits(u16::from_ne_bytes([bytes[0], bytes[1]]))
            }
            fn write(self, out: &mut [u8]) { out.copy_from_slice(&self.to_bits().to_ne_bytes()) }
            fn wrap(v: Vec<Self>) -> Data { Data::$d(v) }
            fn view(d: &Data) -> Option<&[Self]> {
                match d { Data::$d(v) => Some(v), _ => None }
            }
        }

        impl Float for $t {
            fn neg(self) -> Self { <$t>::from_bits(self.to_bits() ^ 0x8000) }
            fn abs(self) -> Self { <$t>::from_bits(self.to_bits() & 0x7fff) }
            fn fma(a: Self, b: Self, c: Self) -> Self {
                // The product of two 16-bit floats is exact in f64; the sum is rounded to
                // odd, then to f32 to odd, then once to nearest-even.
                let p = a.to_f64() * b.to_f64();
                <Self as Prim>::from_f64(add_f64_odd(p, c.to_f64()))
            }
        }
    )*};
}
half_types!(f16 => F16, bf16 => BF16);

pub(crate) use crate::ir::f64_to_f32_odd;

/// `x` rounded to f64 with round-to-odd.
pub(crate) fn i64_to_f64_odd(x: i64) -> f64 {
    let f = x as f64;
    let diff = x as i128 - f as i128;
    if diff == 0 || f.to_bits() & 1 == 1 {
        return f;
    }
    // |x| > 2^53 here, so f is not zero and stepping by bits moves its magnitude.
    let bits = f.to_bits();
    let away_from_zero = (diff > 0) == (f > 0.0);
    f64::from_bits(if away_from_zero { bits + 1 } else { bits - 1 })
}

/// `p + c` rounded to f64 with round-to-odd (the error term comes from Knuth's TwoSum).
fn add_f64_odd(p: f64, c: f64) -> f64 {
    let s = p + c;
    if !s.is_finite() {
        return s;
    }
    let bb = s - p;
    let err = (p - (s - bb)) + (c - bb);
    if err == 0.0 || s.to_bits() & 1 == 1 {
        return s;
    }
    // s != 0 here: an exact cancellation has no error.
    let bits = s.to_bits();
    let away_from_zero = (err > 0.0) == (s > 0.0);
    f64::from_bits(if away_from_zero { bits + 1 } else { bits - 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Correct rounding of an exact dyadic value to f16, by brute force over f16 values.
    fn nearest_f16(x: f64) -> f16 {
        let mut best = f16::ZERO;
        for bits in 0..0x7c00u16 {
            for s in [0u16, 0x8000] {
                let c = f16::from_bits(bits | s);
                let (d, db) = ((c.to_f64() - x).abs(), (best.to_f64() - x).abs());
                if d < db || (d == db && bits & 1 == 0) {
                    best = c;
                }
            }
        }
        best
    }

    #[test]
    fn i64_to_f16_and_bf16_round_once() {
        // 2049 is a tie between 2048 and 2050 in f16: even wins.
        assert_eq!(<f16 as Prim>::from_i64(2049).to_f64(), 2048.0);
        assert_eq!(<f16 as Prim>::from_i64(2051).to_f64(), 2052.0);
        assert_eq!(<f16 as Prim>::from_i64(65519).to_f64(), 65504.0);
        assert!(<f16 as Prim>::from_i64(65520).to_f32().is_infinite());
        // Just above a bf16 tie, far beyond f64's 53 bits: rounding f64 first would lose
        // the sticky bit and round to even (down).
        let tie = (1i64 << 62) + (1i64 << 54); // halfway between two bf16 values
        assert_eq!(<bf16 as Prim>::from_i64(tie).to_f64(), 2f64.powi(62));
        assert_eq!(
            <bf16 as Prim>::from_i64(tie + 1).to_f64(),
            2f64.powi(62) + 2f64.powi(55)
        );
    }

    #[test]
    fn f64_to_f16_is_correctly_rounded() {
        // Halfway cases with and without a sticky bit far below f32's precision.
        for x in [
            1.0 + 2f64.powi(-11),
            1.0 + 3.0 * 2f64.powi(-11),
            3.0 * 2f64.powi(-25),
        ] {
            for y in [x, x + 2f64.powi(-40), x - 2f64.powi(-40)] {
                assert_eq!(<f16 as Prim>::from_f64(y), nearest_f16(y), "{y}");
            }
        }
    }

    #[test]
    fn bf16_fma_rounds_once() {
        // 17 * 17 = 289 is a bf16 tie (288 | 290); a tiny positive addend decides it.
        let (a, c) = (bf16::from_f32(17.0), bf16::from_f32(1e-30));
        assert_eq!(<bf16 as Float>::fma(a, a, c).to_f32(), 290.0);
        assert_eq!(<bf16 as Float>::fma(a, a, bf16::ZERO).to_f32(), 288.0);
        assert_eq!(<bf16 as Float>::fma(a, a, -c).to_f32(), 288.0);
    }

    #[test]
    fn shifts_and_division_are_total() {
        assert_eq!(5i8.shl_total(8), 0);
        assert_eq!(5i8.shl_total(-1), 0);
        assert_eq!((-5i8).shr_total(9), -1);
        assert_eq!(5i8.shr_total(-3), 0);
        assert_eq!(0x80u8.shr_total(8), 0);
        assert_eq!(i32::MIN.div_total(-1), i32::MIN);
        assert_eq!(i32::MIN.rem_total(-1), 0);
        assert_eq!(7u32.div_total(0), 0);
        assert_eq!(7u32.rem_total(0), 7);
        assert_eq!(i64::MIN.wabs(), i64::MIN);
    }
}
