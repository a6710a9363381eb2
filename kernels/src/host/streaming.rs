//! Dequantizing into more memory than the caches hold: the CPU writes such an output with
//! streaming stores (non-temporal, [`aqua_dsl::build::store_streaming`]), which skip
//! reading each line before writing it. Into less, plain stores keep the output in the
//! caches for whatever reads it next, and are faster there (the demo's 3 MB).
//!
//! The dequantizers that gain take a comptime `stream` (KIVI tiles, whose rows lie a
//! tensor's channels apart, 1.1-1.43x at 64 MiB on one core; HIGGS 1.19-1.31x); the uniform
//! dequantizer along channels, whose plain stores already run near the memory's write
//! speed, measured 0.8-0.9x and has none. The streaming form is compiled on first use.

use std::sync::{Arc, OnceLock};

use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::{BackendKind, CompiledKernel, Runtime};

use super::HostError;

/// Outputs of at least this many bytes are written with streaming stores on the CPU: at
/// least the last-level cache of most hosts (32 MiB on the 2-core EPYC's share).
pub const STREAMING_BYTES: usize = 32 << 20;

/// The streaming form of a dequantize kernel (its comptime `stream` set), compiled on
/// first use.
pub(crate) struct StreamingForm {
    source: &'static dyn KernelSource,
    params: Params,
    /// The output's dtype.
    dtype: DType,
    kernel: OnceLock<Arc<CompiledKernel>>,
}

impl StreamingForm {
    /// The form of `source` compiled with `params` and `stream` set, writing `dtype`.
    pub(crate) fn new(source: &'static dyn KernelSource, params: &Params, dtype: DType) -> StreamingForm {
        StreamingForm { source, params: params.clone().with("stream", true), dtype, kernel: OnceLock::new() }
    }

    /// Whether dequantizing `n` values on `rt` takes this form: on a CPU, outputs of
    /// [`STREAMING_BYTES`] and more.
    pub(crate) fn streams(&self, rt: &Runtime, n: usize) -> bool {
        rt.backend() == BackendKind::Cpu && n * self.dtype.size_bytes() >= STREAMING_BYTES
    }

    /// The kernel that dequantizes `n` values: this form where it [`Self::streams`], else
    /// `plain`.
    pub(crate) fn pick<'k>(
        &'k self,
        rt: &Runtime,
        plain: &'k Arc<CompiledKernel>,
        n: usize,
    ) -> Result<&'k Arc<CompiledKernel>, HostError> {
        if !self.streams(rt, n) {
            return Ok(plain);
        }
        if let Some(k) = self.kernel.get() {
            return Ok(k);
        }
        let k = rt.compile(self.source, &self.params)?;
        Ok(self.kernel.get_or_init(|| k))
    }
}
