//! The error every front-end stage returns: building, verifying and parsing a kernel.

use std::fmt;

use crate::ir::Loc;

/// A mistake in a kernel, located at the author's source line when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelError {
    /// The kernel's name.
    pub kernel: String,
    /// The op involved, when the mistake is about one op.
    pub op: Option<&'static str>,
    pub loc: Loc,
    pub message: String,
}

impl KernelError {
    pub fn new(kernel: impl Into<String>, loc: Loc, message: impl Into<String>) -> KernelError {
        KernelError { kernel: kernel.into(), op: None, loc, message: message.into() }
    }

    pub fn with_op(mut self, op: &'static str) -> KernelError {
        self.op = Some(op);
        self
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kernel `{}`", self.kernel)?;
        if let Some(op) = self.op {
            write!(f, ", op `{op}`")?;
        }
        if self.loc.is_known() {
            write!(f, " at {}", self.loc)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for KernelError {}
