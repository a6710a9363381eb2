//! Reductions along an axis and `dot`.

use crate::ir::{DType, Loc, Op, ReduceOp, Type};

use super::context;
use super::value::Value;

fn reduce(v: Value, op: ReduceOp, axis: u32, loc: Loc) -> Value {
    context::with(|b| {
        let ty = b.ty(v).clone();
        if ty.is_scalar() || axis as usize >= ty.shape.rank() {
            b.fail(loc, format!("`{}` along axis {axis} of {ty}: no such axis", op.name()));
            return v;
        }
        if ty.is_ptr() || (ty.dtype().is_bool() && !op.is_arg()) {
            b.fail(loc, format!("`{}` is not defined on {ty}", op.name()));
        }
        let mut s = ty.shape.clone();
        s.0.remove(axis as usize);
        let out = if op.is_arg() { Type { elem: crate::ir::Elem::Val(DType::I32), shape: s } } else { ty.with_shape(s) };
        b.emit(Op::Reduce { op, arg: v.id, axis: axis as u8 }, out, loc)
    })
}

impl Value {
    /// Sum along `axis` (removed from the shape).
    #[track_caller]
    pub fn sum(self, axis: u32) -> Value {
        reduce(self, ReduceOp::Sum, axis, Loc::caller())
    }
    /// Maximum along `axis`. Element-wise maximum is [`Value::maximum`].
    #[track_caller]
    pub fn max(self, axis: u32) -> Value {
        reduce(self, ReduceOp::Max, axis, Loc::caller())
    }
    /// Minimum along `axis`. Element-wise minimum is [`Value::minimum`].
    #[track_caller]
    pub fn min(self, axis: u32) -> Value {
        reduce(self, ReduceOp::Min, axis, Loc::caller())
    }
    /// Index (`i32`) of the maximum along `axis`; ties go to the lowest index.
    #[track_caller]
    pub fn argmax(self, axis: u32) -> Value {
        reduce(self, ReduceOp::ArgMax, axis, Loc::caller())
    }
    /// Index (`i32`) of the minimum along `axis`; ties go to the lowest index.
    #[track_caller]
    pub fn argmin(self, axis: u32) -> Value {
        reduce(self, ReduceOp::ArgMin, axis, Loc::caller())
    }
}

/// `[M,K] x [K,N] -> f32[M,N]`, accumulated in f32.
#[track_caller]
pub fn dot(a: Value, b: Value) -> Value {
    dot_impl(a, b, None, Loc::caller())
}

/// `acc + a x b` with `acc: f32[M,N]`.
#[track_caller]
pub fn dot_acc(a: Value, b: Value, acc: Value) -> Value {
    dot_impl(a, b, Some(acc), Loc::caller())
}

fn dot_impl(a: Value, b: Value, acc: Option<Value>, loc: Loc) -> Value {
    context::with(|bl| {
        let (ta, tb) = (bl.ty(a).clone(), bl.ty(b).clone());
        let ok = ta.shape.rank() == 2
            && tb.shape.rank() == 2
            && ta.shape.0[1] == tb.shape.0[0]
            && ta.dtype() == tb.dtype()
            && !ta.is_ptr()
            && !tb.is_ptr()
            && ta.dtype().is_float();
        if !ok {
            bl.fail(loc, format!("`dot` needs float [M,K] and [K,N] blocks of one dtype, got {ta} and {tb}"));
            return a;
        }
        let out = Type::block(DType::F32, [ta.shape.0[0], tb.shape.0[1]]);
        if let Some(c) = acc {
            let tc = bl.ty(c).clone();
            if tc != out {
                bl.fail(loc, format!("`dot` accumulator must be {out}, got {tc}"));
            }
        }
        bl.emit(Op::Dot { a: a.id, b: b.id, acc: acc.map(|c| c.id) }, out, loc)
    })
}
