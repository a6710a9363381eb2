//! Re-emitting the kernel body.
//!
//! Comptime code is written back as the author wrote it (it runs while the kernel is
//! built). In runtime expressions, arithmetic and bitwise operators stay Rust operators
//! (`Value` implements them), comparisons and `&&`/`||` become builder calls, intrinsic
//! calls become the `aqua_dsl::build` function of their arity, and comptime values that
//! must be `Value`s are lifted. The author's tokens keep their spans, so the builder's
//! `#[track_caller]` locations and rustc's errors point at the author's lines.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::control;
use crate::parse::ast::*;
use crate::parse::signature::Dtype;

/// What the surrounding code does with an expression's value.
#[derive(Clone, Copy)]
pub enum Pos<'a> {
    /// Nothing: a statement (block tails get a `;`).
    Stmt,
    /// Used as it is.
    Value,
    /// Must be a `Value`: a comptime result is lifted, as `constant::<T>` when a dtype is
    /// given.
    Lift(Option<&'a syn::Type>),
}

pub struct Emitter<'k> {
    pub bindings: &'k [Binding],
}

impl Emitter<'_> {
    pub fn block(&self, b: &Block, pos: Pos) -> TokenStream {
        let mut inner = TokenStream::new();
        for s in &b.stmts {
            inner.extend(self.stmt(s));
        }
        if let Some(t) = &b.tail {
            inner.extend(self.expr(t, pos));
            if matches!(pos, Pos::Stmt) {
                inner.extend(quote!(;));
            }
        }
        let mut out = TokenStream::new();
        b.brace.surround(&mut out, |ts| ts.extend(inner));
        out
    }

    fn stmt(&self, s: &Stmt) -> TokenStream {
        match s {
            Stmt::Let(l) => self.let_stmt(l),
            Stmt::Expr(e, semi) => {
                let e = self.expr(e, Pos::Stmt);
                quote!(#e #semi)
            }
            Stmt::Verbatim(ts) => ts.clone(),
        }
    }

    fn let_stmt(&self, l: &Let) -> TokenStream {
        let Let {
            attrs,
            let_token,
            pat,
            ty,
            eq_token,
            init,
            semi_token,
        } = l;
        if let Pattern::Ident { binding, .. } = pat {
            let lifted = self.bindings[*binding].lift;
            let (annotation, pos) = match ty {
                Some((_, t)) if lifted && Dtype::from_type(t).is_some() => {
                    (None, Pos::Lift(Some(&**t)))
                }
                Some(_) if lifted => (ty.as_ref(), Pos::Lift(None)),
                _ if lifted => (None, Pos::Lift(None)),
                _ => (ty.as_ref(), Pos::Value),
            };
            let annotation = annotation.map(|(colon, t)| quote!(#colon #t));
            let pat = self.pattern(pat);
            let init = self.expr(init, pos);
            return quote!(#(#attrs)* #let_token #pat #annotation #eq_token #init #semi_token);
        }
        // Other patterns: destructure, then lift the bindings that need it (rebound `mut`).
        let annotation = ty.as_ref().map(|(colon, t)| quote!(#colon #t));
        let p = self.pattern_with(pat, true);
        let init = self.expr(init, Pos::Value);
        let mut out = quote!(#(#attrs)* #let_token #p #annotation #eq_token #init #semi_token);
        self.rebind_lifted(pat, &mut out);
        out
    }

    /// `let mut x = lift(x);` for each lifted binding of `pat`, keeping the author's `mut`.
    fn rebind_lifted(&self, pat: &Pattern, out: &mut TokenStream) {
        match pat {
            Pattern::Ident {
                mutability,
                ident,
                binding,
            } if self.bindings[*binding].lift => {
                out.extend(quote_spanned!(ident.span()=> let #mutability #ident = ::aqua_dsl::build::lift(#ident);));
            }
            Pattern::Tuple { elems, .. } => elems.iter().for_each(|p| self.rebind_lifted(p, out)),
            _ => {}
        }
    }

    pub fn pattern(&self, p: &Pattern) -> TokenStream {
        self.pattern_with(p, false)
    }

    /// The pattern as written; `rebinding_lifted` drops the `mut` of lifted bindings, which
    /// are declared again (mutable) right after.
    fn pattern_with(&self, p: &Pattern, rebinding_lifted: bool) -> TokenStream {
        match p {
            Pattern::Ident { binding, .. } if rebinding_lifted && self.bindings[*binding].lift => {
                self.bindings[*binding].ident.to_token_stream()
            }
            Pattern::Ident {
                mutability, ident, ..
            } => quote!(#mutability #ident),
            Pattern::Wild(w) => w.to_token_stream(),
            Pattern::Tuple { paren, elems } => {
                let elems: Vec<TokenStream> = elems
                    .iter()
                    .map(|e| self.pattern_with(e, rebinding_lifted))
                    .collect();
                let trailing = (elems.len() == 1).then(|| quote!(,));
                let mut out = TokenStream::new();
                paren.surround(&mut out, |ts| ts.extend(quote!(#(#elems),* #trailing)));
                out
            }
        }
    }

    /// How the tail of a block (or branch) whose value has class `class` is used.
    fn tail_pos<'a>(class: Class, pos: Pos<'a>) -> Pos<'a> {
        match pos {
            Pos::Value if class.is_runtime() => Pos::Lift(None),
            p => p,
        }
    }

    pub fn expr(&self, e: &Expr, pos: Pos) -> TokenStream {
        match &e.kind {
            ExprKind::If(i) => return self.if_expr(i, e.class, pos),
            ExprKind::Block(b) => return self.block(b, Self::tail_pos(e.class, pos)),
            ExprKind::Paren { paren, inner } => {
                let inner = self.expr(inner, pos);
                let mut out = TokenStream::new();
                paren.surround(&mut out, |ts| ts.extend(inner));
                return out;
            }
            _ => {}
        }
        if let Pos::Lift(ty) = pos {
            if !e.class.is_runtime() {
                let value = self.expr(e, Pos::Value);
                return match ty {
                    Some(t) => quote_spanned!(e.span=> ::aqua_dsl::build::constant::<#t>(#value)),
                    None => quote_spanned!(e.span=> ::aqua_dsl::build::lift(#value)),
                };
            }
        }
        match &e.kind {
            ExprKind::Lit(l) => l.to_token_stream(),
            ExprKind::Local { ident, .. } => ident.to_token_stream(),
            ExprKind::Outer(p) => p.to_token_stream(),
            ExprKind::Verbatim { tokens, .. } => tokens.clone(),
            ExprKind::Binary { lhs, op, rhs } => self.binary(e.class, lhs, op, rhs),
            ExprKind::Unary { op, arg } => {
                let arg = self.expr(arg, Pos::Value);
                quote!(#op #arg)
            }
            ExprKind::Assign {
                target,
                op,
                eq_token,
                value,
            } => {
                let runtime_target = matches!(&target.kind,
                    ExprKind::Local { binding, .. } if self.bindings[*binding].class.is_runtime());
                let vpos = if runtime_target && op.is_none() {
                    Pos::Lift(None)
                } else {
                    Pos::Value
                };
                let t = self.expr(target, Pos::Value);
                let v = self.expr(value, vpos);
                match op {
                    Some(op) => quote!(#t #op #v),
                    None => quote!(#t #eq_token #v),
                }
            }
            ExprKind::Call {
                callee,
                paren,
                args,
            } => self.call(callee, paren, args),
            ExprKind::MethodCall {
                receiver,
                dot,
                method,
                turbofish,
                paren,
                args,
            } => {
                let r = self.expr(receiver, Pos::Value);
                let args = self.args(
                    paren,
                    args.iter().map(|a| self.expr(a, Pos::Value)).collect(),
                );
                quote!(#r #dot #method #turbofish #args)
            }
            ExprKind::Field { base, dot, member } => {
                let b = self.expr(base, Pos::Value);
                quote!(#b #dot #member)
            }
            ExprKind::Index {
                base,
                bracket,
                index,
            } => {
                let b = self.expr(base, Pos::Value);
                let i = self.expr(index, Pos::Value);
                let mut out = b;
                bracket.surround(&mut out, |ts| ts.extend(i));
                out
            }
            ExprKind::Tuple { paren, elems } => {
                let elems: Vec<TokenStream> =
                    elems.iter().map(|x| self.expr(x, Pos::Value)).collect();
                let trailing = (elems.len() == 1).then(|| quote!(,));
                let mut out = TokenStream::new();
                paren.surround(&mut out, |ts| ts.extend(quote!(#(#elems),* #trailing)));
                out
            }
            ExprKind::Array { bracket, elems } => {
                let elems: Vec<TokenStream> =
                    elems.iter().map(|x| self.expr(x, Pos::Value)).collect();
                let mut out = TokenStream::new();
                bracket.surround(&mut out, |ts| ts.extend(quote!(#(#elems),*)));
                out
            }
            ExprKind::Repeat {
                bracket,
                elem,
                semi,
                len,
            } => {
                let elem = self.expr(elem, Pos::Value);
                let mut out = TokenStream::new();
                bracket.surround(&mut out, |ts| ts.extend(quote!(#elem #semi #len)));
                out
            }
            ExprKind::For(f) => {
                if f.iter.class.is_runtime() {
                    control::runtime_for(self, f)
                } else {
                    let For {
                        label,
                        for_token,
                        pat,
                        in_token,
                        iter,
                        body,
                        ..
                    } = f;
                    let pat = self.pattern(pat);
                    let iter = self.expr(iter, Pos::Value);
                    let body = self.block(body, Pos::Stmt);
                    quote!(#label #for_token #pat #in_token #iter #body)
                }
            }
            ExprKind::Range { from, limits, to } => {
                let from = from.as_ref().map(|x| self.expr(x, Pos::Value));
                let to = to.as_ref().map(|x| self.expr(x, Pos::Value));
                quote!(#from #limits #to)
            }
            ExprKind::Cast { expr, as_token, ty } => {
                let x = self.expr(expr, Pos::Value);
                quote!(#x #as_token #ty)
            }
            ExprKind::Reference {
                and,
                mutability,
                expr,
            } => {
                let x = self.expr(expr, Pos::Value);
                quote!(#and #mutability #x)
            }
            ExprKind::Return { token, expr } => {
                let x = expr.as_ref().map(|x| self.expr(x, Pos::Value));
                quote!(#token #x)
            }
            ExprKind::Break { token, label } => quote!(#token #label),
            ExprKind::Continue { token, label } => quote!(#token #label),
            ExprKind::If(_) | ExprKind::Block(_) | ExprKind::Paren { .. } => {
                unreachable!("handled above")
            }
        }
    }

    fn binary(&self, class: Class, lhs: &Expr, op: &syn::BinOp, rhs: &Expr) -> TokenStream {
        let l = self.expr(lhs, Pos::Value);
        let r = self.expr(rhs, Pos::Value);
        if class.is_runtime() {
            if let Some(f) = builder_fn(op) {
                let span = op.span();
                let f = syn::Ident::new(f, span);
                return quote_spanned!(span=> ::aqua_dsl::build::#f(#l, #r));
            }
        }
        quote!(#l #op #r)
    }

    fn args(&self, paren: &syn::token::Paren, args: Vec<TokenStream>) -> TokenStream {
        let mut out = TokenStream::new();
        paren.surround(&mut out, |ts| ts.extend(quote!(#(#args),*)));
        out
    }

    fn call(&self, callee: &Callee, paren: &syn::token::Paren, args: &[Expr]) -> TokenStream {
        let mut values: Vec<TokenStream> = args.iter().map(|a| self.expr(a, Pos::Value)).collect();
        match callee {
            Callee::Intrinsic {
                ident,
                target,
                generics,
            } => {
                if *target == "arange_from" {
                    // `arange(start, end)` takes comptime integers of any type; the builder
                    // takes i64. The cast is the macro's (call-site span), not the author's,
                    // so lints about casts do not land on the author's literal.
                    for v in &mut values {
                        *v = quote!((#v) as i64);
                    }
                }
                let f = syn::Ident::new(target, ident.span());
                let args = self.args(paren, values);
                quote_spanned!(ident.span()=> ::aqua_dsl::build::#f #generics #args)
            }
            Callee::Rust(path) => {
                let args = self.args(paren, values);
                quote!(#path #args)
            }
        }
    }

    fn if_expr(&self, i: &If, class: Class, pos: Pos) -> TokenStream {
        if i.cond.class.is_runtime() {
            return control::runtime_if(self, i, pos);
        }
        let pos = Self::tail_pos(class, pos);
        let cond = self.expr(&i.cond, Pos::Value);
        let then = self.block(&i.then_branch, pos);
        let if_token = &i.if_token;
        let otherwise = i.else_branch.as_ref().map(|(else_token, e)| {
            let e = self.expr(e, pos);
            quote!(#else_token #e)
        });
        quote!(#if_token #cond #then #otherwise)
    }
}

/// The builder function a runtime binary operator becomes, when it is not a Rust operator
/// on `Value` (comparisons and `&&`/`||` cannot be overloaded).
fn builder_fn(op: &syn::BinOp) -> Option<&'static str> {
    Some(match op {
        syn::BinOp::Lt(_) => "lt",
        syn::BinOp::Le(_) => "le",
        syn::BinOp::Gt(_) => "gt",
        syn::BinOp::Ge(_) => "ge",
        syn::BinOp::Eq(_) => "eq",
        syn::BinOp::Ne(_) => "ne",
        syn::BinOp::And(_) => "logical_and",
        syn::BinOp::Or(_) => "logical_or",
        _ => return None,
    })
}

/// An unsuffixed index literal, for the generated `results[k]`.
pub fn index(k: usize) -> Literal {
    Literal::usize_unsuffixed(k)
}

/// A name for generated locals that the author's code cannot see or shadow.
pub fn hidden(name: &str) -> syn::Ident {
    syn::Ident::new(name, Span::mixed_site())
}
