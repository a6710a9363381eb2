//! Code generation: IR -> LLVM IR -> target machine code.
//!
//! [`compile`] runs the stages one after another and keeps each one's output and time:
//! `lower` (the block IR to LLVM IR, `llvm/`, shared by targets), `verify` (LLVM's module
//! verifier: a lowering bug becomes an error, not a crash in a later pass), `optimize`
//! (the target's pipeline), `emit` (the object file) and, when asked, `text` (optimized
//! LLVM IR and assembly, for dumps). `target/` holds what differs per target. See `docs/codegen.md` for the
//! generated code's shape and the orders of float sums, and `docs/gpu.md` for the GPU.

pub mod abi;
mod error;
mod llvm;
pub mod ptxas;
mod target;

use std::time::{Duration, Instant};

use inkwell::context::Context;
use inkwell::targets::FileType;

pub use error::CodegenError;
pub use target::nvptx::SUPPORTED_SM;

/// The PTX entry function of every GPU kernel.
pub const GPU_KERNEL_SYMBOL: &str = "aqua_kernel";

use crate::ir::Kernel;

/// What to generate code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The machine this process runs on (its CPU name and features).
    HostCpu,
    /// An NVIDIA GPU of compute capability `sm` (80 or 90); one program runs as one CTA
    /// of `num_warps * 32` threads (`num_warps` a power of two up to 32; 4 is usual).
    Nvptx { sm: u32, num_warps: u32 },
    /// The SIMT emulation of the GPU program on the host: the code `Nvptx` would run,
    /// compiled for the host CPU and run by the runtime with one host thread per GPU
    /// thread ([`abi::SIMT_ENTRY_SYMBOL`]). For testing GPU lowering without a GPU.
    Simt { num_warps: u32 },
}

impl Target {
    /// `sm_90` with 4 warps.
    pub fn nvptx(sm: u32) -> Target {
        Target::Nvptx { sm, num_warps: 4 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodegenOptions {
    pub target: Target,
    /// LLVM optimization level, 0 to 3.
    pub opt_level: u8,
    /// Bounds-check every unmasked load and store against the buffer extents passed at
    /// launch (see [`abi`]); unchecked code has no checks at all.
    pub checked: bool,
    /// Also produce the optimized LLVM IR and the assembly as text ([`Artifact::llvm_ir`],
    /// [`Artifact::asm`]), for dumps and `aqua compile --emit`. The assembly costs a second
    /// code generation pass (about a fifth of a cold compile); without this both are empty.
    /// Does not change the object code.
    pub emit_text: bool,
}

impl Default for CodegenOptions {
    fn default() -> Self {
        CodegenOptions { target: Target::HostCpu, opt_level: 3, checked: false, emit_text: false }
    }
}

/// The outputs of one compile.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// CPU: a relocatable ELF object exporting [`abi::ENTRY_SYMBOL`] and
    /// [`abi::FRAME_BYTES_SYMBOL`]. GPU: the PTX text of a module whose one entry is
    /// [`GPU_KERNEL_SYMBOL`] (parameters: the kernel's, in order; buffers as global
    /// addresses, scalars by value, bool as one byte). SIMT: an ELF object exporting
    /// [`abi::SIMT_ENTRY_SYMBOL`] and its two constants.
    pub object: Vec<u8>,
    /// GPU and SIMT: threads per CTA to launch with (the kernel is written for exactly
    /// this many); 1 on the CPU.
    pub block_threads: u32,
    /// GPU and SIMT: dynamic shared memory per CTA, in bytes, to launch with; 0 on the
    /// CPU.
    pub shared_bytes: u64,
    /// The optimized LLVM IR, as text (empty unless [`CodegenOptions::emit_text`]).
    pub llvm_ir: String,
    /// The target assembly, as text (empty unless [`CodegenOptions::emit_text`]).
    pub asm: String,
    /// Time spent in each stage, in order.
    pub timings: Vec<(&'static str, Duration)>,
}

/// Compiles a verified kernel.
pub fn compile(kernel: &Kernel, opts: &CodegenOptions) -> Result<Artifact, CodegenError> {
    let mut timings = Vec::new();
    let mut stage = |name: &'static str, start: Instant| timings.push((name, start.elapsed()));
    let llvm_err =
        |stage: &'static str| move |message: String| CodegenError::Llvm { kernel: kernel.name.clone(), stage, message };

    let t = Instant::now();
    let machine = match opts.target {
        Target::HostCpu => Machine::Cpu(target::cpu::HostCpu::new(opts.opt_level)?),
        Target::Nvptx { sm, num_warps } => Machine::Gpu(target::nvptx::Nvptx::new(sm, num_warps, opts.opt_level)?),
        Target::Simt { .. } => Machine::Cpu(target::cpu::HostCpu::new(opts.opt_level)?),
    };
    let cx = Context::create();
    quiet(&cx);
    let module = cx.create_module(&kernel.name);
    let simt_info;
    let info = match &machine {
        Machine::Cpu(m) => {
            m.configure(&module);
            match opts.target {
                Target::Simt { num_warps } => {
                    let threads = target::nvptx::check_warps("simt", num_warps)?;
                    simt_info = llvm::TargetInfo {
                        name: "simt".into(),
                        gpu: Some(llvm::GpuInfo { threads, simt: true }),
                        ..m.info().clone()
                    };
                    &simt_info
                }
                _ => m.info(),
            }
        }
        Machine::Gpu(m) => {
            m.configure(&module);
            m.info()
        }
    };
    let block_threads = info.gpu.map_or(1, |g| g.threads);
    let lowered = llvm::lower(&cx, &module, kernel, info, opts.checked)?;
    stage("lower", t);

    let t = Instant::now();
    module.verify().map_err(|m| llvm_err("verification")(m.to_string()))?;
    stage("verify", t);

    let t = Instant::now();
    match &machine {
        Machine::Cpu(m) => m.optimize(&module, opts.opt_level),
        Machine::Gpu(m) => m.optimize(&module, opts.opt_level),
    }
    .map_err(llvm_err("optimization"))?;
    stage("optimize", t);

    let t = Instant::now();
    let object = match &machine {
        Machine::Cpu(m) => m.emit(&module, FileType::Object),
        Machine::Gpu(m) => m.emit(&module),
    }
    .map_err(llvm_err("object emission"))?;
    stage("emit", t);

    let (mut llvm_ir, mut asm) = (String::new(), String::new());
    if opts.emit_text {
        let t = Instant::now();
        llvm_ir = module.print_to_string().to_string();
        asm = match &machine {
            Machine::Cpu(m) => {
                let text = m.emit(&module, FileType::Assembly).map_err(llvm_err("assembly emission"))?;
                String::from_utf8_lossy(&text).into_owned()
            }
            // The PTX is the object already.
            Machine::Gpu(_) => String::from_utf8_lossy(&object).into_owned(),
        };
        stage("text", t);
    }
    Ok(Artifact { object, block_threads, shared_bytes: lowered.shared_bytes, llvm_ir, asm, timings })
}

enum Machine {
    Cpu(target::cpu::HostCpu),
    Gpu(target::nvptx::Nvptx),
}

/// Keeps LLVM from printing remarks and warnings (a vectorization hint it could not
/// honour, say) to the process's stderr; real failures come back as errors.
fn quiet(cx: &Context) {
    extern "C" fn ignore(_: inkwell::llvm_sys::prelude::LLVMDiagnosticInfoRef, _: *mut std::ffi::c_void) {}
    // SAFETY: the handler ignores its arguments and the context outlives every use.
    unsafe { inkwell::llvm_sys::core::LLVMContextSetDiagnosticHandler(cx.raw(), Some(ignore), std::ptr::null_mut()) };
}

/// The LLVM version code is generated with, e.g. `19.1.7`.
pub fn llvm_version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVMGetVersion only writes the three integers.
    unsafe { inkwell::llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

/// The host's target triple, CPU name and feature string: part of every CPU cache key.
pub fn host_target_fingerprint() -> String {
    target::cpu::fingerprint()
}
