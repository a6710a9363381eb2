//! aqua-runtime: compile aqua kernels for the host CPU or an NVIDIA GPU, cache them (in
//! memory and on disk), and launch them on typed host (or, on the GPU, device) buffers
//! with every argument checked.
//!
//! ```no_run
//! # use aqua_runtime::{Arg, HostBuffer, Runtime};
//! # fn demo(source: &dyn aqua_dsl::KernelSource) -> Result<(), aqua_runtime::Error> {
//! let rt = Runtime::cpu();
//! let kernel = rt.compile(source, &aqua_dsl::Params::new().with("block", 256))?;
//! let x = HostBuffer::from_slice(&[1.0f32; 1000]);
//! let mut y = HostBuffer::zeros(aqua_dsl::DType::F32, 1000);
//! rt.launch(&kernel, [4, 1, 1], &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::i32(1000)])?;
//! # Ok(()) }
//! ```
//!
//! See `docs/runtime.md` for the cache layout, launch modes and environment variables.

pub mod autotune;
pub mod backend;
pub mod buffer;
pub mod cache;
mod compiled;
pub mod dump;
mod error;
pub mod launch;
mod native;
mod report;
mod runtime;

pub use backend::cuda::DeviceBuffer;
pub use buffer::{BufferError, Element, HostBuffer};
pub use cache::CacheKey;
pub use compiled::{BackendKind, CompiledKernel};
pub use error::Error;
pub use launch::{Arg, LaunchError, LaunchMode, Memory};
pub use report::{CacheOutcome, CompileReport};
pub use runtime::{CacheStats, Input, Runtime, RuntimeOptions};
