//! The kernels of this crate, written with `#[kernel]`, and the registry `aqua list` shows.

pub mod elementwise;
pub mod packing;
pub mod softmax;
pub mod tile;
pub mod uniform;
pub mod uniform_math;

use aqua_dsl::KernelSource;

pub use elementwise::axpy;
pub use softmax::softmax_rows;
pub use uniform::{dequantize_uniform, dequantize_uniform_f32, quantize_uniform, quantize_uniform_f32};

/// Every kernel of the crate, in the order `aqua list` prints them.
pub fn registry() -> &'static [&'static dyn KernelSource] {
    &[
        &axpy,
        &softmax_rows,
        &quantize_uniform,
        &quantize_uniform_f32,
        &dequantize_uniform,
        &dequantize_uniform_f32,
    ]
}
