//! The uniform asymmetric group quantizer, the plain-Rust reference the kernels match bit
//! for bit.
//!
//! The input is a flat array of `n` values (a `[tokens, channels]` tensor in row-major
//! order) cut into groups of `group` contiguous values; when `group` divides the channel
//! count, every group lies inside one token (groups along channels). The last group may be
//! partial: it is quantized over its real values and its codes are padded with zeros.
//!
//! Per group, in f32 (f16 inputs are widened exactly), with `L = 2^bits - 1`:
//!
//! ```text
//! lo    = min(x)                 hi = max(x)
//! scale = f16((hi - lo) / L)     zero = f16(lo)          (f32 division; f16 rounding to nearest-even)
//! s     = f32(scale)             z = f32(zero)           inv = 1 / s    (f32 division)
//! q     = 0                                          if s == 0
//!         min(max(round_half_even((x - z) * inv), 0), L)   otherwise   (f32 sub then mul)
//! x^    = fma(f32(q), s, z)                          (one rounding)
//! ```
//!
//! Multiplying by `inv` rather than dividing by `s` is the kernel's choice (one division
//! per group); `fma` makes the dequantized value independent of whether a compiler
//! contracts `q * s + z`. A dequantized f16 output is `f16(x^)` (nearest-even).
//! The kernels compute the same codes by an exactly equivalent route (see
//! `kernels::uniform_math`): `inv = 0` where `s == 0`, and clamp before rounding (the
//! bounds are integers), rounding by adding `2^23`.
//!
//! Inputs must be finite and their group ranges representable in f16 (`scale` and `zero`
//! are stored as f16); other inputs give unspecified codes, never a crash.

use half::f16;
use thiserror::Error;

use super::pack::{self, PackError};

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum UniformError {
    #[error("uniform quantizer: {0}")]
    Pack(#[from] PackError),
    #[error("uniform quantizer: group size {0} is not a positive multiple of 32")]
    Group(usize),
    #[error("uniform quantizer: {what} has {got} entries, expected {expected}")]
    Length {
        what: &'static str,
        got: usize,
        expected: usize,
    },
}

/// Bit width and group size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Uniform {
    bits: u32,
    group: usize,
}

impl Uniform {
    /// Checks `bits` in 1..=8 and `group` a positive multiple of 32 (so packing units never
    /// straddle groups).
    pub fn new(bits: u32, group: usize) -> Result<Uniform, UniformError> {
        pack::check_bits(bits)?;
        if group == 0 || !group.is_multiple_of(pack::UNIT) {
            return Err(UniformError::Group(group));
        }
        Ok(Uniform { bits, group })
    }

    pub fn bits(self) -> u32 {
        self.bits
    }

    /// Values per group.
    pub fn group(self) -> usize {
        self.group
    }

    /// The largest code, `2^bits - 1`.
    pub fn levels(self) -> u32 {
        (1 << self.bits) - 1
    }

    /// Groups covering `n` values.
    pub fn groups(self, n: usize) -> usize {
        n.div_ceil(self.group)
    }

    /// Packed code words for `n` values (whole groups).
    pub fn code_words(self, n: usize) -> usize {
        self.groups(n) * self.group / pack::UNIT * self.bits as usize
    }

    /// f16 scale and zero of one group (non-empty).
    pub fn group_params(self, xs: &[f32]) -> (f16, f16) {
        let lo = xs.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (f16::from_f32((hi - lo) / self.levels() as f32), f16::from_f32(lo))
    }

    /// The code of `x` in a group with `scale` and `zero`.
    pub fn code(self, x: f32, scale: f16, zero: f16) -> u32 {
        let (s, z) = (scale.to_f32(), zero.to_f32());
        if s == 0.0 {
            return 0;
        }
        let inv = 1.0 / s;
        // f32::max/min ignore NaN like the IR's max/min; `clamp` would propagate it.
        ((x - z) * inv).round_ties_even().max(0.0).min(self.levels() as f32) as u32
    }

    /// Quantizes f32 values.
    pub fn quantize(self, x: &[f32]) -> Quantized {
        let n_groups = self.groups(x.len());
        let mut codes = vec![0u32; n_groups * self.group];
        let mut scale = Vec::with_capacity(n_groups);
        let mut zero = Vec::with_capacity(n_groups);
        for (g, xs) in x.chunks(self.group).enumerate() {
            let (s, z) = self.group_params(xs);
            for (i, &v) in xs.iter().enumerate() {
                codes[g * self.group + i] = self.code(v, s, z);
            }
            scale.push(s);
            zero.push(z);
        }
        let codes = pack::pack(&codes, self.bits).expect("codes are clamped to the bit width");
        Quantized {
            q: self,
            n: x.len(),
            codes,
            scale,
            zero,
        }
    }

    /// Quantizes f16 values (widened to f32 exactly).
    pub fn quantize_f16(self, x: &[f16]) -> Quantized {
        let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
        self.quantize(&wide)
    }
}

/// A quantized tensor: packed codes and per-group f16 scale and zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub q: Uniform,
    /// Number of values.
    pub n: usize,
    /// `q.code_words(n)` packed words (see [`super::pack`]).
    pub codes: Vec<u32>,
    pub scale: Vec<f16>,
    pub zero: Vec<f16>,
}

impl Quantized {
    /// Checks that the parts have the lengths `n` implies.
    pub fn check(&self) -> Result<(), UniformError> {
        let groups = self.q.groups(self.n);
        for (what, got, expected) in [
            ("codes", self.codes.len(), self.q.code_words(self.n)),
            ("scale", self.scale.len(), groups),
            ("zero", self.zero.len(), groups),
        ] {
            if got != expected {
                return Err(UniformError::Length { what, got, expected });
            }
        }
        Ok(())
    }

    /// The codes, unpacked (`n` of them).
    pub fn unpacked(&self) -> Result<Vec<u32>, UniformError> {
        self.check()?;
        Ok(pack::unpack(&self.codes, self.q.bits(), self.n)?)
    }

    /// Dequantized values in f32.
    pub fn dequantize(&self) -> Result<Vec<f32>, UniformError> {
        let codes = self.unpacked()?;
        Ok(codes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let g = i / self.q.group();
                (c as f32).mul_add(self.scale[g].to_f32(), self.zero[g].to_f32())
            })
            .collect())
    }

    /// Dequantized values rounded to f16.
    pub fn dequantize_f16(&self) -> Result<Vec<f16>, UniformError> {
        Ok(self.dequantize()?.into_iter().map(f16::from_f32).collect())
    }
}

/// `||x^ - x||^2 / ||x||^2`, accumulated in f64.
pub fn relative_error(x: &[f32], x_hat: &[f32]) -> f64 {
    let (mut err, mut norm) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(x_hat) {
        err += (b as f64 - a as f64).powi(2);
        norm += (a as f64).powi(2);
    }
    err / norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_two_bit_group_by_hand() {
        let q = Uniform::new(2, 32).unwrap();
        // Values 0, 1, 2, 3 repeated: lo = 0, hi = 3, scale = 1, zero = 0, codes = values.
        let x: Vec<f32> = (0..32).map(|i| (i % 4) as f32).collect();
        let t = q.quantize(&x);
        assert_eq!((t.scale[0].to_f32(), t.zero[0].to_f32()), (1.0, 0.0));
        assert_eq!(t.unpacked().unwrap(), (0..32).map(|i| i % 4).collect::<Vec<u32>>());
        assert_eq!(t.dequantize().unwrap(), x);
    }

    #[test]
    fn ties_round_to_even_and_constant_groups_give_zero_codes() {
        let q = Uniform::new(2, 32).unwrap();
        // lo = 0, hi = 3: x = 0.5 -> 0, x = 1.5 -> 2, x = 2.5 -> 2.
        assert_eq!(q.code(0.5, f16::ONE, f16::ZERO), 0);
        assert_eq!(q.code(1.5, f16::ONE, f16::ZERO), 2);
        assert_eq!(q.code(2.5, f16::ONE, f16::ZERO), 2);
        let t = q.quantize(&[7.25; 40]);
        assert_eq!(t.scale, vec![f16::ZERO; 2]);
        assert!(t.unpacked().unwrap().iter().all(|&c| c == 0));
        assert_eq!(t.dequantize().unwrap(), vec![7.25; 40]);
    }

    #[test]
    fn partial_last_group_is_padded() {
        let q = Uniform::new(3, 64).unwrap();
        let x: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let t = q.quantize(&x);
        assert_eq!(t.codes.len(), 2 * 64 / 32 * 3);
        assert_eq!(t.scale.len(), 2);
        let all = pack::unpack(&t.codes, 3, 128).unwrap();
        assert!(all[100..].iter().all(|&c| c == 0));
        // The last group's range is that of its 36 real values only.
        let (s, z) = q.group_params(&x[64..]);
        assert_eq!((t.scale[1], t.zero[1]), (s, z));
    }

    #[test]
    fn rejects_bad_parameters() {
        assert_eq!(Uniform::new(0, 64), Err(UniformError::Pack(PackError::Bits(0))));
        assert_eq!(Uniform::new(4, 48), Err(UniformError::Group(48)));
        let mut t = Uniform::new(4, 32).unwrap().quantize(&[1.0; 32]);
        t.scale.pop();
        assert_eq!(
            t.dequantize(),
            Err(UniformError::Length {
                what: "scale",
                got: 0,
                expected: 1
            })
        );
    }

    proptest! {
        /// Every value is reconstructed within half a step plus the f16 rounding of zero
        /// and scale (scale is rounded by at most 2^-11 relative, times q <= L steps).
        #[test]
        fn error_is_bounded_by_half_a_step(bits in 1u32..=8, xs in prop::collection::vec(-100.0f32..100.0, 1..300)) {
            let q = Uniform::new(bits, 32).unwrap();
            let t = q.quantize(&xs);
            let y = t.dequantize().unwrap();
            for (g, chunk) in xs.chunks(32).enumerate() {
                let lo = chunk.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = chunk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let step = (hi - lo) / q.levels() as f32;
                let slack = 0.5 * step + (hi - lo) * 2f32.powi(-10) + lo.abs() * 2f32.powi(-11) + 1e-4;
                for (i, &x) in chunk.iter().enumerate() {
                    prop_assert!((y[g * 32 + i] - x).abs() <= slack, "x {} y {} slack {}", x, y[g * 32 + i], slack);
                }
            }
        }
    }
}
