//! The uniform asymmetric group quantizer, the plain-Rust reference the kernels match bit
//! for bit.
//!
//! The input is a `[tokens, channels]` tensor in row-major order, `n` values. Groups of `G`
//! values (a power of two, 16 to 256) are cut one of two ways ([`Grouping`]):
//!
//! - **along channels**: `G` contiguous values of the flat array, group `i / G` for value
//!   `i` (when `G` divides the channel count, every group lies in one token). A last
//!   partial group is quantized over its real values;
//! - **along tokens** (KIVI-style keys): `G` consecutive tokens of one channel; value
//!   `(t, c)` is in group `(t / G) * channels + c`, so scales and zeros form a
//!   `[ceil(tokens / G), channels]` matrix. A last partial token group holds fewer tokens.
//!
//! Codes are stored in the **element order** of the tensor, packed densely with `bits`
//! bits each ([`super::pack`]), whatever the grouping; along channels the last group's
//! codes are padded with zeros to `G`.
//!
//! Per group, in f32 (f16 and bf16 inputs are widened exactly), with `L = 2^bits - 1` and
//! `M = 65504` (the largest f16):
//!
//! ```text
//! lo    = min(x)   hi = max(x)           NaN values skipped (IEEE minNum/maxNum), a zero +0
//! if !(hi >= lo):  scale = zero = 0      a group of NaN only
//! scale = f16(clamp((hi - lo) / L, 0, M))    f32 division; clamp(NaN) = 0
//! zero  = f16(clamp(lo, -M, M))
//! s, z  = f32(scale), f32(zero)          inv = 1 / s,  c = -(z * inv)  (f32 ops)
//! q     = 0                                                if s == 0
//!         min(max(round_half_even(fma(x, inv, c)), 0), L)  otherwise  (NaN gives 0)
//! x^    = fma(f32(q), s, z)              one rounding; narrowed by `super::element`'s rule
//! ```
//!
//! Degenerate and non-finite input, deterministic, never NaN out:
//! - a constant group (all zero included) has scale 0, codes 0 and dequantizes to
//!   `f16(value)` (exactly the value for f16 input; +0 for zeros of either sign);
//! - a group whose range or values exceed f16 saturates scale and zero at `±M`: the error
//!   grows but every output is finite (f16 outputs saturate too);
//! - a NaN value gets code 0 (dequantizes to the group's zero); `±inf` values saturate the
//!   scale and get code `L` or 0; a group of NaN only dequantizes to 0.
//!
//! Multiplying by `inv` rather than dividing by `s` is the kernel's choice (one division
//! per group), and so is `fma(x, inv, c)` for `(x - z) * inv`: one op a value instead of
//! two, with one rounding of the exact `x * inv - z * inv` (that of `z * inv`, per group,
//! aside); a code can differ from the two-op form's only where that form's value was
//! within a rounding of a half-integer. `fma` in the dequantizer makes its value
//! independent of whether a compiler contracts `q * s + z`. The kernels compute the same codes by an exactly equivalent route
//! (see `kernels::uniform_math`).

use half::f16;
use thiserror::Error;

use super::bits::Storage;
use super::element::{widen, Element, F16_MAX};
use super::pack::{self, PackError};

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum UniformError {
    #[error("uniform quantizer: {0}")]
    Pack(#[from] PackError),
    #[error("uniform quantizer: group size {0} is not a power of two from 16 to 256")]
    Group(usize),
    #[error("uniform quantizer: {n} values are not whole tokens of {channels} channels")]
    Tokens { n: usize, channels: usize },
    #[error("uniform quantizer: {what} has {got} entries, expected {expected}")]
    Length {
        what: &'static str,
        got: usize,
        expected: usize,
    },
}

/// How values are grouped (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grouping {
    /// `G` contiguous values of the flat tensor: per token when `G` divides the channels.
    Channels,
    /// `G` consecutive tokens of one channel of a tensor with `channels` channels.
    Tokens { channels: usize },
}

impl Grouping {
    /// Checks that `n` values are whole tokens.
    fn check(self, n: usize) -> Result<(), UniformError> {
        match self {
            Grouping::Tokens { channels } if channels == 0 || !n.is_multiple_of(channels) => {
                Err(UniformError::Tokens { n, channels })
            }
            _ => Ok(()),
        }
    }
}

/// Bit width and group size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Uniform {
    bits: u32,
    group: usize,
}

impl Uniform {
    /// Checks `bits` in 1..=8 and `group` a power of two from 16 to 256.
    pub fn new(bits: u32, group: usize) -> Result<Uniform, UniformError> {
        pack::check_bits(bits)?;
        if !group.is_power_of_two() || !(16..=256).contains(&group) {
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

    /// Groups covering `n` values (whole tokens for [`Grouping::Tokens`]).
    pub fn groups(self, n: usize, grouping: Grouping) -> usize {
        match grouping {
            Grouping::Channels => n.div_ceil(self.group),
            Grouping::Tokens { channels } => (n / channels.max(1)).div_ceil(self.group) * channels,
        }
    }

    /// Packed code words for `n` values: whole groups along channels, the values themselves
    /// along tokens.
    pub fn code_words(self, n: usize, grouping: Grouping) -> usize {
        let codes = match grouping {
            Grouping::Channels => self.groups(n, grouping) * self.group,
            Grouping::Tokens { .. } => n,
        };
        pack::packed_words(codes, self.bits)
    }

    /// What `n` quantized values store: codes, and an f16 scale and zero per group.
    pub fn storage(self, n: usize, grouping: Grouping) -> Storage {
        Storage {
            quantized_values: n,
            code_words: self.code_words(n, grouping),
            f16_params: 2 * self.groups(n, grouping),
            fp16_values: 0,
        }
    }

    /// f16 scale and zero of one group of real values, by the module's rules.
    pub fn group_params(self, xs: impl IntoIterator<Item = f32> + Clone) -> (f16, f16) {
        // `+ 0.0` makes a zero +0: minNum and maxNum leave a zero's sign free, and the
        // backends reduce in different orders (and instructions).
        let lo = xs.clone().into_iter().fold(f32::INFINITY, f32::min) + 0.0;
        let hi = xs.into_iter().fold(f32::NEG_INFINITY, f32::max) + 0.0;
        // False for a group of NaN only (lo = +inf, hi = -inf).
        let real = hi >= lo;
        if !real {
            return (f16::ZERO, f16::ZERO);
        }
        // f32::max/min ignore NaN like the IR's max/min (minNum, maxNum); `clamp` would
        // propagate it (inf - inf must give scale 0).
        #[allow(clippy::manual_clamp)]
        let scale = ((hi - lo) / self.levels() as f32).max(0.0).min(F16_MAX);
        #[allow(clippy::manual_clamp)]
        let zero = lo.max(-F16_MAX).min(F16_MAX);
        (f16::from_f32(scale), f16::from_f32(zero))
    }

    /// The code of `x` in a group with `scale` and `zero`.
    pub fn code(self, x: f32, scale: f16, zero: f16) -> u32 {
        let (s, z) = (scale.to_f32(), zero.to_f32());
        if s == 0.0 {
            return 0;
        }
        let inv = 1.0 / s;
        x.mul_add(inv, -(z * inv)).round_ties_even().max(0.0).min(self.levels() as f32) as u32
    }

    /// Quantizes f32 values (a `[tokens, channels]` tensor for [`Grouping::Tokens`]).
    pub fn quantize(self, x: &[f32], grouping: Grouping) -> Result<Quantized, UniformError> {
        grouping.check(x.len())?;
        let n_groups = self.groups(x.len(), grouping);
        let mut scale = vec![f16::ZERO; n_groups];
        let mut zero = vec![f16::ZERO; n_groups];
        let padded = match grouping {
            Grouping::Channels => n_groups * self.group,
            Grouping::Tokens { .. } => x.len(),
        };
        let mut codes = vec![0u32; padded];
        match grouping {
            Grouping::Channels => {
                for (g, xs) in x.chunks(self.group).enumerate() {
                    let (s, z) = self.group_params(xs.iter().copied());
                    for (i, &v) in xs.iter().enumerate() {
                        codes[g * self.group + i] = self.code(v, s, z);
                    }
                    (scale[g], zero[g]) = (s, z);
                }
            }
            Grouping::Tokens { channels } => {
                for (tg, rows) in x.chunks(self.group * channels).enumerate() {
                    for c in 0..channels {
                        let column = rows.iter().skip(c).step_by(channels).copied();
                        let (s, z) = self.group_params(column);
                        for t in 0..rows.len() / channels {
                            let i = tg * self.group * channels + t * channels + c;
                            codes[i] = self.code(x[i], s, z);
                        }
                        (scale[tg * channels + c], zero[tg * channels + c]) = (s, z);
                    }
                }
            }
        }
        let codes = pack::pack(&codes, self.bits).expect("codes are clamped to the bit width");
        Ok(Quantized {
            q: self,
            grouping,
            n: x.len(),
            codes,
            scale,
            zero,
        })
    }

    /// Quantizes f16, bf16 or f32 values (widened to f32 exactly).
    pub fn quantize_as<E: Element>(self, x: &[E], grouping: Grouping) -> Result<Quantized, UniformError> {
        self.quantize(&widen(x), grouping)
    }
}

/// A quantized tensor: packed codes and per-group f16 scale and zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub q: Uniform,
    pub grouping: Grouping,
    /// Number of values.
    pub n: usize,
    /// `q.code_words(n, grouping)` packed words (see [`super::pack`]).
    pub codes: Vec<u32>,
    pub scale: Vec<f16>,
    pub zero: Vec<f16>,
}

impl Quantized {
    /// Checks that the parts have the lengths `n` implies.
    pub fn check(&self) -> Result<(), UniformError> {
        self.grouping.check(self.n)?;
        let groups = self.q.groups(self.n, self.grouping);
        for (what, got, expected) in [
            ("codes", self.codes.len(), self.q.code_words(self.n, self.grouping)),
            ("scale", self.scale.len(), groups),
            ("zero", self.zero.len(), groups),
        ] {
            if got != expected {
                return Err(UniformError::Length { what, got, expected });
            }
        }
        Ok(())
    }

    /// The codes, unpacked (`n` of them, in element order).
    pub fn unpacked(&self) -> Result<Vec<u32>, UniformError> {
        self.check()?;
        Ok(pack::unpack(&self.codes, self.q.bits(), self.n)?)
    }

    /// The group of value `i`.
    fn group_of(&self, i: usize) -> usize {
        match self.grouping {
            Grouping::Channels => i / self.q.group(),
            Grouping::Tokens { channels } => i / channels / self.q.group() * channels + i % channels,
        }
    }

    /// Dequantized values in f32.
    pub fn dequantize(&self) -> Result<Vec<f32>, UniformError> {
        let codes = self.unpacked()?;
        Ok(codes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let g = self.group_of(i);
                (c as f32).mul_add(self.scale[g].to_f32(), self.zero[g].to_f32())
            })
            .collect())
    }

    /// Dequantized values narrowed to `E` (f16 saturates; see [`super::element`]).
    pub fn dequantize_as<E: Element>(&self) -> Result<Vec<E>, UniformError> {
        Ok(self.dequantize()?.into_iter().map(E::narrow).collect())
    }

    /// What this tensor stores.
    pub fn storage(&self) -> Storage {
        self.q.storage(self.n, self.grouping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::bits::bits_per_value;
    use proptest::prelude::*;

    const CH: Grouping = Grouping::Channels;

    #[test]
    fn a_two_bit_group_by_hand() {
        let q = Uniform::new(2, 32).unwrap();
        // Values 0, 1, 2, 3 repeated: lo = 0, hi = 3, scale = 1, zero = 0, codes = values.
        let x: Vec<f32> = (0..32).map(|i| (i % 4) as f32).collect();
        let t = q.quantize(&x, CH).unwrap();
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
        let t = q.quantize(&[7.25; 40], CH).unwrap();
        assert_eq!(t.scale, vec![f16::ZERO; 2]);
        assert!(t.unpacked().unwrap().iter().all(|&c| c == 0));
        assert_eq!(t.dequantize().unwrap(), vec![7.25; 40]);
    }

    #[test]
    fn partial_last_group_is_padded() {
        let q = Uniform::new(3, 64).unwrap();
        let x: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let t = q.quantize(&x, CH).unwrap();
        assert_eq!(t.codes.len(), 2 * 64 / 32 * 3);
        assert_eq!(t.scale.len(), 2);
        let all = pack::unpack(&t.codes, 3, 128).unwrap();
        assert!(all[100..].iter().all(|&c| c == 0));
        // The last group's range is that of its 36 real values only.
        let (s, z) = q.group_params(x[64..].iter().copied());
        assert_eq!((t.scale[1], t.zero[1]), (s, z));
    }

    #[test]
    fn groups_of_16_share_packing_units() {
        // 3 groups of 16: 48 codes, two units of 32 codes (the second half padding).
        let q = Uniform::new(4, 16).unwrap();
        let x: Vec<f32> = (0..48).map(|i| i as f32).collect();
        let t = q.quantize(&x, CH).unwrap();
        assert_eq!((t.codes.len(), t.scale.len()), (2 * 4, 3));
        assert_eq!(t.dequantize().unwrap(), x, "16 consecutive integers fit 4 bits exactly");
        assert_eq!(bits_per_value(&t.storage()), (8.0 * 32.0 + 6.0 * 16.0) / 48.0);
    }

    #[test]
    fn token_groups_run_down_each_channel() {
        // 20 tokens x 32 channels, value 10 c + t; groups of 16 tokens: a whole group and
        // a partial one of 4 tokens per channel.
        let q = Uniform::new(8, 16).unwrap();
        let (tokens, channels) = (20, 32);
        let x: Vec<f32> = (0..tokens * channels)
            .map(|i| (i % channels) as f32 * 10.0 + (i / channels) as f32)
            .collect();
        let g = Grouping::Tokens { channels };
        let t = q.quantize(&x, g).unwrap();
        // Two token groups (16 and 4 tokens) x 32 channels.
        assert_eq!(t.scale.len(), 2 * channels);
        for c in 0..channels {
            // Group 0: tokens 0..16 -> range [10c, 10c + 15]; group 1: tokens 16..20.
            assert_eq!(t.zero[c].to_f32(), f16::from_f32(10.0 * c as f32).to_f32());
            assert_eq!(t.scale[c], f16::from_f32(15.0 / 255.0));
            assert_eq!(t.zero[channels + c], f16::from_f32(10.0 * c as f32 + 16.0));
            assert_eq!(t.scale[channels + c], f16::from_f32(3.0 / 255.0));
        }
        assert_eq!(t.codes.len(), pack::packed_words(tokens * channels, 8));
        let y = t.dequantize().unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() <= 0.5 * 15.0 / 255.0 + 0.2, "{a} vs {b}");
        }
        assert_eq!(q.quantize(&x[..40], g), Err(UniformError::Tokens { n: 40, channels }));
    }

    #[test]
    fn overflowing_and_non_finite_groups_stay_finite() {
        let q = Uniform::new(2, 16).unwrap();
        // Range 2e6: the scale (666667 per step) saturates at 65504, the zero at -65504.
        let mut x = vec![0.0f32; 16];
        x[0] = -1e6;
        x[1] = 1e6;
        let t = q.quantize(&x, CH).unwrap();
        assert_eq!((t.scale[0], t.zero[0]), (f16::MAX, f16::MIN));
        let y: Vec<f16> = t.dequantize_as().unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        // f16 extremes: 3 steps of f16(131008 / 3) = 43680 from -65504 reach 65536, which
        // the f16 output saturates instead of rounding to inf.
        let mut x = vec![f16::ZERO; 16];
        x[0] = f16::MIN;
        x[1] = f16::MAX;
        let t = q.quantize_as(&x, CH).unwrap();
        let y: Vec<f16> = t.dequantize_as().unwrap();
        assert_eq!(y[1], f16::MAX);
        // NaN values get code 0, infinities saturate, a NaN-only group is zero.
        let mut x = vec![1.0f32; 48];
        x[3] = f32::NAN;
        x[17] = f32::INFINITY;
        x[32..].fill(f32::NAN);
        let t = q.quantize(&x, CH).unwrap();
        assert_eq!(t.scale[1], f16::MAX);
        assert_eq!((t.scale[2], t.zero[2]), (f16::ZERO, f16::ZERO));
        let codes = t.unpacked().unwrap();
        assert_eq!((codes[3], codes[17]), (0, 3));
        let y = t.dequantize().unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
        assert_eq!(y[3], 1.0);
        assert!(y[32..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn rejects_bad_parameters() {
        assert_eq!(Uniform::new(0, 64), Err(UniformError::Pack(PackError::Bits(0))));
        assert_eq!(Uniform::new(4, 48), Err(UniformError::Group(48)));
        assert_eq!(Uniform::new(4, 8), Err(UniformError::Group(8)));
        assert_eq!(Uniform::new(4, 512), Err(UniformError::Group(512)));
        let mut t = Uniform::new(4, 32).unwrap().quantize(&[1.0; 32], CH).unwrap();
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
            let t = q.quantize(&xs, CH).unwrap();
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
