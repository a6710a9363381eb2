//! Analyses over the IR shared by the verifier and the code generators.

mod affine;
mod provenance;
mod runs;

pub use provenance::{pointer_bases, PointerBases};
pub use affine::{affine, disjoint, one_run_blocks, Affine};
pub use runs::{runs, Axis, Runs, ANY};
