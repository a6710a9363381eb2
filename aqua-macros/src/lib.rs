//! `#[kernel]`: block kernels written in Rust syntax for aqua.
//!
//! ```ignore
//! #[kernel]
//! fn axpy(x: Ptr<f32>, y: PtrMut<f32>, n: i32, a: f32, #[comptime(default = 128)] block: u32) {
//!     let offs = program_id(0) * block + arange(block);
//!     let mask = offs < n;
//!     store(y + offs, a * load(x + offs, mask, 0.0) + load(y + offs, mask), mask);
//! }
//! ```
//!
//! expands to a unit struct `axpy` implementing `aqua_dsl::build::KernelSource`; its body
//! runs with the comptime parameters as plain Rust values and emits IR for everything that
//! touches a runtime value. The macro is split like CubeCL's: `parse` (syn to a small
//! kernel AST, with the comptime analysis) and `generate` (the AST to builder code).
//! `docs/language.md` is the author's guide.

mod error;
mod generate;
mod parse;

use proc_macro::TokenStream;

/// Turns a function into an aqua kernel source; see the crate docs and `docs/language.md`.
#[proc_macro_attribute]
pub fn kernel(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::ItemFn);
    let mut errors = error::Errors::default();
    let kernel = parse::parse_kernel(attr.into(), item, &mut errors);
    generate::generate(&kernel, &errors).into()
}
