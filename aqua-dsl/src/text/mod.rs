//! The text form of kernels: the canonical printer (`impl Display for Kernel`, the core of
//! the kernel cache key, plus [`Kernel::display_with_locs`] for people) and its parser, so
//! IR-level tests can be written as text. `docs/ir-text.md` describes the syntax.
//!
//! For every kernel `k` whose operands are all defined (every verified kernel, and most
//! that the verifier rejects), `parse(&k.to_string())?.to_string() == k.to_string()`.
//!
//! [`Kernel::display_with_locs`]: crate::ir::Kernel::display_with_locs

mod lexer;
mod literal;
mod parse;
mod parse_op;
mod print;

pub use parse::{parse, IR_FILE};

pub(crate) use literal::is_ident;
pub(crate) use print::{Numbering, ValueName};

/// A syntax error in IR text, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}
