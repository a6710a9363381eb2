//! The reference interpreter: the executable semantics of aqua kernels.
//!
//! [`run`] evaluates a [`Kernel`] eagerly with plain Rust vectors: programs run one after
//! another in linear order `p = x + gx * (y + gy * z)`, and within a program ops run in
//! program order. Every backend is tested against it. The numeric rules are those of the
//! op docs in `ir/ops/`; `docs/semantics.md` summarizes them with the tolerances backends
//! are held to. The interpreter never panics on a kernel or its arguments: an ill-formed
//! kernel, a bad argument or an unmasked out-of-bounds access is an [`InterpError`].
//! After an error, the buffers hold whatever the programs before it wrote.
//!
//! Module map: `value` (runtime values), `numeric` (element types and scalar rules),
//! `elementwise`, `cast`, `shape`, `reduce`, `memory` (one file per op family), `exec`
//! (the per-program executor) and `control` (`for`, `if`).

mod cast;
mod control;
mod elementwise;
mod error;
mod exec;
mod memory;
mod numeric;
mod reduce;
mod shape;
mod value;

use std::rc::Rc;

pub use error::InterpError;

use crate::ir::{Const, Kernel, ParamKind};
use exec::{Machine, Val};
use memory::Memory;
use value::{Data, PtrData, RtValue};

/// One kernel argument.
#[derive(Debug)]
pub enum ArgValue<'a> {
    /// A pointer parameter: the buffer's bytes, elements of the param's dtype in native
    /// (little-endian) layout; bool is one byte 0/1. Length in elements = bytes / size.
    Buffer(&'a mut [u8]),
    /// A scalar parameter.
    Scalar(Const),
}

/// Runs `kernel` over `grid` (programs along axes 0, 1, 2; an axis of 0 runs nothing).
pub fn run(kernel: &Kernel, grid: [u32; 3], args: &mut [ArgValue]) -> Result<(), InterpError> {
    let values = bind_args(kernel, args)?;
    check_signature(kernel)?;
    let bufs = args
        .iter_mut()
        .map(|a| match a {
            ArgValue::Buffer(b) => Some(&mut **b),
            ArgValue::Scalar(_) => None,
        })
        .collect();
    let mut machine = Machine::new(kernel, Memory { bufs }, grid);
    for z in 0..grid[2] {
        for y in 0..grid[1] {
            for x in 0..grid[0] {
                machine.run_program([x, y, z], &values)?;
            }
        }
    }
    Ok(())
}

/// Checks every argument against the signature and returns the parameters' values.
fn bind_args(kernel: &Kernel, args: &[ArgValue]) -> Result<Vec<Val>, InterpError> {
    let name = || kernel.name.clone();
    if args.len() != kernel.params.len() {
        return Err(InterpError::ArgCount {
            kernel: name(),
            expected: kernel.params.len(),
            got: args.len(),
        });
    }
    let mut values = Vec::with_capacity(args.len());
    for (i, (param, arg)) in kernel.params.iter().zip(args).enumerate() {
        let mismatch = |expected: String, got: String| InterpError::ArgMismatch {
            kernel: name(),
            arg: i,
            param: param.name.clone(),
            expected,
            got,
        };
        let value = match (&param.kind, arg) {
            (ParamKind::Ptr { dtype, .. }, ArgValue::Buffer(b)) => {
                if b.len() % dtype.size_bytes() != 0 {
                    return Err(InterpError::BufferLength {
                        kernel: name(),
                        arg: i,
                        param: param.name.clone(),
                        bytes: b.len(),
                        dtype: *dtype,
                    });
                }
                Data::Ptr(PtrData {
                    param: i,
                    dtype: *dtype,
                    offsets: vec![0],
                })
            }
            (ParamKind::Scalar(d), ArgValue::Scalar(c)) if c.dtype == *d => {
                cast::const_data(c).map_err(|m| mismatch(format!("a {d} scalar"), m))?
            }
            (kind, arg) => {
                let expected = match kind {
                    ParamKind::Ptr { .. } => format!("a buffer ({kind})"),
                    ParamKind::Scalar(d) => format!("a {d} scalar"),
                };
                let got = match arg {
                    ArgValue::Buffer(_) => "a buffer".to_string(),
                    ArgValue::Scalar(c) => format!("a {} scalar", c.dtype),
                };
                return Err(mismatch(expected, got));
            }
        };
        values.push(Rc::new(RtValue::scalar(value)));
    }
    Ok(values)
}

/// The body's arguments must be the parameters, with the parameters' types.
fn check_signature(kernel: &Kernel) -> Result<(), InterpError> {
    let invalid = |message: String| InterpError::InvalidKernel {
        kernel: kernel.name.clone(),
        message,
    };
    if kernel.body.args.len() != kernel.params.len() {
        return Err(invalid(format!(
            "the body has {} arguments for {} parameters",
            kernel.body.args.len(),
            kernel.params.len()
        )));
    }
    for (param, &id) in kernel.params.iter().zip(&kernel.body.args) {
        let declared = kernel.values.get(id.0 as usize);
        if declared != Some(&param.kind.value_type()) {
            return Err(invalid(format!(
                "parameter `{}` is {} but its value {id} is not",
                param.name, param.kind
            )));
        }
    }
    Ok(())
}
