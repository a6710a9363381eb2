//! Code generation targets: what turns an LLVM module into something loadable.
//!
//! A target configures the module (triple, data layout, function attributes), runs the
//! optimization pipeline and emits its outputs: the host CPU (`cpu.rs`, an ELF object)
//! and NVIDIA GPUs (`nvptx.rs`, PTX text).

pub(crate) mod cpu;
pub(crate) mod nvptx;
