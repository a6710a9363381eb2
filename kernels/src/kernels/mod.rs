//! The kernels of this crate, written with `#[kernel]`, and the registry `aqua list` shows.

pub mod element;
pub mod elementwise;
pub mod fwht;
pub mod higgs;
pub mod higgs_math;
pub mod packing;
pub mod softmax;
pub mod specialize;
pub mod tile;
pub mod token_tile;
pub mod uniform;
pub mod uniform_math;
pub mod uniform_tokens;
mod variants;

use aqua_dsl::KernelSource;

pub use elementwise::axpy;
pub use higgs::{
    dequantize_higgs, dequantize_higgs_bf16, dequantize_higgs_f32, quantize_higgs, quantize_higgs_bf16,
    quantize_higgs_f32,
};
pub use softmax::softmax_rows;
pub use uniform::{
    dequantize_uniform, dequantize_uniform_bf16, dequantize_uniform_f32, quantize_uniform, quantize_uniform_bf16,
    quantize_uniform_f32,
};
pub use uniform_tokens::{
    dequantize_uniform_tokens, dequantize_uniform_tokens_bf16, dequantize_uniform_tokens_f32, quantize_uniform_tokens,
    quantize_uniform_tokens_bf16, quantize_uniform_tokens_f32,
};

/// Every kernel of the crate, in the order `aqua list` prints them.
pub fn registry() -> &'static [&'static dyn KernelSource] {
    &[
        &axpy,
        &softmax_rows,
        &quantize_uniform,
        &quantize_uniform_bf16,
        &quantize_uniform_f32,
        &dequantize_uniform,
        &dequantize_uniform_bf16,
        &dequantize_uniform_f32,
        &quantize_uniform_tokens,
        &quantize_uniform_tokens_bf16,
        &quantize_uniform_tokens_f32,
        &dequantize_uniform_tokens,
        &dequantize_uniform_tokens_bf16,
        &dequantize_uniform_tokens_f32,
        &quantize_higgs,
        &quantize_higgs_bf16,
        &quantize_higgs_f32,
        &dequantize_higgs,
        &dequantize_higgs_bf16,
        &dequantize_higgs_f32,
    ]
}
