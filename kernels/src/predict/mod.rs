//! AQUA-KV's predictors (`DESIGN.md`): a layer's keys are predicted from the previous
//! layer's reconstructed keys, its values from its own reconstructed keys and the previous
//! layer's reconstructed values, and only what the prediction misses is quantized.
//!
//! - [`ridge`]: the closed-form fits of the linear maps;
//! - [`chain`]: calibration (the maps fitted layer by layer, in order, on reconstructed
//!   inputs) and compression with fitted maps;
//! - [`quantizers`]: what the chain quantizes with: the kernels, or the plain-Rust
//!   references of the same methods;
//! - [`file`](mod@file): fitted maps as a safetensors file.

pub mod chain;
pub mod file;
pub mod quantizers;
pub mod ridge;

pub use chain::{EncodedLayer, Layer, LayerPredictors, LayerValues, Part, Predictors, Quantizer, Restored};
pub use ridge::Linear;

/// What goes wrong fitting or applying predictors.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("{0}")]
    Shape(String),
    #[error("{0}")]
    NonFinite(String),
    #[error("{0}")]
    Singular(String),
    #[error("predictors file: {0}")]
    File(String),
    #[error("layer {layer}: {problem}")]
    Layer { layer: usize, problem: String },
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
}
