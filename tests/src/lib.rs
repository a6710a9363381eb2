//! Shared pieces of aqua's cross-crate tests: a generator of random well-typed kernels, the
//! harness that runs one kernel on several backends and compares the results, and the
//! registry kernels run on a GPU backend against the CPU, and the runtimes they run on.

pub mod floats;
pub mod harness;
pub mod random_program;
pub mod reductions;
pub mod registry;
pub mod rng;
pub mod runtimes;
