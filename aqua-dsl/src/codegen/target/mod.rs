//! Code generation targets: what turns an LLVM module into something loadable.
//!
//! A target configures the module (triple, data layout, function attributes), runs the
//! optimization pipeline and emits its outputs: the host CPU (`cpu.rs`, an ELF object)
//! and NVIDIA GPUs (`nvptx.rs`, PTX text).

pub(crate) mod cpu;
pub(crate) mod nvptx;

use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{FileType, TargetMachine};
use inkwell::OptimizationLevel;

/// LLVM's code generation level for an `opt_level` of 0 to 3 (above 3: 3).
pub(crate) fn level(opt_level: u8) -> OptimizationLevel {
    match opt_level {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    }
}

/// Sets the module's triple and data layout (before lowering, so types have sizes).
pub(crate) fn configure(machine: &TargetMachine, module: &Module) {
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
}

/// Runs LLVM's `default<O{opt_level}>` pipeline with the target's pass options, after
/// `first` (module passes, or nothing).
pub(crate) fn optimize(
    machine: &TargetMachine,
    module: &Module,
    first: &str,
    opt_level: u8,
    options: PassBuilderOptions,
) -> Result<(), String> {
    let pipeline = format!("{first}default<O{}>", opt_level.min(3));
    module.run_passes(&pipeline, machine, options).map_err(|e| e.to_string())
}

/// The module as an object file or assembly text.
pub(crate) fn emit(machine: &TargetMachine, module: &Module, kind: FileType) -> Result<Vec<u8>, String> {
    let buf = machine.write_to_memory_buffer(module, kind).map_err(|e| e.to_string())?;
    Ok(buf.as_slice().to_vec())
}
