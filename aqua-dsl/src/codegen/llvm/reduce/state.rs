//! The rules of one reduction: its state, identity, how an element joins the state and
//! how two partial states merge, for each op on each dtype (see `mod.rs`).
//!
//! State: float sums, max and min in f32 (f16/bf16 widened exactly), rounded once at the
//! end; integer ones in their own type (sums wrap). Float max/min and arg reductions
//! start from an infinity and take an element only when it compares strictly better (one
//! vector instruction; a NaN never does, and ties keep the lowest index), so a line whose
//! state is still the infinity at the end gets a second look (`needs_rescan`): max/min
//! are NaN when no element is a number, arg reductions report the first number's
//! position (an infinity), or 0 when there is none. Arg reductions keep (value, index);
//! merging two partial states prefers the lower index on equal values.

use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::super::{types, Lowerer};
use crate::codegen::error::Lower;
use crate::ir::{DType, Elem, ReduceOp};

/// A reduction's state and its rules, for one op on one dtype.
#[derive(Clone, Copy)]
pub(crate) struct Red {
    pub op: ReduceOp,
    pub d: DType,
}

pub(crate) type State<'ctx> = (BasicValueEnum<'ctx>, IntValue<'ctx>);

impl Red {
    pub(crate) fn is_arg(self) -> bool {
        self.op.is_arg()
    }

    pub(crate) fn float(self) -> bool {
        self.d.is_float()
    }

    pub(crate) fn state_type<'ctx>(self, l: &Lowerer<'_, 'ctx>) -> BasicTypeEnum<'ctx> {
        if self.float() {
            l.cx.f32_type().into()
        } else {
            types::reg(l.cx, Elem::Val(self.d))
        }
    }

    pub(crate) fn identity<'ctx>(self, l: &Lowerer<'_, 'ctx>) -> BasicValueEnum<'ctx> {
        let max_like = matches!(self.op, ReduceOp::Max | ReduceOp::ArgMax);
        if self.float() {
            let v = match self.op {
                ReduceOp::Sum => -0.0,
                ReduceOp::Max | ReduceOp::ArgMax => f64::NEG_INFINITY,
                ReduceOp::Min | ReduceOp::ArgMin => f64::INFINITY,
            };
            return l.cx.f32_type().const_float(v).into();
        }
        let t = types::int(l.cx, self.d);
        let w = t.get_bit_width();
        let v = match (self.op, self.d.is_signed()) {
            (ReduceOp::Sum, _) => 0,
            (_, true) if max_like => 1u64 << (w - 1),
            (_, true) => (1u64 << (w - 1)) - 1,
            (_, false) if max_like => 0,
            (_, false) => u64::MAX,
        };
        t.const_int(v, false).into()
    }

    /// `a` strictly better than `b` (ordered: false when either is NaN).
    pub(crate) fn better<'ctx>(
        self,
        l: &Lowerer<'_, 'ctx>,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Lower<IntValue<'ctx>> {
        let max = self.op == ReduceOp::ArgMax;
        if self.float() {
            let p = if max { FloatPredicate::OGT } else { FloatPredicate::OLT };
            return Ok(l.b.build_float_compare(p, a.into_float_value(), b.into_float_value(), "better")?);
        }
        let p = match (max, self.d.is_signed()) {
            (true, true) => IntPredicate::SGT,
            (true, false) => IntPredicate::UGT,
            (false, true) => IntPredicate::SLT,
            (false, false) => IntPredicate::ULT,
        };
        Ok(l.b.build_int_compare(p, a.into_int_value(), b.into_int_value(), "better")?)
    }

    /// Two states of the same kind combined (`i` ignored except by arg reductions).
    pub(crate) fn join<'ctx>(
        self,
        l: &Lowerer<'_, 'ctx>,
        s: State<'ctx>,
        x: State<'ctx>,
        ties_by_index: bool,
    ) -> Lower<State<'ctx>> {
        let (a, b) = (s.0, x.0);
        let v = match (self.op, self.float()) {
            (ReduceOp::Sum, true) => l.b.build_float_add(a.into_float_value(), b.into_float_value(), "sum")?.into(),
            (ReduceOp::Sum, false) => l.b.build_int_add(a.into_int_value(), b.into_int_value(), "sum")?.into(),
            (ReduceOp::Max | ReduceOp::Min, true) if l.threads.is_some() => {
                // A state is never NaN, so maxNum/minNum keep it against a NaN element, as
                // the select below does, in one instruction (`max.f32`) instead of a
                // compare and a select; only a zero's sign may differ, which the semantics
                // leave free (docs/semantics.md).
                let name = if self.op == ReduceOp::Max { "llvm.maxnum" } else { "llvm.minnum" };
                l.intrinsic(name, &[a.get_type()], &[a, b])?
            }
            (ReduceOp::Max | ReduceOp::Min, true) => {
                // Ordered: a NaN element never replaces the state (see `rescan`).
                let p = if self.op == ReduceOp::Max { FloatPredicate::OGT } else { FloatPredicate::OLT };
                let take = l.b.build_float_compare(p, b.into_float_value(), a.into_float_value(), "take")?;
                l.b.build_select(take, b, a, "m")?
            }
            (ReduceOp::Max | ReduceOp::Min, false) => {
                let name = match (self.op == ReduceOp::Max, self.d.is_signed()) {
                    (true, true) => "llvm.smax",
                    (true, false) => "llvm.umax",
                    (false, true) => "llvm.smin",
                    (false, false) => "llvm.umin",
                };
                l.intrinsic(name, &[a.get_type()], &[a, b])?
            }
            (ReduceOp::ArgMax | ReduceOp::ArgMin, _) => {
                let mut take = self.better(l, b, a)?;
                let lower = l.b.build_int_compare(IntPredicate::SLT, x.1, s.1, "lower")?;
                if ties_by_index {
                    let eq = if self.float() {
                        l.b.build_float_compare(FloatPredicate::OEQ, a.into_float_value(), b.into_float_value(), "eq")?
                    } else {
                        l.b.build_int_compare(IntPredicate::EQ, a.into_int_value(), b.into_int_value(), "eq")?
                    };
                    let tie = l.b.build_and(eq, lower, "tie")?;
                    take = l.b.build_or(take, tie, "take")?;
                }
                let v = l.b.build_select(take, b, a, "v")?;
                let i = l.b.build_select(take, x.1, s.1, "i")?.into_int_value();
                return Ok((v, i));
            }
        };
        Ok((v, s.1))
    }

    /// Float max, min and arg reductions skip NaN elements with a plain ordered compare
    /// (one vector instruction) from an infinite state, so a state still infinite at the
    /// end needs a second look ([`Red::rescanned`]).
    /// The LLVM vector reduction that merges this reduction's lanes in any order, if one
    /// does: integer sums, and max and min (whose states never hold NaN).
    pub(crate) fn vector_reduction(self) -> Option<&'static str> {
        let signed = self.d.is_signed();
        Some(match (self.op, self.float()) {
            (ReduceOp::Sum, false) => "llvm.vector.reduce.add",
            (ReduceOp::Max, true) => "llvm.vector.reduce.fmax",
            (ReduceOp::Min, true) => "llvm.vector.reduce.fmin",
            (ReduceOp::Max, false) if signed => "llvm.vector.reduce.smax",
            (ReduceOp::Max, false) => "llvm.vector.reduce.umax",
            (ReduceOp::Min, false) if signed => "llvm.vector.reduce.smin",
            (ReduceOp::Min, false) => "llvm.vector.reduce.umin",
            _ => return None,
        })
    }

    pub(crate) fn needs_rescan(self) -> bool {
        self.float() && self.op != ReduceOp::Sum
    }

    /// The state of a line whose state is still the starting infinity, given `first`,
    /// the position of its first number (-1: none): max/min are NaN without a number;
    /// arg reductions take that position (every number of the line is then the infinity,
    /// and the first wins), or 0.
    pub(crate) fn rescanned<'ctx>(
        self,
        l: &Lowerer<'_, 'ctx>,
        s: State<'ctx>,
        first: IntValue<'ctx>,
    ) -> Lower<State<'ctx>> {
        let zero = l.i32c(0);
        let found = l.b.build_int_compare(IntPredicate::SGE, first, zero, "found")?;
        if self.is_arg() {
            return Ok((s.0, l.b.build_select(found, first, zero, "i")?.into_int_value()));
        }
        let nan = l.cx.f32_type().const_float(f64::NAN);
        Ok((l.b.build_select(found, s.0, nan.into(), "r")?, s.1))
    }

    /// The element `x` of dtype `d` as a state value.
    pub(crate) fn lift<'ctx>(self, l: &Lowerer<'_, 'ctx>, x: BasicValueEnum<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        Ok(if self.float() { l.widen(self.d, x)?.into() } else { x })
    }

    /// The result element from a final state.
    pub(crate) fn finish<'ctx>(self, l: &Lowerer<'_, 'ctx>, s: State<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        if matches!(self.op, ReduceOp::ArgMax | ReduceOp::ArgMin) {
            return Ok(s.1.into());
        }
        if self.float() {
            return l.narrow(self.d, s.0.into_float_value());
        }
        Ok(s.0)
    }
}
