//! Compile errors of `#[kernel]`, collected rather than returned at the first one.
//!
//! One expansion reports every mistake it finds, each at the span of the offending tokens,
//! and still emits the kernel's struct, so the rest of the crate (and the IDE) keeps
//! type-checking while the author fixes the kernel.

use std::fmt::Display;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;

/// The mistakes found so far.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records a mistake spanning `tokens` (the whole offending construct is underlined).
    pub fn at(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.0.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records a mistake at one span.
    pub fn at_span(&mut self, span: Span, message: impl Display) {
        self.0.push(syn::Error::new(span, message));
    }

    /// Records a mistake underlining everything from `first` through `last`.
    pub fn between(&mut self, first: Span, last: Span, message: impl Display) {
        let ends: TokenStream = [first, last]
            .into_iter()
            .map(|s| TokenTree::Ident(proc_macro2::Ident::new("x", s)))
            .collect();
        self.0.push(syn::Error::new_spanned(ends, message));
    }

    pub fn push(&mut self, e: syn::Error) {
        self.0.push(e);
    }

    pub fn extend(&mut self, other: Errors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One `compile_error!` per mistake, in the order they were found.
    pub fn to_compile_errors(&self) -> TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }
}

/// Tokens as an author would write them (`Vec<f32>`, not `Vec < f32 >`), for messages.
pub fn code(tokens: impl ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" :: ", "::"),
        (" ,", ","),
        ("& ", "&"),
    ] {
        s = s.replace(from, to);
    }
    s
}
