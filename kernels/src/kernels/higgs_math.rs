//! The HIGGS quantizer's arithmetic on a tile of groups, shared by its quantize and
//! dequantize kernels of every dtype: per-group scale, the rotation ([`super::fwht`]), the
//! nearest-point search over an embedded grid, and the inverse. It computes exactly the
//! values of [`crate::quant::higgs`] (see that module's formulas).
//!
//! A tile of `R` groups of `H` values is worked on in the [`Orientation`] of its form
//! ([`orientation`]): on a CPU transposed, `f32[H, R]`, each group a lane, so the
//! transform, the scale and the search are all element-wise across groups; on a GPU as
//! loaded, `f32[R, H]`, so that a group's values stay in one warp.

use std::sync::{Mutex, OnceLock};

use aqua_dsl::build::*;
use aqua_dsl::ir::Loc;

use super::fwht::{combine_inverse, forward_split, inverse_from, Orientation};
use crate::quant::cells::Cells;
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
    } else if points as u64 * block as u64 / dim as u64 > MAX_SCORES {
        format!(
            "block = {block}: the search compares {points} points with block / dim = {} tuples, more than the {MAX_SCORES} elements a block may hold; use a block of at most {}",
            block / dim,
            MAX_SCORES * dim as u64 / points as u64
        )
    } else {
        return grid;
    };
    report(Loc::caller(), problem);
    None
}

/// The largest block the IR allows (elements), which bounds the `[points, tuples]`
/// score block of the search.
pub const MAX_SCORES: u64 = 1 << 20;

/// The largest block (values per program) whose search fits [`MAX_SCORES`].
pub fn max_block(dim: u32, points: u32) -> u32 {
    (MAX_SCORES * dim as u64 / points as u64) as u32
}

/// The orientation a form of the kernels works in. The interior form of a specialized
/// tile, which only the CPU runs, vectorizes across groups ([`Orientation::GroupsByLane`]).
/// The general form, every tile on a GPU (`specialize.rs`) and a CPU's last tile, keeps
/// groups as rows ([`Orientation::GroupsByRow`]): a GPU spreads a block's elements over
/// threads in order, so a group of `H` values then spans `H / 8` neighbouring threads
/// (8 values a thread at the default tile), the transform's stages are register copies
/// and warp shuffles, and the norm a warp sum, where lanes put every group in every warp
/// and each stage across warps went through shared memory.
pub fn orientation(interior: bool) -> Orientation {
    if interior {
        Orientation::GroupsByLane
    } else {
        Orientation::GroupsByRow
    }
}

/// Codes `u32[H / d, R]` by lane (tuple `t` of group `r` at `[t, r]`) or `u32[R, H / d]`
/// by row, as `o` says, and f16 scales `[R]` of `x: f32[R, H]` (padding lanes zero).
/// `interior`: the unmasked form of a specialized tile, which only the CPU runs
/// (`Search`).
#[track_caller]
pub fn quantize_groups(x: Value, grid: &Grid, o: Orientation, interior: bool) -> (Value, Value) {
    let d = grid.dim() as u32;
    let r = (x * x).sum(1).sqrt();
    // Comparisons with NaN are false: a NaN norm stays NaN.
    let scale = where_(gt(r, F16_MAX), F16_MAX, r).cast::<half::f16>();
    // Scaling before the transform keeps the search's operands plain buffers (a scaled
    // `y` would be recomputed, division included, for every grid point).
    let inv = 1.0f32 / scale.cast::<f32>();
    let ys = match o {
        Orientation::GroupsByLane => forward_split(x.trans() * inv.expand_dims(0), d, o),
        Orientation::GroupsByRow => forward_split(x * inv.expand_dims(1), d, o),
    };
    (
        nearest(&ys, grid, Search::of(grid, interior)).cast::<u32>(),
        scale,
    )
}

/// How a form of the quantizer finds nearest points; all give the same codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Search {
    /// Every point: EDEN4-256 (cells in 4-D would number `G^4`), and EDEN2-16 in the
    /// interior form of a tile, which only the CPU runs (GPU targets keep the general
    /// form, `specialize.rs`): its 16 points sit in vector registers there, faster than
    /// gathering candidates from tables.
    BruteForce,
    /// Candidate cells ([`Cells`]): 2-D grids in the general form (every tile on a GPU,
    /// where a tuple then costs 4 to 7 scores instead of 16 to 256, and the last tile on
    /// a CPU), and in both forms from 64 points up.
    Cells(Candidates),
}

/// Where a candidate's search terms come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Candidates {
    /// Its row of [`score_rows`], coordinates and half norm together: two loads on a GPU
    /// (the general form).
    Rows,
    /// Its two coordinates, the half norm computed from them (three operations): on a
    /// CPU (the interior form) each gather is a load per lane, dearer than arithmetic.
    Coordinates,
}

impl Search {
    fn of(grid: &Grid, interior: bool) -> Search {
        match (grid.dim(), grid.len(), interior) {
            (2, n, true) if n >= 64 => Search::Cells(Candidates::Coordinates),
            (2, _, false) => Search::Cells(Candidates::Rows),
            _ => Search::BruteForce,
        }
    }
}

/// The index of the nearest grid point to each tuple for the tuples' coordinates `ys[c]`
/// (`f32[T, R]` or `f32[R, T]`, the result's shape), exactly as [`Grid::nearest`]. With [`Search::Cells`],
/// the candidate cells when every tuple of the tile lies in the cells' box (a runtime
/// branch on the tile: about one Gaussian tile in 2000 holds a tuple outside it), else
/// brute force.
#[track_caller]
fn nearest(ys: &[Value], grid: &Grid, search: Search) -> Value {
    let Some((candidates, cells)) = (match search {
        Search::Cells(candidates) => cells(grid, candidates).map(|cells| (candidates, cells)),
        Search::BruteForce => None,
    }) else {
        return brute_force(ys, grid);
    };
    let (t, r) = (ys[0].shape()[0], ys[0].shape()[1]);
    let inside = logical_and(le(ys[0].abs(), cells.half), le(ys[1].abs(), cells.half));
    let all_inside = eq(inside.cast::<i32>().reshape([t * r]).min(0), 1);
    if_else(
        all_inside,
        || vec![in_cells(ys, grid, cells, candidates)],
        || vec![brute_force(ys, grid)],
    )[0]
}

/// The candidate cells of a 2-D grid for the search whose candidates come `from` there
/// (finer cells for [`Candidates::Coordinates`]: [`Cells::per_axis_packed_for`]), built
/// on first use and kept.
fn cells(grid: &Grid, from: Candidates) -> Option<&'static Cells> {
    type Built = Vec<(&'static Grid, Candidates, &'static Cells)>;
    static CELLS: Mutex<Built> = Mutex::new(Vec::new());
    // The embedded grids only.
    let grid = eden(2, grid.len() as u32).filter(|&eden| eden == grid)?;
    let mut built = CELLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&(_, _, cells)) = built
        .iter()
        .find(|&&(g, f, _)| std::ptr::eq(g, grid) && f == from)
    {
        return Some(cells);
    }
    let per_axis = match from {
        Candidates::Rows => Cells::per_axis_for(grid.len()),
        Candidates::Coordinates => Cells::per_axis_packed_for(grid.len()),
    };
    // At most one per 2-D grid and form: six, kept for the process.
    let cells: &'static Cells = Box::leak(Box::new(Cells::new(grid, CELL_BOX, per_axis)));
    built.push((grid, from, cells));
    Some(cells)
}

/// Half the side of the cells' box: coordinates are about N(0, 1), so a tuple of a
/// Gaussian group leaves it with probability about 1e-6 (a constant group of 64 or more
/// values, rotated to `(sqrt(H), 0, ...)`, does).
const CELL_BOX: f32 = 5.0;

/// [`nearest`] over a cell's candidates, for tuples inside the box: the same scores,
/// taken in increasing index order with a strict `<` from an infinite start, as
/// [`Grid::nearest`] does over every point ([`Cells`] says why that is the same answer).
/// A candidate costs its index (a 4-wide cell's indices are one 32-bit load: on a GPU
/// as LLVM merges the byte loads, on a CPU from [`Cells::packed`], then a shift and a
/// mask), its terms ([`Candidates`]), two multiply-adds, a compare and two selects.
#[track_caller]
fn in_cells(ys: &[Value], grid: &Grid, cells: &Cells, from: Candidates) -> Value {
    let per_axis = cells.per_axis;
    let scale = per_axis as f32 / (2.0 * cells.half);
    // `v + half` is at least 0 inside the box, so the cast's truncation is the floor, and
    // an unsigned cast tells LLVM the index is not negative. Only `v = half` needs the
    // clamp; with it LLVM knows the cell's candidates are inside the table, which then
    // needs no clamp of its own.
    let axis = |v: Value| {
        ((v + cells.half) * scale)
            .cast::<u32>()
            .minimum(per_axis - 1)
    };
    let cell = axis(ys[1]) * per_axis + axis(ys[0]);
    // A candidate's index by its place `k` in the cell's list.
    let index: Box<dyn Fn(u32) -> Value> = match from {
        // Byte loads: LLVM merges a 4-wide cell's into one 32-bit load on a GPU.
        Candidates::Rows => {
            let lists = const_table::<u8, i32>(&cells.candidates);
            let first = cell * cells.width;
            Box::new(move |k| lists.gather(first + k).cast::<i32>())
        }
        // On a CPU a byte load is a load per lane: four at once from packed words.
        Candidates::Coordinates => {
            let per_cell = cells.words_per_cell();
            let lists = const_table::<u32, u32>(&cells.packed());
            let first = cell * per_cell;
            let words: Vec<Value> = (0..per_cell).map(|w| lists.gather(first + w)).collect();
            Box::new(move |k| ((words[k as usize / 4] >> (8 * (k % 4))) & 255u32).cast::<i32>())
        }
    };
    // A candidate point's negated coordinates and half norm, by its index.
    let terms: Box<dyn Fn(Value) -> (Vec<Value>, Value)> = match from {
        Candidates::Rows => {
            let (rows, stride) = score_rows(grid);
            Box::new(move |i| {
                let row = i * stride;
                (
                    (0..2).map(|c| rows.gather(row + c)).collect(),
                    rows.gather(row + 2),
                )
            })
        }
        Candidates::Coordinates => {
            let coords = [coordinate(grid, 0, -1.0), coordinate(grid, 1, -1.0)];
            Box::new(move |i| {
                let q: Vec<Value> = coords.iter().map(|t| t.gather(i)).collect();
                // `half_norm`, whose squares of `-p` are those of `p`.
                let h = fma(q[1], q[1], q[0] * q[0]) * 0.5;
                (q, h)
            })
        }
    };
    let candidate = |k: u32| {
        let i = index(k);
        let (q, h) = terms(i);
        (i, score(ys, &q, h))
    };
    // Scores of tuples in the box are finite, so the first candidate beats `+inf`.
    let (mut index, mut best) = candidate(0);
    for k in 1..cells.width {
        let (i, s) = candidate(k);
        let take = lt(s, best);
        best = where_(take, s, best);
        index = where_(take, i, index);
    }
    index
}

/// [`nearest`] over every point: the scores of all points, ties to the lowest index
/// (`argmin`).
#[track_caller]
fn brute_force(ys: &[Value], grid: &Grid) -> Value {
    let (t, r) = (ys[0].shape()[0], ys[0].shape()[1]);
    let n = grid.len() as u32;
    let (rows, stride) = score_rows(grid);
    let row = arange(n).reshape([n, 1]) * stride as u32;
    let flat: Vec<Value> = ys.iter().map(|y| y.reshape([1, t * r])).collect();
    let q: Vec<Value> = (0..ys.len() as u32).map(|c| rows.gather(row + c)).collect();
    score(&flat, &q, rows.gather(row + ys.len() as u32))
        .argmin(0)
        .reshape([t, r])
}

/// The score of [`crate::quant::grids::score`]: from the half squared norm `h`, one
/// multiply-add a coordinate with the negated point coordinates `q` (broadcast).
#[track_caller]
fn score(ys: &[Value], q: &[Value], h: Value) -> Value {
    ys.iter().zip(q).fold(h, |acc, (&y, &q)| fma(y, q, acc))
}

/// Every point's search row, `-p[0], ..., -p[d - 1]` and its
/// [`half_norm`](crate::quant::grids::half_norm) (`|p|^2 / 2`), padded with zeros to a
/// power of two `stride` (4 for 2-D grids: a row is 16-byte aligned, and a GPU reads its
/// three values with two loads), as one table; and the stride.
#[track_caller]
fn score_rows(grid: &Grid) -> (ConstTable, i32) {
    let d = grid.dim();
    let stride = (d + 1).next_power_of_two();
    let mut rows = Vec::with_capacity(grid.len() * stride);
    for (i, &h) in grid.half_norms().iter().enumerate() {
        rows.extend(grid.point(i).iter().map(|&c| -c));
        rows.push(h);
        rows.resize((i + 1) * stride, 0.0);
    }
    (const_table::<f32, f32>(&rows), stride as i32)
}

/// `f32[R, H]`: the dequantized groups from codes `u32[H / d, R]` by lane or
/// `u32[R, H / d]` by row, as `o` says, and f16 scales `[R]`. By lane, each coordinate
/// is gathered into a block of its own and the blocks are combined (the first `log2(d)`
/// stages as sums and differences, `super::fwht`); by row, a tuple's `d` coordinates are
/// gathered into place from one table and every stage is a butterfly along the row.
#[track_caller]
pub fn dequantize_groups(codes: Value, scale: Value, grid: &Grid, o: Orientation) -> Value {
    let d = grid.dim() as u32;
    let [r, t] = [codes.shape()[0], codes.shape()[1]];
    // s / H is exact: s is an f16 value and H a power of two at most 2^10.
    let h = r * t * d / scale.shape()[0];
    let f = scale.cast::<f32>() * (1.0 / h as f32);
    match o {
        Orientation::GroupsByLane => {
            let parts: Vec<Value> = (0..d as usize)
                .map(|c| coordinate(grid, c, 1.0).gather(codes))
                .collect();
            (combine_inverse(&parts, o) * f.expand_dims(0)).trans()
        }
        Orientation::GroupsByRow => {
            let at = codes.expand_dims(2) * d + arange(d).cast::<u32>().reshape([1, 1, d]);
            let v = const_table::<f32, f32>(grid.points())
                .gather(at)
                .reshape([r, t * d]);
            inverse_from(v, 1, o) * f.expand_dims(1)
        }
    }
}

/// Coordinate `c` of every grid point times `sign` (1 or -1, exact), as a table indexed by
/// point.
#[track_caller]
fn coordinate(grid: &Grid, c: usize, sign: f32) -> ConstTable {
    let coords: Vec<f32> = grid
        .points()
        .iter()
        .skip(c)
        .step_by(grid.dim())
        .map(|&v| sign * v)
        .collect();
    const_table::<f32, f32>(&coords)
}
