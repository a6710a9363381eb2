//! Code generation targets: what turns an LLVM module into something loadable.
//!
//! A target configures the module (triple, data layout, function attributes), runs the
//! optimization pipeline and emits its outputs. The host CPU is the only one so far; a
//! GPU target is another file here with the same three steps.

pub(crate) mod cpu;
