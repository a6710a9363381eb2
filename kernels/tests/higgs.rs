//! The HIGGS reference: the fast Walsh-Hadamard transform against the matrix, the codes of
//! a group against the formula computed independently, the error on Gaussian and on real
//! KV data against the grids' known error, degenerate and non-finite groups, partial
//! groups, packing widths and bits per value.

use aqua_kernels::data::KvSlice;
use aqua_kernels::quant::clvq::{gaussian_samples, generate_grid, Effort};
use aqua_kernels::quant::grids::Grid;
use aqua_kernels::quant::hadamard::{fwht, fwht_groups, Stages};
use aqua_kernels::quant::higgs::{Higgs, HiggsConfig, HiggsError};
use aqua_kernels::quant::{bits_per_value, pack, relative_error};
use half::f16;
use proptest::prelude::*;

/// `(dim, points)` of the EDEN grids and their mean squared error per coordinate on
/// N(0, 1) (see `tests/grids.rs`).
const GRIDS: [((usize, usize), f64); 4] = [
    ((2, 16), 0.107629),
    ((2, 64), 0.029615),
    ((2, 256), 0.007748),
    ((4, 256), 0.096527),
];

/// `H x` by the matrix, `H[i][j] = (-1)^popcount(i & j)`, in f64.
fn hadamard_naive(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            x.iter()
                .enumerate()
                .map(|(j, &v)| if (i & j).count_ones() % 2 == 0 { v } else { -v })
                .sum()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Small integers keep every partial sum exact in f32, so the comparison is exact.
    #[test]
    fn fwht_is_the_hadamard_matrix(log_n in 0u32..=10, seed in prop::collection::vec(-8i32..=8, 1024)) {
        let n = 1usize << log_n;
        let mut x: Vec<f32> = seed[..n].iter().map(|&v| v as f32).collect();
        let want = hadamard_naive(&seed[..n].iter().map(|&v| v as f64).collect::<Vec<_>>());
        let mut y = x.clone();
        fwht(&mut x, Stages::Descending).unwrap();
        fwht(&mut y, Stages::Ascending).unwrap();
        prop_assert_eq!(x.iter().map(|&v| v as f64).collect::<Vec<_>>(), want.clone());
        prop_assert_eq!(y.iter().map(|&v| v as f64).collect::<Vec<_>>(), want);
    }

    /// `H H = n I`, exactly for small integers (|H H x| <= 2^23).
    #[test]
    fn fwht_twice_is_n_times_the_input(log_n in 0u32..=10, seed in prop::collection::vec(-8i32..=8, 1024)) {
        let n = 1usize << log_n;
        let x: Vec<f32> = seed[..n].iter().map(|&v| v as f32).collect();
        let mut y = x.clone();
        fwht(&mut y, Stages::Descending).unwrap();
        fwht(&mut y, Stages::Ascending).unwrap();
        prop_assert_eq!(y, x.iter().map(|v| v * n as f32).collect::<Vec<_>>());
    }

    /// `||H x||^2 = n ||x||^2`. Each output is a sum of `n` terms through log2(n) <= 10
    /// roundings of relative size 2^-24, so 1e-5 relative is loose but catches any error in
    /// the transform (a wrong sign or pair moves the norm by far more).
    #[test]
    fn fwht_scales_norms_by_sqrt_n(log_n in 5u32..=10, seed in prop::collection::vec(-1.0f32..1.0, 1024)) {
        let n = 1usize << log_n;
        let mut y = seed[..n].to_vec();
        fwht(&mut y, Stages::Descending).unwrap();
        let norm = |v: &[f32]| v.iter().map(|&c| c as f64 * c as f64).sum::<f64>();
        let ratio = norm(&y) / (n as f64 * norm(&seed[..n]));
        prop_assert!((ratio - 1.0).abs() < 1e-5, "ratio {}", ratio);
    }

    /// Scaling the input by a power of two scales the stored scale and nothing else (every
    /// f32 step commutes with it while no value leaves the normal range).
    #[test]
    fn codes_do_not_depend_on_a_power_of_two_scale(seed in prop::collection::vec(-4.0f32..4.0, 128), shift in -6i32..=6) {
        let q = Higgs::new(64, 2, 64).unwrap();
        let c = 2f32.powi(shift);
        let (a, b) = (q.quantize(&seed), q.quantize(&seed.iter().map(|v| v * c).collect::<Vec<_>>()));
        prop_assert_eq!(&a.codes, &b.codes);
        let scaled: Vec<f16> = a.scale.iter().map(|s| f16::from_f32(s.to_f32() * c)).collect();
        prop_assert_eq!(b.scale, scaled);
    }
}

#[test]
fn grouped_fwht_transforms_each_group() {
    let x: Vec<f32> = (0..256).map(|i| ((i * 37) % 17) as f32 - 8.0).collect();
    let mut grouped = x.clone();
    fwht_groups(&mut grouped, 64, Stages::Descending).unwrap();
    for (g, chunk) in x.chunks(64).enumerate() {
        let mut one = chunk.to_vec();
        fwht(&mut one, Stages::Descending).unwrap();
        assert_eq!(&grouped[g * 64..(g + 1) * 64], &one[..], "group {g}");
    }
}

#[test]
fn codes_and_values_follow_the_formula() {
    // One group of 32 values, EDEN2-16, recomputed without the module: the scale from the
    // f64 norm, y by the Hadamard matrix in f64, codes by brute-force nearest.
    let q = Higgs::new(32, 2, 16).unwrap();
    let grid = Grid::eden(2, 16).unwrap();
    let x: Vec<f32> = gaussian_samples(1, 32, 11).iter().map(|v| v * 0.7 + 0.1).collect();
    let t = q.quantize(&x);
    let norm = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
    assert_eq!(t.scale, vec![f16::from_f64(norm)]);
    let s = t.scale[0].to_f64();
    let y: Vec<f32> = hadamard_naive(&x.iter().map(|&v| v as f64).collect::<Vec<_>>())
        .iter()
        .map(|v| (v / s) as f32)
        .collect();
    let want: Vec<u32> = y.chunks(2).map(|v| grid.nearest(v)).collect();
    assert_eq!(pack::unpack(&t.codes, 4, 16).unwrap(), want);
    // x^ = H (grid[code] s) / H, by the matrix in f64; f32 rounding in the fast path is
    // far below 1e-5 of the scale.
    let g: Vec<f64> = want
        .iter()
        .flat_map(|&c| grid.point(c as usize).iter().map(|&p| p as f64 * s))
        .collect();
    let x_hat: Vec<f64> = hadamard_naive(&g).iter().map(|v| v / 32.0).collect();
    for (got, want) in q.dequantize(&t).unwrap().iter().zip(&x_hat) {
        assert!((*got as f64 - want).abs() < 1e-5 * s, "{got} vs {want}");
    }
}

#[test]
fn error_on_gaussian_data_is_the_grids_error() {
    // Relative error = the grid's error on y = H x / ||x||, uniform on the sphere of radius
    // sqrt(H), whose coordinates are Gaussian up to O(1/H): about 2% less error at H = 64,
    // 0.3% at H = 1024. 2^17 values (2^16 pairs) estimate an error to about 0.6% (one
    // standard deviation), so: H = 1024 within 2.5% of the Gaussian value; H = 64 between
    // 5% below and 2.5% above it. The data's own scale (3) must not matter.
    let x: Vec<f32> = gaussian_samples(1, 1 << 17, 5).iter().map(|v| v * 3.0).collect();
    for ((dim, points), mse) in GRIDS {
        for (group, low) in [(64, 0.95), (1024, 0.975)] {
            let q = Higgs::new(group, dim, points).unwrap();
            let err = relative_error(&x, &q.dequantize(&q.quantize(&x)).unwrap());
            assert!(
                (low * mse..1.025 * mse).contains(&err),
                "EDEN{dim}-{points}, group {group}: relative error {err:.6}, grid error {mse:.6}"
            );
        }
    }
}

#[test]
fn error_on_real_kv_is_near_the_grids_error() {
    // Real keys and values are far from Gaussian (outlier channels, per-head structure);
    // the rotation brings the error to the grid's Gaussian error. Measured over the bundled
    // slice's 8 layers, one group per head (H = 64): between 0.87 and 1.01 times the
    // Gaussian error for every layer, K and V, and grid. The bounds, 0.8 to 1.1, leave room
    // for other data and still catch a broken rotation, scale or packing.
    let kv = KvSlice::bundled().unwrap();
    for ((dim, points), mse) in GRIDS {
        let q = Higgs::new(64, dim, points).unwrap();
        for layer in &kv.layers {
            for (name, values) in [("k", &layer.k), ("v", &layer.v)] {
                let x: Vec<f32> = values.iter().map(|v| v.to_f32()).collect();
                let t = q.quantize_as(values);
                let err = relative_error(&x, &q.dequantize(&t).unwrap());
                assert!(
                    (0.8 * mse..1.1 * mse).contains(&err),
                    "layer {} {name}, EDEN{dim}-{points}: relative error {err:.6}, grid error {mse:.6}",
                    layer.layer
                );
            }
        }
    }
}

#[test]
fn zero_tiny_and_non_finite_groups() {
    let q = Higgs::new(32, 2, 64).unwrap();
    let mut x = vec![0.0f32; 32]; // group 0: all zero
    x.extend([1e-9f32; 32]); // group 1: norm 5.7e-9 rounds to f16 zero
    x.extend((0..32).map(|i| i as f32 - 15.5)); // group 2: ordinary
    let mut bad = vec![0.5f32; 32];
    bad[7] = f32::NAN; // group 3
    x.extend(bad);
    let mut inf = vec![0.5f32; 32];
    inf[31] = f32::NEG_INFINITY; // group 4
    x.extend(inf);
    let t = q.quantize(&x);
    assert_eq!(&t.scale[..2], &[f16::ZERO, f16::ZERO]);
    assert!(t.scale[2].to_f32() > 0.0);
    assert!(t.scale[3].is_nan(), "a NaN value makes the norm NaN");
    assert_eq!(t.scale[4], f16::MAX, "an infinite value saturates the scale");
    let codes = t.unpacked_all().unwrap();
    for g in [0, 1, 3] {
        assert!(codes[g * 16..(g + 1) * 16].iter().all(|&c| c == 0), "group {g} codes");
    }
    // Group 4 rotates to coordinates of +-inf (the transform of one infinity): each
    // tuple's point lies in its quadrant, the direction of the lowest (`-inf`) scores.
    let mut y: Vec<f32> = x[128..].iter().map(|v| v / 65504.0).collect();
    fwht(&mut y, Stages::Descending).unwrap();
    let grid = q.grid();
    for (j, &c) in codes[64..80].iter().enumerate() {
        let (tuple, p) = (&y[2 * j..2 * j + 2], grid.point(c as usize));
        assert!(tuple.iter().all(|v| v.is_infinite()), "tuple {j}: {tuple:?}");
        assert!(tuple.iter().zip(p).all(|(v, p)| v.signum() == p.signum()), "tuple {j}: {tuple:?} got point {p:?}");
    }
    let y = q.dequantize(&t).unwrap();
    assert!(y[..64].iter().all(|&v| v == 0.0), "zero groups give zeros");
    assert!(y[64..96].iter().all(|v| v.is_finite()));
    assert!(y[96..128].iter().all(|v| v.is_nan()), "a NaN group gives NaN");
    assert!(
        y[128..].iter().all(|v| v.is_finite()),
        "an infinite group gives finite values"
    );
    // The ordinary group is unaffected by its neighbours.
    assert_eq!(q.dequantize(&q.quantize(&x[64..96])).unwrap(), y[64..96].to_vec());
}

#[test]
fn a_norm_beyond_f16_saturates_and_stays_finite() {
    // 1024 values of 60000: the norm 1.9e6 is beyond f16; the scale saturates at f16::MAX.
    let q = Higgs::new(1024, 2, 256).unwrap();
    let x = vec![f16::from_f32(60000.0); 1024];
    let t = q.quantize_as(&x);
    assert_eq!(t.scale, vec![f16::MAX]);
    assert!(q.dequantize(&t).unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn a_partial_last_group_is_the_zero_padded_group() {
    let q = Higgs::new(64, 4, 256).unwrap();
    let x: Vec<f32> = gaussian_samples(1, 100, 9);
    let mut padded = x.clone();
    padded.resize(128, 0.0);
    let (t, p) = (q.quantize(&x), q.quantize(&padded));
    assert_eq!((t.codes.clone(), t.scale.clone()), (p.codes.clone(), p.scale.clone()));
    let y = q.dequantize(&t).unwrap();
    assert_eq!(y.len(), 100);
    assert_eq!(y, q.dequantize(&p).unwrap()[..100].to_vec());
}

#[test]
fn packing_widths_and_bits_per_value() {
    // (dim, points) -> code bits; 64 values in one group of 64.
    for ((dim, points), (bits, per_value)) in [
        ((2, 16), (4, 2.0)),
        ((2, 64), (6, 3.0)),
        ((2, 256), (8, 4.0)),
        ((4, 256), (8, 2.0)),
    ] {
        let q = Higgs::new(64, dim, points).unwrap();
        let c = q.config();
        assert_eq!(c.index_bits(), bits);
        // Many groups fill whole packing units: log2(points) / dim + 16 / 64.
        assert_eq!(bits_per_value(&c.storage(64 * 64)), per_value + 0.25);
        let t = q.quantize(&gaussian_samples(1, 64, 1));
        // 64 / dim codes of `bits` bits, whole units of 32 codes: one group of EDEN4-256
        // (16 codes) pays for a half-empty unit, and the count includes it.
        assert_eq!(t.codes.len(), (64 / dim).div_ceil(32) * bits as usize);
        assert_eq!(bits_per_value(&t.storage()), (t.codes.len() * 32 + 16) as f64 / 64.0);
        assert!(t.unpacked_all().unwrap().iter().all(|&code| (code as usize) < points));
    }
    // Group 1024, 2 bits per value: 512 codes of 4 bits (64 words) and one scale.
    let c = HiggsConfig::new(1024, 2, 16).unwrap();
    assert_eq!(
        (c.code_words(1024), c.groups(1024), c.storage(1024).total_bits()),
        (64, 1, 64 * 32 + 16)
    );
}

#[test]
fn f16_input_is_widened_exactly() {
    let q = Higgs::new(64, 2, 256).unwrap();
    let x: Vec<f16> = gaussian_samples(1, 192, 4).iter().map(|&v| f16::from_f32(v)).collect();
    let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let t = q.quantize_as(&x);
    assert_eq!(t, q.quantize(&wide));
    let rounded: Vec<f16> = q.dequantize(&t).unwrap().into_iter().map(f16::from_f32).collect();
    assert_eq!(q.dequantize_as::<f16>(&t).unwrap(), rounded);
}

#[test]
fn a_generated_grid_works_like_an_eden_grid() {
    let grid = generate_grid(2, 16, 3, Effort::for_points(16)).unwrap();
    let (ours, eden) = (Higgs::with_grid(256, grid).unwrap(), Higgs::new(256, 2, 16).unwrap());
    let x = gaussian_samples(1, 1 << 15, 8);
    let err = |q: &Higgs| relative_error(&x, &q.dequantize(&q.quantize(&x)).unwrap());
    // The grids are within 1% of each other on N(0, 1) (tests/grids.rs); 3% allows for the
    // sampling noise of 2^14 pairs.
    assert!(
        (err(&ours) / err(&eden) - 1.0).abs() < 0.03,
        "{} vs {}",
        err(&ours),
        err(&eden)
    );
}

#[test]
fn rejects_bad_configurations_and_data() {
    assert_eq!(
        HiggsConfig::new(48, 2, 16),
        Err(HiggsError::Group { group: 48, dim: 2 })
    );
    assert_eq!(HiggsConfig::new(2, 4, 256), Err(HiggsError::Group { group: 2, dim: 4 }));
    assert_eq!(HiggsConfig::new(64, 2, 48), Err(HiggsError::Points(48)));
    assert_eq!(HiggsConfig::new(64, 2, 512), Err(HiggsError::Points(512)));
    assert!(matches!(Higgs::new(64, 2, 32), Err(HiggsError::Grid(_))));
    let q = Higgs::new(64, 2, 16).unwrap();
    let mut t = q.quantize(&[1.0; 64]);
    let other = Higgs::new(32, 2, 16).unwrap();
    assert!(matches!(other.dequantize(&t), Err(HiggsError::Mismatch { .. })));
    t.codes.pop();
    assert_eq!(
        q.dequantize(&t),
        Err(HiggsError::Length {
            what: "codes",
            got: 3,
            expected: 4
        })
    );
    t.config.dim = 0;
    assert!(matches!(t.check(), Err(HiggsError::Group { .. })));
}
