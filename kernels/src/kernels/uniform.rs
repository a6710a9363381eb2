//! The uniform asymmetric group quantizer as kernels: quantize (f16 or f32 input) and
//! dequantize (f16 or f32 output), for any comptime bit width 1 to 8, group size (a power
//! of two, at least 32) and block (values per program, a multiple of the group).
//!
//! Layout, shared with the reference [`crate::quant::uniform`]: `n` values in groups of
//! `group` contiguous values (the last may be partial); per group one f16 `scale` and one
//! f16 `zero`, and `group / 32 * bits` u32 code words packed as [`crate::quant::pack`]
//! says. Launch `ceil(ceil(n / group) / (block / group))` programs on grid axis 0.
//! Every tile inside the array runs without masks; the last one masks its tail
//! ([`GroupTile`]). The arithmetic lives in [`super::uniform_math`], the packing in
//! [`super::packing`].

use aqua_macros::kernel;

use super::tile::GroupTile;
use super::uniform_math::{dequantize_tile, params_ok, quantize_tile};

/// Quantizes `n` f16 values: packed `codes`, per-group f16 `scale` and `zero`.
#[kernel]
pub fn quantize_uniform(
    x: Ptr<f16>,
    codes: PtrMut<u32>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 1024)] block: u32,
) {
    if !params_ok(bits, group, block) {
        return;
    }
    let tile = GroupTile::of_program(n, bits, group, block);
    if tile.is_full(n) {
        quantize_tile(tile.unmasked(), x, codes, scale, zero, bits);
    } else {
        quantize_tile(tile, x, codes, scale, zero, bits);
    }
}

/// [`quantize_uniform`] for f32 input (same outputs).
#[kernel]
pub fn quantize_uniform_f32(
    x: Ptr<f32>,
    codes: PtrMut<u32>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 1024)] block: u32,
) {
    if !params_ok(bits, group, block) {
        return;
    }
    let tile = GroupTile::of_program(n, bits, group, block);
    if tile.is_full(n) {
        quantize_tile(tile.unmasked(), x, codes, scale, zero, bits);
    } else {
        quantize_tile(tile, x, codes, scale, zero, bits);
    }
}

/// Dequantizes `n` values to f16: `f16(fma(code, scale, zero))`.
#[kernel]
pub fn dequantize_uniform(
    codes: Ptr<u32>,
    scale: Ptr<f16>,
    zero: Ptr<f16>,
    out: PtrMut<f16>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 1024)] block: u32,
) {
    if !params_ok(bits, group, block) {
        return;
    }
    let tile = GroupTile::of_program(n, bits, group, block);
    if tile.is_full(n) {
        dequantize_tile(tile.unmasked(), codes, scale, zero, out, bits);
    } else {
        dequantize_tile(tile, codes, scale, zero, out, bits);
    }
}

/// [`dequantize_uniform`] with f32 output: `fma(code, scale, zero)`.
#[kernel]
pub fn dequantize_uniform_f32(
    codes: Ptr<u32>,
    scale: Ptr<f16>,
    zero: Ptr<f16>,
    out: PtrMut<f32>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 1024)] block: u32,
) {
    if !params_ok(bits, group, block) {
        return;
    }
    let tile = GroupTile::of_program(n, bits, group, block);
    if tile.is_full(n) {
        dequantize_tile(tile.unmasked(), codes, scale, zero, out, bits);
    } else {
        dequantize_tile(tile, codes, scale, zero, out, bits);
    }
}
