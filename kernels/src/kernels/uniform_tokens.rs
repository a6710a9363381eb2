//! The uniform asymmetric quantizer along tokens (KIVI-style keys) as kernels: a group is
//! `group` consecutive tokens of one channel of a `[tokens, channels]` tensor. Quantize
//! reads f16, bf16 or f32; dequantize writes the same dtypes.
//!
//! Layout, shared with the reference [`crate::quant::uniform`] (`Grouping::Tokens`): codes
//! in element order, `tokens * channels / 32 * bits` u32 words; scales and zeros a
//! `[ceil(tokens / group), channels]` f16 matrix. `channels` must be a multiple of 32 (the
//! host wrapper checks it). Grid: `[ceil(channels / cols), ceil(tokens / group), 1]`; each
//! program reduces its `[group, cols]` tile down the columns ([`TokenTile`]), with the same
//! arithmetic as the channel kernels ([`super::uniform_math`]).

use aqua_dsl::build::*;
use aqua_macros::kernel;

use super::element::narrow;
use super::specialize::specialize;
use super::token_tile::TokenTile;
use super::uniform_math::{dequantize_groups, params_ok, quantize_groups};

/// Quantizes a `[tokens, channels]` f16 tensor in groups of `group` tokens per channel.
#[kernel]
pub fn quantize_uniform_tokens(
    x: Ptr<f16>,
    codes: PtrMut<u32>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    tokens: i32,
    channels: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 64)] cols: u32,
) {
    quantize_body(x, codes, scale, zero, tokens, channels, bits, group, cols);
}

/// [`quantize_uniform_tokens`] for bf16 input.
#[kernel]
pub fn quantize_uniform_tokens_bf16(
    x: Ptr<bf16>,
    codes: PtrMut<u32>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    tokens: i32,
    channels: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 64)] cols: u32,
) {
    quantize_body(x, codes, scale, zero, tokens, channels, bits, group, cols);
}

/// [`quantize_uniform_tokens`] for f32 input.
#[kernel]
pub fn quantize_uniform_tokens_f32(
    x: Ptr<f32>,
    codes: PtrMut<u32>,
    scale: PtrMut<f16>,
    zero: PtrMut<f16>,
    tokens: i32,
    channels: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 64)] cols: u32,
) {
    quantize_body(x, codes, scale, zero, tokens, channels, bits, group, cols);
}

/// Dequantizes a token-grouped tensor to f16 (saturating).
#[kernel]
pub fn dequantize_uniform_tokens(
    codes: Ptr<u32>,
    scale: Ptr<f16>,
    zero: Ptr<f16>,
    out: PtrMut<f16>,
    tokens: i32,
    channels: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 64)] cols: u32,
) {
    dequantize_body(codes, scale, zero, out, tokens, channels, bits, group, cols);
}

/// [`dequantize_uniform_tokens`] with bf16 output.
#[kernel]
pub fn dequantize_uniform_tokens_bf16(
    codes: Ptr<u32>,
    scale: Ptr<f16>,
    zero: Ptr<f16>,
    out: PtrMut<bf16>,
    tokens: i32,
    channels: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 64)] cols: u32,
) {
    dequantize_body(codes, scale, zero, out, tokens, channels, bits, group, cols);
}

/// [`dequantize_uniform_tokens`] with f32 output.
#[kernel]
pub fn dequantize_uniform_tokens_f32(
    codes: Ptr<u32>,
    scale: Ptr<f16>,
    zero: Ptr<f16>,
    out: PtrMut<f32>,
    tokens: i32,
    channels: i32,
    #[comptime] bits: u32,
    #[comptime(default = 64)] group: u32,
    #[comptime(default = 64)] cols: u32,
) {
    dequantize_body(codes, scale, zero, out, tokens, channels, bits, group, cols);
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn quantize_body(
    x: Value,
    codes: Value,
    scale: Value,
    zero: Value,
    tokens: Value,
    channels: Value,
    bits: u32,
    group: u32,
    cols: u32,
) {
    if !params_ok(bits, group, "cols", cols, 32) {
        return;
    }
    let tile = TokenTile::of_program(tokens, channels, bits, group, cols);
    let run = |tile: TokenTile| {
        let q = quantize_groups(tile.load(x).cast::<f32>(), tile.valid(), bits, 0);
        tile.store_params(scale, q.scale);
        tile.store_params(zero, q.zero);
        tile.store_codes(codes, q.codes, bits);
    };
    specialize(tile.is_full(tokens, channels), || run(tile.unmasked()), || run(tile));
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn dequantize_body(
    codes: Value,
    scale: Value,
    zero: Value,
    out: Value,
    tokens: Value,
    channels: Value,
    bits: u32,
    group: u32,
    cols: u32,
) {
    if !params_ok(bits, group, "cols", cols, 32) {
        return;
    }
    let tile = TokenTile::of_program(tokens, channels, bits, group, cols);
    let run = |tile: TokenTile| {
        let q = tile.load_codes(codes, bits);
        let x = dequantize_groups(q, tile.load_params(scale), tile.load_params(zero), 0);
        tile.store(out, narrow(x, out.dtype()));
    };
    specialize(tile.is_full(tokens, channels), || run(tile.unmasked()), || run(tile));
}
