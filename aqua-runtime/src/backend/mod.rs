//! Execution backends: the host CPU (`cpu`), NVIDIA GPUs (`cuda`), and the SIMT
//! emulation of the GPU program on host threads (`simt`), which tests the GPU lowering
//! without a GPU.

pub mod cpu;
pub mod cuda;
pub mod simt;
