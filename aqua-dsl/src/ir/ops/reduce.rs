//! Reductions along one axis. The axis is removed from the shape (a 1-D block reduces to
//! a scalar). `ArgMax`/`ArgMin` give `i32` indices; ties go to the lowest index, and NaN
//! elements are skipped unless all are NaN (then index 0). `Sum` of floats accumulates in
//! f32 (f16/bf16 inputs are widened) and rounds once at the end; the order of additions is
//! unspecified, so backends agree with the interpreter within float tolerance only.
//! Float `Max`/`Min` skip NaN likewise (NaN only when all are NaN); integer `Sum` wraps.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
    ArgMax,
    ArgMin,
}

impl ReduceOp {
    pub const ALL: [ReduceOp; 5] =
        [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin];

    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "reduce_sum",
            ReduceOp::Max => "reduce_max",
            ReduceOp::Min => "reduce_min",
            ReduceOp::ArgMax => "reduce_argmax",
            ReduceOp::ArgMin => "reduce_argmin",
        }
    }

    pub fn from_name(name: &str) -> Option<ReduceOp> {
        ReduceOp::ALL.into_iter().find(|o| o.name() == name)
    }

    pub fn is_arg(self) -> bool {
        matches!(self, ReduceOp::ArgMax | ReduceOp::ArgMin)
    }
}

impl fmt::Display for ReduceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
