//! Device memory: raw allocations ([`DeviceMemory`], for the copies a launch on host
//! buffers makes) and the public, typed [`DeviceBuffer`] a program allocates once and
//! passes to many launches without copies.
//!
//! Every copy that involves the host first waits for the kernels already queued, so a
//! fault of an asynchronous launch is reported with that kernel's name
//! ([`CudaDevice::synchronize`]) instead of as a failed copy. Freeing waits too, so a
//! buffer dropped while a kernel still uses it is freed after the kernel.

use std::sync::Arc;

use aqua_dsl::DType;
use cudarc::driver::{result, sys};

use super::{driver, CudaDevice, CudaError};
use crate::buffer::HostBuffer;

/// `len` bytes of device memory (freed on drop).
#[derive(Debug)]
pub(crate) struct DeviceMemory {
    device: Arc<CudaDevice>,
    ptr: sys::CUdeviceptr,
    len: usize,
}

// SAFETY: device memory may be used from any thread bound to the context.
unsafe impl Send for DeviceMemory {}
unsafe impl Sync for DeviceMemory {}

impl DeviceMemory {
    /// `len` zero bytes (at least one byte is allocated, so empty buffers have an address
    /// too).
    pub(crate) fn zeros(device: &Arc<CudaDevice>, len: usize) -> Result<DeviceMemory, CudaError> {
        device.bind()?;
        // SAFETY: a plain allocation; freed in `drop`.
        let ptr = unsafe { result::malloc_sync(len.max(1)) }.map_err(driver("cuMemAlloc"))?;
        let memory = DeviceMemory { device: device.clone(), ptr, len };
        // SAFETY: `ptr` holds at least `len.max(1)` bytes.
        unsafe { result::memset_d8_sync(ptr, 0, len.max(1)) }.map_err(driver("cuMemsetD8"))?;
        Ok(memory)
    }

    /// A device copy of `bytes`.
    pub(crate) fn from_host(device: &Arc<CudaDevice>, bytes: &[u8]) -> Result<DeviceMemory, CudaError> {
        let memory = DeviceMemory::zeros(device, bytes.len())?;
        memory.upload(bytes)?;
        Ok(memory)
    }

    /// Overwrites the memory with `bytes` (of the same length), after the queued kernels.
    pub(crate) fn upload(&self, bytes: &[u8]) -> Result<(), CudaError> {
        self.expect_len("cuMemcpyHtoD", bytes.len())?;
        self.device.synchronize()?;
        if !bytes.is_empty() {
            // SAFETY: both sides hold `len` bytes; the copy is synchronous.
            unsafe { result::memcpy_htod_sync(self.ptr, bytes) }.map_err(driver("cuMemcpyHtoD"))?;
        }
        Ok(())
    }

    /// Copies the memory into `out` (of the same length), after the queued kernels.
    pub(crate) fn download(&self, out: &mut [u8]) -> Result<(), CudaError> {
        self.expect_len("cuMemcpyDtoH", out.len())?;
        self.device.synchronize()?;
        if !out.is_empty() {
            // SAFETY: both sides hold `len` bytes; the copy is synchronous.
            unsafe { result::memcpy_dtoh_sync(out, self.ptr) }.map_err(driver("cuMemcpyDtoH"))?;
        }
        Ok(())
    }

    /// Queues a copy of `src` (of the same length) into this memory, ordered after the
    /// kernels already queued; it does not wait.
    fn copy_from(&self, src: &DeviceMemory) -> Result<(), CudaError> {
        self.expect_len("cuMemcpyDtoDAsync", src.len)?;
        self.device.bind()?;
        if self.len > 0 {
            // SAFETY: both allocations hold `len` bytes and live until the copy ends (drop
            // waits for queued work); the null stream orders it after queued kernels.
            unsafe { result::memcpy_dtod_async(self.ptr, src.ptr, self.len, std::ptr::null_mut()) }
                .map_err(driver("cuMemcpyDtoDAsync"))?;
        }
        Ok(())
    }

    /// The device address, as a kernel parameter takes it.
    pub(crate) fn address(&self) -> sys::CUdeviceptr {
        self.ptr
    }

    fn expect_len(&self, call: &'static str, bytes: usize) -> Result<(), CudaError> {
        if bytes == self.len {
            Ok(())
        } else {
            Err(CudaError::Driver {
                call,
                error: format!("{bytes} bytes given for device memory of {} bytes", self.len),
            })
        }
    }
}

impl Drop for DeviceMemory {
    fn drop(&mut self) {
        // Waiting first keeps the memory alive for kernels still using it; an error here
        // was (or will be) reported by the call that queued the failing work.
        if self.device.bind().is_ok() && result::ctx::synchronize().is_ok() {
            // SAFETY: allocated in `zeros`, freed once, no queued work uses it.
            let _ = unsafe { result::free_sync(self.ptr) };
        }
    }
}

/// Typed device memory holding `len` elements of `dtype`: allocated once (zeroed) with
/// `Runtime::alloc` or filled from host data with `Runtime::upload`, passed to launches as
/// `Arg::DevBuf` / `Arg::DevBufMut` without copies, read back with `Runtime::download`.
///
/// Allocations are 256-byte aligned (the GPU code assumes 16). `bool` elements are one
/// byte, as on the host.
#[derive(Debug)]
pub struct DeviceBuffer {
    dtype: DType,
    len: usize,
    memory: DeviceMemory,
}

impl DeviceBuffer {
    /// `len` zeros of `dtype` on `device`.
    pub(crate) fn zeros(device: &Arc<CudaDevice>, dtype: DType, len: usize) -> Result<DeviceBuffer, CudaError> {
        let bytes = len.checked_mul(dtype.size_bytes()).ok_or_else(|| CudaError::Driver {
            call: "cuMemAlloc",
            error: format!("{len} {dtype} elements overflow the address space"),
        })?;
        Ok(DeviceBuffer { dtype, len, memory: DeviceMemory::zeros(device, bytes)? })
    }

    /// A device copy of `host`.
    pub(crate) fn from_host(device: &Arc<CudaDevice>, host: &HostBuffer) -> Result<DeviceBuffer, CudaError> {
        let memory = DeviceMemory::from_host(device, host.as_bytes())?;
        Ok(DeviceBuffer { dtype: host.dtype(), len: host.len(), memory })
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the elements in bytes.
    pub fn size_bytes(&self) -> usize {
        self.memory.len
    }

    /// Overwrites the elements with `src`'s (same dtype and length), after the kernels
    /// already queued.
    pub fn copy_from_host(&mut self, src: &HostBuffer) -> Result<(), CudaError> {
        self.expect_shape("copy_from_host", src.dtype(), src.len())?;
        self.memory.upload(src.as_bytes())
    }

    /// Copies the elements into `dst` (same dtype and length), after the kernels already
    /// queued: it sees what they wrote.
    pub fn copy_to_host(&self, dst: &mut HostBuffer) -> Result<(), CudaError> {
        self.expect_shape("copy_to_host", dst.dtype(), dst.len())?;
        self.memory.download(dst.bytes_mut())
    }

    /// Queues a device-to-device copy of `src` (same dtype and length) into this buffer,
    /// ordered after the kernels already queued; it does not wait (`Runtime::synchronize`
    /// does).
    pub fn copy_from_device(&mut self, src: &DeviceBuffer) -> Result<(), CudaError> {
        self.expect_shape("copy_from_device", src.dtype, src.len)?;
        self.memory.copy_from(&src.memory)
    }

    /// The device address of the first element.
    pub fn address(&self) -> u64 {
        self.memory.address()
    }

    fn expect_shape(&self, copy: &'static str, dtype: DType, len: usize) -> Result<(), CudaError> {
        if (dtype, len) == (self.dtype, self.len) {
            Ok(())
        } else {
            Err(CudaError::Shape { copy, device: (self.dtype, self.len), other: (dtype, len) })
        }
    }
}
