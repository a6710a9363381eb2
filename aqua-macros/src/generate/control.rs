//! Runtime `if` and `for`: builder calls with closures for the branches and the body.
//!
//! The variables a construct assigns that were declared before it (its *carried*
//! variables, found by the analysis) go in as values and come back as results: each
//! closure starts with its own copy (`let mut acc = acc;`, so the two branch closures never
//! borrow a variable mutably at once), ends by returning the copies, and the results are
//! assigned back after the call.
//!
//! ```text
//! for i in lo..hi { acc = acc + f(i); }
//! => { let r = for_range(lo, hi, 1, &[acc], |i, c| { let mut acc = c[0]; { ... } vec![acc] });
//!      acc = r[0]; }
//! ```

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::body::{hidden, index, Emitter, Pos};
use crate::parse::ast::{Carried, For, If, Pattern};

/// The carried variables as the author named them.
fn names(em: &Emitter, carried: &[Carried]) -> Vec<syn::Ident> {
    carried
        .iter()
        .map(|c| em.bindings[c.binding].ident.clone())
        .collect()
}

/// `acc = r[0]; ...`, spanned at the author's first assignment inside the construct.
fn write_back(em: &Emitter, carried: &[Carried], results: &syn::Ident) -> TokenStream {
    carried
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut name = em.bindings[c.binding].ident.clone();
            name.set_span(c.assigned_at);
            let k = index(k);
            quote_spanned!(c.assigned_at=> #name = #results[#k];)
        })
        .collect()
}

pub fn runtime_if(em: &Emitter, i: &If, pos: Pos) -> TokenStream {
    let has_value =
        !matches!(pos, Pos::Stmt) && i.else_branch.is_some() && i.then_branch.tail.is_some();
    let branch_pos = match pos {
        Pos::Lift(t) if has_value => Pos::Lift(t),
        _ if has_value => Pos::Lift(None),
        _ => Pos::Stmt,
    };
    let cond = em.expr(&i.cond, Pos::Value);
    let carried = names(em, &i.carried);
    let then_body = em.block(&i.then_branch, branch_pos);
    let else_body = match &i.else_branch {
        Some((_, e)) => em.expr(e, branch_pos),
        None => quote!({}),
    };
    let then_branch = branch(&carried, then_body, has_value);
    let else_branch = branch(&carried, else_body, has_value);
    let results = hidden("__aqua_r");
    let write_back = write_back(em, &i.carried, &results);
    let value = has_value.then(|| {
        let k = index(carried.len());
        quote!(#results[#k])
    });
    quote_spanned! {i.if_token.span=>
        {
            let #results = ::aqua_dsl::build::if_else(#cond, #then_branch, #else_branch);
            #write_back
            #value
        }
    }
}

/// One branch closure: copies of the carried variables, the body, the yielded values.
fn branch(carried: &[syn::Ident], body: TokenStream, has_value: bool) -> TokenStream {
    let value = hidden("__aqua_v");
    if has_value {
        quote! {
            || {
                #( #[allow(unused_mut, unused_assignments)] let mut #carried = #carried; )*
                let #value = #body;
                ::std::vec![#(#carried,)* #value]
            }
        }
    } else {
        quote! {
            || {
                #( #[allow(unused_mut, unused_assignments)] let mut #carried = #carried; )*
                #body;
                ::std::vec![#(#carried),*]
            }
        }
    }
}

pub fn runtime_for(em: &Emitter, f: &For) -> TokenStream {
    let range = f
        .range()
        .expect("the analysis rejects runtime loops over anything but a range");
    let lo = em.expr(range.lo, Pos::Value);
    let hi = em.expr(range.hi, Pos::Value);
    let hi = if range.inclusive {
        quote!((#hi) + 1)
    } else {
        hi
    };
    let step = range
        .step
        .map_or_else(|| quote!(1), |s| em.expr(s, Pos::Value));
    let var = match &f.pat {
        Pattern::Ident { .. } | Pattern::Wild(_) => em.pattern(&f.pat),
        Pattern::Tuple { .. } => {
            unreachable!("the analysis rejects tuple patterns in runtime loops")
        }
    };
    let carried = names(em, &f.carried);
    let incoming = hidden("__aqua_c");
    let incoming_param = if carried.is_empty() {
        quote!(_)
    } else {
        quote!(#incoming)
    };
    let copies = carried.iter().enumerate().map(|(k, c)| {
        let k = index(k);
        quote!(#[allow(unused_mut, unused_assignments)] let mut #c = #incoming[#k];)
    });
    let body = em.block(&f.body, Pos::Stmt);
    let results = hidden("__aqua_r");
    let write_back = write_back(em, &f.carried, &results);
    quote_spanned! {f.for_token.span=>
        {
            let #results = ::aqua_dsl::build::for_range(#lo, #hi, #step, &[#(#carried),*], |#var, #incoming_param| {
                #(#copies)*
                #body;
                ::std::vec![#(#carried),*]
            });
            #write_back
        }
    }
}
