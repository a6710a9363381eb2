//! The kernel AST: the subset of Rust a kernel body may use.
//!
//! Lowering from syn resolves every variable to its [`Binding`] (so shadowing is exact) and
//! rejects what kernels cannot express; the analysis then classifies every expression and
//! binding as comptime or runtime and records, for each runtime `if`/`for`, the outer
//! variables it assigns. The generator reads this tree only. Tokens the author wrote are
//! kept (with their spans) wherever they are re-emitted.

use proc_macro2::{Span, TokenStream};
use syn::{token, Ident, Token};

use super::signature::{CtType, CtValue, Dtype};

/// Whether a value is known while the kernel is built (a plain Rust value) or only when it
/// runs (an IR value, `aqua_dsl::build::Value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Comptime,
    Runtime,
}

impl Class {
    pub fn join(self, other: Class) -> Class {
        self.max(other)
    }

    pub fn is_runtime(self) -> bool {
        self == Class::Runtime
    }
}

/// Index of a binding in [`KernelFn::bindings`], in order of declaration.
pub type BindingId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    RuntimeParam,
    ComptimeParam,
    Local,
    LoopVar,
}

/// One variable: a parameter, a `let` name or a loop variable.
pub struct Binding {
    pub ident: Ident,
    pub origin: Origin,
    pub mutable: bool,
    pub class: Class,
    /// Declared with a comptime value but later holds runtime values: its initializer is
    /// turned into a value (`lift`).
    pub lift: bool,
}

pub struct KernelFn {
    /// `#[doc]` and `#[cfg]`: go on the generated struct and impls.
    pub item_attrs: Vec<syn::Attribute>,
    /// `#[allow]`-style lint attributes: go on the generated body.
    pub lint_attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    pub ident: Ident,
    /// All parameters in declaration order.
    pub params: Vec<Param>,
    pub body: Block,
    pub bindings: Vec<Binding>,
}

pub struct Param {
    pub ident: Ident,
    pub mutability: Option<Token![mut]>,
    pub kind: ParamKind,
}

pub enum ParamKind {
    Ptr {
        dtype: Dtype,
        mutable: bool,
    },
    Scalar(Dtype),
    Comptime {
        ty: CtType,
        rust_ty: Box<syn::Type>,
        default: Option<CtValue>,
    },
}

impl ParamKind {
    pub fn is_runtime(&self) -> bool {
        !matches!(self, ParamKind::Comptime { .. })
    }
}

pub struct Block {
    pub brace: token::Brace,
    pub stmts: Vec<Stmt>,
    /// The final expression without `;`, the block's value.
    pub tail: Option<Box<Expr>>,
}

pub enum Stmt {
    Let(Let),
    Expr(Expr, Option<Token![;]>),
    /// Items and macro statements, emitted as written.
    Verbatim(TokenStream),
}

pub struct Let {
    pub attrs: Vec<syn::Attribute>,
    pub let_token: Token![let],
    pub pat: Pattern,
    pub ty: Option<(Token![:], Box<syn::Type>)>,
    pub eq_token: Token![=],
    pub init: Expr,
    pub semi_token: Token![;],
}

pub enum Pattern {
    Ident {
        mutability: Option<Token![mut]>,
        ident: Ident,
        binding: BindingId,
    },
    Tuple {
        paren: token::Paren,
        elems: Vec<Pattern>,
    },
    Wild(Token![_]),
}

impl Pattern {
    /// Every binding the pattern declares, left to right.
    pub fn bindings(&self) -> Vec<BindingId> {
        match self {
            Pattern::Ident { binding, .. } => vec![*binding],
            Pattern::Tuple { elems, .. } => elems.iter().flat_map(Pattern::bindings).collect(),
            Pattern::Wild(_) => vec![],
        }
    }
}

pub struct Expr {
    pub kind: ExprKind,
    /// The first token's span: where errors about this expression point...
    pub span: Span,
    /// ...through the last token's (stable proc macros cannot join spans).
    pub last: Span,
    pub class: Class,
}

pub enum ExprKind {
    Lit(syn::Lit),
    /// A use of a parameter, `let` binding or loop variable.
    Local {
        binding: BindingId,
        ident: Ident,
    },
    /// Any other path (`f32::MAX`, a `const`, a function used as a value): plain Rust.
    Outer(syn::ExprPath),
    /// Macro calls and struct literals, emitted as written; `uses` are the variables their
    /// tokens mention.
    Verbatim {
        tokens: TokenStream,
        uses: Vec<BindingId>,
    },
    Binary {
        lhs: Box<Expr>,
        op: syn::BinOp,
        rhs: Box<Expr>,
    },
    Unary {
        op: syn::UnOp,
        arg: Box<Expr>,
    },
    /// `target = value` or `target op= value` (`op` is the compound operator).
    Assign {
        target: Box<Expr>,
        op: Option<syn::BinOp>,
        eq_token: Option<Token![=]>,
        value: Box<Expr>,
    },
    Call {
        callee: Callee,
        paren: token::Paren,
        args: Vec<Expr>,
    },
    MethodCall {
        receiver: Box<Expr>,
        dot: Token![.],
        method: Ident,
        turbofish: Option<syn::AngleBracketedGenericArguments>,
        paren: token::Paren,
        args: Vec<Expr>,
    },
    Field {
        base: Box<Expr>,
        dot: Token![.],
        member: syn::Member,
    },
    Index {
        base: Box<Expr>,
        bracket: token::Bracket,
        index: Box<Expr>,
    },
    Tuple {
        paren: token::Paren,
        elems: Vec<Expr>,
    },
    Array {
        bracket: token::Bracket,
        elems: Vec<Expr>,
    },
    Repeat {
        bracket: token::Bracket,
        elem: Box<Expr>,
        semi: Token![;],
        len: Box<syn::Expr>,
    },
    Paren {
        paren: token::Paren,
        inner: Box<Expr>,
    },
    Block(Block),
    If(If),
    For(For),
    Range {
        from: Option<Box<Expr>>,
        limits: syn::RangeLimits,
        to: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        as_token: Token![as],
        ty: Box<syn::Type>,
    },
    Reference {
        and: Token![&],
        mutability: Option<Token![mut]>,
        expr: Box<Expr>,
    },
    Return {
        token: Token![return],
        expr: Option<Box<Expr>>,
    },
    Break {
        token: Token![break],
        label: Option<syn::Lifetime>,
    },
    Continue {
        token: Token![continue],
        label: Option<syn::Lifetime>,
    },
}

pub enum Callee {
    /// A builder function (`load`, `arange`, ...), resolved by name and arity to the
    /// `aqua_dsl::build` function it expands to.
    Intrinsic {
        ident: Ident,
        target: &'static str,
        generics: Option<syn::AngleBracketedGenericArguments>,
    },
    /// Any other function: plain Rust, called with the (transformed) arguments.
    Rust(syn::ExprPath),
}

/// A variable declared outside a runtime `if`/`for` and assigned inside it.
#[derive(Clone, Copy)]
pub struct Carried {
    pub binding: BindingId,
    /// The first assignment inside the construct (where a missing `mut` is reported).
    pub assigned_at: Span,
}

pub struct If {
    pub if_token: Token![if],
    pub cond: Box<Expr>,
    pub then_branch: Block,
    /// A block or another `if`.
    pub else_branch: Option<(Token![else], Box<Expr>)>,
    /// Bindings with this index or higher are declared inside the `if`.
    pub first_inner: BindingId,
    /// Set by the analysis when the condition is runtime.
    pub carried: Vec<Carried>,
}

pub struct For {
    pub label: Option<syn::Label>,
    pub for_token: Token![for],
    pub pat: Pattern,
    pub in_token: Token![in],
    pub iter: Box<Expr>,
    pub body: Block,
    pub first_inner: BindingId,
    pub carried: Vec<Carried>,
}

/// The parts of a runtime loop's range: `lo..hi`, `lo..=hi`, `(lo..hi).step_by(s)`.
pub struct RangeParts<'a> {
    pub lo: &'a Expr,
    pub hi: &'a Expr,
    pub inclusive: bool,
    pub step: Option<&'a Expr>,
}

impl For {
    /// The range the loop iterates, when the iterator is written as one with both ends.
    pub fn range(&self) -> Option<RangeParts<'_>> {
        fn plain(e: &Expr) -> Option<RangeParts<'_>> {
            match &e.kind {
                ExprKind::Range {
                    from: Some(lo),
                    limits,
                    to: Some(hi),
                } => Some(RangeParts {
                    lo,
                    hi,
                    inclusive: matches!(limits, syn::RangeLimits::Closed(_)),
                    step: None,
                }),
                ExprKind::Paren { inner, .. } => plain(inner),
                _ => None,
            }
        }
        match &self.iter.kind {
            ExprKind::MethodCall {
                receiver,
                method,
                args,
                turbofish: None,
                ..
            } if method == "step_by" && args.len() == 1 => plain(receiver).map(|r| RangeParts {
                step: Some(&args[0]),
                ..r
            }),
            _ => plain(&self.iter),
        }
    }
}
