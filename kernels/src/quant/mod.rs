//! Quantizers in plain Rust: the references the kernels are tested against, and the
//! storage accounting used to compare them.

pub mod bits;
pub mod clvq;
pub mod grids;
pub mod hadamard;
pub mod higgs;
pub mod pack;
pub mod uniform;

pub use bits::{bits_per_value, Storage};
pub use uniform::{relative_error, Quantized, Uniform, UniformError};
