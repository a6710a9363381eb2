//! The host CPU: LLVM's native target with the host's CPU name and features, PIC code
//! (the runtime links the object into the process), the `default<O3>` pipeline with loop
//! and SLP vectorization, and a relocatable ELF object as output.

use std::sync::OnceLock;

use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};

use crate::codegen::llvm::streaming::NonTemporal;
use crate::codegen::llvm::TargetInfo;
use crate::codegen::CodegenError;

/// The host's triple, CPU name and feature string (computed once per process).
struct Host {
    triple: String,
    cpu: String,
    features: String,
}

fn host() -> Result<&'static Host, CodegenError> {
    static HOST: OnceLock<Result<Host, String>> = OnceLock::new();
    HOST.get_or_init(|| {
        Target::initialize_native(&InitializationConfig::default())?;
        Ok(Host {
            triple: TargetMachine::get_default_triple().as_str().to_string_lossy().into_owned(),
            cpu: TargetMachine::get_host_cpu_name().to_string(),
            features: TargetMachine::get_host_cpu_features().to_string(),
        })
    })
    .as_ref()
    .map_err(|m| CodegenError::Target {
        target: "host".into(),
        message: format!("LLVM cannot initialize the native target: {m}"),
    })
}

/// The most bytes of the next tile a program prefetches on AMD Zen cores (LLVM's
/// `znver*`): 32 cache lines.
const ZEN_PREFETCH_BYTES: u64 = 2048;

/// [`TargetInfo::prefetch_bytes`] for the host CPU `cpu`: AMD Zen cores stall on a burst
/// of more prefetches than they keep misses in flight, while their hardware prefetchers
/// follow a quantizer's streams (on a Zen 4, from memory: the uniform quantizer's 8 KiB
/// tiles 1.6x faster without their prefetch, HIGGS's 2 KiB tiles 1.2x faster with it);
/// elsewhere any tile (a Rocket Lake Xeon: the uniform quantizer 10% faster with it).
fn prefetch_bytes(cpu: &str) -> Option<u64> {
    cpu.starts_with("znver").then_some(ZEN_PREFETCH_BYTES)
}

/// `triple;cpu;features`: everything about the host that changes generated code.
pub(crate) fn fingerprint() -> String {
    match host() {
        Ok(h) => format!("{};{};{}", h.triple, h.cpu, h.features),
        Err(e) => format!("unavailable: {e}"),
    }
}

/// What every function gets: the host's CPU and features and, on hosts with AVX-512, a
/// preference for 512-bit vectors (LLVM's default stays at 256 bits on Intel cores that
/// downclock under 512-bit code; for these short, memory-bound kernels the wider vectors
/// made HIGGS dequantize about 20% faster and changed nothing else measurably).
fn fn_attributes(h: &Host) -> Vec<(&'static str, String)> {
    let mut attrs = vec![("target-cpu", h.cpu.clone()), ("target-features", h.features.clone())];
    if h.features.split(',').any(|f| f == "+avx512f") {
        attrs.push(("prefer-vector-width", "512".into()));
    }
    attrs
}

pub(crate) struct HostCpu {
    machine: TargetMachine,
    info: TargetInfo,
    non_temporal: NonTemporal,
}

impl HostCpu {
    pub(crate) fn new(opt_level: u8) -> Result<HostCpu, CodegenError> {
        let h = host()?;
        let err = |message: String| CodegenError::Target { target: h.triple.clone(), message };
        let triple = TargetTriple::create(&h.triple);
        let target = Target::from_triple(&triple).map_err(|m| err(m.to_string()))?;
        let level = super::level(opt_level);
        let machine = target
            .create_target_machine(&triple, &h.cpu, &h.features, level, RelocMode::PIC, CodeModel::Default)
            .ok_or_else(|| err(format!("LLVM cannot create a target machine for CPU `{}`", h.cpu)))?;
        let info = TargetInfo {
            name: "host".into(),
            fn_attributes: fn_attributes(h),
            native_f16: !h.triple.starts_with("x86_64") || h.features.split(',').any(|f| f == "+f16c"),
            permute16: h.features.split(',').any(|f| f == "+avx512f"),
            prefetch_bytes: prefetch_bytes(&h.cpu),
            gpu: None,
        };
        Ok(HostCpu { machine, info, non_temporal: NonTemporal::of_host(&h.triple, &h.features) })
    }

    pub(crate) fn info(&self) -> &TargetInfo {
        &self.info
    }

    pub(crate) fn configure(&self, module: &Module) {
        super::configure(&self.machine, module)
    }

    pub(crate) fn optimize(&self, module: &Module, opt_level: u8) -> Result<(), String> {
        let options = PassBuilderOptions::create();
        // Vectorize (loops and straight-line code), but neither interleave nor unroll:
        // blocks are short, and unrolled copies roughly double optimization and code
        // emission time for no measurable speed (see docs/codegen.md).
        options.set_loop_vectorization(true);
        options.set_loop_slp_vectorization(true);
        options.set_loop_interleaving(false);
        options.set_loop_unrolling(false);
        super::optimize(&self.machine, module, "", opt_level, options)?;
        if crate::codegen::llvm::streaming::write_around_caches(module, self.non_temporal)? {
            module
                .run_passes("always-inline", &self.machine, PassBuilderOptions::create())
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub(crate) fn emit(&self, module: &Module, kind: FileType) -> Result<Vec<u8>, String> {
        super::emit(&self.machine, module, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zen_cores_prefetch_tiles_of_at_most_2_kib() {
        assert_eq!(prefetch_bytes("znver4"), Some(2048));
        assert_eq!(prefetch_bytes("znver2"), Some(2048));
        assert_eq!(prefetch_bytes("rocketlake"), None);
        assert_eq!(prefetch_bytes("neoverse-v2"), None);
    }
}
