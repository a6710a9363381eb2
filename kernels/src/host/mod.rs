//! Launching this crate's kernels from Rust: compiling the right variant, sizing the
//! grid and the output buffers, and reading results back in the reference's types.

pub mod uniform;

use thiserror::Error;

/// What can go wrong running a kernel of this crate.
#[derive(Debug, Error)]
pub enum HostError {
    #[error(transparent)]
    Runtime(#[from] aqua_runtime::Error),
    #[error(transparent)]
    Launch(#[from] aqua_runtime::LaunchError),
    #[error(transparent)]
    Buffer(#[from] aqua_runtime::BufferError),
    #[error(transparent)]
    Uniform(#[from] crate::quant::UniformError),
    #[error("{kernel}: {problem}")]
    Input { kernel: String, problem: String },
}
