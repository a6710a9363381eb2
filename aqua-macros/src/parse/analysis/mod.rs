//! Comptime analysis: which expressions are plain Rust values while the kernel is built,
//! and which are runtime IR values.
//!
//! The rule is syntactic taint. Literals, comptime parameters, outer constants and loop
//! variables of comptime loops are comptime; runtime parameters and the results of
//! intrinsics are runtime; every other expression is runtime when any operand is. A `let`
//! binding takes its initializer's class, and a variable becomes runtime when it is
//! assigned a runtime value or assigned inside runtime control flow (it is then carried
//! through the IR loop or branch). Classes only move from comptime to runtime, so passes
//! are repeated until nothing changes; only the last pass reports mistakes.

mod calls;
mod flow;

use super::ast::*;
use super::intrinsics::COMPTIME_RESULT_METHODS;
use super::signature::Dtype;
use crate::error::{code, Errors};
use flow::Frame;

/// Classifies every expression and binding of `kernel`, fills the carried variables of
/// runtime `if`/`for`, and reports what runtime values cannot do.
pub fn analyze(kernel: &mut KernelFn, errors: &mut Errors) {
    loop {
        let mut pass = Pass {
            bindings: &mut kernel.bindings,
            errors: Errors::default(),
            changed: false,
            frames: vec![],
        };
        pass.block(&mut kernel.body);
        if !pass.changed {
            errors.extend(pass.errors);
            return;
        }
    }
}

struct Pass<'k> {
    bindings: &'k mut Vec<Binding>,
    errors: Errors,
    changed: bool,
    frames: Vec<Frame>,
}

impl Pass<'_> {
    fn make_runtime(&mut self, b: BindingId) {
        if !self.bindings[b].class.is_runtime() {
            self.bindings[b].class = Class::Runtime;
            self.changed = true;
        }
    }

    fn block(&mut self, b: &mut Block) -> Class {
        for s in &mut b.stmts {
            match s {
                Stmt::Let(l) => self.let_stmt(l),
                Stmt::Expr(e, _) => {
                    self.expr(e);
                }
                Stmt::Verbatim(_) => {}
            }
        }
        match &mut b.tail {
            Some(t) => self.expr(t),
            None => Class::Comptime,
        }
    }

    fn let_stmt(&mut self, l: &mut Let) {
        let class = self.expr(&mut l.init);
        self.bind(&l.pat, Some(&l.init), class);
        let Some((_, ty)) = &l.ty else { return };
        let runtime: Vec<BindingId> = l
            .pat
            .bindings()
            .into_iter()
            .filter(|&b| self.bindings[b].class.is_runtime())
            .collect();
        let Some(&first) = runtime.first() else {
            return;
        };
        let ok = match &l.pat {
            Pattern::Ident { binding, .. } => {
                is_value_type(ty)
                    || (self.bindings[*binding].lift && Dtype::from_type(ty).is_some())
            }
            _ => false,
        };
        if !ok {
            let name = self.bindings[first].ident.to_string();
            self.errors.at(
                ty,
                format!(
                    "`{name}` holds a runtime value (a `Value`), so it cannot be annotated `{}`: \
                     remove the annotation (convert dtypes with `.cast::<T>()`)",
                    code(ty)
                ),
            );
        }
    }

    /// Gives the bindings of `pat` the class of their part of the initializer.
    fn bind(&mut self, pat: &Pattern, init: Option<&Expr>, class: Class) {
        match pat {
            Pattern::Ident { binding, .. } => {
                if class.is_runtime() {
                    self.make_runtime(*binding);
                }
                let b = &mut self.bindings[*binding];
                b.lift = b.class.is_runtime() && !class.is_runtime();
            }
            Pattern::Tuple { elems, .. } => match init.map(|e| &e.kind) {
                Some(ExprKind::Tuple { elems: inits, .. }) if inits.len() == elems.len() => {
                    for (p, e) in elems.iter().zip(inits) {
                        self.bind(p, Some(e), e.class);
                    }
                }
                _ => {
                    for p in elems {
                        self.bind(p, None, class);
                    }
                }
            },
            Pattern::Wild(_) => {}
        }
    }

    fn exprs(&mut self, es: &mut [Expr]) -> Class {
        es.iter_mut()
            .map(|e| self.expr(e))
            .fold(Class::Comptime, Class::join)
    }

    fn expr(&mut self, e: &mut Expr) -> Class {
        let (span, last) = (e.span, e.last);
        let class = match &mut e.kind {
            ExprKind::Lit(_) | ExprKind::Outer(_) => Class::Comptime,
            ExprKind::Local { binding, .. } => self.bindings[*binding].class,
            ExprKind::Verbatim { uses, .. } => uses
                .iter()
                .map(|&b| self.bindings[b].class)
                .fold(Class::Comptime, Class::join),
            ExprKind::Binary { lhs, rhs, .. } => {
                let l = self.expr(lhs);
                l.join(self.expr(rhs))
            }
            ExprKind::Unary { op, arg } => {
                let c = self.expr(arg);
                if c.is_runtime() && matches!(op, syn::UnOp::Deref(_)) {
                    self.errors.between(
                        span,
                        last,
                        "`*` cannot dereference a runtime value: read memory with `load(ptrs)`",
                    );
                }
                c
            }
            ExprKind::Assign {
                target, op, value, ..
            } => {
                let v = self.expr(value);
                let t = self.expr(target);
                let v = if op.is_some() { v.join(t) } else { v };
                self.assign(target, v, span);
                Class::Comptime
            }
            ExprKind::Call { callee, args, .. } => {
                let classes: Vec<Class> = args.iter_mut().map(|a| self.expr(a)).collect();
                match callee {
                    Callee::Intrinsic {
                        ident, generics, ..
                    } => {
                        self.check_intrinsic(ident, generics.as_ref(), args, &classes);
                        Class::Runtime
                    }
                    Callee::Rust(_) => classes.into_iter().fold(Class::Comptime, Class::join),
                }
            }
            ExprKind::MethodCall {
                receiver,
                method,
                turbofish,
                args,
                ..
            } => {
                let r = self.expr(receiver);
                let a = self.exprs(args);
                if r.is_runtime() {
                    self.check_method(method, turbofish.as_ref(), args);
                }
                if COMPTIME_RESULT_METHODS.contains(&method.to_string().as_str()) {
                    Class::Comptime
                } else {
                    r.join(a)
                }
            }
            ExprKind::Field { base, .. } => self.expr(base),
            ExprKind::Index { base, index, .. } => {
                let b = self.expr(base);
                b.join(self.expr(index))
            }
            ExprKind::Tuple { elems, .. } | ExprKind::Array { elems, .. } => self.exprs(elems),
            ExprKind::Repeat { elem, .. } => self.expr(elem),
            ExprKind::Paren { inner, .. } => self.expr(inner),
            ExprKind::Block(b) => self.block(b),
            ExprKind::If(i) => self.if_expr(i),
            ExprKind::For(f) => {
                self.for_loop(f);
                Class::Comptime
            }
            ExprKind::Range { from, to, .. } => {
                let c = self.range_ends(from, to);
                if c.is_runtime() {
                    self.errors.between(
                        span,
                        last,
                        "a range with runtime ends can only be iterated by `for`; blocks of indices \
                         are made with `arange`",
                    );
                }
                c
            }
            ExprKind::Cast { expr, as_token, ty } => {
                let c = self.expr(expr);
                if c.is_runtime() {
                    let ty_text = code(&*ty);
                    self.errors.at(
                        quote::quote!(#as_token #ty),
                        format!(
                            "`as` does not convert runtime values: write `.cast::<{ty_text}>()`"
                        ),
                    );
                }
                c
            }
            ExprKind::Reference { expr, .. } => {
                let c = self.expr(expr);
                if c.is_runtime() {
                    self.errors.between(
                        span,
                        last,
                        "references to runtime values are not supported: a `Value` is a copyable \
                         handle, pass it as is",
                    );
                }
                c
            }
            ExprKind::Return { token, expr } => {
                if let Some(e) = expr {
                    self.expr(e);
                }
                if self.in_runtime() {
                    self.errors.at(
                        token,
                        "`return` inside a runtime `if`/`for` is not supported: the IR branch or \
                         loop runs to its end; guard the remaining work with the condition instead",
                    );
                }
                Class::Comptime
            }
            ExprKind::Break { token, label } => {
                self.check_jump("break", token.span, label.as_ref());
                Class::Comptime
            }
            ExprKind::Continue { token, label } => {
                self.check_jump("continue", token.span, label.as_ref());
                Class::Comptime
            }
        };
        e.class = class;
        class
    }

    fn range_ends(&mut self, from: &mut Option<Box<Expr>>, to: &mut Option<Box<Expr>>) -> Class {
        let f = from.as_mut().map_or(Class::Comptime, |e| self.expr(e));
        f.join(to.as_mut().map_or(Class::Comptime, |e| self.expr(e)))
    }

    fn if_expr(&mut self, i: &mut If) -> Class {
        let cond = self.expr(&mut i.cond);
        if !cond.is_runtime() {
            i.carried.clear();
            let t = self.block(&mut i.then_branch);
            let e = match &mut i.else_branch {
                Some((_, e)) => self.expr(e),
                None => Class::Comptime,
            };
            return t.join(e);
        }
        self.frames.push(Frame::Runtime {
            first_inner: i.first_inner,
            carried: vec![],
            is_loop: false,
        });
        self.block(&mut i.then_branch);
        if let Some((_, e)) = &mut i.else_branch {
            self.expr(e);
        }
        if let Some(Frame::Runtime { carried, .. }) = self.frames.pop() {
            i.carried = carried;
        }
        Class::Runtime
    }

    /// The iterator of a `for`: ranges are allowed to be runtime here.
    fn for_iter(&mut self, iter: &mut Expr) -> Class {
        let class = match &mut iter.kind {
            ExprKind::Range { from, to, .. } => self.range_ends(from, to),
            ExprKind::Paren { inner, .. } => self.for_iter(inner),
            ExprKind::MethodCall {
                receiver,
                method,
                args,
                turbofish: None,
                ..
            } if method == "step_by" && args.len() == 1 => {
                let r = self.for_iter(receiver);
                r.join(self.expr(&mut args[0]))
            }
            _ => return self.expr(iter),
        };
        iter.class = class;
        class
    }

    fn for_loop(&mut self, f: &mut For) {
        let class = self.for_iter(&mut f.iter);
        if class.is_runtime() {
            if f.range().is_none() {
                self.errors.between(
                    f.iter.span,
                    f.iter.last,
                    "a runtime `for` must iterate over a range with both ends: \
                     `for i in lo..hi` or `for i in (lo..hi).step_by(step)`",
                );
            }
            if let Pattern::Tuple { paren, .. } = &f.pat {
                self.errors.at_span(
                    paren.span.join(),
                    "the variable of a runtime `for` must be a name or `_`",
                );
            }
            if let Some(label) = &f.label {
                self.errors.at(
                    label,
                    "labels on runtime loops are not supported (`break` and `continue` cannot leave them)",
                );
            }
            for b in f.pat.bindings() {
                self.make_runtime(b);
            }
            self.frames.push(Frame::Runtime {
                first_inner: f.first_inner,
                carried: vec![],
                is_loop: true,
            });
        } else {
            let label = f.label.as_ref().map(|l| l.name.ident.to_string());
            self.frames.push(Frame::ComptimeLoop { label });
        }
        self.block(&mut f.body);
        match self.frames.pop() {
            Some(Frame::Runtime { carried, .. }) => f.carried = carried,
            _ => f.carried.clear(),
        }
    }
}

/// `Value` or `aqua_dsl::build::Value`.
fn is_value_type(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Value" && s.arguments.is_none()))
}
