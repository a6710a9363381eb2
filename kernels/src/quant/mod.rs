//! Quantizers in plain Rust: the references the kernels are tested against, and the
//! storage accounting used to compare them.

pub mod bits;
pub mod cells;
pub mod clvq;
pub mod element;
pub mod grids;
pub mod hadamard;
pub mod higgs;
pub mod pack;
pub mod uniform;

pub use bits::{bits_per_value, Storage};
pub use element::Element;
pub use uniform::{Grouping, Quantized, Uniform, UniformError};

/// `||x^ - x||^2 / ||x||^2`, accumulated in f64.
pub fn relative_error(x: &[f32], x_hat: &[f32]) -> f64 {
    let (mut err, mut norm) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(x_hat) {
        err += (b as f64 - a as f64).powi(2);
        norm += (a as f64).powi(2);
    }
    err / norm
}
