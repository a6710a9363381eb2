//! Code generation: IR -> LLVM IR -> target machine code.
//!
//! [`compile`] runs the stages of `pipeline.rs` (lower, verify, optimize, emit, and text
//! when asked) on one module, or on two at once when the host CPU outlines a kernel's
//! specialized branch; `llvm/` is the lowering shared by targets, `target/` holds what
//! differs per target. See `docs/codegen.md` for the
//! generated code's shape and the orders of float sums, and `docs/gpu.md` for the GPU.

pub mod abi;
mod cuda_tools;
mod error;
mod llvm;
pub mod nvdisasm;
mod pipeline;
pub mod ptxas;
mod target;

use std::time::Duration;

use inkwell::context::Context;

use pipeline::Frames;

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
    /// CPU, for a kernel whose specialized branch was outlined (`llvm/specialized.rs`):
    /// the object defining its general form, which [`Artifact::object`] calls; the two
    /// are linked together ([`Artifact::objects`]).
    pub general_object: Option<Vec<u8>>,
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
///
/// On the host CPU a kernel with a specialized branch (`ir::Op::If`) is compiled as two
/// modules on two threads: the main one and the outlined general form it calls (see
/// `llvm/specialized.rs`), whose object is [`Artifact::general_object`].
pub fn compile(kernel: &Kernel, opts: &CodegenOptions) -> Result<Artifact, CodegenError> {
    let split = match opts.target {
        Target::HostCpu => llvm::split_point(kernel),
        Target::Nvptx { .. } | Target::Simt { .. } => None,
    };
    let Some(at) = split else {
        return pipeline::run(kernel, opts, llvm::Unit::Whole, Frames::Alone).map(|p| Artifact::new(p, None));
    };
    let (frame_tx, frame_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let general = std::thread::Builder::new()
            .name("aqua-codegen".into())
            .stack_size(CODEGEN_STACK)
            .spawn_scoped(s, move || pipeline::run(kernel, opts, llvm::Unit::General { at }, Frames::Report(frame_tx)));
        // No second thread to be had (a process at its thread limit): one module.
        let Ok(general) = general else {
            return pipeline::run(kernel, opts, llvm::Unit::Whole, Frames::Alone).map(|p| Artifact::new(p, None));
        };
        let general_frame = || {
            frame_rx.recv().unwrap_or_else(|_| {
                // The general module's thread ended without a frame: its error says why.
                Err(CodegenError::Llvm {
                    kernel: kernel.name.clone(),
                    stage: "lowering",
                    message: "the outlined general form was not lowered".into(),
                })
            })
        };
        let fast = pipeline::run(kernel, opts, llvm::Unit::Fast { at }, Frames::Await(&general_frame));
        let t = std::time::Instant::now();
        let general = general.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        let mut fast = fast?;
        fast.timings.push(("join", t.elapsed()));
        Ok(Artifact::new(fast, Some(general)))
    })
}

/// Stack of the thread compiling an outlined general form: LLVM recurses over large
/// functions, so the main thread's 8 MiB rather than a spawned thread's default 2 MiB.
const CODEGEN_STACK: usize = 8 << 20;

impl Artifact {
    fn new(main: pipeline::Part, general: Option<pipeline::Part>) -> Artifact {
        let mut a = Artifact {
            object: main.object,
            general_object: None,
            block_threads: main.block_threads,
            shared_bytes: main.shared_bytes,
            llvm_ir: main.llvm_ir,
            asm: main.asm,
            timings: main.timings,
        };
        if let Some(g) = general {
            a.general_object = Some(g.object);
            a.timings.extend(g.timings);
            if !g.llvm_ir.is_empty() {
                a.llvm_ir = format!("{}\n; ---- {} (outlined general form) ----\n{}", a.llvm_ir, llvm::GENERAL_SYMBOL, g.llvm_ir);
                a.asm = format!("{}\n# ---- {} (outlined general form) ----\n{}", a.asm, llvm::GENERAL_SYMBOL, g.asm);
            }
        }
        a
    }

    /// The objects to link into one shared library (CPU and SIMT): [`Artifact::object`]
    /// and, when present, [`Artifact::general_object`].
    pub fn objects(&self) -> Vec<&[u8]> {
        std::iter::once(&self.object).chain(&self.general_object).map(Vec::as_slice).collect()
    }
}

/// Keeps LLVM from printing remarks and warnings (a vectorization hint it could not
/// honour, say) to the process's stderr; real failures come back as errors.
fn quiet(cx: &Context) {
    extern "C" fn ignore(_: inkwell::llvm_sys::prelude::LLVMDiagnosticInfoRef, _: *mut std::ffi::c_void) {}
    // SAFETY: the handler ignores its arguments and the context outlives every use.
    unsafe { inkwell::llvm_sys::core::LLVMContextSetDiagnosticHandler(cx.raw(), Some(ignore), std::ptr::null_mut()) };
}

/// A fingerprint of this crate's source (`build.rs`): cached code from another build of
/// the code generator must not be reused, even at the same package version.
pub const SOURCE_FINGERPRINT: &str = env!("AQUA_DSL_SOURCE_FINGERPRINT");

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
