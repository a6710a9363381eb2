//! Candidate lists for the nearest-point search of a 2-D grid: the box `[-B, B]^2` cut
//! into `G x G` cells, each listing the grid points that can be nearest, under the f32
//! score rule of [`super::grids`], to some query in it. The argmin over a cell's
//! candidates, in increasing index order with the strict `<` of [`Grid::nearest`], then
//! equals the brute force over all points for every query in the cell: the brute-force
//! winner is a candidate, and no candidate of a lower index ties it nor any beats it.
//!
//! Why the winner is a candidate: a computed score is within `e` ([`score_error`] over the
//! box) of the exact one, and exact scores differ as half squared distances do. If `w`
//! beats or ties `T` in computed scores, then `|y - w|^2 <= |y - T|^2 + 4e` for the query
//! `y`; for `T` the point whose farthest squared distance to the cell is smallest, every
//! such `w` has a smallest squared distance to the cell of at most that farthest one plus
//! `4e`. Points pass with that margin (and a relative `2^-40` for the f64 arithmetic of the
//! test). The cell is widened by [`MARGIN`] on every side, so a query the kernel's rounded
//! index computation puts in a neighbouring cell still lies in the widened one.
//!
//! A query outside the box gets no cell: the kernels fall back to the brute force for a
//! whole tile that holds one (`kernels/higgs_math.rs`).

use super::grids::{score, score_error, Grid};

/// How far a cell is widened on every side, against the rounding of the index
/// computation (about `2^-20` here).
pub const MARGIN: f64 = 1e-4;

/// Candidate lists of the cells of a 2-D grid.
#[derive(Clone, Debug)]
pub struct Cells {
    /// Half the side of the box.
    pub half: f32,
    /// Cells along each axis.
    pub per_axis: u32,
    /// Candidates per cell (the longest list; shorter ones repeat their last index).
    pub width: u32,
    /// `per_axis^2 * width` point indices: cell `cy * per_axis + cx`, ascending.
    pub candidates: Vec<i32>,
}

impl Cells {
    /// Cells along each axis for a grid of `points` points in the kernels' general form
    /// (every tile on a GPU), whose candidates are a `u8` table: at most 4 candidates a
    /// cell for EDEN2-16 (24, a 2.3 KB table) and EDEN2-64 (48), one 32-bit load a cell on
    /// a GPU, and 7 for EDEN2-256 (64); finer cells would mean larger tables, which cost
    /// compile time.
    pub fn per_axis_for(points: usize) -> u32 {
        match points {
            0..=16 => 24,
            17..=64 => 48,
            _ => 64,
        }
    }

    /// Cells along each axis for the CPU's interior form, which reads [`Cells::packed`]
    /// and pays each candidate two register lookups of its coordinates: finer cells, fewer
    /// candidates. EDEN2-64 takes 136, the smallest count from 48 up at which no cell has
    /// 4 candidates (3: a 74 KB table; quantize 1.11x on one core), EDEN2-256 128 (4
    /// where 64 had 7, one word a cell: quantize 1.5x). Cold compile moved little (the
    /// larger tables against the shorter lists' less code). EDEN2-16 takes the brute
    /// force there.
    pub fn per_axis_packed_for(points: usize) -> u32 {
        match points {
            0..=16 => 24,
            17..=64 => 136,
            _ => 128,
        }
    }

    /// The cells of `grid` (2-D) over `[-half, half]^2`, `per_axis` along each axis.
    pub fn new(grid: &Grid, half: f32, per_axis: u32) -> Cells {
        assert_eq!(grid.dim(), 2, "cells are for 2-D grids");
        let side = 2.0 * half as f64 / per_axis as f64;
        let points: Vec<(f64, f64)> = grid
            .points()
            .chunks_exact(2)
            .map(|p| (p[0] as f64, p[1] as f64))
            .collect();
        // Every score's error for queries in the widened box.
        let reach = half as f64 + MARGIN;
        let err = score_error(&grid.extent(), &[reach, reach]);
        let mut lists = Vec::with_capacity((per_axis * per_axis) as usize);
        for cy in 0..per_axis {
            for cx in 0..per_axis {
                let lo = (
                    -(half as f64) + cx as f64 * side - MARGIN,
                    -(half as f64) + cy as f64 * side - MARGIN,
                );
                let hi = (lo.0 + side + 2.0 * MARGIN, lo.1 + side + 2.0 * MARGIN);
                let near = |v: f64, a: f64, b: f64| {
                    if v < a {
                        a - v
                    } else if v > b {
                        v - b
                    } else {
                        0.0
                    }
                };
                let far = |v: f64, a: f64, b: f64| (v - a).abs().max((v - b).abs());
                let min_d =
                    |p: &(f64, f64)| near(p.0, lo.0, hi.0).powi(2) + near(p.1, lo.1, hi.1).powi(2);
                let max_d =
                    |p: &(f64, f64)| far(p.0, lo.0, hi.0).powi(2) + far(p.1, lo.1, hi.1).powi(2);
                let bound = points.iter().map(max_d).fold(f64::INFINITY, f64::min);
                let limit = bound * (1.0 + 2f64.powi(-40)) + 4.0 * err;
                let list: Vec<i32> = points
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| min_d(p) <= limit)
                    .map(|(i, _)| i as i32)
                    .collect();
                lists.push(list);
            }
        }
        let width = lists.iter().map(Vec::len).max().unwrap_or(1) as u32;
        let mut candidates = Vec::with_capacity(lists.len() * width as usize);
        for list in &lists {
            let last = *list
                .last()
                .expect("the point of smallest farthest distance always passes");
            candidates.extend(
                list.iter()
                    .copied()
                    .chain(std::iter::repeat(last))
                    .take(width as usize),
            );
        }
        Cells {
            half,
            per_axis,
            width,
            candidates,
        }
    }

    /// The candidate lists as the kernels read them: four 8-bit indices a word, lowest
    /// byte first, [`Cells::words_per_cell`] words a cell (a list ends padded with its
    /// last index, which never wins again under the strict `<`). One load brings four
    /// candidates, where each was a load of its own (one per lane on a CPU).
    pub fn packed(&self) -> Vec<u32> {
        let per_cell = self.words_per_cell() as usize * 4;
        let bytes: Vec<u32> = self
            .candidates
            .chunks_exact(self.width as usize)
            .flat_map(|list| {
                let last = *list.last().expect("a cell has candidates");
                list.iter()
                    .copied()
                    .chain(std::iter::repeat(last))
                    .take(per_cell)
            })
            .map(|i| u8::try_from(i).expect("packed cells hold grids of at most 256 points") as u32)
            .collect();
        bytes
            .chunks_exact(4)
            .map(|b| b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24)
            .collect()
    }

    /// Words of [`Cells::packed`] a cell.
    pub fn words_per_cell(&self) -> u32 {
        self.width.div_ceil(4)
    }

    /// The cell of a query inside the box, computed as the kernels do (f32; they truncate
    /// where this floors, the same for the non-negative values of the box).
    pub fn cell_of(&self, y: [f32; 2]) -> usize {
        let scale = self.per_axis as f32 / (2.0 * self.half);
        let axis = |v: f32| {
            (((v + self.half) * scale).floor() as i32).clamp(0, self.per_axis as i32 - 1) as usize
        };
        axis(y[1]) * self.per_axis as usize + axis(y[0])
    }

    /// Whether a query is inside the box (false for NaN).
    pub fn inside(&self, y: [f32; 2]) -> bool {
        y[0].abs() <= self.half && y[1].abs() <= self.half
    }

    /// The nearest point of a query inside the box, from its cell's candidates.
    pub fn nearest(&self, grid: &Grid, y: [f32; 2]) -> u32 {
        let c = self.cell_of(y);
        let mut best = (0u32, f32::INFINITY);
        for &i in &self.candidates[c * self.width as usize..][..self.width as usize] {
            let s = score(&y, grid.point(i as usize), grid.half_norms()[i as usize]);
            if s < best.1 {
                best = (i as u32, s);
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random queries all over the box, on and next to cell edges, next to grid points,
    /// and on and next to the bisectors of nearby points: the candidates' argmin is the
    /// brute force's.
    #[test]
    fn candidates_give_the_brute_force_answer() {
        let forms = [16, 64, 256].into_iter().flat_map(|n| {
            let (general, packed) = (Cells::per_axis_for(n), Cells::per_axis_packed_for(n));
            [(n, general)]
                .into_iter()
                .chain((packed != general).then_some((n, packed)))
        });
        for (n, per_axis) in forms {
            let grid = Grid::eden(2, n).unwrap();
            let cells = Cells::new(&grid, 5.0, per_axis);
            let mut s = 0x2545_f491_4f6c_dd1du64;
            let mut next = || {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32
            };
            let side = 10.0 / cells.per_axis as f32;
            let mut queries = Vec::new();
            for _ in 0..200_000 {
                queries.push([next() * 10.0 - 5.0, next() * 10.0 - 5.0]);
            }
            for _ in 0..50_000 {
                // On an edge, or one f32 step to either side.
                let e = (next() * cells.per_axis as f32).floor() * side - 5.0;
                let step = [0.0f32, 1.0, -1.0][(next() * 3.0) as usize % 3];
                let on = f32::from_bits((e.to_bits() as i64 + step as i64).max(0) as u32);
                queries.push([on, next() * 10.0 - 5.0]);
                queries.push([next() * 10.0 - 5.0, on]);
            }
            for i in 0..n {
                let p = grid.point(i);
                queries.push([p[0] + (next() - 0.5) * 1e-3, p[1] + (next() - 0.5) * 1e-3]);
            }
            // Near-ties: on the bisector of two nearby points, where scores differ by
            // their rounding alone, and a few f32 steps to either side.
            for i in 0..n {
                for j in i + 1..n {
                    let (p, q) = (grid.point(i), grid.point(j));
                    let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
                    if dx * dx + dy * dy > 1.0 {
                        continue;
                    }
                    for _ in 0..4 {
                        let t = (next() - 0.5) * 2.0;
                        let m = [(p[0] + q[0]) / 2.0 - dy * t, (p[1] + q[1]) / 2.0 + dx * t];
                        for step in [-2i32, -1, 0, 1, 2] {
                            let nudge = |v: f32| f32::from_bits((v.to_bits() as i32 + step) as u32);
                            queries.push([nudge(m[0]), m[1]]);
                            queries.push([m[0], nudge(m[1])]);
                        }
                    }
                }
            }
            for y in queries.into_iter().filter(|&y| cells.inside(y)) {
                assert_eq!(
                    cells.nearest(&grid, y),
                    grid.nearest(&y),
                    "EDEN2-{n}, {per_axis} cells a side, query {y:?}"
                );
            }
            println!(
                "EDEN2-{n}, {per_axis} cells a side: {} candidates a cell",
                cells.width
            );
            // The packed words hold each cell's list, padded with its last index.
            let packed = cells.packed();
            let per_cell = cells.words_per_cell() as usize;
            assert_eq!(
                packed.len(),
                cells.candidates.len() / cells.width as usize * per_cell
            );
            for (c, list) in cells
                .candidates
                .chunks_exact(cells.width as usize)
                .enumerate()
            {
                let bytes: Vec<i32> = packed[c * per_cell..][..per_cell]
                    .iter()
                    .flat_map(|w| (0..4).map(move |k| (w >> (8 * k) & 255) as i32))
                    .collect();
                assert_eq!(&bytes[..list.len()], list, "EDEN2-{n}, cell {c}");
                assert!(bytes[list.len()..]
                    .iter()
                    .all(|&i| i == *list.last().unwrap()));
            }
        }
    }

    /// The CPU's finer cells hold the candidate counts their choice was made for: the
    /// interior search's cost is one candidate's work times this width.
    #[test]
    fn packed_cells_hold_fewer_candidates() {
        for (n, general, packed) in [(64, 4, 3), (256, 7, 4)] {
            let grid = Grid::eden(2, n).unwrap();
            let fine = Cells::new(&grid, 5.0, Cells::per_axis_packed_for(n));
            assert_eq!(
                Cells::new(&grid, 5.0, Cells::per_axis_for(n)).width,
                general,
                "EDEN2-{n}"
            );
            assert_eq!(fine.width, packed, "EDEN2-{n}, packed form");
            assert_eq!(fine.words_per_cell(), 1, "EDEN2-{n}: one word a cell");
        }
    }
}
