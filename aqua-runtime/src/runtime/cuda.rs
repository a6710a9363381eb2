//! The CUDA runtime's own parts: compiling (a memory miss goes to the disk cache, a cubin
//! or PTX with its launch shape, else to LLVM and, where ptxas was found, ptxas; the
//! image is loaded into the device's context) and device-resident buffers (allocate,
//! upload, download, wait), which other runtimes refuse with a clear error.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use aqua_dsl::codegen::{self, Target};
use aqua_dsl::{DType, Kernel};

use super::{timed, Runtime};
use crate::backend::cuda::{CudaDevice, CudaError, CudaKernel, DeviceBuffer};
use crate::buffer::HostBuffer;
use crate::cache::{CacheKey, Lookup};
use crate::compiled::{CompiledKernel, Exec};
use crate::dump;
use crate::error::Error;
use crate::launch::LaunchMode;
use crate::report::{CacheOutcome, CompileReport};

impl Runtime {
    /// `len` zeros of `dtype` in GPU memory, to pass to launches as `Arg::DevBuf` or
    /// `Arg::DevBufMut` (no copies). CUDA runtime only: other runtimes return
    /// [`CudaError::NotCuda`].
    pub fn alloc(&self, dtype: DType, len: usize) -> Result<DeviceBuffer, Error> {
        Ok(DeviceBuffer::zeros(self.gpu()?, dtype, len)?)
    }

    /// A copy of `host` in GPU memory (CUDA runtime only).
    pub fn upload(&self, host: &HostBuffer) -> Result<DeviceBuffer, Error> {
        Ok(DeviceBuffer::from_host(self.gpu()?, host)?)
    }

    /// A host copy of `buffer`, after the kernels already queued (so it holds what they
    /// wrote, and a fault of theirs is reported here with the kernel's name).
    pub fn download(&self, buffer: &DeviceBuffer) -> Result<HostBuffer, Error> {
        let mut host = HostBuffer::zeros(buffer.dtype(), buffer.len());
        buffer.copy_to_host(&mut host)?;
        Ok(host)
    }

    /// Waits for every kernel and copy queued on the GPU; a fault is reported with the
    /// kernel's name. Launches on device buffers only do not wait, so time them with
    /// this. On the host backends, where launches always wait, it returns at once.
    pub fn synchronize(&self) -> Result<(), Error> {
        match &self.device {
            Some(device) => Ok(device.synchronize()?),
            None => Ok(()),
        }
    }

    /// The GPU, or why this runtime has none.
    fn gpu(&self) -> Result<&Arc<CudaDevice>, CudaError> {
        self.device.as_ref().ok_or(CudaError::NotCuda { backend: self.backend })
    }

    /// The CUDA backend's memory miss: the disk cache (a cubin or PTX, with the launch
    /// shape), else LLVM (and ptxas when present).
    pub(super) fn compile_cuda(
        &self,
        kernel: Kernel,
        ir: &str,
        key: CacheKey,
        mode: LaunchMode,
        report: &mut CompileReport,
    ) -> Result<CompiledKernel, Error> {
        let device = self.device.as_ref().ok_or(CudaError::NoDevice)?;
        let variant = key.short();
        if let Some(disk) = self.disk.as_ref().filter(|_| self.dump_dir.is_none()) {
            match timed(report, "disk lookup", || disk.load(&key)) {
                Lookup::Hit(payload) => {
                    if let Some((threads, shared, image)) = split_gpu_payload(&payload) {
                        let k = timed(report, "load", || {
                            CudaKernel::load(device, &kernel.name, &variant, image, threads, shared)
                        })?;
                        report.outcome = CacheOutcome::DiskHit;
                        return Ok(CompiledKernel::new(kernel, mode, Some(key), Exec::Cuda(k)));
                    }
                }
                Lookup::Dropped { reason } => {
                    self.counters.dropped_entries.fetch_add(1, Ordering::Relaxed);
                    report.dropped_entry = Some(reason);
                }
                Lookup::Miss => {}
            }
        }
        report.outcome = CacheOutcome::Compiled;
        timed(report, "verify", || aqua_dsl::verify::verify(&kernel))?;
        let options = self.codegen_options(mode);
        // ptxas starts now and reads the PTX when it is ready: its start-up overlaps LLVM.
        let ptxas_error = |e: codegen::ptxas::PtxasError| CudaError::Kernel {
            kernel: kernel.name.clone(),
            variant: variant.clone(),
            call: "ptxas",
            error: e.to_string(),
        };
        let pending = match (&self.ptxas, options.target) {
            (Some((ptxas, _)), Target::Nvptx { sm, .. }) => Some(ptxas.start(sm).map_err(ptxas_error)?),
            _ => None,
        };
        let artifact = codegen::compile(&kernel, &options)?;
        report.phases.extend(artifact.timings.iter().map(|&(stage, d)| (format!("llvm {stage}"), d)));
        if let Some(dir) = &self.dump_dir {
            dump::write_dumps(dir, &kernel.name, &key, ir, &artifact.llvm_ir, &artifact.asm);
        }
        let image = match pending {
            Some(pending) => {
                let ptx = String::from_utf8_lossy(&artifact.object);
                timed(report, "ptxas", || pending.finish(&ptx)).map_err(ptxas_error)?.bytes
            }
            None => artifact.object.clone(),
        };
        let (threads, shared) = (artifact.block_threads, artifact.shared_bytes);
        if let Some(disk) = &self.disk {
            let payload = join_gpu_payload(threads, shared, &image);
            if let Err(e) = timed(report, "cache write", || disk.store(&key, &payload)) {
                eprintln!("aqua: warning: cannot write cache entry {}: {e}", disk.entry_path(&key).display());
            }
        }
        let k = timed(report, "load", || CudaKernel::load(device, &kernel.name, &variant, &image, threads, shared))?;
        Ok(CompiledKernel::new(kernel, mode, Some(key), Exec::Cuda(k)))
    }
}

/// A GPU cache entry's payload: threads per CTA (u32 LE), dynamic shared bytes (u64 LE),
/// then the cubin or PTX.
fn join_gpu_payload(threads: u32, shared: u64, image: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + image.len());
    out.extend_from_slice(&threads.to_le_bytes());
    out.extend_from_slice(&shared.to_le_bytes());
    out.extend_from_slice(image);
    out
}

fn split_gpu_payload(payload: &[u8]) -> Option<(u32, u64, &[u8])> {
    let threads = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let shared = u64::from_le_bytes(payload.get(4..12)?.try_into().ok()?);
    Some((threads, shared, &payload[12..]))
}
