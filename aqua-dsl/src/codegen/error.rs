//! The error code generation returns, and the internal one lowering passes around.

use inkwell::builder::BuilderError;

use crate::ir::Loc;

/// Why a kernel could not be compiled to machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodegenError {
    /// The kernel holds something this backend cannot lower (an IR the verifier should
    /// have rejected); names the kernel, the op and the author's source line.
    #[error("kernel `{kernel}`, op `{op}`{}: {message}", at(loc))]
    Unsupported { kernel: String, op: &'static str, loc: Loc, message: String },
    /// LLVM rejected the generated module or failed in a stage (a bug in aqua).
    #[error("kernel `{kernel}`: LLVM {stage} failed: {message}")]
    Llvm { kernel: String, stage: &'static str, message: String },
    /// The code generation target is not usable on this machine.
    #[error("target `{target}`: {message}")]
    Target { target: String, message: String },
}

fn at(loc: &Loc) -> String {
    if loc.is_known() {
        format!(" at {loc}")
    } else {
        String::new()
    }
}

/// A failure inside lowering, before the kernel's name is attached.
#[derive(Debug)]
pub(crate) enum LowerError {
    /// The LLVM builder refused an instruction (a bug in the lowering).
    Builder(String),
    /// An op the lowering cannot handle.
    Op { op: &'static str, loc: Loc, message: String },
}

impl From<BuilderError> for LowerError {
    fn from(e: BuilderError) -> Self {
        LowerError::Builder(e.to_string())
    }
}

impl LowerError {
    pub(crate) fn into_codegen(self, kernel: &str) -> CodegenError {
        match self {
            LowerError::Builder(message) => {
                CodegenError::Llvm { kernel: kernel.to_string(), stage: "lowering", message }
            }
            LowerError::Op { op, loc, message } => {
                CodegenError::Unsupported { kernel: kernel.to_string(), op, loc, message }
            }
        }
    }
}

pub(crate) type Lower<T> = Result<T, LowerError>;
