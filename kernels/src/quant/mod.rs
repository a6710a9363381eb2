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

/// A tensor quantized by either method, as the references hold it: what a compressed
/// cache stores.
#[derive(Clone, Debug, PartialEq)]
pub enum Code {
    Uniform(Quantized),
    Higgs(higgs::HiggsQuantized),
}

impl Code {
    /// Values encoded.
    pub fn len(&self) -> usize {
        match self {
            Code::Uniform(q) => q.n,
            Code::Higgs(q) => q.n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What it stores.
    pub fn storage(&self) -> Storage {
        match self {
            Code::Uniform(q) => q.storage(),
            Code::Higgs(q) => q.storage(),
        }
    }
}

/// `||x^ - x||^2 / ||x||^2`, accumulated in f64.
pub fn relative_error(x: &[f32], x_hat: &[f32]) -> f64 {
    let mut sum = ErrorSum::default();
    sum.add(x, x_hat);
    sum.relative()
}

/// [`relative_error`] over several tensors taken as one: squared errors and squared norms
/// summed in f64.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorSum {
    err: f64,
    norm: f64,
}

impl ErrorSum {
    pub fn add(&mut self, x: &[f32], x_hat: &[f32]) {
        for (&a, &b) in x.iter().zip(x_hat) {
            self.err += (b as f64 - a as f64).powi(2);
            self.norm += (a as f64).powi(2);
        }
    }

    /// `sum ||x^ - x||^2 / sum ||x||^2`.
    pub fn relative(&self) -> f64 {
        self.err / self.norm
    }
}
