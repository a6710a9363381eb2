//! Gaussian-optimal grids for any dimension and size, by competitive-learning vector
//! quantization (CLVQ, Pagès and Printems' stochastic Lloyd algorithm), and the measure
//! they are judged by. Behind `aqua grid --dim D --points N -o FILE`.
//!
//! [`generate_grid`] works in three phases:
//!
//! 1. start from `n` samples of `N(0, (d + 2) / d I)`, the high-resolution optimal point
//!    density for the standard Gaussian (`f^(d / (d + 2))`, itself a Gaussian), so the
//!    points start roughly where they belong and only local moves remain;
//! 2. CLVQ: for each new standard Gaussian sample `z`, move its nearest point `p` to
//!    `p + g (z - p)`, with a step `g` that shrinks as that point wins samples ([`step`]);
//! 3. Lloyd: on one large fixed sample set, alternately assign every sample to its nearest
//!    point and move every point to the mean of its samples.
//!
//! Lloyd and CLVQ only reach a local optimum, and for small grids the local optima differ
//! by a few tenths of a percent to a percent. So phases 1 and 2, and a few Lloyd
//! iterations, run `restarts` times from different seeds; the grid with the smallest error
//! on the sample set goes on to the remaining Lloyd iterations.
//!
//! Everything is deterministic for a seed (and a version of the `rand` crates): restarts
//! get seeds drawn from it, and parallel work (restarts, and chunks of the sample set) is
//! combined in a fixed order, so the thread count does not change the result. With
//! [`Effort::for_points`] the grids for d = 2, n = 16, 64, 256 are within 1% of the
//! published EDEN grids' error (`kernels/tests/grids.rs`). [`Grid::to_json`] writes a grid
//! in the format of the shared `eden_grids.json` entries.

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::grids::{distance, scan_outward, Grid, GridError, NearestSearch};

/// How much work [`generate_grid`] does; the costs scale with the number of points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effort {
    /// Independent starts (phases 1, 2 and [`POLISH`] Lloyd iterations each); the best is
    /// kept. At least one runs.
    pub restarts: usize,
    /// Stochastic updates per grid point.
    pub steps_per_point: usize,
    /// Gaussian samples per grid point in the Lloyd phase's sample set.
    pub lloyd_samples_per_point: usize,
    /// Lloyd iterations in all (the polish included).
    pub lloyd_iterations: usize,
}

impl Effort {
    /// The effort for a grid of `points` points: 16000 stochastic steps and 2000 Lloyd
    /// samples per point, 20 Lloyd iterations, and `256 / points` restarts (1 to 8), since
    /// local optima differ more for small grids, and small grids are cheap. For d = 2 this
    /// reaches the EDEN grids' error to within 0.5% for n = 16, 64, 256 and takes about
    /// 0.4, 1.2 and 2.2 seconds on one core (release build).
    pub fn for_points(points: usize) -> Effort {
        Effort {
            restarts: (256 / points.max(1)).clamp(1, 8),
            steps_per_point: 16000,
            lloyd_samples_per_point: 2000,
            lloyd_iterations: 20,
        }
    }
}

/// Lloyd iterations each restart gets before the restarts are compared.
pub const POLISH: usize = 5;

/// Samples per parallel chunk: fixed, so results do not depend on the thread count.
const CHUNK: usize = 1 << 14;

/// A grid of `points` points in dimension `dim` for the standard Gaussian.
pub fn generate_grid(dim: usize, points: usize, seed: u64, effort: Effort) -> Result<Grid, GridError> {
    if dim == 0 {
        return Err(GridError::ZeroDim);
    }
    if points == 0 {
        return Err(GridError::Empty);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let samples = gaussian_samples(
        dim,
        points.saturating_mul(effort.lloyd_samples_per_point).max(1),
        rng.next_u64(),
    );
    let seeds: Vec<u64> = (0..effort.restarts.max(1)).map(|_| rng.next_u64()).collect();
    let polish = POLISH.min(effort.lloyd_iterations);
    let starts: Vec<(Vec<f32>, f64)> = seeds
        .par_iter()
        .map(|&seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let spread = ((dim + 2) as f32 / dim as f32).sqrt();
            let start: Vec<f32> = (0..points * dim).map(|_| spread * gaussian(&mut rng)).collect();
            let mut grid = stochastic(start, dim, points.saturating_mul(effort.steps_per_point), &mut rng);
            for _ in 0..polish {
                lloyd_step(&mut grid, dim, &samples);
            }
            let err = assign(&grid, dim, &samples).err;
            (grid, err)
        })
        .collect();
    // The first of the best on ties; errors are finite (finite grids and samples).
    let (mut grid, _) = starts
        .into_iter()
        .reduce(|a, b| if b.1 < a.1 { b } else { a })
        .expect("one restart at least");
    for _ in polish..effort.lloyd_iterations {
        lloyd_step(&mut grid, dim, &samples);
    }
    Grid::new(dim, grid)
}

/// The CLVQ step for a point that has won `wins` samples before this one,
/// `1 / sqrt(wins + 2)`. A step of `1 / (wins + 2)` would make the point the running mean of
/// the samples it won (its start counted once), remembering its early, poorly assigned
/// samples forever; the slower decay forgets them and keeps the points moving longer (an
/// annealing). Of the exponents tried (0.3 to 1, EDEN2-256, same work), 0.4 to 0.5 gave
/// the smallest error after the Lloyd phase (0.1% to 0.5% above EDEN's; 2.4% for 1).
pub fn step(wins: u32) -> f32 {
    1.0 / (wins as f32 + 2.0).sqrt()
}

/// Phase 2 from the grid `start`; returns the moved grid.
fn stochastic(start: Vec<f32>, dim: usize, steps: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut moving = Moving::new(start, dim);
    let mut z = vec![0.0f32; dim];
    for _ in 0..steps {
        z.iter_mut().for_each(|c| *c = gaussian(rng));
        let k = moving.nearest(&z);
        moving.pull(k, &z);
    }
    moving.coords
}

/// The grid during the stochastic phase, kept sorted by first coordinate so the nearest
/// point is found by [`NearestSearch`]'s pruned scan although points move: a step moves one
/// point a little, and a few swaps restore the order.
struct Moving {
    dim: usize,
    /// Points sorted by first coordinate.
    coords: Vec<f32>,
    /// Samples each point has won, in the same order.
    wins: Vec<u32>,
}

impl Moving {
    fn new(coords: Vec<f32>, dim: usize) -> Moving {
        let mut points: Vec<&[f32]> = coords.chunks_exact(dim).collect();
        points.sort_by(|a, b| a[0].total_cmp(&b[0]));
        let coords = points.concat();
        let wins = vec![0; coords.len() / dim];
        Moving { dim, coords, wins }
    }

    fn first(&self, k: usize) -> f32 {
        self.coords[k * self.dim]
    }

    /// Position of a nearest point (any of equally near ones).
    fn nearest(&self, v: &[f32]) -> usize {
        let (d, n) = (self.dim, self.wins.len());
        let start = partition_point(n, |k| self.first(k) < v[0]);
        let mut best = (0, f32::INFINITY);
        let visit = |k: usize| {
            let t = v[0] - self.first(k);
            if t * t > best.1 {
                return false;
            }
            let dist = distance(v, &self.coords[k * d..(k + 1) * d]);
            if dist < best.1 {
                best = (k, dist);
            }
            true
        };
        scan_outward(n, start, visit);
        best.0
    }

    /// Moves point `k` towards `z` by its step, then restores the order.
    fn pull(&mut self, mut k: usize, z: &[f32]) {
        let d = self.dim;
        let g = step(self.wins[k]);
        self.wins[k] = self.wins[k].saturating_add(1);
        for (p, &c) in self.coords[k * d..(k + 1) * d].iter_mut().zip(z) {
            *p += g * (c - *p);
        }
        while k > 0 && self.first(k - 1) > self.first(k) {
            self.swap(k - 1, k);
            k -= 1;
        }
        while k + 1 < self.wins.len() && self.first(k + 1) < self.first(k) {
            self.swap(k, k + 1);
            k += 1;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        let d = self.dim;
        for c in 0..d {
            self.coords.swap(a * d + c, b * d + c);
        }
        self.wins.swap(a, b);
    }
}

/// The first `k` in `0..n` where `pred` is false (`pred` true on a prefix).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Per-point sample sums and counts of one assignment, and its total squared error.
struct Cells {
    sums: Vec<f64>,
    counts: Vec<u64>,
    err: f64,
}

/// Assigns every sample to its nearest point (the rule of [`Grid::nearest`]).
fn assign(grid: &[f32], dim: usize, samples: &[f32]) -> Cells {
    let n = grid.len() / dim;
    let search = NearestSearch::new(Grid::new(dim, grid.to_vec()).expect("generated grids are finite"));
    let parts: Vec<Cells> = samples
        .par_chunks(CHUNK * dim)
        .map(|chunk| {
            let mut cells = Cells {
                sums: vec![0.0; n * dim],
                counts: vec![0; n],
                err: 0.0,
            };
            for v in chunk.chunks_exact(dim) {
                let i = search.nearest(v) as usize;
                cells.counts[i] += 1;
                let (sums, p) = (&mut cells.sums[i * dim..(i + 1) * dim], &grid[i * dim..(i + 1) * dim]);
                for ((s, &c), &q) in sums.iter_mut().zip(v).zip(p) {
                    *s += c as f64;
                    cells.err += (c as f64 - q as f64).powi(2);
                }
            }
            cells
        })
        .collect();
    let mut total = Cells {
        sums: vec![0.0; n * dim],
        counts: vec![0; n],
        err: 0.0,
    };
    for part in parts {
        total.sums.iter_mut().zip(part.sums).for_each(|(a, b)| *a += b);
        total.counts.iter_mut().zip(part.counts).for_each(|(a, b)| *a += b);
        total.err += part.err;
    }
    total
}

/// One Lloyd iteration: every point that wins samples moves to their mean.
fn lloyd_step(grid: &mut [f32], dim: usize, samples: &[f32]) {
    let cells = assign(grid, dim, samples);
    for (i, &count) in cells.counts.iter().enumerate() {
        if count > 0 {
            for k in 0..dim {
                grid[i * dim + k] = (cells.sums[i * dim + k] / count as f64) as f32;
            }
        }
    }
}

fn gaussian(rng: &mut StdRng) -> f32 {
    rng.sample(StandardNormal)
}

/// `count` standard Gaussian vectors of `dim` coordinates, flat, for a seed.
pub fn gaussian_samples(dim: usize, count: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count * dim).map(|_| gaussian(&mut rng)).collect()
}

/// Mean squared error per coordinate of quantizing `samples` (flat vectors of the grid's
/// dimension) to their nearest grid points, accumulated in f64.
pub fn mse_per_coordinate(grid: &Grid, samples: &[f32]) -> Result<f64, GridError> {
    let dim = grid.dim();
    if samples.is_empty() || !samples.len().is_multiple_of(dim) {
        return Err(GridError::Ragged {
            len: samples.len(),
            dim,
        });
    }
    Ok(assign(grid.points(), dim, samples).err / samples.len() as f64)
}
