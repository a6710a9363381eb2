//! Kernels written with `#[kernel]`, checked through the IR they build: the comptime /
//! runtime split, runtime `for`/`if` with carried values, unrolling, comptime parameters
//! with defaults, and source locations that point at the author's lines.

// Kernels here spell out `a = a + b` on purpose: plain assignment is what gets carried.
#![allow(clippy::assign_op_pattern)]

#[path = "expand/common.rs"]
mod common;
#[path = "expand/control.rs"]
mod control;
#[path = "expand/dataflow.rs"]
mod dataflow;
#[path = "expand/errors.rs"]
mod errors;
