//! The uniform quantizer's arithmetic on a tile of groups, shared by the quantize and
//! dequantize kernels of every dtype and both groupings. It computes exactly the values of
//! [`crate::quant::uniform`] (same f32 ops, or provably equal ones where noted), so codes
//! and dequantized values match the reference bit for bit.

use aqua_dsl::build::*;
use aqua_dsl::ir::Loc;

use crate::quant::element::F16_MAX;

/// 2^-25, half the least f16 subnormal: an f32 at most this rounds to an f16 0 (the tie
/// rounds to even, 0), any larger one to a subnormal at least.
const HALF_LEAST_SUBNORMAL: f32 = 2.980_232_2e-8;

/// Checks the comptime parameters of the uniform kernels: `bits`, the group size, and the
/// tile (`tile_name = tile`, which must be a multiple of `min_tile`); reports the first
/// problem at the caller (the kernel) and returns false.
#[track_caller]
pub fn params_ok(bits: u32, group: u32, tile_name: &str, tile: u32, min_tile: u32) -> bool {
    let problem = if !(1..=8).contains(&bits) {
        format!("bits = {bits}: the uniform quantizer packs 1 to 8 bits per code")
    } else if !(16..=256).contains(&group) || !group.is_power_of_two() {
        format!("group = {group}: groups are powers of two from 16 to 256 values")
    } else if tile < min_tile || !tile.is_power_of_two() {
        format!("{tile_name} = {tile}: must be a power of two of at least {min_tile}")
    } else {
        return true;
    };
    report(Loc::caller(), problem);
    false
}

/// The bits of 2^23 as an f32: `code + 2^23` for a code in `[0, 2^23)` has them above
/// the code's bits ([`quantize_groups`]).
const ROUNDING_BIAS: u32 = 0x4B00_0000;

/// Per-group f16 scale and zero, and the codes of a tile of groups.
pub struct Quantized {
    /// `u32`, the tile's shape: `bias + code` (for [`super::tile::Tile::store_biased_codes`]).
    pub codes: Value,
    /// What each code carries above its bits.
    pub bias: u32,
    /// `f16`, the tile's shape without `axis`.
    pub scale: Value,
    /// `f16`, the tile's shape without `axis`.
    pub zero: Value,
}

/// Quantizes `x: f32[a, b]` whose groups run along `axis`. NaN lanes (inputs, and the
/// padding of a partial group, which the caller loads as NaN) do not count toward the
/// range (min and max skip NaN) and get code 0 (the clamp of NaN is 0): padding this way
/// instead of masking saves a compare and a select per value in each of the range's
/// reductions and in the codes, on the GPU targets, which always run the masked form.
#[track_caller]
pub fn quantize_groups(x: Value, bits: u32, axis: u32) -> Quantized {
    let low_bits = (1u32 << bits) - 1;
    let levels = low_bits as f32;
    // `+ 0.0` makes a zero +0, as the reference does: the sign of a zero from min and max
    // is free (a GPU takes `min.f32`, the CPU a compare and a select).
    let (lo, hi) = (x.min(axis) + 0.0, x.max(axis) + 0.0);
    // A group of NaN only (lo and hi NaN) has `hi >= lo` false and gets scale and zero 0.
    // Otherwise the clamps saturate at the f16 range; clamp(NaN) (inf - inf) is 0 by
    // minNum/maxNum.
    let real = ge(hi, lo);
    let step = where_(real, clamp((hi - lo) / levels, 0.0, F16_MAX), 0.0);
    let scale = step.cast::<half::f16>();
    let zero = where_(real, clamp(lo, -F16_MAX, F16_MAX), 0.0).cast::<half::f16>();
    let s = scale.cast::<f32>();
    // A zero scale (constant group) multiplies by 0 instead: every code becomes 0, as the
    // reference's `q = 0 where scale == 0` (a NaN product clamps to 0 as well). The f16
    // scale is 0 exactly when the step (never negative, never NaN) is at most 2^-25, half
    // the least subnormal, a tie that rounds to even: compared in f32, since LLVM turns a
    // compare of a widened f16 into one of f16, which an x86 without AVX512-FP16 runs one
    // lane at a time (about 45 instructions for 4 groups).
    let inv = where_(gt(step, HALF_LEAST_SUBNORMAL), 1.0f32 / s, 0.0);
    // `x * inv - z * inv` in one rounding, as the reference: `z * inv` is per group.
    let shift = -(zero.cast::<f32>() * inv);
    let (inv, shift) = (inv.expand_dims(axis), shift.expand_dims(axis));
    // clamp-then-round equals the reference's round-then-clamp (the bounds are integers).
    // Adding 2^23 rounds a value in [0, 255] to an integer, ties to even (the f32 ulp at
    // 2^23 is 1), and leaves it in the low mantissa bits below the bits of 2^23, which the
    // packing takes off once a word: cheaper than round + cast, or a mask a value.
    // NaN lanes: the product is NaN, and the clamp makes it 0.
    let v = clamp(fma(x, inv, shift), 0.0, levels);
    let codes = (v + f32::from_bits(ROUNDING_BIAS)).bitcast::<u32>();
    Quantized { codes, bias: ROUNDING_BIAS, scale, zero }
}

/// `fma(f32(codes), scale, zero)` for `codes: u32[a, b]` and f16 `scale`, `zero` of the
/// tile's shape without `axis`.
#[track_caller]
pub fn dequantize_groups(codes: Value, scale: Value, zero: Value, axis: u32) -> Value {
    let s = scale.cast::<f32>().expand_dims(axis);
    let z = zero.cast::<f32>().expand_dims(axis);
    fma(codes.cast::<f32>(), s, z)
}
