//! The grids HIGGS quantizes with: the embedded EDEN grids (against the shared file, and
//! their known error on N(0, 1)), the nearest-point rule (ties to the lowest index, the
//! fast search equal to the brute force), JSON round trips, and the CLVQ generator
//! (reaching EDEN2-16's error; EDEN2-64 and EDEN2-256 in an ignored test:
//! `cargo test -p aqua-kernels --test grids -- --ignored`).

use std::path::Path;
use std::time::Instant;

use aqua_kernels::quant::clvq::{gaussian_samples, generate_grid, mse_per_coordinate, Effort};
use aqua_kernels::quant::grids::{Grid, EDEN};
use proptest::prelude::*;

/// Mean squared error per coordinate on N(0, 1) of each EDEN grid, measured offline on
/// 4 x 4e6 Gaussian vectors (standard error about 0.03%). DESIGN.md's "about" values
/// (0.107, 0.030, 0.0078, 0.096) agree to their stated precision (within 0.6%).
const EDEN_MSE: [((usize, usize), f64); 4] = [
    ((2, 16), 0.107629),
    ((2, 64), 0.029615),
    ((2, 256), 0.007748),
    ((4, 256), 0.096527),
];

/// Gaussian vectors for the error measurements in this file (fixed seed).
const SAMPLES: usize = 100_000;

#[test]
fn embedded_grids_have_their_shapes_and_the_shared_files_coordinates() {
    for (dim, points) in EDEN {
        let g = Grid::eden(dim, points).unwrap();
        assert_eq!(
            (g.dim(), g.len(), g.index_bits()),
            (dim, points, Some(points.trailing_zeros()))
        );
    }
    for (dim, bits, points) in [(2, 2, 16), (2, 3, 64), (2, 4, 256), (4, 2, 256)] {
        assert_eq!(Grid::for_bits(dim, bits).unwrap(), Grid::eden(dim, points).unwrap());
    }
    // CI has `../shared` beside the clone; elsewhere the comparison is skipped.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/eden_grids.json");
    let Ok(text) = std::fs::read_to_string(&shared) else {
        eprintln!(
            "{} not found: embedded grids not compared with the shared file",
            shared.display()
        );
        return;
    };
    let all: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    for (dim, points) in EDEN {
        let name = format!("EDEN{dim}-{points}");
        let shared: Vec<Vec<f64>> = serde_json::from_value(all[&name].clone()).unwrap();
        let embedded = Grid::eden(dim, points).unwrap();
        for (i, p) in shared.iter().enumerate() {
            // Every shared coordinate is an f32 value written in full; serde_json's default
            // parser may miss the nearest f64 by an ulp, which rounding to f32 undoes.
            let narrowed: Vec<f32> = p.iter().map(|&c| c as f32).collect();
            assert_eq!(embedded.point(i), &narrowed[..], "{name} point {i}");
        }
    }
}

#[test]
fn eden_grids_have_their_known_error_on_gaussian_data() {
    for ((dim, points), known) in EDEN_MSE {
        let g = Grid::eden(dim, points).unwrap();
        let mse = mse_per_coordinate(&g, &gaussian_samples(dim, SAMPLES, 7)).unwrap();
        // 1e5 vectors estimate the error with a relative standard deviation of at most
        // 0.7% (measured over 10 seeds for each grid): 2.5% is over 3.5 standard deviations.
        let rel = (mse / known - 1.0).abs();
        assert!(rel < 0.025, "EDEN{dim}-{points}: mse {mse:.6}, known {known:.6}");
    }
}

#[test]
fn nearest_ties_go_to_the_lowest_index() {
    // Points 0 and 2 coincide; the origin is at distance 1 from points 0, 1, 2, and
    // (-0.5, 1.5) at distance 2.5 from points 1 and 3 (their scores equal exactly in f32).
    let g = Grid::new(2, vec![1.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 3.0]).unwrap();
    let search = g.search();
    for (query, want) in [
        ([0.0, 0.0], 0),
        ([1.0, 0.0], 0),
        ([-0.5, 0.0], 1),
        ([0.0, 2.0], 3),
        ([-0.5, 1.5], 1),
    ] {
        assert_eq!(g.nearest(&query), want, "{query:?}");
        assert_eq!(search.nearest(&query), want, "{query:?} (fast search)");
    }
    // A NaN coordinate makes every score NaN: index 0. An infinite one makes scores
    // infinite (`inf * p_c`) or NaN (`inf * 0`): the first of the lowest wins.
    for (query, want) in [([f32::NAN, 0.0], 0), ([0.0, f32::INFINITY], 3), ([f32::NEG_INFINITY, 3.0], 1)] {
        assert_eq!((g.nearest(&query), search.nearest(&query)), (want, want), "{query:?}");
    }
}

/// Grids with coordinates on a coarse lattice, so duplicate points and equal distances
/// (the tie rule) are common.
fn lattice_grid() -> impl Strategy<Value = Grid> {
    (1usize..=4).prop_flat_map(|dim| {
        prop::collection::vec(-4i8..=4, dim..=dim * 40).prop_map(move |mut c| {
            c.truncate(c.len() / dim * dim);
            Grid::new(dim, c.into_iter().map(|v| v as f32 * 0.5).collect()).unwrap()
        })
    })
}

proptest! {
    #[test]
    fn fast_search_equals_brute_force(grid in lattice_grid(), seed in prop::collection::vec(-12i8..=12, 40)) {
        let search = grid.search();
        let d = grid.dim();
        for q in seed.chunks_exact(d) {
            // Lattice queries (ties) and off-lattice ones.
            for scale in [0.25f32, 0.3] {
                let v: Vec<f32> = q.iter().map(|&c| c as f32 * scale).collect();
                prop_assert_eq!(search.nearest(&v), grid.nearest(&v), "query {:?}", v);
            }
        }
    }

    #[test]
    fn json_round_trip_keeps_every_bit(grid in lattice_grid(), jitter in -1.0f32..1.0) {
        let g = Grid::new(grid.dim(), grid.points().iter().map(|c| c * (1.0 + jitter / 3.0) + jitter).collect()).unwrap();
        prop_assert_eq!(Grid::from_json(&g.to_json()).unwrap(), g);
    }
}

#[test]
fn fast_search_equals_brute_force_on_the_eden_grids() {
    for (dim, points) in EDEN {
        let g = Grid::eden(dim, points).unwrap();
        let search = g.search();
        for v in gaussian_samples(dim, 20_000, 3).chunks_exact(dim) {
            assert_eq!(search.nearest(v), g.nearest(v), "EDEN{dim}-{points}, query {v:?}");
            // Far queries, where a score's rounding error is large: the search's floor
            // must allow for it.
            for far in [1e3f32, 1e9, 1e25] {
                let v: Vec<f32> = v.iter().map(|c| c * far).collect();
                assert_eq!(search.nearest(&v), g.nearest(&v), "EDEN{dim}-{points}, query {v:?}");
            }
        }
    }
}

/// CLVQ's error relative to the EDEN grid's, on the same Gaussian vectors.
fn clvq_vs_eden(points: usize, samples: usize) -> (f64, f64, f64) {
    let start = Instant::now();
    let grid = generate_grid(2, points, 1, Effort::for_points(points)).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!((grid.dim(), grid.len()), (2, points));
    // A sample set the generator never saw (its own samples come from seed 1).
    let eval = gaussian_samples(2, samples, 2024);
    let ours = mse_per_coordinate(&grid, &eval).unwrap();
    let eden = mse_per_coordinate(&Grid::eden(2, points).unwrap(), &eval).unwrap();
    eprintln!(
        "CLVQ 2-{points}: mse {ours:.6}, EDEN {eden:.6}, ratio {:.4}, {seconds:.2}s",
        ours / eden
    );
    (ours, eden, seconds)
}

#[test]
fn clvq_reaches_eden2_16() {
    // The requirement: within 1%. Both grids are measured on the same vectors, which
    // cancels most of the sampling noise of the comparison.
    let (ours, eden, _) = clvq_vs_eden(16, SAMPLES);
    assert!(ours < 1.01 * eden, "CLVQ 2-16 mse {ours:.6} vs EDEN2-16 {eden:.6}");
}

#[test]
#[ignore = "several seconds (2 to 8 in the dev profile): run with -- --ignored"]
fn clvq_reaches_eden2_64_and_eden2_256() {
    for points in [64, 256] {
        let (ours, eden, _) = clvq_vs_eden(points, 1_000_000);
        assert!(ours < 1.01 * eden, "CLVQ 2-{points} mse {ours:.6} vs EDEN {eden:.6}");
    }
}

#[test]
fn clvq_is_deterministic_whatever_the_thread_count() {
    let effort = Effort {
        restarts: 3,
        steps_per_point: 200,
        lloyd_samples_per_point: 10_000,
        lloyd_iterations: 7,
    };
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| generate_grid(3, 8, 42, effort).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_ne!(one, generate_grid(3, 8, 43, effort).unwrap());
    // A grid in any dimension, written as JSON and read back.
    assert_eq!(Grid::from_json(&one.to_json()).unwrap(), one);
}

#[test]
fn clvq_rejects_empty_shapes() {
    assert!(generate_grid(0, 16, 1, Effort::for_points(16)).is_err());
    assert!(generate_grid(2, 0, 1, Effort::for_points(1)).is_err());
    assert!(mse_per_coordinate(&Grid::eden(2, 16).unwrap(), &[0.0; 3]).is_err());
}
