//! NVIDIA GPUs through the CUDA driver API (cudarc, loaded at run time, so building aqua
//! needs no CUDA).
//!
//! [`CudaDevice::probe`] finds the driver and a device without panicking: cudarc's
//! dynamic loading panics when `libcuda.so.1` is missing, so the library is opened with
//! `libloading` first, and every driver error comes back as a [`CudaError`]. A kernel is
//! the PTX of `aqua_dsl::codegen` (`Target::Nvptx`) or, where ptxas is present, its cubin
//! ([`CudaKernel::load`] takes either); [`CudaKernel::run`] launches it on host buffers
//! (copied to device buffers and back) with the grid, the CTA size and the dynamic shared
//! memory the code generator reported.

mod buffer;

use std::ffi::{c_void, CString};
use std::sync::Arc;

use cudarc::driver::{result, sys, DriverError};

pub use buffer::DeviceBuffer;

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

/// A loaded kernel: its module, entry function and launch shape.
#[derive(Debug)]
pub struct CudaKernel {
    device: Arc<CudaDevice>,
    module: sys::CUmodule,
    function: sys::CUfunction,
    threads: u32,
    shared_bytes: u32,
    name: String,
    variant: String,
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
            name: name.into(),
            variant: variant.into(),
        })
    }

    /// Launches `grid` CTAs with `params` (pointers to each argument's value: a device
    /// address for a buffer, the scalar itself otherwise) and waits for the GPU.
    ///
    /// # Safety
    /// `params` must match the kernel's signature (one pointer per parameter, to a value
    /// of its type), and the buffers must hold every element the grid's unmasked lanes
    /// touch.
    pub unsafe fn launch(&self, grid: [u32; 3], params: &mut [*mut c_void]) -> Result<(), CudaError> {
        let err = |call: &'static str| {
            move |e: DriverError| CudaError::Kernel {
                kernel: self.name.clone(),
                variant: self.variant.clone(),
                call,
                error: e.to_string(),
            }
        };
        self.device.bind()?;
        let shape = ((grid[0], grid[1], grid[2]), (self.threads, 1, 1));
        // SAFETY: the caller's contract; the null stream is the context's default one.
        unsafe {
            result::launch_kernel(self.function, shape.0, shape.1, self.shared_bytes, std::ptr::null_mut(), params)
        }
        .map_err(err("cuLaunchKernel"))?;
        result::ctx::synchronize().map_err(err("cuCtxSynchronize (the kernel faulted)"))
    }

    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }
}

impl Drop for CudaKernel {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // SAFETY: the module was loaded in `load` and no launch is running (launches wait).
            let _ = unsafe { result::module::unload(self.module) };
        }
    }
}
