//! Source locations: where in the kernel author's file an op was written.
//!
//! The builder records the caller's location (`#[track_caller]`) on every op, so the
//! verifier and the interpreter can point at the author's line. Locations are not part of
//! the canonical text, so moving a kernel in its file does not change its cache key.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: &'static str,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub const UNKNOWN: Loc = Loc { file: "<unknown>", line: 0, col: 0 };

    #[track_caller]
    pub fn caller() -> Loc {
        let l = std::panic::Location::caller();
        Loc { file: l.file(), line: l.line(), col: l.column() }
    }

    pub fn is_known(&self) -> bool {
        self.line != 0
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}
