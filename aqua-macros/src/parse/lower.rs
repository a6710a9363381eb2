//! Lowering a kernel body from syn to the kernel AST.
//!
//! Resolves every variable to its binding with Rust's scoping (blocks, shadowing, loop
//! variables), maps intrinsic calls by name and arity, and rejects the constructs a kernel
//! cannot express (`while`, `loop`, `match`, closures, `unsafe`, ...) at their span. A
//! rejected construct becomes a unit literal, so lowering continues and reports the rest.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;

use super::ast::*;
use super::intrinsics;
use crate::error::Errors;

pub struct Lowerer<'a> {
    bindings: &'a mut Vec<Binding>,
    scopes: Vec<Vec<BindingId>>,
    errors: &'a mut Errors,
}

impl<'a> Lowerer<'a> {
    /// A lowerer whose outermost scope holds `params` (already in `bindings`).
    pub fn new(
        bindings: &'a mut Vec<Binding>,
        params: Vec<BindingId>,
        errors: &'a mut Errors,
    ) -> Self {
        Lowerer {
            bindings,
            scopes: vec![params],
            errors,
        }
    }

    fn lookup(&self, ident: &syn::Ident) -> Option<BindingId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .copied()
            .find(|&b| self.bindings[b].ident == *ident)
    }

    fn declare(&mut self, ident: &syn::Ident, mutable: bool, origin: Origin) -> BindingId {
        let id = self.bindings.len();
        self.bindings.push(Binding {
            ident: ident.clone(),
            origin,
            mutable,
            class: Class::Comptime,
            lift: false,
        });
        self.scopes.last_mut().expect("a scope is open").push(id);
        id
    }

    pub fn block(&mut self, b: syn::Block) -> Block {
        self.scopes.push(Vec::new());
        let mut stmts = Vec::new();
        let mut tail = None;
        let n = b.stmts.len();
        for (i, s) in b.stmts.into_iter().enumerate() {
            match s {
                syn::Stmt::Expr(e, None) if i + 1 == n => tail = Some(Box::new(self.expr(e))),
                s => {
                    if let Some(s) = self.stmt(s) {
                        stmts.push(s);
                    }
                }
            }
        }
        self.scopes.pop();
        Block {
            brace: b.brace_token,
            stmts,
            tail,
        }
    }

    fn stmt(&mut self, s: syn::Stmt) -> Option<Stmt> {
        match s {
            syn::Stmt::Local(l) => self.local(l).map(Stmt::Let),
            syn::Stmt::Item(item) => Some(Stmt::Verbatim(item.into_token_stream())),
            syn::Stmt::Macro(m) => Some(Stmt::Verbatim(m.into_token_stream())),
            syn::Stmt::Expr(e, semi) => Some(Stmt::Expr(self.expr(e), semi)),
        }
    }

    fn local(&mut self, l: syn::Local) -> Option<Let> {
        let Some(init) = l.init else {
            self.errors.at(
                &l,
                "a `let` in a kernel needs a value: declare the variable where its first value is known",
            );
            return None;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.errors
                .at(else_token, "`let ... else` is not supported in kernels");
        }
        // The initializer sees the bindings from before this `let`.
        let value = self.expr(*init.expr);
        let (pat, ty) = match l.pat {
            syn::Pat::Type(pt) => (*pt.pat, Some((pt.colon_token, pt.ty))),
            p => (p, None),
        };
        let pat = self.pattern(pat, Origin::Local)?;
        Some(Let {
            attrs: l.attrs,
            let_token: l.let_token,
            pat,
            ty,
            eq_token: init.eq_token,
            init: value,
            semi_token: l.semi_token,
        })
    }

    fn pattern(&mut self, p: syn::Pat, origin: Origin) -> Option<Pattern> {
        match p {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                let binding = self.declare(&pi.ident, pi.mutability.is_some(), origin);
                Some(Pattern::Ident {
                    mutability: pi.mutability,
                    ident: pi.ident,
                    binding,
                })
            }
            syn::Pat::Tuple(t) => {
                let elems: Option<Vec<Pattern>> = t
                    .elems
                    .into_iter()
                    .map(|e| self.pattern(e, origin))
                    .collect();
                Some(Pattern::Tuple {
                    paren: t.paren_token,
                    elems: elems?,
                })
            }
            syn::Pat::Paren(p) => self.pattern(*p.pat, origin),
            syn::Pat::Wild(w) => Some(Pattern::Wild(w.underscore_token)),
            other => {
                self.errors.at(
                    &other,
                    "unsupported pattern in a kernel: use a name, `_` or a tuple of those",
                );
                None
            }
        }
    }

    fn unit(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Tuple {
                paren: syn::token::Paren(span),
                elems: vec![],
            },
            span,
            last: span,
            class: Class::Comptime,
        }
    }

    /// Reports `message` at `tokens` and stands in a unit value for the construct.
    fn reject(&mut self, tokens: impl ToTokens, message: &str) -> Expr {
        let (span, _) = bounds(&tokens);
        self.errors.at(tokens, message);
        Self::unit(span)
    }

    fn boxed(&mut self, e: syn::Expr) -> Box<Expr> {
        Box::new(self.expr(e))
    }

    fn exprs(&mut self, es: impl IntoIterator<Item = syn::Expr>) -> Vec<Expr> {
        es.into_iter().map(|e| self.expr(e)).collect()
    }

    pub fn expr(&mut self, e: syn::Expr) -> Expr {
        let (span, last) = bounds(&e);
        let kind = match e {
            syn::Expr::Lit(l) => ExprKind::Lit(l.lit),
            syn::Expr::Path(p) => self.path(p),
            syn::Expr::Paren(p) => ExprKind::Paren { paren: p.paren_token, inner: self.boxed(*p.expr) },
            syn::Expr::Group(g) => return self.expr(*g.expr),
            syn::Expr::Binary(b) => {
                let lhs = self.boxed(*b.left);
                let rhs = self.boxed(*b.right);
                if is_compound(&b.op) {
                    ExprKind::Assign { target: lhs, op: Some(b.op), eq_token: None, value: rhs }
                } else {
                    ExprKind::Binary { lhs, op: b.op, rhs }
                }
            }
            syn::Expr::Unary(u) => ExprKind::Unary { op: u.op, arg: self.boxed(*u.expr) },
            syn::Expr::Assign(a) => ExprKind::Assign {
                target: self.boxed(*a.left),
                op: None,
                eq_token: Some(a.eq_token),
                value: self.boxed(*a.right),
            },
            syn::Expr::Call(c) => return self.call(c),
            syn::Expr::MethodCall(m) => ExprKind::MethodCall {
                receiver: self.boxed(*m.receiver),
                dot: m.dot_token,
                method: m.method,
                turbofish: m.turbofish,
                paren: m.paren_token,
                args: self.exprs(m.args),
            },
            syn::Expr::Field(f) => ExprKind::Field { base: self.boxed(*f.base), dot: f.dot_token, member: f.member },
            syn::Expr::Index(i) => {
                ExprKind::Index { base: self.boxed(*i.expr), bracket: i.bracket_token, index: self.boxed(*i.index) }
            }
            syn::Expr::Tuple(t) => ExprKind::Tuple { paren: t.paren_token, elems: self.exprs(t.elems) },
            syn::Expr::Array(a) => ExprKind::Array { bracket: a.bracket_token, elems: self.exprs(a.elems) },
            syn::Expr::Repeat(r) => ExprKind::Repeat {
                bracket: r.bracket_token,
                elem: self.boxed(*r.expr),
                semi: r.semi_token,
                len: r.len,
            },
            syn::Expr::Block(b) => {
                if let Some(label) = &b.label {
                    return self.reject(label, "labeled blocks are not supported in kernels");
                }
                ExprKind::Block(self.block(b.block))
            }
            syn::Expr::If(i) => return self.if_expr(i),
            syn::Expr::ForLoop(f) => return self.for_loop(f),
            syn::Expr::Range(r) => ExprKind::Range {
                from: r.start.map(|e| self.boxed(*e)),
                limits: r.limits,
                to: r.end.map(|e| self.boxed(*e)),
            },
            syn::Expr::Cast(c) => ExprKind::Cast { expr: self.boxed(*c.expr), as_token: c.as_token, ty: c.ty },
            syn::Expr::Reference(r) => {
                ExprKind::Reference { and: r.and_token, mutability: r.mutability, expr: self.boxed(*r.expr) }
            }
            syn::Expr::Return(r) => ExprKind::Return { token: r.return_token, expr: r.expr.map(|e| self.boxed(*e)) },
            syn::Expr::Break(b) => {
                if let Some(v) = &b.expr {
                    return self.reject(v, "`break` with a value needs `loop`, which kernels do not have");
                }
                ExprKind::Break { token: b.break_token, label: b.label }
            }
            syn::Expr::Continue(c) => ExprKind::Continue { token: c.continue_token, label: c.label },
            syn::Expr::Macro(m) => self.verbatim(m.into_token_stream()),
            syn::Expr::Struct(s) => self.verbatim(s.into_token_stream()),
            syn::Expr::Const(c) => self.verbatim(c.into_token_stream()),
            syn::Expr::While(w) => {
                return self.reject(
                    w.while_token,
                    "`while` loops are not supported in kernels: write a `for` over a range \
                     (comptime bounds unroll while building, runtime bounds become an IR loop)",
                )
            }
            syn::Expr::Loop(l) => {
                return self.reject(
                    l.loop_token,
                    "`loop` is not supported in kernels: write a `for` over a range \
                     (comptime bounds unroll while building, runtime bounds become an IR loop)",
                )
            }
            syn::Expr::Match(m) => {
                return self.reject(
                    m.match_token,
                    "`match` is not supported in kernels: use `if`/`else` (a comptime condition \
                     picks a branch while building, a runtime one becomes an IR branch) or `where_`",
                )
            }
            syn::Expr::Closure(c) => {
                return self.reject(
                    &c,
                    "closures are not supported in kernels: write the code inline, or call a Rust \
                     function that takes and returns `Value`s",
                )
            }
            syn::Expr::Async(a) => return self.reject(a.async_token, "`async` blocks are not supported in kernels"),
            syn::Expr::Await(a) => return self.reject(a.await_token, "`.await` is not supported in kernels"),
            syn::Expr::Unsafe(u) => {
                return self.reject(
                    u.unsafe_token,
                    "`unsafe` is not supported in kernels: memory is only accessed with masked `load`/`store`",
                )
            }
            syn::Expr::Let(l) => {
                return self.reject(l.let_token, "`if let`/`let` expressions are not supported in kernels")
            }
            syn::Expr::Try(t) => {
                return self.reject(t.question_token, "`?` is not supported in kernels: a kernel body returns nothing")
            }
            other => return self.reject(&other, "this expression is not supported in kernels"),
        };
        Expr {
            kind,
            span,
            last,
            class: Class::Comptime,
        }
    }

    fn path(&mut self, p: syn::ExprPath) -> ExprKind {
        if p.qself.is_none() {
            if let Some(ident) = p.path.get_ident() {
                if let Some(binding) = self.lookup(ident) {
                    return ExprKind::Local {
                        binding,
                        ident: ident.clone(),
                    };
                }
            }
        }
        ExprKind::Outer(p)
    }

    fn verbatim(&mut self, tokens: TokenStream) -> ExprKind {
        let mut uses = Vec::new();
        self.uses_in(tokens.clone(), &mut uses);
        ExprKind::Verbatim { tokens, uses }
    }

    /// The variables a token stream mentions (an over-approximation: any identifier that
    /// names a visible binding).
    fn uses_in(&self, tokens: TokenStream, uses: &mut Vec<BindingId>) {
        for t in tokens {
            match t {
                TokenTree::Ident(i) => {
                    if let Some(b) = self.lookup(&i) {
                        if !uses.contains(&b) {
                            uses.push(b);
                        }
                    }
                }
                TokenTree::Group(g) => self.uses_in(g.stream(), uses),
                _ => {}
            }
        }
    }

    fn call(&mut self, c: syn::ExprCall) -> Expr {
        let (span, last) = bounds(&c);
        // `callee(...)` as tokens, for errors about the whole call.
        let mut whole = c.func.to_token_stream();
        let mut parens = Group::new(Delimiter::Parenthesis, TokenStream::new());
        parens.set_span(c.paren_token.span.join());
        whole.extend([TokenTree::Group(parens)]);
        let args = self.exprs(c.args);
        let callee = match *c.func {
            syn::Expr::Path(p)
                if p.qself.is_none()
                    && p.path.segments.len() == 1
                    && p.path.leading_colon.is_none() =>
            {
                let seg = &p.path.segments[0];
                if self.lookup(&seg.ident).is_some() {
                    return self.reject(
                        &p,
                        "only functions can be called in kernels; this is a variable (closures are not supported)",
                    );
                }
                match intrinsics::lookup(&seg.ident.to_string()) {
                    Some(intr) => {
                        let generics = match &seg.arguments {
                            syn::PathArguments::AngleBracketed(a) => Some(a.clone()),
                            _ => None,
                        };
                        match intr.form(args.len()) {
                            Some(form) => Callee::Intrinsic {
                                ident: seg.ident.clone(),
                                target: form.target,
                                generics,
                            },
                            None => {
                                self.errors.at(whole, intr.arity_message(args.len()));
                                return Self::unit(span);
                            }
                        }
                    }
                    None => Callee::Rust(p),
                }
            }
            syn::Expr::Path(p) => Callee::Rust(p),
            other => {
                return self.reject(
                    &other,
                    "only functions named by a path can be called in kernels",
                )
            }
        };
        Expr {
            kind: ExprKind::Call {
                callee,
                paren: c.paren_token,
                args,
            },
            span,
            last,
            class: Class::Comptime,
        }
    }

    fn if_expr(&mut self, i: syn::ExprIf) -> Expr {
        let (span, last) = bounds(&i);
        let cond = self.boxed(*i.cond);
        let first_inner = self.bindings.len();
        let then_branch = self.block(i.then_branch);
        let else_branch = i.else_branch.map(|(t, e)| (t, self.boxed(*e)));
        let kind = ExprKind::If(If {
            if_token: i.if_token,
            cond,
            then_branch,
            else_branch,
            first_inner,
            carried: vec![],
        });
        Expr {
            kind,
            span,
            last,
            class: Class::Comptime,
        }
    }

    fn for_loop(&mut self, f: syn::ExprForLoop) -> Expr {
        let (span, last) = bounds(&f);
        let iter = self.boxed(*f.expr);
        let first_inner = self.bindings.len();
        self.scopes.push(Vec::new());
        let pat = self.pattern(*f.pat, Origin::LoopVar);
        let body = self.block(f.body);
        self.scopes.pop();
        let Some(pat) = pat else {
            return Self::unit(span);
        };
        let kind = ExprKind::For(For {
            label: f.label,
            for_token: f.for_token,
            pat,
            in_token: f.in_token,
            iter,
            body,
            first_inner,
            carried: vec![],
        });
        Expr {
            kind,
            span,
            last,
            class: Class::Comptime,
        }
    }
}

fn is_compound(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

/// The spans of the first and last tokens of `tokens`.
fn bounds(tokens: &impl ToTokens) -> (Span, Span) {
    let mut it = tokens.to_token_stream().into_iter();
    let first = it.next().map_or_else(Span::call_site, |t| t.span());
    let last = it.last().map_or(first, |t| t.span());
    (first, last)
}
