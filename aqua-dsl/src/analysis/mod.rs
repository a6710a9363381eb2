//! Analyses over the IR shared by the verifier and the code generators.

mod provenance;
mod runs;

pub use provenance::{pointer_bases, PointerBases};
pub use runs::{one_run_blocks, runs, Axis, Runs, ANY};
