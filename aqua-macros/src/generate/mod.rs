//! Generating the kernel's Rust code from the analyzed kernel AST.
//!
//! The function becomes a unit struct named like it that implements
//! `aqua_dsl::build::KernelSource`: [`signature`] writes the parameter lists and binds the
//! parameters in `body`, [`body`] re-emits the body with comptime code left as Rust and
//! runtime code turned into builder calls, [`control`] writes runtime `if`/`for`.

mod body;
mod control;
mod signature;

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::error::Errors;
use crate::parse::ast::KernelFn;

/// The struct, its inherent `build`/`ir`, and its `KernelSource` impl. With mistakes the
/// body is left empty (the errors are emitted instead) so the item still type-checks.
pub fn generate(k: &KernelFn, errors: &Errors) -> TokenStream {
    let ident = &k.ident;
    let vis = &k.vis;
    let name = unraw(ident);
    let docs = &k.item_attrs;
    let cfgs: Vec<_> = k
        .item_attrs
        .iter()
        .filter(|a| !a.path().is_ident("doc"))
        .collect();
    let lints = &k.lint_attrs;
    let params = signature::params(k);
    let comptime = signature::comptime_params(k);
    let args = syn::Ident::new("__aqua_args", Span::mixed_site());
    let values = syn::Ident::new("__aqua_params", Span::mixed_site());
    // The unit struct takes the kernel's name in the value namespace, where it would turn
    // a `let` of that name into a pattern match; a local fn of that name shadows it.
    let shadow = quote! {
        #[allow(dead_code, non_snake_case)]
        fn #ident() {}
    };
    let (binds, body, unused) = if errors.is_empty() {
        let binds = signature::bind_params(k, &args, &values);
        let body = body::Emitter {
            bindings: &k.bindings,
        }
        .block(&k.body, body::Pos::Stmt);
        (binds, body, quote!())
    } else {
        (quote!(), quote!(), quote!(#[allow(unused_variables)]))
    };
    let errors = errors.to_compile_errors();
    quote! {
        #errors

        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #ident;

        #(#cfgs)*
        #[allow(dead_code)]
        impl #ident {
            /// Specializes the kernel on `params` (defaults filled in) and verifies it.
            pub fn build(
                &self,
                #values: &::aqua_dsl::build::Params,
            ) -> ::std::result::Result<::aqua_dsl::ir::Kernel, ::aqua_dsl::KernelError> {
                ::aqua_dsl::build::KernelSource::build(self, #values)
            }

            /// The canonical IR text of the kernel specialized on `params`.
            pub fn ir(
                &self,
                #values: &::aqua_dsl::build::Params,
            ) -> ::std::result::Result<::std::string::String, ::aqua_dsl::KernelError> {
                ::aqua_dsl::build::KernelSource::ir(self, #values)
            }
        }

        #(#cfgs)*
        impl ::aqua_dsl::build::KernelSource for #ident {
            fn name(&self) -> &'static str {
                #name
            }

            fn params(&self) -> ::std::vec::Vec<::aqua_dsl::ir::Param> {
                #params
            }

            fn comptime_params(&self) -> ::std::vec::Vec<::aqua_dsl::build::ComptimeParam> {
                #comptime
            }

            fn identity(&self) -> ::std::option::Option<::std::any::TypeId> {
                ::std::option::Option::Some(::std::any::TypeId::of::<Self>())
            }

            #(#lints)*
            #unused
            fn body(&self, #args: &[::aqua_dsl::build::Value], #values: &::aqua_dsl::build::Params) {
                #[allow(unused_imports)]
                use ::aqua_dsl::prelude::*;
                #shadow
                #binds
                #body
            }
        }
    }
}

/// The name as written, without a raw identifier's `r#`.
fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}
