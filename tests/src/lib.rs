//! Shared pieces of aqua's cross-crate tests: a generator of random well-typed kernels and
//! the harness that runs one kernel on several backends and compares the results.

pub mod harness;
pub mod random_program;
pub mod reductions;
