//! Vector-quantization grids for HIGGS: the published EDEN grids, grids read from or written
//! to JSON, and nearest-point search.
//!
//! A grid is `n` points of `d` coordinates, placed to quantize standard Gaussian vectors
//! with small mean squared error. The EDEN grids HIGGS uses (d = 2 with n = 16, 64, 256,
//! for 2, 3 and 4 bits per value; d = 4 with n = 256, 2 bits per value) are embedded from
//! `kernels/data/eden_grids.json`, the subset of the shared `eden_grids.json` with exactly
//! those four grids, digits unchanged (every coordinate is an exact f32). The JSON format is
//! the shared file's: a list of `n` points, each a list of `d` numbers.
//!
//! # Nearest point: the rule kernels follow
//!
//! Point `p` scores `s(v, p) = |p|^2 / 2 - v . p` for query `v`, which orders points as
//! their distances do (`|v - p|^2 = 2 s(v, p) + |v|^2`) at two fused multiply-adds a 2-D
//! point, where the squared distance took five operations. In f32: the point's half
//! squared norm `h_p` ([`Grid::half_norms`], [`half_norm`]: `p[0] * p[0]`, then
//! `fma(p[c], p[c], .)` for `c = 1, 2, ...`, halved), which a kernel may load or compute;
//! then `acc = fma(v[c], -p[c], acc)` from `acc = h_p` for `c = 0, 1, ...` ([`score`]).
//! The nearest point is the **lowest index** among the points of the smallest score, NaN
//! scores skipped: exactly the IR's `reduce_argmin` over the scores, and a
//! strict `<` from `+inf` in increasing index. So a query with a NaN coordinate gets index
//! 0 (every score NaN); infinite coordinates give infinite or NaN scores, the same in
//! kernels and here. A computed score is within [`score_error`] of the exact one, about
//! `2d 2^-24 (h_p + sum |v_c p_c|)`: the point found is the nearest except against
//! a point nearer by less than that. [`Grid::nearest`] is the brute-force definition;
//! [`NearestSearch`] finds the same index faster.
//!
//! [`distance`], the plain squared distance, is what CLVQ trains with (`clvq.rs`).

use serde_json::Value;
use thiserror::Error;

/// The embedded EDEN grids.
const EDEN_JSON: &str = include_str!("../../data/eden_grids.json");

/// `(dimension, points)` of every embedded EDEN grid.
pub const EDEN: [(usize, usize); 4] = [(2, 16), (2, 64), (2, 256), (4, 256)];

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GridError {
    #[error("grid: dimension must be at least 1")]
    ZeroDim,
    #[error("grid: has no points")]
    Empty,
    #[error("grid: {len} coordinates are not a whole number of {dim}-dimensional points")]
    Ragged { len: usize, dim: usize },
    #[error("grid: point {index} has a non-finite coordinate")]
    NonFinite { index: usize },
    #[error(
        "grid: no EDEN grid of {points} points in dimension {dim} (there are EDEN2-16, EDEN2-64, EDEN2-256, EDEN4-256)"
    )]
    NoEden { dim: usize, points: usize },
    #[error("grid: no EDEN grid for {bits} bits per value in dimension {dim} (2, 3, 4 bits in d=2; 2 bits in d=4)")]
    NoEdenBits { dim: usize, bits: u32 },
    #[error("grid JSON: {0}")]
    Json(String),
}

/// `n` points of `dim` coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    dim: usize,
    /// `n * dim` coordinates, point after point.
    points: Vec<f32>,
    /// Each point's [`half_norm`].
    half_norms: Vec<f32>,
}

impl Grid {
    /// A grid from `n * dim` row-major coordinates: at least one point, all finite.
    pub fn new(dim: usize, points: Vec<f32>) -> Result<Grid, GridError> {
        if dim == 0 {
            return Err(GridError::ZeroDim);
        }
        if points.is_empty() {
            return Err(GridError::Empty);
        }
        if !points.len().is_multiple_of(dim) {
            return Err(GridError::Ragged {
                len: points.len(),
                dim,
            });
        }
        if let Some(i) = points.iter().position(|c| !c.is_finite()) {
            return Err(GridError::NonFinite { index: i / dim });
        }
        let half_norms = points.chunks_exact(dim).map(half_norm).collect();
        Ok(Grid {
            dim,
            points,
            half_norms,
        })
    }

    /// The embedded EDEN grid of `points` points in dimension `dim`.
    pub fn eden(dim: usize, points: usize) -> Result<Grid, GridError> {
        if !EDEN.contains(&(dim, points)) {
            return Err(GridError::NoEden { dim, points });
        }
        let all: serde_json::Map<String, Value> =
            serde_json::from_str(EDEN_JSON).map_err(|e| GridError::Json(e.to_string()))?;
        let name = format!("EDEN{dim}-{points}");
        let grid = all.get(&name).ok_or(GridError::NoEden { dim, points })?;
        let grid = Grid::from_value(grid)?;
        match (grid.dim, grid.len()) == (dim, points) {
            true => Ok(grid),
            false => Err(GridError::Json(format!(
                "{name} has {} points of dimension {}",
                grid.len(),
                grid.dim
            ))),
        }
    }

    /// The EDEN grid of dimension `dim` with `bits` bits per value (`2^(bits * dim)` points).
    pub fn for_bits(dim: usize, bits: u32) -> Result<Grid, GridError> {
        let points = (bits as usize)
            .checked_mul(dim)
            .filter(|&b| b < usize::BITS as usize)
            .map(|b| 1usize << b)
            .ok_or(GridError::NoEdenBits { dim, bits })?;
        Grid::eden(dim, points).map_err(|_| GridError::NoEdenBits { dim, bits })
    }

    /// Reads a grid in the JSON format of `eden_grids.json`'s entries: a list of points,
    /// each a list of `d` numbers.
    pub fn from_json(text: &str) -> Result<Grid, GridError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| GridError::Json(e.to_string()))?;
        Grid::from_value(&value)
    }

    fn from_value(value: &Value) -> Result<Grid, GridError> {
        let bad = |what: String| GridError::Json(what);
        let list = value
            .as_array()
            .ok_or_else(|| bad("expected a list of points".into()))?;
        let first = list.first().ok_or(GridError::Empty)?;
        let dim = first.as_array().map_or(0, Vec::len);
        let mut points = Vec::with_capacity(list.len() * dim);
        for (index, point) in list.iter().enumerate() {
            let coords = point
                .as_array()
                .ok_or_else(|| bad(format!("point {index} is not a list")))?;
            if coords.len() != dim {
                return Err(bad(format!(
                    "point {index} has {} coordinates, point 0 has {dim}",
                    coords.len()
                )));
            }
            for c in coords {
                let c = c
                    .as_f64()
                    .ok_or_else(|| bad(format!("point {index} has a non-number coordinate")))?;
                points.push(c as f32);
            }
        }
        Grid::new(dim, points)
    }

    /// The grid as JSON: a list of points, each a list of `d` numbers (shortest f32
    /// representation, so reading it back gives the same bits).
    pub fn to_json(&self) -> String {
        let points: Vec<&[f32]> = self.points.chunks_exact(self.dim).collect();
        serde_json::to_string(&points).expect("finite f32 coordinates always serialize")
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len() / self.dim
    }

    /// Always false: a grid has at least one point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// All coordinates, point after point.
    pub fn points(&self) -> &[f32] {
        &self.points
    }

    /// Point `i` (panics if `i >= len()`, like slice indexing).
    pub fn point(&self, i: usize) -> &[f32] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }

    /// Every point's [`half_norm`], the first term of its [`score`].
    pub fn half_norms(&self) -> &[f32] {
        &self.half_norms
    }

    /// The largest `|p|^2 / 2` and the largest `|p_c|` of each coordinate over the points:
    /// what [`score_error`] needs of a grid.
    pub fn extent(&self) -> (f64, Vec<f64>) {
        let h = self.half_norms.iter().fold(0.0f64, |a, &b| a.max(b as f64));
        let mut m = vec![0.0f64; self.dim];
        for p in self.points.chunks_exact(self.dim) {
            for (m, &c) in m.iter_mut().zip(p) {
                *m = m.max(c.abs() as f64);
            }
        }
        (h, m)
    }

    /// Bits of a point index when the number of points is a power of two.
    pub fn index_bits(&self) -> Option<u32> {
        let n = self.len();
        n.is_power_of_two().then(|| n.trailing_zeros())
    }

    /// The nearest point to `v` (`v.len() == dim`), by brute force; see the module doc for
    /// the score and the tie rule.
    pub fn nearest(&self, v: &[f32]) -> u32 {
        debug_assert_eq!(v.len(), self.dim);
        let mut best = (0u32, f32::INFINITY);
        for (i, (p, &h)) in self
            .points
            .chunks_exact(self.dim)
            .zip(&self.half_norms)
            .enumerate()
        {
            let s = score(v, p, h);
            if s < best.1 {
                best = (i as u32, s);
            }
        }
        best.0
    }

    /// A faster search with the same answers as [`Grid::nearest`].
    pub fn search(&self) -> NearestSearch {
        NearestSearch::new(self.clone())
    }
}

/// `|p|^2 / 2` in f32 as kernels compute it: `p[0] * p[0]`, a multiply-add for each further
/// coordinate, then halved (exact).
#[inline]
pub fn half_norm(p: &[f32]) -> f32 {
    p[1..].iter().fold(p[0] * p[0], |acc, &c| c.mul_add(c, acc)) * 0.5
}

/// The score of point `p` (half squared norm `half_norm`) for query `v`: the module doc's
/// chain of fused multiply-adds, which kernels compute the same way.
#[inline]
pub fn score(v: &[f32], p: &[f32], half_norm: f32) -> f32 {
    v.iter()
        .zip(p)
        .fold(half_norm, |acc, (&a, &b)| a.mul_add(-b, acc))
}

/// A bound on `|computed - exact|` of every [`score`] for queries with `|v_c| <= v_max[c]`,
/// on a grid of the given [`Grid::extent`], where no score overflows: `h` is rounded `d`
/// times (at most `d u h`) and each multiply-add once (at most `u` times a partial sum,
/// which is at most `h + sum |v_c p_c|` plus smaller errors), so `2d u (h + sum |v_c|
/// |p_c|)` with `u = 2^-24`, here with a hundredth more for the second-order terms.
pub fn score_error(extent: &(f64, Vec<f64>), v_max: &[f64]) -> f64 {
    2.0 * extent.1.len() as f64 * 2f64.powi(-24) * score_reach(extent, v_max) * 1.01
}

/// `h + sum |v_c| |p_c|` over a grid of the given [`Grid::extent`], for queries with
/// `|v_c| <= v_max[c]`: a bound on every partial sum of a [`score`].
fn score_reach(extent: &(f64, Vec<f64>), v_max: &[f64]) -> f64 {
    let (h, p_max) = extent;
    h + v_max.iter().zip(p_max).map(|(v, p)| v * p).sum::<f64>()
}

/// The squared distance `(v[0] - p[0])^2 + ...` in f32, summed left to right: the
/// distance CLVQ trains with.
#[inline]
pub fn distance(v: &[f32], p: &[f32]) -> f32 {
    let mut d = 0.0f32;
    for (&a, &b) in v.iter().zip(p) {
        let t = a - b;
        d += t * t;
    }
    d
}

/// Nearest-point search that visits points in order of their first coordinate, outward
/// from the query's, and stops once the first coordinate alone rules out every point
/// further out.
///
/// The answer is exactly [`Grid::nearest`]'s. An exact score is at least
/// `((v[0] - p[0])^2 - |v|^2) / 2` (`2 s = |v - p|^2 - |v|^2`), and a computed one at least
/// that minus [`score_error`]. That floor, computed in f64 and lowered by a bound on its own
/// rounding, grows as `p[0]` moves away from `v[0]`: once it exceeds the best computed
/// score, no point further out can beat or tie it. Points of an equal score are all
/// visited, and the lowest index wins. Queries with a non-finite coordinate, or so large
/// that a score could overflow, go to the brute force.
#[derive(Clone, Debug)]
pub struct NearestSearch {
    grid: Grid,
    /// Point indices sorted by first coordinate.
    order: Vec<u32>,
    /// The points in that order (contiguous for the scan).
    sorted: Vec<f32>,
    /// [`Grid::extent`].
    extent: (f64, Vec<f64>),
}

impl NearestSearch {
    pub fn new(grid: Grid) -> NearestSearch {
        let d = grid.dim;
        let mut order: Vec<u32> = (0..grid.len() as u32).collect();
        order.sort_by(|&a, &b| grid.points[a as usize * d].total_cmp(&grid.points[b as usize * d]));
        let sorted = order
            .iter()
            .flat_map(|&i| grid.point(i as usize).iter().copied())
            .collect();
        let extent = grid.extent();
        NearestSearch {
            grid,
            order,
            sorted,
            extent,
        }
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The nearest point to `v` (`v.len() == dim`).
    pub fn nearest(&self, v: &[f32]) -> u32 {
        let v_max: Vec<f64> = v.iter().map(|&c| (c as f64).abs()).collect();
        let reach = score_reach(&self.extent, &v_max);
        // Non-finite queries fail the test too (NaN is not finite).
        if !reach.is_finite() || reach >= 2f64.powi(100) {
            return self.grid.nearest(v);
        }
        let err = score_error(&self.extent, &v_max);
        let norm2: f64 = v_max.iter().map(|c| c * c).sum();
        let d = self.grid.dim;
        let start = self
            .order
            .partition_point(|&i| self.grid.points[i as usize * d] < v[0]);
        let mut best = (u32::MAX, f32::INFINITY);
        let visit = |k: usize| -> bool {
            let p = &self.sorted[k * d..(k + 1) * d];
            let t = v[0] as f64 - p[0] as f64;
            // Each f64 operation here is off by at most 2^-53 of its size.
            let floor = (t * t - norm2) / 2.0 - err - (t * t + norm2) * 2f64.powi(-48);
            if floor > best.1 as f64 {
                return false;
            }
            let i = self.order[k];
            let s = score(v, p, self.grid.half_norms[i as usize]);
            if s < best.1 || (s == best.1 && i < best.0) {
                best = (i, s);
            }
            true
        };
        scan_outward(self.order.len(), start, visit);
        best.0
    }
}

/// Visits positions `start..n` upward, then `0..start` downward, each way until `visit`
/// returns false: the scan of a search over points sorted by first coordinate, from where
/// the query's falls, for a `visit` that stops once the first coordinate is too far.
pub fn scan_outward(n: usize, start: usize, mut visit: impl FnMut(usize) -> bool) {
    for k in start..n {
        if !visit(k) {
            break;
        }
    }
    for k in (0..start).rev() {
        if !visit(k) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_bits() {
        let g = Grid::new(2, vec![0.1, -2.5, 1e-7, 3.0]).unwrap();
        let text = g.to_json();
        assert_eq!(text, "[[0.1,-2.5],[1e-7,3.0]]");
        assert_eq!(Grid::from_json(&text).unwrap(), g);
    }

    #[test]
    fn rejects_bad_grids() {
        assert_eq!(Grid::new(0, vec![1.0]), Err(GridError::ZeroDim));
        assert_eq!(Grid::new(2, vec![]), Err(GridError::Empty));
        assert_eq!(
            Grid::new(2, vec![1.0; 3]),
            Err(GridError::Ragged { len: 3, dim: 2 })
        );
        assert_eq!(
            Grid::new(2, vec![1.0, 2.0, f32::NAN, 0.0]),
            Err(GridError::NonFinite { index: 1 })
        );
        assert!(matches!(
            Grid::from_json("[[1, 2], [3]]"),
            Err(GridError::Json(_))
        ));
        assert!(matches!(Grid::from_json("{}"), Err(GridError::Json(_))));
        assert_eq!(Grid::from_json("[]"), Err(GridError::Empty));
        assert_eq!(
            Grid::eden(2, 32),
            Err(GridError::NoEden { dim: 2, points: 32 })
        );
        assert_eq!(
            Grid::for_bits(4, 3),
            Err(GridError::NoEdenBits { dim: 4, bits: 3 })
        );
        assert_eq!(
            Grid::for_bits(2, u32::MAX),
            Err(GridError::NoEdenBits {
                dim: 2,
                bits: u32::MAX
            })
        );
    }
}
