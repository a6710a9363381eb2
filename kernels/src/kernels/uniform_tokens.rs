//! The uniform asymmetric quantizer along tokens (KIVI-style keys) as kernels: a group is
//! `group` consecutive tokens of one channel of a `[tokens, channels]` tensor. Quantize
//! reads f16, bf16 or f32; dequantize writes the same dtypes.
//!
//! Layout, shared with the reference [`crate::quant::uniform`] (`Grouping::Tokens`): codes
//! in element order, `tokens * channels / 32 * bits` u32 words; scales and zeros a
//! `[ceil(tokens / group), channels]` f16 matrix. `channels` must be a multiple of 32 (the
//! host wrapper checks it). Grid: `[ceil(channels / cols), ceil(tokens / group), 1]`; each
//! program reduces its `[group, cols]` tile down the columns ([`Tile::of_tokens`]), with the
//! body of the channel kernels ([`super::uniform`]).

use aqua_dsl::build::*;

use super::tile::Tile;
use super::uniform::{dequantize_tiles, quantize_tiles};
use super::uniform_math::params_ok;
use super::variants::dtype_variants;

dtype_variants! {
    /// Quantizes a `[tokens, channels]` f16 tensor in groups of `group` tokens per channel.
    quantize_uniform_tokens(f16),
    /// [`quantize_uniform_tokens`] for bf16 input.
    quantize_uniform_tokens_bf16(bf16),
    /// [`quantize_uniform_tokens`] for f32 input.
    quantize_uniform_tokens_f32(f32);
    () x: Ptr<_> (
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
}

dtype_variants! {
    /// Dequantizes a token-grouped tensor to f16 (saturating).
    dequantize_uniform_tokens(f16),
    /// [`dequantize_uniform_tokens`] with bf16 output.
    dequantize_uniform_tokens_bf16(bf16),
    /// [`dequantize_uniform_tokens`] with f32 output.
    dequantize_uniform_tokens_f32(f32);
    (codes: Ptr<u32>, scale: Ptr<f16>, zero: Ptr<f16>,) out: PtrMut<_> (
        tokens: i32,
        channels: i32,
        #[comptime] bits: u32,
        #[comptime(default = 64)] group: u32,
        #[comptime(default = 64)] cols: u32,
        #[comptime(default = false)] stream: bool,
    ) {
        dequantize_body(codes, scale, zero, out, tokens, channels, bits, group, cols, stream);
    }
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
    if params_ok(bits, group, "cols", cols, 32) {
        let tile = Tile::of_tokens(tokens, channels, bits, group, cols);
        quantize_tiles(tile, x, codes, scale, zero, bits, 0);
    }
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
    stream: bool,
) {
    if params_ok(bits, group, "cols", cols, 32) {
        let tile = Tile::of_tokens(tokens, channels, bits, group, cols);
        dequantize_tiles(tile, codes, scale, zero, out, bits, 0, stream);
    }
}
