//! Control-flow rules of the analysis: which variables a runtime `if`/`for` carries, and
//! the jumps and assignments runtime control flow cannot express.

use proc_macro2::Span;

use super::Pass;
use crate::parse::ast::*;

pub(super) enum Frame {
    /// A runtime `if` or `for`: variables declared before it and assigned in it are carried.
    Runtime {
        first_inner: BindingId,
        carried: Vec<Carried>,
        is_loop: bool,
    },
    /// A comptime `for` (unrolled): `break`/`continue` are plain Rust there.
    ComptimeLoop { label: Option<String> },
}

impl Pass<'_> {
    pub(super) fn in_runtime(&self) -> bool {
        self.frames
            .iter()
            .any(|f| matches!(f, Frame::Runtime { .. }))
    }

    /// `break`/`continue` must target a comptime loop with no runtime construct in between.
    pub(super) fn check_jump(&mut self, what: &str, span: Span, label: Option<&syn::Lifetime>) {
        let label = label.map(|l| l.ident.to_string());
        for f in self.frames.iter().rev() {
            match f {
                Frame::ComptimeLoop { label: l } => {
                    if label.is_none() || *l == label {
                        return;
                    }
                }
                Frame::Runtime { is_loop: true, .. } => {
                    self.errors.at_span(
                        span,
                        format!(
                            "`{what}` cannot leave a runtime `for`: the loop is one IR op that runs \
                             every iteration; guard the work with an `if` on the condition instead"
                        ),
                    );
                    return;
                }
                Frame::Runtime { is_loop: false, .. } => {
                    self.errors.at_span(
                        span,
                        format!(
                            "`{what}` inside a runtime `if` is not supported: an IR branch cannot \
                             leave the loop around it"
                        ),
                    );
                    return;
                }
            }
        }
    }

    /// Records an assignment: classes, carried variables, and what may not be assigned.
    pub(super) fn assign(&mut self, target: &Expr, value: Class, at: Span) {
        let ExprKind::Local { binding, ident } = &target.kind else {
            if let Some(first_inner) = self.innermost_runtime() {
                if root_local(target).is_none_or(|r| r < first_inner) {
                    self.errors.between(
                        target.span,
                        target.last,
                        "only variables can be assigned inside runtime control flow: \
                         assign the whole variable (`x = ...;`)",
                    );
                }
            }
            return;
        };
        let b = *binding;
        match self.bindings[b].origin {
            Origin::RuntimeParam => self.errors.at(
                ident,
                format!(
                    "`{ident}` is a runtime parameter and cannot be assigned: bind a new variable \
                     instead (`let {ident} = ...;`)"
                ),
            ),
            Origin::ComptimeParam => {
                if self.in_runtime() {
                    self.errors.at(
                        ident,
                        format!(
                            "comptime parameter `{ident}` cannot be assigned inside runtime control \
                             flow: its value is fixed while the kernel is built"
                        ),
                    );
                } else if value.is_runtime() {
                    self.errors.at(
                        ident,
                        format!(
                            "comptime parameter `{ident}` cannot hold a runtime value: bind a new \
                             variable instead (`let {ident} = ...;`)"
                        ),
                    );
                }
            }
            Origin::LoopVar
                if !self.bindings[b].class.is_runtime()
                    && (value.is_runtime() || self.is_carried(b)) =>
            {
                self.errors.at(
                    ident,
                    format!(
                        "`{ident}` is the variable of a comptime `for` and cannot hold a runtime \
                         value: bind a new variable instead"
                    ),
                );
            }
            Origin::LoopVar | Origin::Local => {
                if value.is_runtime() {
                    self.make_runtime(b);
                }
                let mut carried = false;
                for f in &mut self.frames {
                    if let Frame::Runtime {
                        first_inner,
                        carried: list,
                        ..
                    } = f
                    {
                        if b < *first_inner {
                            carried = true;
                            if !list.iter().any(|c| c.binding == b) {
                                list.push(Carried {
                                    binding: b,
                                    assigned_at: at,
                                });
                            }
                        }
                    }
                }
                if carried {
                    self.make_runtime(b);
                    if !self.bindings[b].mutable {
                        // Reported here: rustc would point at the generated write-back.
                        self.errors.at(
                            ident,
                            format!(
                                "cannot assign twice to immutable variable `{ident}`: declare it \
                                 `let mut {ident}`"
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Whether `b` is declared outside some enclosing runtime construct.
    pub(super) fn is_carried(&self, b: BindingId) -> bool {
        self.frames
            .iter()
            .any(|f| matches!(f, Frame::Runtime { first_inner, .. } if b < *first_inner))
    }

    pub(super) fn innermost_runtime(&self) -> Option<BindingId> {
        self.frames.iter().rev().find_map(|f| match f {
            Frame::Runtime { first_inner, .. } => Some(*first_inner),
            _ => None,
        })
    }
}

/// The variable a place expression (`a[i]`, `t.0`) is part of.
fn root_local(e: &Expr) -> Option<BindingId> {
    match &e.kind {
        ExprKind::Local { binding, .. } => Some(*binding),
        ExprKind::Field { base, .. }
        | ExprKind::Index { base, .. }
        | ExprKind::Paren { inner: base, .. } => root_local(base),
        _ => None,
    }
}
