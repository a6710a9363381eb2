//! The HIGGS quantizer's arithmetic on a tile of groups, shared by its quantize and
//! dequantize kernels of every dtype: per-group scale, the rotation ([`super::fwht`]), the
//! nearest-point search over an embedded grid, and the inverse. It computes exactly the
//! values of [`crate::quant::higgs`] (see that module's formulas).
//!
//! A tile of `R` groups of `H` values is worked on transposed, `f32[H, R]`: each group is
//! a lane, so the transform, the scale and the search are all element-wise across groups.

use std::sync::OnceLock;

use aqua_dsl::build::*;
use aqua_dsl::ir::Loc;

use super::fwht::{combine_inverse, forward_split, pairwise_sum};
use crate::quant::element::F16_MAX;
use crate::quant::grids::{Grid, EDEN};

/// The embedded EDEN grid of `(dim, points)`, parsed once.
pub fn eden(dim: u32, points: u32) -> Option<&'static Grid> {
    static GRIDS: OnceLock<Vec<Grid>> = OnceLock::new();
    let grids = GRIDS.get_or_init(|| {
        EDEN.iter()
            .map(|&(d, n)| Grid::eden(d, n).expect("the embedded EDEN grids parse"))
            .collect()
    });
    let i = EDEN
        .iter()
        .position(|&(d, n)| (d, n) == (dim as usize, points as usize))?;
    Some(&grids[i])
}

/// Checks the comptime parameters of the HIGGS kernels and returns the grid; reports the
/// first problem at the caller (the kernel) and returns `None`.
#[track_caller]
pub fn params_ok(dim: u32, points: u32, group: u32, block: u32) -> Option<&'static Grid> {
    let grid = eden(dim, points);
    let problem = if grid.is_none() {
        format!("dim = {dim}, points = {points}: the embedded grids are EDEN2-16, EDEN2-64, EDEN2-256 and EDEN4-256")
    } else if !(32..=1024).contains(&group) || !group.is_power_of_two() {
        format!("group = {group}: Hadamard groups are powers of two from 32 to 1024 values")
    } else if !block.is_power_of_two() || block < group || block < 32 * dim {
        format!(
            "block = {block}: a program handles whole groups and whole packing units, so block must be a power of two of at least group = {group} and 32 * dim = {}",
            32 * dim
        )
    } else if points as u64 * block as u64 / dim as u64 > MAX_DISTANCES {
        format!(
            "block = {block}: the search compares {points} points with block / dim = {} tuples, more than the {MAX_DISTANCES} elements a block may hold; use a block of at most {}",
            block / dim,
            MAX_DISTANCES * dim as u64 / points as u64
        )
    } else {
        return grid;
    };
    report(Loc::caller(), problem);
    None
}

/// The largest block the IR allows (elements), which bounds the `[points, tuples]`
/// distance block of the search.
pub const MAX_DISTANCES: u64 = 1 << 20;

/// The largest block (values per program) whose search fits [`MAX_DISTANCES`].
pub fn max_block(dim: u32, points: u32) -> u32 {
    (MAX_DISTANCES * dim as u64 / points as u64) as u32
}

/// Codes by lane `u32[H / d, R]` (tuple `t` of group `r` at `[t, r]`) and f16 scales
/// `[R]` of `x: f32[R, H]` (padding lanes zero).
#[track_caller]
pub fn quantize_groups(x: Value, grid: &Grid) -> (Value, Value) {
    let d = grid.dim() as u32;
    let xt = x.trans();
    let r = pairwise_sum(xt * xt).sqrt();
    // Comparisons with NaN are false: a NaN norm stays NaN.
    let scale = where_(gt(r, F16_MAX), F16_MAX, r).cast::<half::f16>();
    // Scaling before the transform keeps the search's operands plain buffers (a scaled
    // `y` would be recomputed, division included, for every grid point).
    let inv = (1.0f32 / scale.cast::<f32>()).expand_dims(0);
    let ys = forward_split(xt * inv, d);
    (nearest(&ys, grid).cast::<u32>(), scale)
}

/// The index of the nearest grid point to each tuple, `i32[T, R]`, for the tuples'
/// coordinates `ys[c]: f32[T, R]`: brute force over the points, distances summed left to
/// right without fusing, ties to the lowest index (`argmin`), exactly as
/// [`Grid::nearest`].
#[track_caller]
fn nearest(ys: &[Value], grid: &Grid) -> Value {
    let (t, r) = (ys[0].shape()[0], ys[0].shape()[1]);
    let (n, d) = (grid.len() as u32, grid.dim());
    let points = arange(n).reshape([n, 1]);
    let mut dist: Option<Value> = None;
    for (c, y) in ys.iter().enumerate() {
        let coords: Vec<f32> = grid.points().iter().skip(c).step_by(d).copied().collect();
        let g = const_table::<f32, f32>(&coords).gather(points);
        let diff = y.reshape([1, t * r]) - g;
        let sq = diff * diff;
        dist = Some(match dist {
            None => sq,
            Some(acc) => acc + sq,
        });
    }
    dist.expect("a grid has at least one dimension")
        .argmin(0)
        .reshape([t, r])
}

/// `f32[R, H]`: the dequantized groups from codes by lane `u32[H / d, R]` and f16
/// scales `[R]`.
#[track_caller]
pub fn dequantize_groups(ct: Value, scale: Value, grid: &Grid) -> Value {
    let d = grid.dim();
    let h = ct.shape()[0] * d as u32;
    let parts: Vec<Value> = (0..d)
        .map(|c| {
            let coords: Vec<f32> = grid.points().iter().skip(c).step_by(d).copied().collect();
            const_table::<f32, f32>(&coords).gather(ct)
        })
        .collect();
    let v = combine_inverse(&parts);
    // s / H is exact: s is an f16 value and H a power of two at most 2^10.
    let f = (scale.cast::<f32>() * (1.0 / h as f32)).expand_dims(0);
    (v * f).trans()
}
