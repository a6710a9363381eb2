//! NVIDIA GPUs: LLVM's `nvptx64-nvidia-cuda` target for `sm_80` and `sm_90`, the
//! `default<O3>` pipeline without vectorization or unrolling, and PTX text as output.
//!
//! The lowering (`llvm/`, with `TargetInfo::gpu` set) makes one program one CTA of
//! `num_warps * 32` threads; `llvm/gpu.rs` says how blocks are spread over them.

use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};

use crate::codegen::llvm::{GpuInfo, TargetInfo};
use crate::codegen::CodegenError;

pub(crate) const TRIPLE: &str = "nvptx64-nvidia-cuda";
/// PTX ISA 8.1 (CUDA 12.1): `sm_90`, and `cvt.rn.satfinite.f16.f32` (`llvm/satfinite.rs`).
const PTX_FEATURES: &str = "+ptx81";

/// The architectures aqua generates code for (`sm_80`: A100, `sm_90`: H100/H200).
pub const SUPPORTED_SM: [u32; 2] = [80, 90];

/// Checks a CTA size request: a power of two from 1 to 32 warps.
pub(crate) fn check_warps(target: &str, num_warps: u32) -> Result<u32, CodegenError> {
    if !(1..=32).contains(&num_warps) || !num_warps.is_power_of_two() {
        return Err(CodegenError::Target {
            target: target.into(),
            message: format!("num_warps must be a power of two from 1 to 32, not {num_warps}"),
        });
    }
    Ok(num_warps * 32)
}

/// Makes shared-memory (and local and constant) pointers 32 bits wide, LLVM's
/// `-nvptx-short-ptr`: shared addresses then take 32-bit registers and arithmetic, as the
/// 32-bit element indices of the lowering do (`llvm/mod.rs`, `Lowerer::idx`), where 64-bit
/// pointers spent two instructions on every address step. A process-wide LLVM option,
/// set once before the first NVPTX target machine; it touches no other target.
fn short_pointers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let args = [c"aqua".as_ptr(), c"-nvptx-short-ptr".as_ptr()];
        // SAFETY: two valid C strings; the option is registered by the NVPTX target,
        // which is initialized above, and parsing it only sets a flag.
        unsafe { inkwell::llvm_sys::support::LLVMParseCommandLineOptions(2, args.as_ptr(), std::ptr::null()) };
    });
}

pub(crate) struct Nvptx {
    machine: TargetMachine,
    info: TargetInfo,
}

impl Nvptx {
    pub(crate) fn new(sm: u32, num_warps: u32, opt_level: u8) -> Result<Nvptx, CodegenError> {
        let err = |message: String| CodegenError::Target { target: format!("sm_{sm}"), message };
        if !SUPPORTED_SM.contains(&sm) {
            return Err(err(format!("unsupported architecture; aqua targets {SUPPORTED_SM:?}")));
        }
        let threads = check_warps(&format!("sm_{sm}"), num_warps)?;
        Target::initialize_nvptx(&InitializationConfig::default());
        short_pointers();
        let triple = TargetTriple::create(TRIPLE);
        let target = Target::from_triple(&triple).map_err(|m| err(m.to_string()))?;
        let level = super::level(opt_level);
        let cpu = format!("sm_{sm}");
        let machine = target
            .create_target_machine(&triple, &cpu, PTX_FEATURES, level, RelocMode::Default, CodeModel::Default)
            .ok_or_else(|| err("LLVM cannot create an NVPTX target machine".into()))?;
        let info = TargetInfo {
            name: cpu.clone(),
            fn_attributes: vec![("target-cpu", cpu), ("target-features", PTX_FEATURES.into())],
            native_f16: true,
            permute16: false,
            prefetch_bytes: None,
            gpu: Some(GpuInfo { threads, simt: false }),
        };
        Ok(Nvptx { machine, info })
    }

    pub(crate) fn info(&self) -> &TargetInfo {
        &self.info
    }

    pub(crate) fn configure(&self, module: &Module) {
        super::configure(&self.machine, module)
    }

    pub(crate) fn optimize(&self, module: &Module, opt_level: u8) -> Result<(), String> {
        let options = PassBuilderOptions::create();
        // No vector registers to fill, and unrolled per-thread loops cost compile time
        // (about 15 ms of a quantizer's 55), PTX size and registers without merging any
        // access (each lane's mask is its own branch): loops stay loops.
        options.set_loop_slp_vectorization(false);
        options.set_loop_vectorization(false);
        options.set_loop_unrolling(false);
        // The program is lowered straight into the PTX entry (`llvm/gpu.rs`), so there is
        // nothing to inline: a wrapper calling it took O3's inliner 24.5-26 ms of
        // optimization for the 2-bit quantizer (the body simplified twice), and an
        // always-inliner run first still about 4 ms, to clone the body.
        // Shared-memory pointers are generic in the lowering (the same code serves stack
        // buffers); inferring their address space before O3, instead of in code
        // generation, lets O3 see the shared blocks' alignment, and the vectorizer then
        // merges a thread's neighbouring shared accesses (35 to 20 in the 2-bit quantizer).
        super::optimize(&self.machine, module, "function(infer-address-spaces),", opt_level, options)
    }

    /// PTX text (as bytes).
    pub(crate) fn emit(&self, module: &Module) -> Result<Vec<u8>, String> {
        super::emit(&self.machine, module, FileType::Assembly)
    }
}
