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
use super::higgs_math::{dequantize_groups, params_ok, quantize_groups};
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
    ) {
        dequantize_body(codes, scale, out, n, dim, points, group, block);
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
        let (q, s) = quantize_groups(tile.load(x).cast::<f32>(), grid);
        tile.store_params(scale, s);
        tile.store_codes(codes, q, bits);
    });
}

#[allow(clippy::too_many_arguments)]
#[track_caller]
fn dequantize_body(codes: Value, scale: Value, out: Value, n: Value, dim: u32, points: u32, group: u32, block: u32) {
    let Some(grid) = params_ok(dim, points, group, block) else {
        return;
    };
    let bits = points.trailing_zeros();
    Tile::of_groups(n, bits, group, group / dim, block).specialize(|tile| {
        let x = dequantize_groups(tile.load_codes(codes, bits), tile.load_params(scale), grid);
        tile.store(out, narrow(x, out.dtype()));
    });
}
