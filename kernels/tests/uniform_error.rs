//! Known error levels of the uniform quantizer, derived, on uniform and Gaussian data: the
//! kernels' values are the reference's bit for bit (`tests/uniform.rs`), so the reference
//! is measured here for every width, and the kernels once more for one variant.
//!
//! The model: in a group with step `D = scale` (the stored f16 value), a value spread
//! evenly over its cell is reconstructed with an error uniform on `[-D/2, D/2]`, mean
//! square `D^2 / 12`. Each group's minimum and maximum land on codes 0 and `L` (up to the
//! f16 rounding of zero and scale) and contribute nothing, so the expected mean squared
//! error is `mean(D^2) / 12 * (G - 2) / G`.

mod common;

use aqua_dsl::DType;
use aqua_kernels::host::uniform::UniformKernels;
use aqua_kernels::quant::clvq::gaussian_samples;
use aqua_kernels::quant::{Grouping, Quantized, Uniform};
use aqua_runtime::HostBuffer;
use common::Rng;
use half::f16;

const G: usize = 64;
const N: usize = 1 << 16;

/// Measured mean squared error over the model's prediction.
fn ratio(x: &[f32], t: &Quantized) -> f64 {
    let y = t.dequantize().unwrap();
    let mse = x.iter().zip(&y).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / x.len() as f64;
    let step2 = t.scale.iter().map(|s| (s.to_f64()).powi(2)).sum::<f64>() / t.scale.len() as f64;
    mse / (step2 / 12.0 * (G - 2) as f64 / G as f64)
}

#[test]
fn uniform_data_has_the_uniform_quantizers_error() {
    // Uniform data is spread evenly over every cell at every width, so the model holds
    // for 1 to 8 bits. The sample mean of e^2 (e uniform) has a relative standard
    // deviation of 0.89 / sqrt(N) = 0.35%; the bounds are 1.5%, over 4 deviations, and
    // the f16 rounding of the scale (2^-11 relative, moving at most the top cell's values)
    // stays below 0.1%. Measured: within 0.5% at every width.
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..N).map(|_| rng.unit() * 2.0 - 1.0).collect();
    for bits in 1..=8 {
        let t = Uniform::new(bits, G).unwrap().quantize(&x, Grouping::Channels).unwrap();
        let r = ratio(&x, &t);
        assert!((0.985..1.015).contains(&r), "bits {bits}: mse / (D^2/12) = {r:.4}");
    }
}

#[test]
fn gaussian_data_follows_the_model_from_two_bits() {
    // From 2 bits the Gaussian density is close enough to flat over a cell that the model
    // holds within the sampling noise (0.35%) plus the density's curvature (measured
    // within 0.5% for 2 to 8 bits); the bounds are 3%. At 1 bit the two levels are the
    // group's extremes, about m -+ D/2 with D/2 = 2.4 standard deviations for 64 values,
    // and most values sit near the middle: the error is E[(D/2 - |x - m|)^2], about
    // (5.76 - 2 * 2.4 * 0.8 + 1) / (4.8^2 / 12) = 1.53 times the model (measured 1.51).
    let x = gaussian_samples(1, N, 17);
    for bits in 1..=8 {
        let t = Uniform::new(bits, G).unwrap().quantize(&x, Grouping::Channels).unwrap();
        let r = ratio(&x, &t);
        let bounds = if bits >= 2 { 0.97..1.03 } else { 1.4..1.65 };
        assert!(bounds.contains(&r), "bits {bits}: mse / (D^2/12) = {r:.4}");
    }
}

#[test]
fn kernels_measure_the_same_error() {
    // The 2-bit, group-64 kernels along channels and along tokens on uniform data: the
    // same model holds in both groupings (a token group is 64 values too).
    let mut rng = Rng::new(2);
    let x: Vec<f16> = (0..N).map(|_| f16::from_f32(rng.unit() * 2.0 - 1.0)).collect();
    let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let q = Uniform::new(2, G).unwrap();
    for grouping in [Grouping::Channels, Grouping::Tokens { channels: 256 }] {
        let k = UniformKernels::compile(common::cpu(), q, grouping, DType::F16).unwrap();
        let t = k
            .quantize(common::cpu(), &HostBuffer::from_slice(&x))
            .unwrap()
            .to_quantized()
            .unwrap();
        let r = ratio(&wide, &t);
        assert!((0.985..1.015).contains(&r), "{grouping:?}: mse / (D^2/12) = {r:.4}");
    }
}
