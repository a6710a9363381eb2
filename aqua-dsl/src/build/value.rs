//! Value handles and the operands ops accept.
//!
//! A [`Value`] is a copyable handle to an IR value of the kernel being built. Ops also take
//! plain Rust numbers (literals and `#[comptime]` parameters); those are *weak*: they take
//! the dtype of the value they meet (`x * 2.0` with `x: f16[64]` multiplies by an f16 2.0),
//! like Python numbers in Triton. Two values of different dtypes never mix implicitly.

use crate::ir::{Const, DType, Elem, Loc, Op, Shape, Type, ValueId};

use super::context::{self, Builder};

/// A handle to a value of the kernel being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    pub(crate) id: ValueId,
}

impl Value {
    pub fn id(self) -> ValueId {
        self.id
    }

    /// The value's IR type.
    pub fn ty(self) -> Type {
        context::with(|b| b.ty(self).clone())
    }

    pub fn dtype(self) -> DType {
        context::with(|b| b.ty(self).dtype())
    }

    /// The block shape (empty for a scalar).
    pub fn shape(self) -> Vec<u32> {
        context::with(|b| b.ty(self).shape.0.clone())
    }
}

/// Something an op accepts as an operand: a value or a weak Rust number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand {
    Value(Value),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Conversion into an [`Operand`]; implemented for [`Value`] and Rust's numbers.
pub trait IntoOperand {
    fn into_operand(self) -> Operand;
}

impl IntoOperand for Operand {
    fn into_operand(self) -> Operand {
        self
    }
}
impl IntoOperand for Value {
    fn into_operand(self) -> Operand {
        Operand::Value(self)
    }
}
impl IntoOperand for &Value {
    fn into_operand(self) -> Operand {
        Operand::Value(*self)
    }
}
impl IntoOperand for bool {
    fn into_operand(self) -> Operand {
        Operand::Bool(self)
    }
}
macro_rules! int_operand {
    ($($t:ty),*) => {$(
        impl IntoOperand for $t {
            fn into_operand(self) -> Operand { Operand::Int(self as i64) }
        }
    )*};
}
int_operand!(i8, u8, i16, u16, i32, u32, i64, u64, isize, usize);
impl IntoOperand for f32 {
    fn into_operand(self) -> Operand {
        Operand::Float(self as f64)
    }
}
impl IntoOperand for f64 {
    fn into_operand(self) -> Operand {
        Operand::Float(self)
    }
}
impl IntoOperand for half::f16 {
    fn into_operand(self) -> Operand {
        Operand::Float(self.to_f64())
    }
}
impl IntoOperand for half::bf16 {
    fn into_operand(self) -> Operand {
        Operand::Float(self.to_f64())
    }
}

/// Rust types that name a dtype: `x.cast::<f16>()`, `zeros::<f32>([64])`.
pub trait Dtype {
    const DTYPE: DType;
}
macro_rules! dtype_of {
    ($($t:ty => $d:ident),*) => {$( impl Dtype for $t { const DTYPE: DType = DType::$d; } )*};
}
dtype_of!(bool => Bool, i8 => I8, u8 => U8, i32 => I32, u32 => U32, i64 => I64,
          half::f16 => F16, half::bf16 => BF16, f32 => F32);

/// Shapes given as `[a, b]`, `vec![..]` or a single length.
pub trait IntoShape {
    fn into_shape(self) -> Shape;
}
impl<const N: usize, T: Copy + TryInto<u32>> IntoShape for [T; N] {
    fn into_shape(self) -> Shape {
        Shape(self.iter().map(|&d| d.try_into().unwrap_or(u32::MAX)).collect())
    }
}
impl IntoShape for Vec<u32> {
    fn into_shape(self) -> Shape {
        Shape(self)
    }
}
impl IntoShape for &[u32] {
    fn into_shape(self) -> Shape {
        Shape(self.to_vec())
    }
}
impl IntoShape for Shape {
    fn into_shape(self) -> Shape {
        self
    }
}
impl IntoShape for u32 {
    fn into_shape(self) -> Shape {
        Shape(vec![self])
    }
}

// ---- helpers the op functions share ----

impl Builder {
    /// A scalar constant of `dtype`.
    pub(crate) fn constant(&mut self, c: Const, loc: Loc) -> Value {
        self.emit(Op::Const(c), Type::scalar(c.dtype), loc)
    }

    /// Materializes a weak operand as a scalar of `dtype`, checking that it fits.
    pub(crate) fn weak_to(&mut self, op: Operand, dtype: DType, loc: Loc) -> Value {
        let c = match op {
            Operand::Value(v) => return v,
            Operand::Bool(b) => {
                if dtype != DType::Bool {
                    self.fail(loc, format!("bool literal used with a {dtype} value"));
                }
                Const::from_i64(DType::Bool, b as i64)
            }
            Operand::Int(i) => {
                if dtype.is_bool() {
                    self.fail(loc, format!("integer literal {i} used with a bool value"));
                } else if let Some((lo, hi)) = dtype.int_range() {
                    if i < lo || i > hi {
                        self.fail(loc, format!("literal {i} does not fit in {dtype}"));
                    }
                }
                Const::from_i64(dtype, i)
            }
            Operand::Float(x) => {
                if !dtype.is_float() {
                    self.fail(loc, format!("float literal {x} used with a {dtype} value"));
                }
                Const::from_f64(dtype, x)
            }
        };
        self.constant(c, loc)
    }

    /// Materializes an operand with its own dtype, or the default one for a weak number
    /// (`i32`, `f32`, `bool`).
    pub(crate) fn materialize(&mut self, op: Operand, loc: Loc) -> Value {
        match op {
            Operand::Value(v) => v,
            Operand::Int(_) => self.weak_to(op, DType::I32, loc),
            Operand::Float(_) => self.weak_to(op, DType::F32, loc),
            Operand::Bool(_) => self.weak_to(op, DType::Bool, loc),
        }
    }

    /// Broadcasts `v` to `shape` (numpy rules: leading dims added, dims of 1 repeated).
    pub(crate) fn broadcast_to(&mut self, v: Value, shape: &Shape, loc: Loc) -> Value {
        let ty = self.ty(v).clone();
        if ty.shape == *shape {
            return v;
        }
        if ty.shape.is_scalar() {
            return self.emit(Op::Splat { value: v.id, shape: shape.clone() }, ty.with_shape(shape.clone()), loc);
        }
        if ty.shape.rank() > shape.rank() {
            self.fail(loc, format!("cannot broadcast {} to shape {}", ty, shape));
            return v;
        }
        let mut cur = v;
        let mut cur_shape = ty.shape.clone();
        while cur_shape.rank() < shape.rank() {
            cur_shape.0.insert(0, 1);
            cur = self.emit(Op::ExpandDims { arg: cur.id, axis: 0 }, ty.with_shape(cur_shape.clone()), loc);
        }
        for (a, b) in cur_shape.0.iter().zip(&shape.0) {
            if a != b && *a != 1 {
                self.fail(loc, format!("cannot broadcast {} to shape {}", ty, shape));
                return v;
            }
        }
        if cur_shape == *shape {
            return cur;
        }
        self.emit(Op::Broadcast { arg: cur.id, shape: shape.clone() }, ty.with_shape(shape.clone()), loc)
    }

    /// The common shape of two shapes under numpy broadcasting.
    pub(crate) fn broadcast_shape(&mut self, a: &Shape, b: &Shape, loc: Loc) -> Shape {
        let rank = a.rank().max(b.rank());
        let mut out = vec![0u32; rank];
        for (i, o) in out.iter_mut().enumerate() {
            let da = if i + a.rank() >= rank { a.0[i + a.rank() - rank] } else { 1 };
            let db = if i + b.rank() >= rank { b.0[i + b.rank() - rank] } else { 1 };
            *o = if da == db || db == 1 {
                da
            } else if da == 1 {
                db
            } else {
                self.fail(loc, format!("shapes {a} and {b} cannot be broadcast together"));
                da.max(db)
            };
        }
        Shape(out)
    }

    /// Resolves operands of an element-wise op to values of one dtype and one shape.
    /// Pointers are left alone (the caller checks them).
    pub(crate) fn unify(&mut self, ops: &[Operand], what: &str, loc: Loc) -> Vec<Value> {
        // The dtype: that of the first value operand; all value operands must agree.
        let mut dtype: Option<Elem> = None;
        for op in ops {
            if let Operand::Value(v) = op {
                let e = self.ty(*v).elem;
                match dtype {
                    None => dtype = Some(e),
                    Some(d) if d != e => {
                        self.fail(
                            loc,
                            format!("`{what}` mixes {d} and {e}; convert one side with .cast::<T>()"),
                        );
                    }
                    _ => {}
                }
            }
        }
        let vals: Vec<Value> = match dtype {
            Some(e) => ops.iter().map(|&op| self.weak_to(op, e.dtype(), loc)).collect(),
            None => {
                // All weak: floats win over ints.
                let d = if ops.iter().any(|o| matches!(o, Operand::Float(_))) {
                    DType::F32
                } else if ops.iter().all(|o| matches!(o, Operand::Bool(_))) {
                    DType::Bool
                } else {
                    DType::I32
                };
                ops.iter().map(|&op| self.weak_to(op, d, loc)).collect()
            }
        };
        let mut shape = Shape::scalar();
        for &v in &vals {
            let s = self.ty(v).shape.clone();
            shape = self.broadcast_shape(&shape, &s, loc);
        }
        vals.into_iter().map(|v| self.broadcast_to(v, &shape, loc)).collect()
    }
}
