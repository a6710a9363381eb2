//! The generated `params()` and `comptime_params()`, and the bindings of the parameters at
//! the top of `body()`: runtime ones to their `Value`, comptime ones to their Rust value.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::unraw;
use crate::parse::ast::{KernelFn, ParamKind};
use crate::parse::signature::CtValue;

pub fn params(k: &KernelFn) -> TokenStream {
    let entries = k.params.iter().filter_map(|p| {
        let name = unraw(&p.ident);
        let kind = match &p.kind {
            ParamKind::Ptr { dtype, mutable } => {
                let d = format_ident!("{}", dtype.variant());
                quote!(::aqua_dsl::ir::ParamKind::Ptr { dtype: ::aqua_dsl::ir::DType::#d, mutable: #mutable })
            }
            ParamKind::Scalar(dtype) => {
                let d = format_ident!("{}", dtype.variant());
                quote!(::aqua_dsl::ir::ParamKind::Scalar(::aqua_dsl::ir::DType::#d))
            }
            ParamKind::Comptime { .. } => return None,
        };
        Some(quote!(::aqua_dsl::ir::Param { name: ::std::string::String::from(#name), kind: #kind }))
    });
    quote!(::std::vec![#(#entries),*])
}

pub fn comptime_params(k: &KernelFn) -> TokenStream {
    let entries = k.params.iter().filter_map(|p| {
        let ParamKind::Comptime { ty, default, .. } = &p.kind else {
            return None;
        };
        let name = unraw(&p.ident);
        let ty = format_ident!("{}", ty.variant());
        let default = match default {
            None => quote!(::std::option::Option::None),
            Some(v) => {
                let v = match v {
                    CtValue::Int(i) => {
                        let i = Literal::i64_suffixed(*i);
                        quote!(::aqua_dsl::ir::ComptimeValue::Int(#i))
                    }
                    CtValue::Float(f) => {
                        let f = Literal::f64_suffixed(*f);
                        quote!(::aqua_dsl::ir::ComptimeValue::Float(#f))
                    }
                    CtValue::Bool(b) => quote!(::aqua_dsl::ir::ComptimeValue::Bool(#b)),
                };
                quote!(::std::option::Option::Some(#v))
            }
        };
        Some(quote!(::aqua_dsl::build::ComptimeParam {
            name: #name,
            ty: ::aqua_dsl::build::ComptimeType::#ty,
            default: #default,
        }))
    });
    quote!(::std::vec![#(#entries),*])
}

/// `let x: Value = args[0];` for runtime parameters, in order, and
/// `let block: u32 = comptime_arg(params, "block");` for comptime ones.
pub fn bind_params(k: &KernelFn, args: &syn::Ident, values: &syn::Ident) -> TokenStream {
    let mut out = TokenStream::new();
    let mut index = 0usize;
    for p in &k.params {
        let ident = &p.ident;
        let mutability = &p.mutability;
        match &p.kind {
            ParamKind::Comptime { rust_ty, .. } => {
                let name = unraw(ident);
                out.extend(quote! {
                    let #mutability #ident: #rust_ty = ::aqua_dsl::build::comptime_arg(#values, #name);
                });
            }
            _ => {
                let i = Literal::usize_unsuffixed(index);
                index += 1;
                out.extend(
                    quote! { let #mutability #ident: ::aqua_dsl::build::Value = #args[#i]; },
                );
            }
        }
    }
    out
}
