//! Launching this crate's kernels from Rust: compiling the right variant, sizing the
//! grid and the output buffers, and reading results back in the reference's types.
//!
//! - `uniform`: the uniform quantizer (along channels or tokens);
//! - `higgs`: HIGGS;
//! - `codec`: either of them behind one interface, for tools that compare methods.

pub mod codec;
pub mod higgs;
pub mod uniform;

use aqua_dsl::DType;
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
    #[error(transparent)]
    Higgs(#[from] crate::quant::higgs::HiggsError),
    #[error("{kernel}: {problem}")]
    Input { kernel: String, problem: String },
}

pub(crate) fn input_error(kernel: &str, problem: impl Into<String>) -> HostError {
    HostError::Input {
        kernel: kernel.to_string(),
        problem: problem.into(),
    }
}

/// Quantizers read and write f16, bf16 or f32.
pub(crate) fn check_dtype(kernel: &str, dtype: DType) -> Result<(), HostError> {
    match dtype {
        DType::F16 | DType::BF16 | DType::F32 => Ok(()),
        other => Err(input_error(kernel, format!("inputs are f16, bf16 or f32, not {other}"))),
    }
}

/// One grid axis of `programs` programs (program ids are i32).
pub(crate) fn grid_axis(kernel: &str, programs: usize) -> Result<u32, HostError> {
    if programs > i32::MAX as usize {
        return Err(input_error(kernel, format!("{programs} programs exceed a grid axis")));
    }
    Ok(programs as u32)
}
