//! The uniform quantizer's arithmetic on a tile of groups, shared by the quantize and
//! dequantize kernels of every dtype. It computes exactly the values of
//! [`crate::quant::uniform`] (same f32 ops, or provably equal ones where noted), so codes
//! and dequantized values match the reference bit for bit.

use aqua_dsl::build::*;
use aqua_dsl::ir::Loc;

use super::tile::GroupTile;

/// Checks the comptime parameters of the uniform kernels; reports the first problem at the
/// caller (the kernel) and returns false.
#[track_caller]
pub fn params_ok(bits: u32, group: u32, block: u32) -> bool {
    let problem = if !(1..=8).contains(&bits) {
        format!("bits = {bits}: the uniform quantizer packs 1 to 8 bits per code")
    } else if group < 32 || !group.is_power_of_two() {
        format!("group = {group}: groups are powers of two of at least 32 values (whole packing units)")
    } else if block < group || !block.is_multiple_of(group) {
        format!("block = {block}: a program handles whole groups, so block must be a multiple of group = {group}")
    } else {
        return true;
    };
    report(Loc::caller(), problem);
    false
}

/// Per-group f16 scale and zero, and the codes of `x: f32[rows, group]`; lanes where
/// `valid` is false (`None`: every lane is valid) do not count toward the range and get
/// code 0.
pub struct Quantized {
    /// `u32[rows, group]`.
    pub codes: Value,
    /// `f16[rows]`.
    pub scale: Value,
    /// `f16[rows]`.
    pub zero: Value,
}

#[track_caller]
pub fn quantize_groups(x: Value, valid: Option<Value>, bits: u32) -> Quantized {
    let low_bits = (1u32 << bits) - 1;
    let levels = low_bits as f32;
    let (lo, hi) = match valid {
        Some(m) => (
            where_(m, x, f32::INFINITY).min(1),
            where_(m, x, f32::NEG_INFINITY).max(1),
        ),
        None => (x.min(1), x.max(1)),
    };
    let scale = ((hi - lo) / levels).cast::<half::f16>();
    let zero = lo.cast::<half::f16>();
    let s = scale.cast::<f32>();
    // A zero scale (constant group) multiplies by 0 instead: every code becomes 0, as the
    // reference's `q = 0 where scale == 0` (a NaN product clamps to 0 as well).
    let inv = where_(ne(s, 0.0), 1.0f32 / s, 0.0).expand_dims(1);
    let z = zero.cast::<f32>().expand_dims(1);
    // clamp-then-round equals the reference's round-then-clamp (the bounds are integers).
    // Adding 2^23 rounds a value in [0, 255] to an integer, ties to even (the f32 ulp at
    // 2^23 is 1), and leaves it in the low mantissa bits: cheaper than round + cast.
    let v = clamp((x - z) * inv, 0.0, levels);
    let q = (v + 8388608.0).bitcast::<u32>() & low_bits;
    // Padding lanes of a partial group get code 0.
    let codes = match valid {
        Some(m) => where_(m, q, 0u32),
        None => q,
    };
    Quantized { codes, scale, zero }
}

/// Quantizes the tile of `x` (f16 or f32) and stores codes, scales and zeros.
#[track_caller]
pub fn quantize_tile(tile: GroupTile, x: Value, codes: Value, scale: Value, zero: Value, bits: u32) {
    let q = quantize_groups(tile.load(x).cast::<f32>(), tile.valid(), bits);
    tile.store_groups(scale, q.scale);
    tile.store_groups(zero, q.zero);
    tile.store_codes(codes, q.codes, bits);
}

/// Dequantizes the tile into `out` (f16 or f32).
#[track_caller]
pub fn dequantize_tile(tile: GroupTile, codes: Value, scale: Value, zero: Value, out: Value, bits: u32) {
    let q = tile.load_codes(codes, bits);
    let x = dequantize_groups(q, tile.load_groups(scale), tile.load_groups(zero));
    tile.store(out, x.cast_to(out.dtype()));
}

/// `fma(f32(codes), scale, zero)` for `codes: u32[rows, group]` and f16 `scale`, `zero`
/// of shape `[rows]`.
#[track_caller]
pub fn dequantize_groups(codes: Value, scale: Value, zero: Value) -> Value {
    let s = scale.cast::<f32>().expand_dims(1);
    let z = zero.cast::<f32>().expand_dims(1);
    fma(codes.cast::<f32>(), s, z)
}
