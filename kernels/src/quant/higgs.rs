//! The HIGGS quantizer (Hadamard rotation, then a Gaussian-optimal vector grid), the
//! plain-Rust reference the kernels match.
//!
//! The input is a flat array of `n` values (a `[tokens, channels]` tensor in row-major
//! order) cut into groups of `H` contiguous values (`H` a power of two; when `H` divides
//! the channel count every group lies inside one token). A last partial group is padded
//! with zeros to `H` values; its padding is quantized like the rest and dropped on output.
//!
//! Per group `x` of `H` values, in f32 (f16 inputs are widened exactly), with a grid of `n`
//! points in `d` dimensions (`d` divides `H`, `n = 2^b` with `b` in 1..=8):
//!
//! ```text
//! ss    = x[0]^2 + x[1]^2 + ...           (f32, left to right)
//! scale = f16(sqrt(ss))                   (nearest-even; +inf, i.e. an overflow, becomes f16::MAX)
//! s     = f32(scale)                      inv = 1 / s   (f32 division)
//! y     = fwht(x) * inv                   (unnormalized transform, see `hadamard`; then one f32 mul per value)
//! code  = nearest(grid, y[j d .. (j + 1) d])   for j in 0..H/d   (the tie rule of `grids`)
//! x^    = fwht(grid[code] * s) * (1 / H)  (f32 mul per value, transform, exact scaling by 1 / H)
//! ```
//!
//! Since `||fwht(x)||^2 = H ||x||^2`, `y` has mean square 1 per coordinate, and the
//! rotation makes its coordinates close to N(0, 1) whatever the data, which is what the
//! grids are optimized for. The relative error `||x^ - x||^2 / ||x||^2` equals the grid's
//! mean squared error per coordinate on `y` (up to the f16 rounding of the scale).
//!
//! Degenerate and non-finite groups, deterministic and never a crash:
//! - `scale == 0` (an all-zero group, or one whose norm rounds to zero in f16): codes 0,
//!   and the dequantized group is zeros (possibly negative zeros, as the formula gives);
//! - a group with an infinite or NaN value: scale is f16 NaN and codes are 0, so the
//!   dequantized group is all NaN (the formula gives that too);
//! - finite input whose group norm exceeds the f16 range: the scale saturates at
//!   `f16::MAX`, `y` then has coordinates beyond the grid and the error grows, but every
//!   output is finite.
//!
//! Codes are numbered group after group, `j` within a group, and packed densely with `b`
//! bits each (`super::pack`): `H / d` codes per group, so a packing unit of 32 codes spans
//! whole groups only when `32` divides `H / d` (or `H / d` divides 32).

use half::f16;
use thiserror::Error;

use super::grids::{Grid, GridError, NearestSearch};
use super::hadamard::fwht;
use super::pack::{self, PackError};

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HiggsError {
    #[error("HIGGS: group size {group} is not a power of two that is a multiple of the grid dimension {dim}")]
    Group { group: usize, dim: usize },
    #[error("HIGGS: a grid of {0} points has no index width in 1..=8 bits (2 to 256 points, a power of two)")]
    Points(usize),
    #[error("HIGGS: {0}")]
    Grid(#[from] GridError),
    #[error("HIGGS: {0}")]
    Pack(#[from] PackError),
    #[error("HIGGS: {what} has {got} entries, expected {expected}")]
    Length {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("HIGGS: data quantized with {data:?} given to a quantizer with {quantizer:?}")]
    Mismatch {
        data: HiggsConfig,
        quantizer: HiggsConfig,
    },
}

/// Hadamard group size and grid shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HiggsConfig {
    /// Values per Hadamard group, `H`.
    pub group: usize,
    /// Grid dimension, `d`.
    pub dim: usize,
    /// Grid points, `n`.
    pub points: usize,
}

impl HiggsConfig {
    /// Checks `group` a power of two and a multiple of `dim`, and `points` a power of two
    /// from 2 to 256.
    pub fn new(group: usize, dim: usize, points: usize) -> Result<HiggsConfig, HiggsError> {
        if dim == 0 || !group.is_power_of_two() || group % dim != 0 {
            return Err(HiggsError::Group { group, dim });
        }
        if !points.is_power_of_two() || !(2..=256).contains(&points) {
            return Err(HiggsError::Points(points));
        }
        Ok(HiggsConfig { group, dim, points })
    }

    /// Bits of one code, `log2(points)`.
    pub fn index_bits(self) -> u32 {
        self.points.trailing_zeros()
    }

    /// Storage per value of whole groups: `log2(points) / dim` for the codes plus
    /// `16 / group` for the f16 scale.
    pub fn bits_per_value(self) -> f64 {
        self.index_bits() as f64 / self.dim as f64 + 16.0 / self.group as f64
    }

    /// Groups covering `n` values.
    pub fn groups(self, n: usize) -> usize {
        n.div_ceil(self.group)
    }

    /// Codes of one group, `group / dim`.
    pub fn codes_per_group(self) -> usize {
        self.group / self.dim
    }

    /// Packed code words for `n` values (whole groups).
    pub fn code_words(self, n: usize) -> usize {
        pack::packed_words(self.groups(n) * self.codes_per_group(), self.index_bits())
    }

    /// Total storage of `n` quantized values: packed words and one f16 scale per group.
    pub fn total_bits(self, n: usize) -> u64 {
        self.code_words(n) as u64 * 32 + self.groups(n) as u64 * 16
    }
}

/// A HIGGS quantizer: its configuration and grid.
#[derive(Clone, Debug)]
pub struct Higgs {
    config: HiggsConfig,
    search: NearestSearch,
}

impl Higgs {
    /// HIGGS with the EDEN grid of `dim` dimensions and `points` points.
    pub fn new(group: usize, dim: usize, points: usize) -> Result<Higgs, HiggsError> {
        HiggsConfig::new(group, dim, points)?;
        Higgs::with_grid(group, Grid::eden(dim, points)?)
    }

    /// HIGGS with any grid (a generated one, say) of 2 to 256 points, a power of two.
    pub fn with_grid(group: usize, grid: Grid) -> Result<Higgs, HiggsError> {
        let config = HiggsConfig::new(group, grid.dim(), grid.len())?;
        Ok(Higgs {
            config,
            search: grid.search(),
        })
    }

    pub fn config(&self) -> HiggsConfig {
        self.config
    }

    pub fn grid(&self) -> &Grid {
        self.search.grid()
    }

    /// The stored scale of a group (its real values; padding adds nothing), by the rules
    /// of the module doc.
    pub fn scale_of(xs: &[f32]) -> f16 {
        if !xs.iter().all(|x| x.is_finite()) {
            return f16::NAN;
        }
        let ss = xs.iter().fold(0.0f32, |acc, &x| acc + x * x);
        let scale = f16::from_f32(ss.sqrt());
        if scale.is_infinite() {
            f16::MAX
        } else {
            scale
        }
    }

    /// Quantizes f32 values.
    pub fn quantize(&self, x: &[f32]) -> HiggsQuantized {
        let c = self.config;
        let mut codes = vec![0u32; c.groups(x.len()) * c.codes_per_group()];
        let mut scale = Vec::with_capacity(c.groups(x.len()));
        let mut y = vec![0.0f32; c.group];
        for (xs, out) in x
            .chunks(c.group)
            .zip(codes.chunks_exact_mut(c.codes_per_group()))
        {
            let s = Higgs::scale_of(xs);
            scale.push(s);
            let s = s.to_f32();
            if s == 0.0 || s.is_nan() {
                continue;
            }
            y[..xs.len()].copy_from_slice(xs);
            y[xs.len()..].fill(0.0);
            fwht(&mut y).expect("the group size is a power of two");
            let inv = 1.0 / s;
            y.iter_mut().for_each(|v| *v *= inv);
            for (code, tuple) in out.iter_mut().zip(y.chunks_exact(c.dim)) {
                *code = self.search.nearest(tuple);
            }
        }
        let codes = pack::pack(&codes, c.index_bits()).expect("grid indices fit the index width");
        HiggsQuantized {
            config: c,
            n: x.len(),
            codes,
            scale,
        }
    }

    /// Quantizes f16 values (widened to f32 exactly).
    pub fn quantize_f16(&self, x: &[f16]) -> HiggsQuantized {
        let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
        self.quantize(&wide)
    }

    /// Dequantized values in f32.
    pub fn dequantize(&self, q: &HiggsQuantized) -> Result<Vec<f32>, HiggsError> {
        let c = self.config;
        if q.config != c {
            return Err(HiggsError::Mismatch {
                data: q.config,
                quantizer: c,
            });
        }
        let codes = q.unpacked_all()?;
        let grid = self.grid();
        let inv_h = 1.0 / c.group as f32;
        let mut out = Vec::with_capacity(c.groups(q.n) * c.group);
        let mut v = vec![0.0f32; c.group];
        for (g, group_codes) in codes.chunks_exact(c.codes_per_group()).enumerate() {
            let s = q.scale[g].to_f32();
            for (tuple, &code) in v.chunks_exact_mut(c.dim).zip(group_codes) {
                for (t, &p) in tuple.iter_mut().zip(grid.point(code as usize)) {
                    *t = p * s;
                }
            }
            fwht(&mut v).expect("the group size is a power of two");
            out.extend(v.iter().map(|&t| t * inv_h));
        }
        out.truncate(q.n);
        Ok(out)
    }

    /// Dequantized values rounded to f16 (nearest-even).
    pub fn dequantize_f16(&self, q: &HiggsQuantized) -> Result<Vec<f16>, HiggsError> {
        Ok(self.dequantize(q)?.into_iter().map(f16::from_f32).collect())
    }
}

/// A HIGGS-quantized tensor: packed grid indices and one f16 scale per group.
#[derive(Clone, Debug, PartialEq)]
pub struct HiggsQuantized {
    pub config: HiggsConfig,
    /// Number of values.
    pub n: usize,
    /// `config.code_words(n)` packed words (see [`super::pack`]).
    pub codes: Vec<u32>,
    pub scale: Vec<f16>,
}

impl HiggsQuantized {
    /// Checks the configuration and that the parts have the lengths `n` implies.
    pub fn check(&self) -> Result<(), HiggsError> {
        let c = self.config;
        HiggsConfig::new(c.group, c.dim, c.points)?;
        for (what, got, expected) in [
            ("codes", self.codes.len(), c.code_words(self.n)),
            ("scale", self.scale.len(), c.groups(self.n)),
        ] {
            if got != expected {
                return Err(HiggsError::Length {
                    what,
                    got,
                    expected,
                });
            }
        }
        Ok(())
    }

    /// The codes of every group, padding included (`groups * group / dim` of them).
    pub fn unpacked_all(&self) -> Result<Vec<u32>, HiggsError> {
        self.check()?;
        let c = self.config;
        let count = c.groups(self.n) * c.codes_per_group();
        // `points == 2^bits`, so every unpacked code is a grid index.
        Ok(pack::unpack(&self.codes, c.index_bits(), count)?)
    }

    /// Bits per value of this tensor, everything stored included.
    pub fn bits_per_value(&self) -> f64 {
        match self.n {
            0 => 0.0,
            n => self.config.total_bits(n) as f64 / n as f64,
        }
    }
}
