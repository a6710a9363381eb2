//! What a run of the interpreter can fail with.
//!
//! [`InterpError`] is public: launches report it to kernel authors, and differential tests
//! compare its out-of-bounds reports with the CPU backend's checked mode. [`OpError`] is
//! what the per-op functions return; the executor adds the kernel, op, location and
//! program before it leaves the interpreter.

use std::fmt;

use crate::ir::{DType, Loc};

/// A failed interpreter run. Every variant names the kernel; op failures also name the
/// op, the author's source location and the program that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpError {
    /// The number of arguments differs from the kernel's signature.
    ArgCount {
        kernel: String,
        expected: usize,
        got: usize,
    },
    /// An argument of the wrong kind (buffer vs scalar) or dtype, or a scalar whose value
    /// does not fit its dtype.
    ArgMismatch {
        kernel: String,
        arg: usize,
        param: String,
        expected: String,
        got: String,
    },
    /// A buffer whose length in bytes is not a whole number of elements.
    BufferLength {
        kernel: String,
        arg: usize,
        param: String,
        bytes: usize,
        dtype: DType,
    },
    /// An unmasked load or store outside its buffer (`offset` is in elements).
    OutOfBounds {
        kernel: String,
        arg: usize,
        param: String,
        offset: i64,
        program: [u32; 3],
        is_store: bool,
        loc: Loc,
    },
    /// Any other failure of an op (ill-typed operands, a store through a read-only
    /// pointer, an unknown table, ...): only ill-formed kernels get here.
    Runtime {
        kernel: String,
        op: &'static str,
        loc: Loc,
        program: [u32; 3],
        message: String,
    },
    /// The kernel's structure does not match its signature (ill-formed kernel).
    InvalidKernel { kernel: String, message: String },
}

impl InterpError {
    /// The name of the kernel the error is about.
    pub fn kernel(&self) -> &str {
        match self {
            InterpError::ArgCount { kernel, .. }
            | InterpError::ArgMismatch { kernel, .. }
            | InterpError::BufferLength { kernel, .. }
            | InterpError::OutOfBounds { kernel, .. }
            | InterpError::Runtime { kernel, .. }
            | InterpError::InvalidKernel { kernel, .. } => kernel,
        }
    }
}

fn at(loc: &Loc) -> String {
    if loc.is_known() {
        format!(" at {loc}")
    } else {
        String::new()
    }
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::ArgCount {
                kernel,
                expected,
                got,
            } => {
                write!(f, "kernel `{kernel}` takes {expected} arguments, got {got}")
            }
            InterpError::ArgMismatch {
                kernel,
                arg,
                param,
                expected,
                got,
            } => write!(
                f,
                "kernel `{kernel}`, argument {arg} (`{param}`): expected {expected}, got {got}"
            ),
            InterpError::BufferLength {
                kernel,
                arg,
                param,
                bytes,
                dtype,
            } => write!(
                f,
                "kernel `{kernel}`, argument {arg} (`{param}`): a buffer of {bytes} bytes is not \
                 a whole number of {dtype} elements ({} bytes each)",
                dtype.size_bytes()
            ),
            InterpError::OutOfBounds {
                kernel,
                arg,
                param,
                offset,
                program,
                is_store,
                loc,
            } => {
                let what = if *is_store { "store to" } else { "load from" };
                write!(
                    f,
                    "kernel `{kernel}`: out-of-bounds {what} argument {arg} (`{param}`) at \
                     element offset {offset}, program {program:?}{}",
                    at(loc)
                )
            }
            InterpError::Runtime {
                kernel,
                op,
                loc,
                program,
                message,
            } => write!(
                f,
                "kernel `{kernel}`, op `{op}`{}, program {program:?}: {message}",
                at(loc)
            ),
            InterpError::InvalidKernel { kernel, message } => {
                write!(f, "kernel `{kernel}` is ill-formed: {message}")
            }
        }
    }
}

impl std::error::Error for InterpError {}

/// The failure of one op, before the executor adds where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OpError {
    Msg(String),
    /// `arg` is the pointer parameter's index.
    OutOfBounds {
        arg: usize,
        offset: i64,
        is_store: bool,
    },
}

impl From<String> for OpError {
    fn from(message: String) -> OpError {
        OpError::Msg(message)
    }
}
