//! The verifier: checks that a kernel is well typed and well shaped.
//! (Placeholder: filled in by the verifier work.)

use crate::error::KernelError;
use crate::ir::Kernel;

pub fn verify(_kernel: &Kernel) -> Result<(), KernelError> {
    Ok(())
}
