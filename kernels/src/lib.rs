//! AQUA-KV kernels written in aqua, their plain-Rust references, the bundled real KV slice,
//! and the library side of the `aqua` command.
//!
//! - [`kernels`]: the `#[kernel]` sources and [`registry`];
//! - [`quant`]: plain-Rust quantizers, packing and storage accounting (the references);
//! - [`host`]: running the kernels on an `aqua_runtime::Runtime`;
//! - [`predict`]: AQUA-KV's layer-to-layer predictors, fitted in closed form, and the chain
//!   that quantizes only what they miss;
//! - [`cache`]: the compressed KV cache: sinks and a recent window in 16 bits, the rest
//!   compressed chunk by chunk through the chain;
//! - [`data`]: the bundled real KV slice and the tool that cut it.

pub mod cache;
pub mod data;
pub mod host;
pub mod kernels;
pub mod predict;
pub mod quant;

pub use kernels::registry;
