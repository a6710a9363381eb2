//! Execution backends. The host CPU is the only one so far.

pub mod cpu;
