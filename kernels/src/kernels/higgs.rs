//! The HIGGS quantizer as kernels: quantize (f16, bf16 or f32 input) and dequantize
//! (output of the same dtypes) with an embedded EDEN grid, comptime `dim` and `points`
//! (EDEN2-16, EDEN2-64, EDEN2-256, EDEN4-256), Hadamard `group` (a power of two from 32
//! to 1024) and `block` (values per program, whole groups and whole packing units).
//!
//! Layout, shared with the reference [`crate::quant::higgs`]: `n` values in groups of
//! `group` (the last zero-padded); one f16 `scale` per group; `group / dim` codes of
//! `log2(points)` bits per group, packed as [`crate::quant::pack`] says. Launch
//! `ceil(ceil(n / group) / (block / group))` programs on grid axis 0. Interior tiles run
//! unmasked ([`Tile::specialize`]); the arithmetic lives in [`super::higgs_math`].

use aqua_dsl::build::*;

use super::element::narrow;
use super::fwht::Orientation;
use super::higgs_math::{dequantize_groups, orientation, params_ok, quantize_groups};
use super::specialize::{load_where, store_where};
use super::tile::Tile;
use super::variants::dtype_variants;

dtype_variants! {
    /// Quantizes `n` f16 values: packed grid indices and one f16 scale per group.
    quantize_higgs(f16),
    /// [`quantize_higgs`] for bf16 input.
    quantize_higgs_bf16(bf16),
    /// [`quantize_higgs`] for f32 input.
    quantize_higgs_f32(f32);
    () x: Ptr<_> (
        codes: PtrMut<u32>,
        scale: PtrMut<f16>,
        n: i32,
        #[comptime(default = 2)] dim: u32,
        #[comptime] points: u32,
        #[comptime(default = 64)] group: u32,
        #[comptime(default = 1024)] block: u32,
    ) {
        quantize_body(x, codes, scale, n, dim, points, group, block);
    }
}

dtype_variants! {
    /// Dequantizes `n` values to f16 (saturating).
    dequantize_higgs(f16),
    /// [`dequantize_higgs`] with bf16 output.
    dequantize_higgs_bf16(bf16),
    /// [`dequantize_higgs`] with f32 output.
    dequantize_higgs_f32(f32);
    (codes: Ptr<u32>, scale: Ptr<f16>,) out: PtrMut<_> (
        n: i32,
        #[comptime(default = 2)] dim: u32,
        #[comptime] points: u32,
        #[comptime(default = 64)] group: u32,
        #[comptime(default = 1024)] block: u32,
        #[comptime(default = false)] stream: bool,
    ) {
        dequantize_body(codes, scale, out, n, dim, points, group, block, stream);
    }
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn quantize_body(x: Value, codes: Value, scale: Value, n: Value, dim: u32, points: u32, group: u32, block: u32) {
    let Some(grid) = params_ok(dim, points, group, block) else {
        return;
    };
    let bits = points.trailing_zeros();
    Tile::of_groups(n, bits, group, group / dim, block).specialize(|tile| {
        let interior = tile.valid().is_none();
        let o = orientation(interior);
        let (q, s) = quantize_groups(tile.load(x).cast::<f32>(), grid, o, interior);
        tile.store_params(scale, s);
        match o {
            Orientation::GroupsByLane => store_codes_by_lane(&tile, codes, q, bits),
            Orientation::GroupsByRow => tile.store_codes(codes, q, bits),
        }
    });
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn dequantize_body(
    codes: Value,
    scale: Value,
    out: Value,
    n: Value,
    dim: u32,
    points: u32,
    group: u32,
    block: u32,
    stream: bool,
) {
    let Some(grid) = params_ok(dim, points, group, block) else {
        return;
    };
    let bits = points.trailing_zeros();
    Tile::of_groups(n, bits, group, group / dim, block).specialize(|tile| {
        let o = orientation(tile.valid().is_none());
        let q = match o {
            Orientation::GroupsByLane => load_codes_by_lane(&tile, codes, bits),
            Orientation::GroupsByRow => tile.load_codes(codes, bits),
        };
        let x = dequantize_groups(q, tile.load_params(scale), grid, o);
        tile.store_output(out, narrow(x, out.dtype()), stream);
    });
}

/// The words of the tile's packing units (code widths dividing 32), `[groups, words]`:
/// a group's codes fill whole words, and a tile's units are consecutive, so word `w` of
/// group `r` holds codes `w * 32 / bits ..` of that group.
#[track_caller]
fn unit_words(tile: &Tile, bits: u32) -> (Value, Option<Value>) {
    let units = tile.unit_word.shape()[0];
    let groups = tile.code_shape[0];
    let idx = (tile.unit_word.expand_dims(1) + arange(bits).expand_dims(0)).reshape([groups, units * bits / groups]);
    let live = tile
        .masks
        .map(|m| m.live_units.expand_dims(1).broadcast_to([units, bits]).reshape([groups, units * bits / groups]));
    (idx, live)
}

/// Packs and stores codes given by lane, `u32[T, R]` (tuple `t` of group `r` at `[t, r]`).
/// With widths dividing 32 the words are packed in that layout (sums along a short axis,
/// vectorized across groups) and only the `[words, R]` block is transposed; other widths
/// transpose the codes and pack them as the tile does.
#[track_caller]
fn store_codes_by_lane(tile: &Tile, codes: Value, q: Value, bits: u32) {
    if 32 % bits != 0 || tile.code_shape[1] * bits < 32 {
        return tile.store_codes(codes, q.trans(), bits);
    }
    let (t, r) = (q.shape()[0], q.shape()[1]);
    let per_word = 32 / bits;
    let shifts = (arange(per_word).cast::<u32>() * bits).reshape([1, per_word, 1]);
    let words = (q.reshape([t / per_word, per_word, r]) << shifts).sum(1).trans();
    let (idx, live) = unit_words(tile, bits);
    store_where(codes + idx, words, live);
}

/// Loads and unpacks the tile's codes by lane, `u32[T, R]`: with widths dividing 32, the
/// `[R, words]` block is transposed before unpacking (see [`store_codes_by_lane`]).
#[track_caller]
fn load_codes_by_lane(tile: &Tile, codes: Value, bits: u32) -> Value {
    if 32 % bits != 0 || tile.code_shape[1] * bits < 32 {
        return tile.load_codes(codes, bits).trans();
    }
    let [r, t] = tile.code_shape;
    let per_word = 32 / bits;
    let (idx, live) = unit_words(tile, bits);
    let words = load_where(codes + idx, live).trans().reshape([t / per_word, 1, r]);
    let shifts = (arange(per_word).cast::<u32>() * bits).reshape([1, per_word, 1]);
    ((words >> shifts) & ((1u32 << bits) - 1)).reshape([t, r])
}
