//! The runtime's one error type: everything that can go wrong between a kernel source and
//! a finished launch.

use std::io;
use std::path::PathBuf;

use aqua_dsl::codegen::CodegenError;
use aqua_dsl::KernelError;

use crate::backend::cpu::CpuError;
use crate::buffer::BufferError;
use crate::launch::LaunchError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Building or verifying the kernel failed (names the kernel, op and source line).
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// LLVM code generation failed (names the kernel, and the op where it is about one).
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    /// Linking or loading the compiled object failed.
    #[error("kernel `{kernel}`: {source}")]
    Cpu { kernel: String, source: CpuError },
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// No usable GPU, or the driver refused a kernel.
    #[error(transparent)]
    Cuda(#[from] crate::backend::cuda::CudaError),
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// A file the runtime needs (not the cache, whose failures only cost a recompile).
    #[error("{what} `{}`: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
}
