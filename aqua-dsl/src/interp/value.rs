//! Runtime values of the interpreter: a shape plus one typed element vector.
//!
//! A value is stored as the Rust vector of its dtype ([`Data`]), row-major, so every op
//! runs one monomorphic loop per dtype instead of dispatching per element. Pointers are a
//! parameter index plus element offsets: aqua pointers always derive from one parameter.

use half::{bf16, f16};

use crate::ir::{DType, Elem, Shape, Type};

/// The largest block the interpreter materializes (the builder caps blocks at 2^20; the
/// margin lets ill-formed kernels fail with an error rather than exhaust memory).
pub(crate) const MAX_ELEMENTS: usize = 1 << 24;

/// The elements of a value, row-major.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    Ptr(PtrData),
}

/// Pointers into the buffer of parameter `param`, whose elements are `dtype`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PtrData {
    pub param: usize,
    pub dtype: DType,
    /// Element offsets from the start of the buffer, one per lane.
    pub offsets: Vec<i64>,
}

/// `match_data!(expr, v => numeric_case, p => pointer_case)`: runs `numeric_case` with `v`
/// bound to the element vector of whichever numeric variant `expr` is.
macro_rules! match_data {
    ($data:expr, $v:ident => $num:expr, $p:ident => $ptr:expr) => {
        match $data {
            $crate::interp::value::Data::Bool($v) => $num,
            $crate::interp::value::Data::I8($v) => $num,
            $crate::interp::value::Data::U8($v) => $num,
            $crate::interp::value::Data::I32($v) => $num,
            $crate::interp::value::Data::U32($v) => $num,
            $crate::interp::value::Data::I64($v) => $num,
            $crate::interp::value::Data::F16($v) => $num,
            $crate::interp::value::Data::BF16($v) => $num,
            $crate::interp::value::Data::F32($v) => $num,
            $crate::interp::value::Data::Ptr($p) => $ptr,
        }
    };
}
pub(crate) use match_data;

/// `match_int!(expr, v => int_case, else other)`: the integer variants (not bool).
macro_rules! match_int {
    ($data:expr, $v:ident => $int:expr, else $other:expr) => {
        match $data {
            $crate::interp::value::Data::I8($v) => $int,
            $crate::interp::value::Data::U8($v) => $int,
            $crate::interp::value::Data::I32($v) => $int,
            $crate::interp::value::Data::U32($v) => $int,
            $crate::interp::value::Data::I64($v) => $int,
            _ => $other,
        }
    };
}
pub(crate) use match_int;

/// `with_dtype!(dtype, T => expr)`: runs `expr` with the type alias `T` naming the Rust
/// element type of `dtype`.
macro_rules! with_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            $crate::ir::DType::Bool => {
                type $t = bool;
                $body
            }
            $crate::ir::DType::I8 => {
                type $t = i8;
                $body
            }
            $crate::ir::DType::U8 => {
                type $t = u8;
                $body
            }
            $crate::ir::DType::I32 => {
                type $t = i32;
                $body
            }
            $crate::ir::DType::U32 => {
                type $t = u32;
                $body
            }
            $crate::ir::DType::I64 => {
                type $t = i64;
                $body
            }
            $crate::ir::DType::F16 => {
                type $t = half::f16;
                $body
            }
            $crate::ir::DType::BF16 => {
                type $t = half::bf16;
                $body
            }
            $crate::ir::DType::F32 => {
                type $t = f32;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

impl Data {
    pub fn len(&self) -> usize {
        match_data!(self, v => v.len(), p => p.offsets.len())
    }

    /// The element kind: a number of some dtype, or a pointer.
    pub fn elem(&self) -> Elem {
        match self {
            Data::Bool(_) => Elem::Val(DType::Bool),
            Data::I8(_) => Elem::Val(DType::I8),
            Data::U8(_) => Elem::Val(DType::U8),
            Data::I32(_) => Elem::Val(DType::I32),
            Data::U32(_) => Elem::Val(DType::U32),
            Data::I64(_) => Elem::Val(DType::I64),
            Data::F16(_) => Elem::Val(DType::F16),
            Data::BF16(_) => Elem::Val(DType::BF16),
            Data::F32(_) => Elem::Val(DType::F32),
            Data::Ptr(p) => Elem::Ptr(p.dtype),
        }
    }

    /// The elements at `idx` (every index is in range), in that order.
    pub fn gather(&self, idx: &[usize]) -> Data {
        fn pick<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().map(|&i| v[i]).collect()
        }
        match self {
            Data::Bool(v) => Data::Bool(pick(v, idx)),
            Data::I8(v) => Data::I8(pick(v, idx)),
            Data::U8(v) => Data::U8(pick(v, idx)),
            Data::I32(v) => Data::I32(pick(v, idx)),
            Data::U32(v) => Data::U32(pick(v, idx)),
            Data::I64(v) => Data::I64(pick(v, idx)),
            Data::F16(v) => Data::F16(pick(v, idx)),
            Data::BF16(v) => Data::BF16(pick(v, idx)),
            Data::F32(v) => Data::F32(pick(v, idx)),
            Data::Ptr(p) => Data::Ptr(PtrData {
                param: p.param,
                dtype: p.dtype,
                offsets: pick(&p.offsets, idx),
            }),
        }
    }
}

/// A runtime value: its shape and its elements (`shape.numel() == data.len()`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RtValue {
    pub shape: Shape,
    pub data: Data,
}

impl RtValue {
    pub fn scalar(data: Data) -> RtValue {
        RtValue {
            shape: Shape::scalar(),
            data,
        }
    }

    pub fn ty(&self) -> Type {
        Type {
            elem: self.data.elem(),
            shape: self.shape.clone(),
        }
    }

    /// The `bool` elements of a mask or condition of shape `shape`.
    pub fn bools(&self, what: &str, shape: &Shape) -> Result<&[bool], String> {
        match &self.data {
            Data::Bool(v) if self.shape == *shape => Ok(v),
            _ => Err(format!("{what} must be bool{shape}, got {}", self.ty())),
        }
    }
}

/// The element count of a block shape the interpreter is asked to create, or why not.
pub(crate) fn checked_numel(shape: &Shape) -> Result<usize, String> {
    let mut n = 1usize;
    for &d in shape.dims() {
        if d == 0 {
            return Err(format!("shape {shape} has a zero dim"));
        }
        n = n
            .checked_mul(d as usize)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| format!("shape {shape} has more than {MAX_ELEMENTS} elements"))?;
    }
    Ok(n)
}

/// Fails unless `a` and `b` have one shape.
pub(crate) fn same_shape(what: &str, a: &RtValue, b: &RtValue) -> Result<(), String> {
    if a.shape == b.shape {
        Ok(())
    } else {
        Err(format!(
            "`{what}` operands differ in shape: {} and {}",
            a.ty(),
            b.ty()
        ))
    }
}
