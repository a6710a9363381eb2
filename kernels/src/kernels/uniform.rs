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
//! the array runs without masks; the last one masks its tail ([`Tile::of_groups`]). The
//! arithmetic lives in [`super::uniform_math`], the packing in [`super::packing`]. One
//! kernel per dtype (a parameter's dtype is part of the signature), one body for all.

use aqua_dsl::build::*;

use super::element::narrow;
use super::tile::Tile;
use super::uniform_math::{dequantize_groups, params_ok, quantize_groups};
use super::variants::dtype_variants;

dtype_variants! {
    /// Quantizes `n` f16 values: packed `codes`, per-group f16 `scale` and `zero`.
    quantize_uniform(f16),
    /// [`quantize_uniform`] for bf16 input (same outputs).
    quantize_uniform_bf16(bf16),
    /// [`quantize_uniform`] for f32 input (same outputs).
    quantize_uniform_f32(f32);
    () x: Ptr<_> (
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
}

dtype_variants! {
    /// Dequantizes `n` values to f16: `f16(fma(code, scale, zero))`, saturating.
    dequantize_uniform(f16),
    /// [`dequantize_uniform`] with bf16 output.
    dequantize_uniform_bf16(bf16),
    /// [`dequantize_uniform`] with f32 output: `fma(code, scale, zero)`.
    dequantize_uniform_f32(f32);
    (codes: Ptr<u32>, scale: Ptr<f16>, zero: Ptr<f16>,) out: PtrMut<_> (
        n: i32,
        #[comptime] bits: u32,
        #[comptime(default = 64)] group: u32,
        #[comptime(default = 1024)] block: u32,
    ) {
        dequantize_body(codes, scale, zero, out, n, bits, group, block);
    }
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn quantize_body(x: Value, codes: Value, scale: Value, zero: Value, n: Value, bits: u32, group: u32, block: u32) {
    if params_ok(bits, group, "block", block, group.max(32)) {
        let tile = Tile::of_groups(n, bits, group, group, block);
        quantize_tiles(tile, x, codes, scale, zero, bits, 1);
    }
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn dequantize_body(codes: Value, scale: Value, zero: Value, out: Value, n: Value, bits: u32, group: u32, block: u32) {
    if params_ok(bits, group, "block", block, group.max(32)) {
        let tile = Tile::of_groups(n, bits, group, group, block);
        dequantize_tiles(tile, codes, scale, zero, out, bits, 1, false);
    }
}

/// Quantizes `tile`, whose groups run along its `axis`: the body of every uniform quantize
/// kernel, along channels or tokens.
#[track_caller]
pub(super) fn quantize_tiles(tile: Tile, x: Value, codes: Value, scale: Value, zero: Value, bits: u32, axis: u32) {
    tile.specialize(|tile| {
        // Lanes outside the tensor read NaN: the range skips them and their code is 0.
        let q = quantize_groups(tile.load_or(x, f32::NAN).cast::<f32>(), bits, axis);
        tile.store_params(scale, q.scale);
        tile.store_params(zero, q.zero);
        tile.store_biased_codes(codes, q.codes, bits, q.bias);
    });
}

/// Dequantizes `tile`, whose groups run along its `axis`: the body of every uniform
/// dequantize kernel, along channels or tokens, streaming its output where `stream`
/// ([`Tile::store_output`]).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub(super) fn dequantize_tiles(
    tile: Tile,
    codes: Value,
    scale: Value,
    zero: Value,
    out: Value,
    bits: u32,
    axis: u32,
    stream: bool,
) {
    tile.specialize(|tile| {
        let q = tile.load_codes(codes, bits);
        let x = dequantize_groups(q, tile.load_params(scale), tile.load_params(zero), axis);
        tile.store_output(out, narrow(x, out.dtype()), stream);
    });
}
