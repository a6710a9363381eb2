//! Launching this crate's kernels from Rust: compiling the right variant, sizing the
//! grid and the output buffers, and reading results back in the reference's types.
//!
//! - `uniform`: the uniform quantizer (along channels or tokens);
//! - `higgs`: HIGGS;
//! - `codec`: either of them behind one interface, for tools that compare methods;
//! - `buffers`: a quantizer's buffers in the memory a runtime's kernels read;
//! - `streaming`: outputs larger than the caches, written around them;
//! - `tune`: either of them with the tile (and CTA size) autotuned on this machine.

pub mod buffers;
pub mod codec;
pub mod higgs;
pub mod streaming;
pub mod tune;
pub mod uniform;

use aqua_dsl::DType;
use aqua_runtime::{Arg, CompiledKernel, Runtime};
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
    #[error(transparent)]
    Tune(#[from] aqua_runtime::autotune::TuneError),
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

/// The values buffer of a quantizer launch: the input of quantize (the first argument)
/// or the output of dequantize (after the encoded buffers). Its length is the `n` every
/// other buffer is sized by.
pub(crate) enum Values<'a> {
    Input(Arg<'a>),
    Output(Arg<'a>),
}

impl<'a> Values<'a> {
    /// The number of values, or an error if the argument is not a buffer.
    pub(crate) fn len(&self, kernel: &str) -> Result<usize, HostError> {
        let (name, arg) = match self {
            Values::Input(a) => ("x", a),
            Values::Output(a) => ("out", a),
        };
        arg.buffer_len()
            .ok_or_else(|| input_error(kernel, format!("`{name}` must be a buffer, not a scalar")))
    }
}

/// Launches a quantizer kernel: `values` and the encoded buffers, each of which must hold
/// what `layout` (name, dtype, elements) says, then the size arguments of `shape`, the
/// grid and sizes (`None`: an empty input, nothing to launch). The runtime checks dtypes
/// and mutability; GPU launches have no bounds checks, so lengths are checked here.
pub(crate) fn launch_quantizer<'a>(
    rt: &Runtime,
    kernel: &CompiledKernel,
    values: Values<'a>,
    encoded: Vec<Arg<'a>>,
    layout: &[(&'static str, DType, usize)],
    shape: Option<([u32; 3], Vec<Arg<'static>>)>,
) -> Result<(), HostError> {
    let name = kernel.name();
    if encoded.len() != layout.len() {
        return Err(input_error(
            name,
            format!("{} encoded buffers given, the launch takes {}", encoded.len(), layout.len()),
        ));
    }
    for (&(param, _, expected), arg) in layout.iter().zip(&encoded) {
        match arg.buffer_len() {
            Some(len) if len == expected => {}
            Some(len) => {
                let problem = format!("`{param}` holds {len} elements, the launch needs {expected}");
                return Err(input_error(name, problem));
            }
            None => return Err(input_error(name, format!("`{param}` must be a buffer, not a scalar"))),
        }
    }
    let Some((grid, sizes)) = shape else {
        return Ok(());
    };
    let mut args = match values {
        Values::Input(x) => std::iter::once(x).chain(encoded).collect::<Vec<_>>(),
        Values::Output(out) => encoded.into_iter().chain(std::iter::once(out)).collect(),
    };
    args.extend(sizes);
    Ok(rt.launch(kernel, grid, &mut args)?)
}
