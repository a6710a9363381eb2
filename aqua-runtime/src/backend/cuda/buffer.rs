//! Device memory: a buffer of bytes on the GPU, copied to and from host slices.

use std::sync::Arc;

use cudarc::driver::{result, sys};

use super::{driver, CudaDevice, CudaError};

/// `len` bytes of device memory (freed on drop).
#[derive(Debug)]
pub struct DeviceBuffer {
    device: Arc<CudaDevice>,
    ptr: sys::CUdeviceptr,
    len: usize,
}

// SAFETY: device memory may be used from any thread bound to the context.
unsafe impl Send for DeviceBuffer {}
unsafe impl Sync for DeviceBuffer {}

impl DeviceBuffer {
    /// A device copy of `bytes` (at least one byte is allocated, so empty buffers have an
    /// address too).
    pub fn from_host(device: &Arc<CudaDevice>, bytes: &[u8]) -> Result<DeviceBuffer, CudaError> {
        device.bind()?;
        // SAFETY: a plain allocation; freed in `drop`.
        let ptr = unsafe { result::malloc_sync(bytes.len().max(1)) }.map_err(driver("cuMemAlloc"))?;
        let buf = DeviceBuffer { device: device.clone(), ptr, len: bytes.len() };
        if !bytes.is_empty() {
            // SAFETY: `ptr` holds `bytes.len()` bytes.
            unsafe { result::memcpy_htod_sync(ptr, bytes) }.map_err(driver("cuMemcpyHtoD"))?;
        }
        Ok(buf)
    }

    /// Copies the buffer back into `out` (of the same length).
    pub fn to_host(&self, out: &mut [u8]) -> Result<(), CudaError> {
        if out.len() != self.len {
            return Err(CudaError::Driver {
                call: "cuMemcpyDtoH",
                error: format!("host slice of {} bytes for a device buffer of {}", out.len(), self.len),
            });
        }
        self.device.bind()?;
        if !out.is_empty() {
            // SAFETY: both sides hold `len` bytes.
            unsafe { result::memcpy_dtoh_sync(out, self.ptr) }.map_err(driver("cuMemcpyDtoH"))?;
        }
        Ok(())
    }

    /// The device address, as a kernel parameter takes it.
    pub fn address(&self) -> sys::CUdeviceptr {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // SAFETY: allocated in `from_host`, freed once.
            let _ = unsafe { result::free_sync(self.ptr) };
        }
    }
}
