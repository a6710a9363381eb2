//! Running a checked launch on the GPU: each argument becomes one kernel parameter value
//! (a device buffer's address, a device copy of a host buffer, or a scalar in its dtype).
//!
//! A launch whose buffers are all device buffers is queued and returns at once, so many
//! launches cost only their host-side overhead. A launch with any host buffer waits for
//! the kernel and copies the mutable host buffers back, as if the GPU were the host.

use std::ffi::c_void;
use std::sync::Arc;

use super::buffer::DeviceMemory;
use super::{CudaDevice, CudaKernel};
use crate::launch::{scalar_slot, Arg, LaunchError};

/// Runs `kernel` on `args`, which `check_launch` has matched to its signature.
pub(crate) fn run(kernel: &CudaKernel, grid: [u32; 3], args: &mut [Arg]) -> Result<(), LaunchError> {
    let device = kernel.device();
    // Device copies of host buffers, by argument position.
    let mut copies: Vec<Option<DeviceMemory>> = Vec::with_capacity(args.len());
    // One value per parameter, in an 8-byte slot the driver reads from: an address, or
    // the scalar in its dtype (bool as one byte).
    let mut values: Vec<u64> = Vec::with_capacity(args.len());
    for arg in args.iter() {
        let (value, copy) = match arg {
            Arg::Buf(b) => host_copy(device, b.as_bytes())?,
            Arg::BufMut(b) => host_copy(device, b.as_bytes())?,
            Arg::DevBuf(d) => (d.address(), None),
            Arg::DevBufMut(d) => (d.address(), None),
            Arg::Scalar(c) => (scalar_slot(c), None),
        };
        values.push(value);
        copies.push(copy);
    }
    let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut u64).cast()).collect();
    // SAFETY: `check_launch` matched the arguments to the signature (dtypes, mutability,
    // no aliasing of written buffers); every buffer is device memory of its host length;
    // device memory outlives queued kernels (it waits before freeing); unmasked accesses
    // are the kernel's contract (the GPU has no checked mode).
    unsafe { kernel.enqueue(grid, &mut params) }?;
    if copies.iter().all(Option::is_none) {
        return Ok(());
    }
    device.synchronize()?;
    for (arg, copy) in args.iter_mut().zip(&copies) {
        if let (Arg::BufMut(b), Some(memory)) = (arg, copy) {
            memory.download(b.bytes_mut())?;
        }
    }
    Ok(())
}

/// A device copy of a host buffer's bytes, and its address.
fn host_copy(device: &Arc<CudaDevice>, bytes: &[u8]) -> Result<(u64, Option<DeviceMemory>), LaunchError> {
    let memory = DeviceMemory::from_host(device, bytes)?;
    Ok((memory.address(), Some(memory)))
}
