//! AQUA-KV kernels written in aqua, their plain-Rust references, the bundled real KV slice,
//! and the library side of the `aqua` command.
//!
//! - [`kernels`]: the `#[kernel]` sources and [`registry`];
//! - [`quant`]: plain-Rust quantizers, packing and storage accounting (the references);
//! - [`host`]: running the kernels on an `aqua_runtime::Runtime`;
//! - [`data`]: the bundled real KV slice and the tool that cut it.

pub mod data;
pub mod host;
pub mod kernels;
pub mod quant;

pub use kernels::registry;
