//! A kernel ready to launch, and how each backend runs it.
//!
//! A [`CompiledKernel`] pairs the specialized IR (whose signature every launch is checked
//! against) with its executable form: a loaded native module, or the IR itself for the
//! reference interpreter. Running marshals the checked arguments into the calling
//! convention of `aqua_dsl::codegen::abi` and turns a checked kernel's fault into a
//! [`LaunchError::OutOfBounds`] naming the argument.

use std::ffi::c_void;

use aqua_dsl::codegen::abi::Fault;
use aqua_dsl::interp::{ArgValue, InterpError};
use aqua_dsl::Kernel;

use crate::backend::cpu::CpuModule;
use crate::backend::cuda::{self, CudaKernel};
use crate::backend::simt::SimtModule;
use crate::cache::CacheKey;
use crate::launch::{check_launch, check_memory, device_memory_error, scalar_slot, Arg, LaunchError, LaunchMode};

/// Which engine runs a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Native code for the host CPU, the grid spread over threads.
    Cpu,
    /// The reference interpreter (`aqua_dsl::interp`): slow, for debugging and
    /// differential tests.
    Interpreter,
    /// The GPU's thread-level program emulated on host threads (`backend::simt`): slow,
    /// for testing the GPU lowering without a GPU.
    Simt,
    /// An NVIDIA GPU through the CUDA driver (`backend::cuda`).
    Cuda,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Interpreter => "interpreter",
            BackendKind::Simt => "simt",
            BackendKind::Cuda => "cuda",
        })
    }
}

#[derive(Clone, Copy)]
enum Native<'m> {
    Cpu(&'m CpuModule),
    Simt(&'m SimtModule),
}

pub(crate) enum Exec {
    Cpu(CpuModule),
    Simt(SimtModule),
    Cuda(CudaKernel),
    Interpreter,
}

/// A specialized kernel and its executable form; shared (`Arc`) by the cache.
pub struct CompiledKernel {
    kernel: Kernel,
    mode: LaunchMode,
    key: Option<CacheKey>,
    exec: Exec,
}

impl CompiledKernel {
    pub(crate) fn new(kernel: Kernel, mode: LaunchMode, key: Option<CacheKey>, exec: Exec) -> CompiledKernel {
        CompiledKernel { kernel, mode, key, exec }
    }

    pub fn name(&self) -> &str {
        &self.kernel.name
    }

    /// The specialized, verified IR.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Whether launches check bounds.
    pub fn mode(&self) -> LaunchMode {
        self.mode
    }

    /// The cache key (native kernels only).
    pub fn key(&self) -> Option<&CacheKey> {
        self.key.as_ref()
    }

    pub fn backend(&self) -> BackendKind {
        match self.exec {
            Exec::Cpu(_) => BackendKind::Cpu,
            Exec::Simt(_) => BackendKind::Simt,
            Exec::Cuda(_) => BackendKind::Cuda,
            Exec::Interpreter => BackendKind::Interpreter,
        }
    }

    /// Checks the arguments and runs the grid, with up to `threads` host threads.
    pub(crate) fn run(&self, grid: [u32; 3], args: &mut [Arg], threads: usize) -> Result<(), LaunchError> {
        check_launch(&self.kernel, grid, args)?;
        check_memory(&self.kernel, args, self.backend())?;
        match &self.exec {
            Exec::Cpu(module) => self.run_native(Native::Cpu(module), grid, args, threads),
            Exec::Simt(module) => self.run_native(Native::Simt(module), grid, args, threads),
            Exec::Cuda(kernel) => cuda::launch::run(kernel, grid, args),
            Exec::Interpreter => self.run_interpreter(grid, args),
        }
    }

    /// Native code: the CPU module or the SIMT emulation.
    fn run_native(
        &self,
        native: Native,
        grid: [u32; 3],
        args: &mut [Arg],
        threads: usize,
    ) -> Result<(), LaunchError> {
        let mut scalars: Vec<u64> =
            args.iter().map(|a| if let Arg::Scalar(c) = a { scalar_slot(c) } else { 0 }).collect();
        let scalar_base = scalars.as_mut_ptr();
        let mut ptrs: Vec<*mut c_void> = Vec::with_capacity(args.len());
        let mut extents: Vec<u64> = Vec::with_capacity(args.len());
        for (i, arg) in args.iter_mut().enumerate() {
            let (ptr, extent) = match arg {
                // Read-only buffers go to `ptr<T>` parameters only (checked above), which
                // the verifier never lets a kernel store to.
                Arg::Buf(b) => (b.as_ptr() as *mut c_void, b.len()),
                Arg::BufMut(b) => (b.as_mut_ptr().cast(), b.len()),
                Arg::DevBuf(_) | Arg::DevBufMut(_) => {
                    return Err(device_memory_error(&self.kernel, i, arg.given(), self.backend()))
                }
                // SAFETY: `i < scalars.len()`, and `scalars` is not moved or resized
                // until the launch returns.
                Arg::Scalar(_) => (unsafe { scalar_base.add(i) }.cast(), 0),
            };
            ptrs.push(ptr);
            extents.push(extent as u64);
        }
        let programs = grid.iter().map(|&g| g as u64).product::<u64>();
        let threads = threads.clamp(1, programs.min(usize::MAX as u64) as usize);
        // SAFETY: `check_launch` matched every pointer to a live buffer of the parameter's
        // dtype (mutable and unaliased where the kernel writes) and every scalar to a slot
        // of its dtype; a checked kernel bounds every access by `extents`, and an
        // unchecked kernel's accesses are the caller's contract (its masks).
        let result = match native {
            Native::Cpu(m) => unsafe { m.run(&ptrs, &extents, grid, threads) }
                .map_err(|fault| self.out_of_bounds(fault, &extents)),
            Native::Simt(m) => unsafe { m.run(&ptrs, grid) }
                .map_err(|status| LaunchError::Status { kernel: self.kernel.name.clone(), status }),
        };
        drop(scalars);
        result
    }

    fn out_of_bounds(&self, fault: Fault, extents: &[u64]) -> LaunchError {
        let arg = fault.arg as usize;
        LaunchError::OutOfBounds {
            kernel: self.kernel.name.clone(),
            arg: self.kernel.params.get(arg).map_or_else(|| format!("#{arg}"), |p| p.name.clone()),
            offset: fault.offset,
            len: extents.get(arg).copied().unwrap_or(0),
            program: fault.program,
            is_store: fault.is_store != 0,
            loc: None,
        }
    }

    fn run_interpreter(&self, grid: [u32; 3], args: &mut [Arg]) -> Result<(), LaunchError> {
        let extents: Vec<u64> = args
            .iter()
            .map(|a| match a {
                Arg::Buf(b) => b.len() as u64,
                Arg::BufMut(b) => b.len() as u64,
                Arg::DevBuf(_) | Arg::DevBufMut(_) | Arg::Scalar(_) => 0,
            })
            .collect();
        // The interpreter takes every buffer mutably; read-only buffers lend it a copy.
        let mut copies: Vec<Vec<u8>> =
            args.iter().filter_map(|a| if let Arg::Buf(b) = a { Some(b.as_bytes().to_vec()) } else { None }).collect();
        let mut copies = copies.iter_mut();
        let mut values: Vec<ArgValue> = args
            .iter_mut()
            .enumerate()
            .map(|(i, a)| match a {
                Arg::Buf(_) => Ok(ArgValue::Buffer(copies.next().expect("one copy per read-only buffer"))),
                Arg::BufMut(b) => Ok(ArgValue::Buffer(b.bytes_mut())),
                Arg::DevBuf(_) | Arg::DevBufMut(_) => {
                    Err(device_memory_error(&self.kernel, i, a.given(), BackendKind::Interpreter))
                }
                Arg::Scalar(c) => Ok(ArgValue::Scalar(*c)),
            })
            .collect::<Result<_, _>>()?;
        aqua_dsl::interp::run(&self.kernel, grid, &mut values).map_err(|e| match e {
            InterpError::OutOfBounds { kernel, arg, param, offset, program, is_store, loc } => {
                LaunchError::OutOfBounds {
                    kernel,
                    arg: param,
                    offset,
                    len: extents.get(arg).copied().unwrap_or(0),
                    program,
                    is_store,
                    loc: Some(loc),
                }
            }
            e => LaunchError::Interpreter { kernel: self.kernel.name.clone(), message: e.to_string() },
        })
    }
}

impl std::fmt::Debug for CompiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledKernel")
            .field("name", &self.kernel.name)
            .field("backend", &self.backend())
            .field("mode", &self.mode)
            .field("key", &self.key)
            .finish()
    }
}
