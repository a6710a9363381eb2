//! The host CPU backend: link a compiled kernel object into a shared library
//! ([`link_shared_object`]), load it ([`CpuModule::load`]) and run a grid of programs
//! across host threads ([`CpuModule::run`]), following `aqua_dsl::codegen::abi`.

mod link;
mod module;

use std::path::PathBuf;

pub use link::link_shared_object;
pub use module::CpuModule;

/// What can go wrong turning an object into runnable code.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error("{what} `{}`: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// Neither `ld` nor `cc` could be started.
    #[error("no linker found (tried `ld` and `cc`): install binutils (Debian: `apt-get install binutils`)")]
    NoLinker,
    /// The linker ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Link { command: String, status: String, stderr: String },
    /// The dynamic loader refused the shared object.
    #[error("cannot load `{}`: {message}", path.display())]
    Load { path: PathBuf, message: String },
    /// The shared object lacks a symbol every compiled kernel exports.
    #[error("`{}` does not export `{symbol}`: not an aqua kernel", path.display())]
    MissingSymbol { path: PathBuf, symbol: &'static str },
}
