//! The host CPU backend: link compiled kernel objects into the process ([`LinkedCode`],
//! LLVM's JIT linker), find a kernel's entry point ([`CpuModule::load`]) and run a grid of
//! programs across host threads ([`CpuModule::run`]), following `aqua_dsl::codegen::abi`.

mod jit;
mod module;

pub use jit::LinkedCode;
pub use module::CpuModule;

/// What can go wrong turning objects into runnable code.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// LLVM's JIT refused the objects (corrupt or for another machine).
    #[error("{what}: {message}")]
    Jit { what: &'static str, message: String },
    /// A symbol every compiled kernel defines is missing, or cannot be linked.
    #[error("cannot link `{symbol}` (not an aqua kernel for this machine?): {message}")]
    Symbol { symbol: &'static str, message: String },
}
