//! NVIDIA GPUs through the CUDA driver API (cudarc, loaded at run time, so building aqua
//! needs no CUDA).
//!
//! [`CudaDevice::probe`] finds the driver and a device without panicking: cudarc's
//! dynamic loading panics when `libcuda.so.1` is missing, so the library is opened with
//! `libloading` first, and every driver error comes back as a [`CudaError`]. A kernel is
//! the PTX of `aqua_dsl::codegen` (`Target::Nvptx`) or, where ptxas is present, its cubin
//! ([`CudaKernel::load`] takes either). `launch::run` runs it on the arguments of a checked
//! launch: [`DeviceBuffer`]s by address, host buffers through device copies, with the
//! grid, the CTA size and the dynamic shared memory the code generator reported.
//!
//! All work goes to the context's null stream, in order. Launches on device buffers only
//! are asynchronous; the device remembers the last kernel queued so that a fault found
//! by a later [`CudaDevice::synchronize`] (or a copy, which synchronizes first) names it.

mod buffer;
pub(crate) mod launch;

use std::ffi::{c_void, CString};
use std::sync::{Arc, Mutex, PoisonError};

use aqua_dsl::DType;
use cudarc::driver::{result, sys, DriverError};

pub use buffer::DeviceBuffer;

use crate::compiled::BackendKind;

/// Why the GPU could not be used or a launch failed; names the kernel where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CudaError {
    #[error("no CUDA driver: cannot load libcuda.so.1 ({0})")]
    NoDriver(String),
    #[error("the CUDA driver reports no device")]
    NoDevice,
    #[error("GPU `{name}` has compute capability {major}.{minor}; aqua needs 8.0 or later")]
    Unsupported { name: String, major: i32, minor: i32 },
    #[error("CUDA driver call {call} failed: {error}")]
    Driver { call: &'static str, error: String },
    #[error("kernel `{kernel}` ({variant}): {call} failed: {error}")]
    Kernel { kernel: String, variant: String, call: &'static str, error: String },
    /// Device buffers exist only on a CUDA runtime.
    #[error(
        "device buffers need the CUDA runtime (`Runtime::cuda()`); this runtime runs kernels on the {backend} backend"
    )]
    NotCuda { backend: BackendKind },
    /// A copy between buffers of different dtypes or lengths.
    #[error("{copy}: the device buffer holds {} {} elements, the other buffer {} {}", .device.1, .device.0, .other.1, .other.0)]
    Shape { copy: &'static str, device: (DType, usize), other: (DType, usize) },
}

fn driver(call: &'static str) -> impl Fn(DriverError) -> CudaError {
    move |e| CudaError::Driver { call, error: e.to_string() }
}

/// A GPU with its primary context, current on the threads that use it.
#[derive(Debug)]
pub struct CudaDevice {
    device: sys::CUdevice,
    context: sys::CUcontext,
    name: String,
    /// Compute capability as `major * 10 + minor` (80, 86, 90, ...).
    capability: u32,
    /// Most dynamic shared memory a CTA may opt into, in bytes.
    max_shared: u32,
    /// The last kernel queued since the last synchronization, which a fault found by the
    /// next one is attributed to.
    pending: Mutex<Option<Arc<KernelName>>>,
    // Keeps the driver library loaded (cudarc loads it again, by the same name).
    _lib: Arc<libloading::Library>,
}

// SAFETY: a CUDA context may be used from any thread once made current there, which
// every entry point here does first.
unsafe impl Send for CudaDevice {}
unsafe impl Sync for CudaDevice {}

impl CudaDevice {
    /// The first GPU, or why there is none (never panics).
    pub fn probe() -> Result<Arc<CudaDevice>, CudaError> {
        // SAFETY: opening the driver library runs its initializers, as any CUDA program does.
        let lib =
            unsafe { libloading::Library::new("libcuda.so.1") }.map_err(|e| CudaError::NoDriver(e.to_string()))?;
        result::init().map_err(driver("cuInit"))?;
        if result::device::get_count().map_err(driver("cuDeviceGetCount"))? < 1 {
            return Err(CudaError::NoDevice);
        }
        let device = result::device::get(0).map_err(driver("cuDeviceGet"))?;
        let name = result::device::get_name(device).map_err(driver("cuDeviceGetName"))?;
        let attr = |a| unsafe { result::device::get_attribute(device, a) }.map_err(driver("cuDeviceGetAttribute"));
        use sys::CUdevice_attribute::*;
        let (major, minor) =
            (attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?, attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?);
        if major < 8 {
            return Err(CudaError::Unsupported { name, major, minor });
        }
        let max_shared = attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)? as u32;
        // SAFETY: `device` came from cuDeviceGet.
        let context = unsafe { result::primary_ctx::retain(device) }.map_err(driver("cuDevicePrimaryCtxRetain"))?;
        let dev = CudaDevice {
            device,
            context,
            name,
            capability: (major * 10 + minor) as u32,
            max_shared,
            pending: Mutex::new(None),
            _lib: Arc::new(lib),
        };
        dev.bind()?;
        Ok(Arc::new(dev))
    }

    /// Makes the context current on the calling thread.
    pub(crate) fn bind(&self) -> Result<(), CudaError> {
        // SAFETY: the context was retained in `probe` and is released only on drop.
        unsafe { result::ctx::set_current(self.context) }.map_err(driver("cuCtxSetCurrent"))
    }

    /// Waits for every kernel and copy queued. A fault is reported with the last kernel
    /// queued since the previous synchronization (the faulting one, or one after it).
    pub fn synchronize(&self) -> Result<(), CudaError> {
        self.bind()?;
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner).take();
        result::ctx::synchronize().map_err(|e| match pending {
            Some(k) => CudaError::Kernel {
                kernel: k.kernel.clone(),
                variant: k.variant.clone(),
                call: "cuCtxSynchronize (this kernel, or one queued before it, faulted)",
                error: e.to_string(),
            },
            None => CudaError::Driver { call: "cuCtxSynchronize", error: e.to_string() },
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The architecture to generate code for: sm_90 on Hopper and later, else sm_80.
    pub fn target_sm(&self) -> u32 {
        if self.capability >= 90 {
            90
        } else {
            80
        }
    }

    pub fn capability(&self) -> u32 {
        self.capability
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: retained in `probe`; nothing of this device outlives it (kernels and
        // buffers hold an `Arc` to it).
        let _ = unsafe { result::primary_ctx::release(self.device) };
    }
}

/// A kernel's name and variant (the start of its cache key), as errors give them.
#[derive(Debug)]
struct KernelName {
    kernel: String,
    variant: String,
}

/// A loaded kernel: its module, entry function and launch shape.
#[derive(Debug)]
pub struct CudaKernel {
    device: Arc<CudaDevice>,
    module: sys::CUmodule,
    function: sys::CUfunction,
    threads: u32,
    shared_bytes: u32,
    name: Arc<KernelName>,
}

// SAFETY: modules and functions belong to the context, usable from any thread bound to it.
unsafe impl Send for CudaKernel {}
unsafe impl Sync for CudaKernel {}

impl CudaKernel {
    /// Loads `image` (a cubin, or PTX text the driver compiles) whose entry is
    /// `aqua_dsl::codegen::GPU_KERNEL_SYMBOL`, launched with `threads` per CTA and
    /// `shared_bytes` of dynamic shared memory. `variant` names it in errors.
    pub fn load(
        device: &Arc<CudaDevice>,
        name: &str,
        variant: &str,
        image: &[u8],
        threads: u32,
        shared_bytes: u64,
    ) -> Result<CudaKernel, CudaError> {
        let err = |call: &'static str| {
            move |e: DriverError| CudaError::Kernel {
                kernel: name.to_string(),
                variant: variant.to_string(),
                call,
                error: e.to_string(),
            }
        };
        if shared_bytes > device.max_shared as u64 {
            return Err(CudaError::Kernel {
                kernel: name.into(),
                variant: variant.into(),
                call: "launch setup",
                error: format!("needs {shared_bytes} B of shared memory, the GPU allows {}", device.max_shared),
            });
        }
        device.bind()?;
        // PTX must end in a NUL; a cubin is passed as is.
        let mut bytes = image.to_vec();
        if !bytes.starts_with(b"\x7fELF") {
            bytes.push(0);
        }
        // SAFETY: `bytes` is a cubin or NUL-terminated PTX, alive during the call.
        let module =
            unsafe { result::module::load_data(bytes.as_ptr() as *const c_void) }.map_err(err("cuModuleLoadData"))?;
        let entry = CString::new(aqua_dsl::codegen::GPU_KERNEL_SYMBOL).expect("no NUL in the symbol");
        // SAFETY: `module` was just loaded.
        let function = unsafe { result::module::get_function(module, entry) }.map_err(err("cuModuleGetFunction"))?;
        if shared_bytes > 48 << 10 {
            use sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES as MAX_DYN;
            // SAFETY: `function` belongs to the module just loaded.
            unsafe { result::function::set_function_attribute(function, MAX_DYN, shared_bytes as i32) }
                .map_err(err("cuFuncSetAttribute"))?;
        }
        Ok(CudaKernel {
            device: device.clone(),
            module,
            function,
            threads,
            shared_bytes: shared_bytes as u32,
            name: Arc::new(KernelName { kernel: name.into(), variant: variant.into() }),
        })
    }

    /// Queues `grid` CTAs with `params` (pointers to each argument's value: a device
    /// address for a buffer, the scalar itself otherwise) on the null stream; does not
    /// wait ([`CudaDevice::synchronize`] does).
    ///
    /// # Safety
    /// `params` must match the kernel's signature (one pointer per parameter, to a value
    /// of its type), the buffers must hold every element the grid's unmasked lanes touch,
    /// and they must stay allocated until the kernel ends (device memory waits for queued
    /// work before it is freed).
    pub unsafe fn enqueue(&self, grid: [u32; 3], params: &mut [*mut c_void]) -> Result<(), CudaError> {
        self.device.bind()?;
        let shape = ((grid[0], grid[1], grid[2]), (self.threads, 1, 1));
        // SAFETY: the caller's contract; the null stream is the context's default one.
        unsafe {
            result::launch_kernel(self.function, shape.0, shape.1, self.shared_bytes, std::ptr::null_mut(), params)
        }
        .map_err(|e| CudaError::Kernel {
            kernel: self.name.kernel.clone(),
            variant: self.name.variant.clone(),
            call: "cuLaunchKernel",
            error: e.to_string(),
        })?;
        *self.device.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(self.name.clone());
        Ok(())
    }

    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }
}

impl Drop for CudaKernel {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // Queued launches of the module must end before it is unloaded.
            let _ = result::ctx::synchronize();
            // SAFETY: the module was loaded in `load` and no launch of it is running.
            let _ = unsafe { result::module::unload(self.module) };
        }
    }
}
