//! Element-wise ops: arithmetic, comparisons, selection, math and conversions.

use crate::ir::{BinOp, CmpPred, DType, Loc, Op, UnOp};

use super::context::{self, Builder};
use super::value::{Dtype, IntoOperand, Operand, Value};

impl Builder {
    pub(crate) fn binary(&mut self, op: BinOp, a: Operand, b: Operand, loc: Loc) -> Value {
        // Pointer arithmetic: `ptr + offsets` (either order) and `ptr - offsets`.
        let is_ptr = |b: &Builder, o: &Operand| matches!(o, Operand::Value(v) if b.ty(*v).is_ptr());
        if is_ptr(self, &a) || is_ptr(self, &b) {
            return self.ptr_arith(op, a, b, loc);
        }
        let vals = self.unify(&[a, b], op.name(), loc);
        let ty = self.ty(vals[0]).clone();
        let d = ty.dtype();
        if op.is_bitwise() && d.is_float() {
            self.fail(loc, format!("`{op}` needs integer or bool operands, got {ty}"));
        }
        if d.is_bool() && !matches!(op, BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Min | BinOp::Max) {
            self.fail(loc, format!("`{op}` is not defined on bool; cast to an integer first"));
        }
        self.emit(Op::Binary { op, lhs: vals[0].id, rhs: vals[1].id }, ty, loc)
    }

    fn ptr_arith(&mut self, op: BinOp, a: Operand, b: Operand, loc: Loc) -> Value {
        let (ptr, off, negate) = match (a, b, op) {
            (Operand::Value(p), o, BinOp::Add) if self.ty(p).is_ptr() => (p, o, false),
            (o, Operand::Value(p), BinOp::Add) if self.ty(p).is_ptr() => (p, o, false),
            (Operand::Value(p), o, BinOp::Sub) if self.ty(p).is_ptr() => (p, o, true),
            _ => {
                self.fail(loc, format!("`{op}` is not defined on pointers; only `ptr + offsets` and `ptr - offsets` are"));
                return match a {
                    Operand::Value(v) => v,
                    _ => self.materialize(b, loc),
                };
            }
        };
        let mut off = match off {
            Operand::Value(v) => v,
            Operand::Int(_) => self.weak_to(off, DType::I32, loc),
            _ => {
                self.fail(loc, "pointer offsets must be integers");
                return ptr;
            }
        };
        let od = self.ty(off).dtype();
        if !od.is_int() || self.ty(off).is_ptr() {
            self.fail(loc, format!("pointer offsets must be integers, got {}", self.ty(off)));
            return ptr;
        }
        if negate {
            off = self.unary(UnOp::Neg, off, loc);
        }
        let ps = self.ty(ptr).shape.clone();
        let os = self.ty(off).shape.clone();
        let shape = self.broadcast_shape(&ps, &os, loc);
        let ptr = self.broadcast_to(ptr, &shape, loc);
        let off = self.broadcast_to(off, &shape, loc);
        let ty = self.ty(ptr).clone();
        self.emit(Op::PtrAdd { ptr: ptr.id, offset: off.id }, ty, loc)
    }

    pub(crate) fn unary(&mut self, op: UnOp, a: Value, loc: Loc) -> Value {
        let ty = self.ty(a).clone();
        let d = ty.dtype();
        if ty.is_ptr() {
            self.fail(loc, format!("`{op}` is not defined on pointers"));
        } else if op.is_float_only() && !d.is_float() {
            self.fail(loc, format!("`{op}` needs a float operand, got {ty}; cast it first"));
        } else if op == UnOp::Not && d.is_float() {
            self.fail(loc, format!("`not` needs an integer or bool operand, got {ty}"));
        } else if matches!(op, UnOp::Neg | UnOp::Abs) && d.is_bool() {
            self.fail(loc, format!("`{op}` is not defined on bool"));
        }
        self.emit(Op::Unary { op, arg: a.id }, ty, loc)
    }

    pub(crate) fn cmp(&mut self, pred: CmpPred, a: Operand, b: Operand, loc: Loc) -> Value {
        let vals = self.unify(&[a, b], pred.name(), loc);
        let ty = self.ty(vals[0]).with_dtype(DType::Bool);
        self.emit(Op::Cmp { pred, lhs: vals[0].id, rhs: vals[1].id }, ty, loc)
    }

    pub(crate) fn cast(&mut self, a: Value, to: DType, loc: Loc) -> Value {
        let ty = self.ty(a).clone();
        if ty.is_ptr() {
            self.fail(loc, "pointers cannot be cast");
        }
        if ty.dtype() == to {
            return a;
        }
        self.emit(Op::Cast { arg: a.id, to }, ty.with_dtype(to), loc)
    }

    pub(crate) fn bitcast(&mut self, a: Value, to: DType, loc: Loc) -> Value {
        let ty = self.ty(a).clone();
        if ty.is_ptr() || ty.dtype().bits() != to.bits() || to.is_bool() || ty.dtype().is_bool() {
            self.fail(loc, format!("cannot bitcast {ty} to {to}: widths differ or not numeric"));
        }
        if ty.dtype() == to {
            return a;
        }
        self.emit(Op::Bitcast { arg: a.id, to }, ty.with_dtype(to), loc)
    }
}

// ---- public functions (the names kernels call) ----

macro_rules! binary_fns {
    ($($(#[$m:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$m])*
        #[track_caller]
        pub fn $name(a: impl IntoOperand, b: impl IntoOperand) -> Value {
            let loc = Loc::caller();
            let (a, b) = (a.into_operand(), b.into_operand());
            context::with(|bl| bl.binary(BinOp::$op, a, b, loc))
        }
    )*};
}
binary_fns! {
    add => Add, sub => Sub, mul => Mul, div => Div, rem => Rem,
    /// Element-wise minimum (NaN loses to a number).
    minimum => Min,
    /// Element-wise maximum (NaN loses to a number).
    maximum => Max,
    bit_and => And, bit_or => Or, bit_xor => Xor, shl => Shl, shr => Shr,
    /// `&&` on bool values (both sides are evaluated).
    logical_and => And,
    /// `||` on bool values (both sides are evaluated).
    logical_or => Or,
}

macro_rules! cmp_fns {
    ($($name:ident => $pred:ident),*) => {$(
        #[track_caller]
        pub fn $name(a: impl IntoOperand, b: impl IntoOperand) -> Value {
            let loc = Loc::caller();
            let (a, b) = (a.into_operand(), b.into_operand());
            context::with(|bl| bl.cmp(CmpPred::$pred, a, b, loc))
        }
    )*};
}
cmp_fns!(eq => Eq, ne => Ne, lt => Lt, le => Le, gt => Gt, ge => Ge);

macro_rules! unary_fns {
    ($($(#[$m:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$m])*
        #[track_caller]
        pub fn $name(a: impl IntoOperand) -> Value {
            let loc = Loc::caller();
            let a = a.into_operand();
            context::with(|bl| { let a = bl.materialize(a, loc); bl.unary(UnOp::$op, a, loc) })
        }
    )*};
}
unary_fns! {
    neg => Neg, not => Not, abs => Abs, sqrt => Sqrt,
    /// `1 / sqrt(x)`.
    rsqrt => Rsqrt,
    exp => Exp, log => Log, floor => Floor, ceil => Ceil,
    /// Round to nearest, ties to even.
    round => Round,
}

/// `where_(cond, a, b)`: `a` where `cond` holds, else `b`, element-wise with broadcasting.
#[track_caller]
pub fn where_(cond: impl IntoOperand, a: impl IntoOperand, b: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let (c, a, b) = (cond.into_operand(), a.into_operand(), b.into_operand());
    context::with(|bl| {
        let c = bl.materialize(c, loc);
        if bl.ty(c).dtype() != DType::Bool {
            let t = bl.ty(c).clone();
            bl.fail(loc, format!("`where_` condition must be bool, got {t}"));
        }
        let ab = bl.unify(&[a, b], "where_", loc);
        let cs = bl.ty(c).shape.clone();
        let vs = bl.ty(ab[0]).shape.clone();
        let shape = bl.broadcast_shape(&cs, &vs, loc);
        let c = bl.broadcast_to(c, &shape, loc);
        let a = bl.broadcast_to(ab[0], &shape, loc);
        let b = bl.broadcast_to(ab[1], &shape, loc);
        let ty = bl.ty(a).clone();
        bl.emit(Op::Select { cond: c.id, on_true: a.id, on_false: b.id }, ty, loc)
    })
}

/// `a * b + c` with a single rounding.
#[track_caller]
pub fn fma(a: impl IntoOperand, b: impl IntoOperand, c: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let ops = [a.into_operand(), b.into_operand(), c.into_operand()];
    context::with(|bl| {
        let v = bl.unify(&ops, "fma", loc);
        let ty = bl.ty(v[0]).clone();
        if !ty.dtype().is_float() || ty.is_ptr() {
            bl.fail(loc, format!("`fma` needs float operands, got {ty}"));
        }
        bl.emit(Op::Fma { a: v[0].id, b: v[1].id, c: v[2].id }, ty, loc)
    })
}

/// `min(max(x, lo), hi)`.
#[track_caller]
pub fn clamp(x: impl IntoOperand, lo: impl IntoOperand, hi: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let (x, lo, hi) = (x.into_operand(), lo.into_operand(), hi.into_operand());
    context::with(|bl| {
        let v = bl.unify(&[x, lo, hi], "clamp", loc);
        let m = bl.binary(BinOp::Max, Operand::Value(v[0]), Operand::Value(v[1]), loc);
        bl.binary(BinOp::Min, Operand::Value(m), Operand::Value(v[2]), loc)
    })
}

/// A scalar constant of dtype `T`.
#[track_caller]
pub fn constant<T: Dtype>(v: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let v = v.into_operand();
    context::with(|bl| {
        let v = match v {
            // A typed request converts numbers freely (`constant::<f32>(3)`).
            Operand::Int(i) if T::DTYPE.is_float() => Operand::Float(i as f64),
            o => o,
        };
        bl.weak_to(v, T::DTYPE, loc)
    })
}

/// Turns a weak number into a value of its default dtype (`i32`, `f32` or `bool`); a
/// value is returned as is. Used for variables that start as literals and later change.
#[track_caller]
pub fn lift(v: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let v = v.into_operand();
    context::with(|bl| bl.materialize(v, loc))
}

impl Value {
    /// Numeric conversion to `T` (see [`crate::ir::Op::Cast`] for rounding).
    #[track_caller]
    pub fn cast<T: Dtype>(self) -> Value {
        self.cast_to(T::DTYPE)
    }

    #[track_caller]
    pub fn cast_to(self, to: DType) -> Value {
        let loc = Loc::caller();
        context::with(|bl| bl.cast(self, to, loc))
    }

    /// Reinterprets the bits as `T` (same width).
    #[track_caller]
    pub fn bitcast<T: Dtype>(self) -> Value {
        let loc = Loc::caller();
        context::with(|bl| bl.bitcast(self, T::DTYPE, loc))
    }

    #[track_caller]
    pub fn abs(self) -> Value {
        abs(self)
    }
    #[track_caller]
    pub fn sqrt(self) -> Value {
        sqrt(self)
    }
    #[track_caller]
    pub fn rsqrt(self) -> Value {
        rsqrt(self)
    }
    #[track_caller]
    pub fn exp(self) -> Value {
        exp(self)
    }
    #[track_caller]
    pub fn log(self) -> Value {
        log(self)
    }
    #[track_caller]
    pub fn floor(self) -> Value {
        floor(self)
    }
    #[track_caller]
    pub fn ceil(self) -> Value {
        ceil(self)
    }
    /// Round to nearest, ties to even.
    #[track_caller]
    pub fn round(self) -> Value {
        round(self)
    }
    #[track_caller]
    pub fn minimum(self, other: impl IntoOperand) -> Value {
        minimum(self, other)
    }
    #[track_caller]
    pub fn maximum(self, other: impl IntoOperand) -> Value {
        maximum(self, other)
    }
    #[track_caller]
    pub fn clamp(self, lo: impl IntoOperand, hi: impl IntoOperand) -> Value {
        clamp(self, lo, hi)
    }
    #[track_caller]
    pub fn lt(self, o: impl IntoOperand) -> Value {
        lt(self, o)
    }
    #[track_caller]
    pub fn le(self, o: impl IntoOperand) -> Value {
        le(self, o)
    }
    #[track_caller]
    pub fn gt(self, o: impl IntoOperand) -> Value {
        gt(self, o)
    }
    #[track_caller]
    pub fn ge(self, o: impl IntoOperand) -> Value {
        ge(self, o)
    }
    #[track_caller]
    pub fn eq(self, o: impl IntoOperand) -> Value {
        eq(self, o)
    }
    #[track_caller]
    pub fn ne(self, o: impl IntoOperand) -> Value {
        ne(self, o)
    }
}
