//! Analyses over the IR shared by the verifier and the code generators.

mod provenance;

pub use provenance::{pointer_bases, PointerBases};
