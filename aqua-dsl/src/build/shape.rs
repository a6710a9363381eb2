//! Block creation and shape ops: `arange`, `full`, `zeros`, reshape, transpose,
//! `expand_dims`, `broadcast_to`.

use crate::ir::{DType, Loc, Op, Shape, Type};

use super::context::{self, Builder};
use super::value::{Dtype, IntoOperand, IntoShape, Operand, Value};

impl Builder {
    /// Checks that every dim is a power of two and the block is not absurdly large.
    pub(crate) fn check_shape(&mut self, shape: &Shape, loc: Loc) -> bool {
        if shape.rank() > 3 {
            self.fail(loc, format!("blocks have at most 3 dims, got shape {shape}"));
            return false;
        }
        for &d in shape.dims() {
            if d == 0 || !d.is_power_of_two() {
                self.fail(loc, format!("block dims must be powers of two, got shape {shape}"));
                return false;
            }
        }
        if shape.numel() > 1 << 20 {
            self.fail(loc, format!("block of shape {shape} has more than 2^20 elements"));
            return false;
        }
        true
    }
}

/// `i32[n]` holding `0, 1, ..., n-1`; `n` is a compile-time power of two.
#[track_caller]
pub fn arange(n: u32) -> Value {
    arange_from(0, n as i64)
}

/// `i32[end-start]` holding `start, ..., end-1`; `end - start` is a power of two.
#[track_caller]
pub fn arange_from(start: i64, end: i64) -> Value {
    let loc = Loc::caller();
    context::with(|b| {
        let n = end - start;
        if n <= 0 || n > u32::MAX as i64 || start < i32::MIN as i64 || end > i32::MAX as i64 + 1 {
            b.fail(loc, format!("arange({start}, {end}) is empty or out of i32 range"));
            return b.emit(Op::Arange { start: 0, end: 1 }, Type::block(DType::I32, [1]), loc);
        }
        let shape = Shape::new([n as u32]);
        b.check_shape(&shape, loc);
        b.emit(Op::Arange { start: start as i32, end: end as i32 }, Type { elem: crate::ir::Elem::Val(DType::I32), shape }, loc)
    })
}

/// A block of `shape` filled with `value` (a scalar value, or a weak number of the
/// default dtype: `f32` for floats, `i32` for integers).
#[track_caller]
pub fn full(shape: impl IntoShape, value: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let (shape, value) = (shape.into_shape(), value.into_operand());
    context::with(|b| {
        b.check_shape(&shape, loc);
        let v = b.materialize(value, loc);
        if !b.ty(v).is_scalar() {
            let t = b.ty(v).clone();
            b.fail(loc, format!("`full` needs a scalar value, got {t}"));
            return v;
        }
        b.broadcast_to(v, &shape, loc)
    })
}

/// A block of `shape` filled with `value` converted to dtype `T`.
#[track_caller]
pub fn full_of<T: Dtype>(shape: impl IntoShape, value: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let (shape, value) = (shape.into_shape(), value.into_operand());
    context::with(|b| {
        b.check_shape(&shape, loc);
        let value = match value {
            Operand::Int(i) if T::DTYPE.is_float() => Operand::Float(i as f64),
            o => o,
        };
        let v = b.weak_to(value, T::DTYPE, loc);
        let v = b.cast(v, T::DTYPE, loc);
        b.broadcast_to(v, &shape, loc)
    })
}

/// A block of zeros of dtype `T`.
#[track_caller]
pub fn zeros<T: Dtype>(shape: impl IntoShape) -> Value {
    let loc = Loc::caller();
    let shape = shape.into_shape();
    context::with(|b| {
        b.check_shape(&shape, loc);
        let z = b.weak_to(if T::DTYPE.is_float() { Operand::Float(0.0) } else if T::DTYPE.is_bool() { Operand::Bool(false) } else { Operand::Int(0) }, T::DTYPE, loc);
        b.broadcast_to(z, &shape, loc)
    })
}

impl Value {
    /// Same elements in row-major order, new shape.
    #[track_caller]
    pub fn reshape(self, shape: impl IntoShape) -> Value {
        let loc = Loc::caller();
        let shape = shape.into_shape();
        context::with(|b| {
            let ty = b.ty(self).clone();
            if !b.check_shape(&shape, loc) {
                return self;
            }
            if ty.shape.numel() != shape.numel() {
                b.fail(loc, format!("cannot reshape {ty} to {shape}: element counts differ"));
                return self;
            }
            if ty.shape == shape {
                return self;
            }
            b.emit(Op::Reshape { arg: self.id, shape: shape.clone() }, ty.with_shape(shape), loc)
        })
    }

    /// Transpose of a 2-D block.
    #[track_caller]
    pub fn trans(self) -> Value {
        let loc = Loc::caller();
        context::with(|b| {
            let ty = b.ty(self).clone();
            if ty.shape.rank() != 2 {
                b.fail(loc, format!("`trans` needs a 2-D block, got {ty}"));
                return self;
            }
            let s = Shape::new([ty.shape.0[1], ty.shape.0[0]]);
            b.emit(Op::Trans { arg: self.id }, ty.with_shape(s), loc)
        })
    }

    /// Same shape, with element `i` along `axis` taken from `i ^ mask`: the partner of
    /// every element in a butterfly step of stride `mask` (`mask` a power of two), so
    /// `where_(bit, p - v, v + p)` with `p = v.xor_permute(axis, s)` is one step of a fast
    /// Walsh-Hadamard transform. The dim along `axis` must be a power of two above `mask`
    /// (any `mask` from 1 up is allowed). On a GPU, partners held by another lane of the
    /// same warp are exchanged with a shuffle (`docs/gpu.md`).
    #[track_caller]
    pub fn xor_permute(self, axis: u32, mask: u32) -> Value {
        let loc = Loc::caller();
        context::with(|b| {
            let ty = b.ty(self).clone();
            match crate::ir::xor_permute_problem(&ty.shape, axis, mask) {
                Some(problem) => {
                    b.fail(loc, format!("`xor_permute` of {ty}: {problem}"));
                    self
                }
                None => b.emit(Op::XorPermute { arg: self.id, axis: axis as u8, mask }, ty, loc),
            }
        })
    }

    /// Inserts a dim of size 1 at `axis`.
    #[track_caller]
    pub fn expand_dims(self, axis: u32) -> Value {
        let loc = Loc::caller();
        context::with(|b| {
            let ty = b.ty(self).clone();
            if axis as usize > ty.shape.rank() || ty.shape.rank() >= 3 {
                b.fail(loc, format!("cannot expand {ty} at axis {axis}"));
                return self;
            }
            let mut s = ty.shape.clone();
            s.0.insert(axis as usize, 1);
            b.emit(Op::ExpandDims { arg: self.id, axis: axis as u8 }, ty.with_shape(s), loc)
        })
    }

    /// Broadcasts to `shape` (numpy rules).
    #[track_caller]
    pub fn broadcast_to(self, shape: impl IntoShape) -> Value {
        let loc = Loc::caller();
        let shape = shape.into_shape();
        context::with(|b| {
            b.check_shape(&shape, loc);
            b.broadcast_to(self, &shape, loc)
        })
    }
}
