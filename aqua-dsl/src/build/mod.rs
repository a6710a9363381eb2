//! The builder API: the functions and operators kernel bodies call to emit IR.
//!
//! `#[kernel]` expands to calls of exactly these; they are also usable by hand (tests and
//! generators build kernels directly). See `docs/language.md` for the language.

mod context;
mod control;
mod elementwise;
mod memory;
mod operators;
mod reduce;
mod shape;
mod source;
mod value;

pub use context::{abandon, begin, finish, report};
pub use control::{for_range, if_else, if_then, specialize};
pub use elementwise::*;
pub use memory::{
    const_table, load, load_masked, load_masked_or, num_programs, program_id, store, store_masked,
    store_streaming, ConstTable,
};
pub use reduce::{dot, dot_acc};
pub use shape::{arange, arange_from, full, full_of, zeros};
pub use source::{
    build_kernel, comptime_arg, complete_params, ComptimeParam, ComptimeType, ComptimeValueArg, FromComptime,
    KernelSource, Params,
};
pub use value::{Dtype, IntoOperand, IntoShape, Operand, Value};
