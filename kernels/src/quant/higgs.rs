//! The HIGGS quantizer (Hadamard rotation, then a Gaussian-optimal vector grid), the
//! plain-Rust reference the kernels match.
//!
//! The input is a flat array of `n` values (a `[tokens, channels]` tensor in row-major
//! order) cut into groups of `H` contiguous values (`H` a power of two; when `H` divides
//! the channel count every group lies inside one token). A last partial group is padded
//! with zeros to `H` values; its padding is quantized like the rest and dropped on output.
//!
//! Per group `x` of `H` values, in f32 (f16 and bf16 inputs are widened exactly), with a
//! grid of `n` points in `d` dimensions (`d` divides `H`, `n = 2^b` with `b` in 1..=8):
//!
//! ```text
//! ss    = lane_sum(x * x)                 (f32 squares, in a kernel sum's 8 lanes; see `hadamard`)
//! r     = sqrt(ss)
//! scale = f16(r > 65504 ? 65504 : r)      (nearest-even; saturates; NaN stays NaN)
//! s     = f32(scale)                      inv = 1 / s   (f32 division)
//! y     = fwht(x * inv, Descending)       (one f32 mul per value, then the unnormalized transform, see `hadamard`)
//! code  = nearest(grid, y[j d .. (j + 1) d])   for j in 0..H/d   (the tie rule of `grids`)
//! x^    = fwht(grid[code], Ascending) * (s * (1 / H))   (s / H is exact; one rounding per value)
//! ```
//!
//! This is exactly the kernels' arithmetic: every step is an element-wise f32 op, a sum
//! of two values, or the norm's sum in the fixed order of a kernel's `sum` (which a GPU
//! keeps when it splits a group over threads), so codes, scales and dequantized values
//! are equal bit for bit on every backend. Since `||fwht(x)||^2 = H ||x||^2`, `y` has mean square 1 per coordinate, and the
//! rotation makes its coordinates close to N(0, 1) whatever the data, which is what the
//! grids are optimized for. The relative error `||x^ - x||^2 / ||x||^2` equals the grid's
//! mean squared error per coordinate on `y` (up to the f16 rounding of the scale).
//!
//! Degenerate and non-finite groups, deterministic and never a crash. The grids' rule gives
//! index 0 to any tuple with a NaN coordinate (all its scores are NaN); a tuple of
//! infinite coordinates gets the first point of `-inf` score (one in the direction of
//! the infinity), or 0 if none (module doc of [`super::grids`]); the rest follows from
//! the formulas:
//! - `scale == 0` (an all-zero group, or one whose norm rounds to zero in f16): `inv` is
//!   infinite, so every coordinate of `y` is NaN (`0 * inf`), or, for tiny values, all but
//!   the first (`inf - inf` in the transform): every tuple has a NaN, codes are 0, and the
//!   group dequantizes to zeros;
//! - a group with a NaN value: `ss` and the scale are NaN, codes 0, and the group
//!   dequantizes to NaN;
//! - a group with an infinite value (and no NaN): `ss` is infinite, the scale saturates at
//!   `f16::MAX`, every coordinate of `y` is infinite, so codes are points in the
//!   infinities' directions, and the group dequantizes to finite values (grid points
//!   times `65504 / H`, rotated back);
//! - finite input whose group norm exceeds the f16 range (or whose sum of squares
//!   overflows f32): the scale saturates at `f16::MAX`, `y` then has coordinates beyond
//!   the grid and the error grows, but every output is finite (f16 outputs saturate, see
//!   `super::element`).
//!
//! Codes are numbered group after group, `j` within a group, and packed densely with `b`
//! bits each (`super::pack`): `H / d` codes per group, so a packing unit of 32 codes spans
//! whole groups only when `32` divides `H / d` (or `H / d` divides 32).

use half::f16;
use thiserror::Error;

use super::bits::Storage;
use super::element::{widen, Element, F16_MAX};
use super::grids::{Grid, GridError, NearestSearch};
use super::hadamard::{fwht, lane_sum, Stages};
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
    Mismatch { data: HiggsConfig, quantizer: HiggsConfig },
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
        if dim == 0 || !group.is_power_of_two() || !group.is_multiple_of(dim) {
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

    /// What `n` quantized values store: packed codes and one f16 scale per group.
    pub fn storage(self, n: usize) -> Storage {
        Storage {
            quantized_values: n,
            code_words: self.code_words(n),
            f16_params: self.groups(n),
            fp16_values: 0,
        }
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

    /// The stored scale of a group, by the rules of the module doc: `xs` are its real
    /// values (at most `group` of them; the zero padding adds nothing).
    pub fn scale_of(&self, xs: &[f32]) -> f16 {
        let mut squares = vec![0.0f32; self.config.group];
        for (sq, &x) in squares.iter_mut().zip(xs) {
            *sq = x * x;
        }
        let r = lane_sum(&squares).expect("the group size is a power of two").sqrt();
        // Comparisons with NaN are false: a NaN norm stays NaN.
        f16::from_f32(if r > F16_MAX { F16_MAX } else { r })
    }

    /// Quantizes f32 values.
    pub fn quantize(&self, x: &[f32]) -> HiggsQuantized {
        let c = self.config;
        let mut codes = vec![0u32; c.groups(x.len()) * c.codes_per_group()];
        let mut scale = Vec::with_capacity(c.groups(x.len()));
        let mut y = vec![0.0f32; c.group];
        for (xs, out) in x.chunks(c.group).zip(codes.chunks_exact_mut(c.codes_per_group())) {
            let s = self.scale_of(xs);
            scale.push(s);
            // The zero padding is scaled too (0 * inv is NaN when the scale is 0, which the
            // real values make all-NaN or infinite anyway).
            let inv = 1.0 / s.to_f32();
            y[..xs.len()].copy_from_slice(xs);
            y[xs.len()..].fill(0.0);
            y.iter_mut().for_each(|v| *v *= inv);
            fwht(&mut y, Stages::Descending).expect("the group size is a power of two");
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

    /// Quantizes f16, bf16 or f32 values (widened to f32 exactly).
    pub fn quantize_as<E: Element>(&self, x: &[E]) -> HiggsQuantized {
        self.quantize(&widen(x))
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
            for (tuple, &code) in v.chunks_exact_mut(c.dim).zip(group_codes) {
                tuple.copy_from_slice(grid.point(code as usize));
            }
            fwht(&mut v, Stages::Ascending).expect("the group size is a power of two");
            // s / H is exact: s is an f16 value and H a power of two at most 2^10.
            let f = q.scale[g].to_f32() * inv_h;
            out.extend(v.iter().map(|&t| t * f));
        }
        out.truncate(q.n);
        Ok(out)
    }

    /// Dequantized values narrowed to `E` (f16 saturates; see [`super::element`]).
    pub fn dequantize_as<E: Element>(&self, q: &HiggsQuantized) -> Result<Vec<E>, HiggsError> {
        Ok(self.dequantize(q)?.into_iter().map(E::narrow).collect())
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
                return Err(HiggsError::Length { what, got, expected });
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

    /// What this tensor stores.
    pub fn storage(&self) -> Storage {
        self.config.storage(self.n)
    }
}
