//! Parsing `#[kernel]`: syn's function item to the kernel AST, with the comptime analysis.
//!
//! [`signature`] reads the parameters, [`lower`] the body, [`analysis`] classifies it.
//! Mistakes are collected in [`Errors`]; whatever could be parsed is still returned.

mod analysis;
pub mod ast;
mod intrinsics;
mod lower;
pub mod signature;

use proc_macro2::TokenStream;

use crate::error::Errors;
use ast::{Binding, Class, KernelFn, Origin, Param};

/// Parses and analyzes a kernel function; `attr` is what `#[kernel(...)]` was given.
pub fn parse_kernel(attr: TokenStream, item: syn::ItemFn, errors: &mut Errors) -> KernelFn {
    if !attr.is_empty() {
        errors.at(&attr, "`#[kernel]` takes no arguments");
    }
    let mut item_attrs = Vec::new();
    let mut lint_attrs = Vec::new();
    for attr in item.attrs {
        let path = attr.path();
        if path.is_ident("doc") || path.is_ident("cfg") || path.is_ident("cfg_attr") {
            item_attrs.push(attr);
        } else if ["allow", "warn", "deny", "forbid", "expect"]
            .iter()
            .any(|l| path.is_ident(l))
        {
            lint_attrs.push(attr);
        } else {
            errors.at(
                &attr,
                "unsupported attribute on a kernel: only docs, `cfg` and lint levels apply",
            );
        }
    }
    signature::check_fn(&item.sig, errors);
    let mut bindings = Vec::new();
    let params: Vec<Param> = signature::parse_params(&item.sig, errors)
        .into_iter()
        .map(|p| {
            let (origin, class) = if p.kind.is_runtime() {
                (Origin::RuntimeParam, Class::Runtime)
            } else {
                (Origin::ComptimeParam, Class::Comptime)
            };
            let mutable = p.mutability.is_some();
            bindings.push(Binding {
                ident: p.ident.clone(),
                origin,
                mutable,
                class,
                lift: false,
            });
            Param {
                ident: p.ident,
                mutability: p.mutability,
                kind: p.kind,
            }
        })
        .collect();
    let param_bindings = (0..bindings.len()).collect();
    let body = lower::Lowerer::new(&mut bindings, param_bindings, errors).block(*item.block);
    let mut kernel = KernelFn {
        item_attrs,
        lint_attrs,
        vis: item.vis,
        ident: item.sig.ident,
        params,
        body,
        bindings,
    };
    analysis::analyze(&mut kernel, errors);
    kernel
}
