//! Element-wise arithmetic, logic, comparison and math operators.
//!
//! Semantics (the reference interpreter implements exactly these; every backend agrees):
//! - integers wrap on overflow; `div`/`rem` truncate toward zero; division by zero gives 0
//!   and `rem` by zero gives the dividend; `MIN / -1` wraps to `MIN` (and `rem` gives 0);
//! - shifts by an amount `>=` the bit width give 0 (`shl`, unsigned `shr`) or the sign fill
//!   (signed `shr`); negative amounts count as too large; `shr` is arithmetic on signed types;
//! - floats follow IEEE-754 in their own precision (f16/bf16 ops are computed in f32 and
//!   rounded once to nearest-even, which is exact for add, sub, mul, div, sqrt);
//!   `min`/`max` return the other operand when one is NaN (IEEE `minNum`/`maxNum`);
//!   the sign of a zero result of `min`/`max` of `+0` and `-0` is unspecified;
//!   float `rem` is the truncated remainder of C's `fmod` (result has the dividend's sign);
//! - `and`, `or`, `xor`, `not` are bitwise on integers and logical on bool.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Min,
    Max,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

impl BinOp {
    pub const ALL: [BinOp; 12] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
        BinOp::Min,
        BinOp::Max,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
        BinOp::Shl,
        BinOp::Shr,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Rem => "rem",
            BinOp::Min => "min",
            BinOp::Max => "max",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Xor => "xor",
            BinOp::Shl => "shl",
            BinOp::Shr => "shr",
        }
    }

    pub fn from_name(name: &str) -> Option<BinOp> {
        BinOp::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Ops defined on integers and bool only.
    pub fn is_bitwise(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Shl | BinOp::Shr)
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One-operand element-wise ops. `Round` rounds to nearest, ties to even.
/// `Not` is bitwise on integers and logical on bool; the math ops take floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
    Abs,
    Sqrt,
    Rsqrt,
    Exp,
    Log,
    Floor,
    Ceil,
    Round,
}

impl UnOp {
    pub const ALL: [UnOp; 10] = [
        UnOp::Neg,
        UnOp::Not,
        UnOp::Abs,
        UnOp::Sqrt,
        UnOp::Rsqrt,
        UnOp::Exp,
        UnOp::Log,
        UnOp::Floor,
        UnOp::Ceil,
        UnOp::Round,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Not => "not",
            UnOp::Abs => "abs",
            UnOp::Sqrt => "sqrt",
            UnOp::Rsqrt => "rsqrt",
            UnOp::Exp => "exp",
            UnOp::Log => "log",
            UnOp::Floor => "floor",
            UnOp::Ceil => "ceil",
            UnOp::Round => "round",
        }
    }

    pub fn from_name(name: &str) -> Option<UnOp> {
        UnOp::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Ops that only make sense on floats.
    pub fn is_float_only(self) -> bool {
        matches!(
            self,
            UnOp::Sqrt | UnOp::Rsqrt | UnOp::Exp | UnOp::Log | UnOp::Floor | UnOp::Ceil | UnOp::Round
        )
    }
}

impl fmt::Display for UnOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Comparisons; the result is `bool` of the operands' shape. Float comparisons are ordered
/// (false when either side is NaN) except `Ne`, which is true when either side is NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpPred {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpPred {
    pub const ALL: [CmpPred; 6] =
        [CmpPred::Eq, CmpPred::Ne, CmpPred::Lt, CmpPred::Le, CmpPred::Gt, CmpPred::Ge];

    pub fn name(self) -> &'static str {
        match self {
            CmpPred::Eq => "eq",
            CmpPred::Ne => "ne",
            CmpPred::Lt => "lt",
            CmpPred::Le => "le",
            CmpPred::Gt => "gt",
            CmpPred::Ge => "ge",
        }
    }

    pub fn from_name(name: &str) -> Option<CmpPred> {
        CmpPred::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl fmt::Display for CmpPred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
