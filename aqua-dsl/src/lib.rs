//! aqua-dsl: the typed block IR of aqua kernels, the builder API that `#[kernel]` expands
//! to, the verifier, the canonical text form, the reference interpreter, and LLVM code
//! generation.
//!
//! The pipeline is `build` (the kernel body runs with its comptime values) -> [`verify`]
//! -> canonical text (the core of the cache key) -> [`codegen`] (LLVM) -> object code.

pub mod analysis;
pub mod build;
pub mod codegen;
pub mod error;
pub mod interp;
pub mod ir;
pub mod text;
pub mod verify;

pub use build::{KernelSource, Params};
pub use error::KernelError;
pub use ir::{ComptimeValue, DType, Kernel};

/// Everything a kernel body needs in scope (`#[kernel]` imports it into generated code).
pub mod prelude {
    pub use crate::build::*;
    pub use half::{bf16, f16};
}
