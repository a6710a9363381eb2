//! The uniform asymmetric group quantizer along channels as kernels: quantize (f16, bf16
//! or f32 input) and dequantize (output of the same dtypes), for any comptime bit width 1
//! to 8, group size (a power of two from 16 to 256) and block (values per program, a power
//! of two at least the group and 32).
//!
//! Layout, shared with the reference [`crate::quant::uniform`] (`Grouping::Channels`): `n`
//! values in groups of `group` contiguous values (the last may be partial); per group one
//! f16 `scale` and one f16 `zero`; codes packed as [`crate::quant::pack`] says,
//! `ceil(ceil(n / group) * group / 32) * bits` u32 words. Launch
//! `ceil(ceil(n / group) / (block / group))` programs on grid axis 0. Every tile inside
//! the array runs without masks; the last one masks its tail ([`GroupTile`]). The
//! arithmetic lives in [`super::uniform_math`], the packing in [`super::packing`]. One
//! kernel per dtype (a parameter's dtype is part of the signature), one body for all.

use aqua_dsl::build::*;
use aqua_macros::kernel;

use super::element::narrow;
use super::specialize::specialize;
use super::tile::GroupTile;
use super::uniform_math::{dequantize_groups, params_ok, quantize_groups};

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
    quantize_body(x, codes, scale, zero, n, bits, group, block);
}

/// [`quantize_uniform`] for bf16 input (same outputs).
#[kernel]
pub fn quantize_uniform_bf16(
    x: Ptr<bf16>,
    codes: PtrMut<u32>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 1024)] block: u32,
) {
    quantize_body(x, codes, scale, zero, n, bits, group, block);
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
    quantize_body(x, codes, scale, zero, n, bits, group, block);
}

/// Dequantizes `n` values to f16: `f16(fma(code, scale, zero))`, saturating.
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
    dequantize_body(codes, scale, zero, out, n, bits, group, block);
}

/// [`dequantize_uniform`] with bf16 output.
#[kernel]
pub fn dequantize_uniform_bf16(
    codes: Ptr<u32>,
    scale: Ptr<f16>,
    zero: Ptr<f16>,
    out: PtrMut<bf16>,
    n: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 1024)] block: u32,
) {
    dequantize_body(codes, scale, zero, out, n, bits, group, block);
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
    dequantize_body(codes, scale, zero, out, n, bits, group, block);
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn quantize_body(x: Value, codes: Value, scale: Value, zero: Value, n: Value, bits: u32, group: u32, block: u32) {
    if !params_ok(bits, group, "block", block, group.max(32)) {
        return;
    }
    let tile = GroupTile::of_program(n, bits, group, group, block);
    let run = |tile: GroupTile| {
        let q = quantize_groups(tile.load(x).cast::<f32>(), tile.valid(), bits, 1);
        tile.store_groups(scale, q.scale);
        tile.store_groups(zero, q.zero);
        tile.store_codes(codes, q.codes, bits);
    };
    specialize(tile.is_full(n), || run(tile.unmasked()), || run(tile));
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn dequantize_body(codes: Value, scale: Value, zero: Value, out: Value, n: Value, bits: u32, group: u32, block: u32) {
    if !params_ok(bits, group, "block", block, group.max(32)) {
        return;
    }
    let tile = GroupTile::of_program(n, bits, group, group, block);
    let run = |tile: GroupTile| {
        let q = tile.load_codes(codes, bits);
        let x = dequantize_groups(q, tile.load_groups(scale), tile.load_groups(zero), 1);
        tile.store(out, narrow(x, out.dtype()));
    };
    specialize(tile.is_full(n), || run(tile.unmasked()), || run(tile));
}
