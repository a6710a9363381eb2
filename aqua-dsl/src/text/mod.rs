//! The canonical text form of kernels. (Placeholder: printer and parser to come.)

use std::fmt;

use crate::ir::Kernel;

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self)
    }
}
