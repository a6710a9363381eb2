//! Element types, shapes and value types of the block IR.
//!
//! Every value is a scalar or a block of compile-time shape. Scalars are blocks of rank 0,
//! so element-wise ops, casts and masks treat both alike; pointers are an element kind of
//! their own (`ptr<f16>`), so `ptr + offsets` yields a block of addresses.

use std::fmt;

/// The scalar element types of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I8,
    U8,
    I32,
    U32,
    I64,
    F16,
    BF16,
    F32,
}

impl DType {
    pub const ALL: [DType; 9] = [
        DType::Bool,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::U32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
    ];

    /// The name used in IR text, error messages and the `aqua` command.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::U32 => "u32",
            DType::I64 => "i64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32)
    }

    /// Integer types (not `bool`).
    pub fn is_int(self) -> bool {
        matches!(self, DType::I8 | DType::U8 | DType::I32 | DType::U32 | DType::I64)
    }

    pub fn is_signed(self) -> bool {
        matches!(self, DType::I8 | DType::I32 | DType::I64) || self.is_float()
    }

    pub fn is_bool(self) -> bool {
        self == DType::Bool
    }

    /// Width in bits (bool counts as 1).
    pub fn bits(self) -> u32 {
        match self {
            DType::Bool => 1,
            DType::I8 | DType::U8 => 8,
            DType::F16 | DType::BF16 => 16,
            DType::I32 | DType::U32 | DType::F32 => 32,
            DType::I64 => 64,
        }
    }

    /// Size of one element in host and device memory (bool is one byte).
    pub fn size_bytes(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 => 8,
        }
    }

    /// Inclusive integer range of an integer type (and bool as 0..=1).
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            DType::Bool => (0, 1),
            DType::I8 => (i8::MIN as i64, i8::MAX as i64),
            DType::U8 => (0, u8::MAX as i64),
            DType::I32 => (i32::MIN as i64, i32::MAX as i64),
            DType::U32 => (0, u32::MAX as i64),
            DType::I64 => (i64::MIN, i64::MAX),
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A block shape: compile-time dimensions, each a power of two. Rank 0 is a scalar.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<u32>);

impl Shape {
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    pub fn new(dims: impl Into<Vec<u32>>) -> Shape {
        Shape(dims.into())
    }

    pub fn dims(&self) -> &[u32] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().map(|&d| d as usize).product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1usize; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1] as usize;
        }
        strides
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// What one element of a value is: a number of some dtype, or a pointer to such numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    Val(DType),
    Ptr(DType),
}

impl Elem {
    pub fn dtype(self) -> DType {
        match self {
            Elem::Val(d) | Elem::Ptr(d) => d,
        }
    }

    pub fn is_ptr(self) -> bool {
        matches!(self, Elem::Ptr(_))
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Elem::Val(d) => write!(f, "{d}"),
            Elem::Ptr(d) => write!(f, "ptr<{d}>"),
        }
    }
}

/// The type of an IR value: element kind plus shape (`f32`, `i32[128]`, `ptr<f16>[4,64]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Type {
    pub elem: Elem,
    pub shape: Shape,
}

impl Type {
    pub fn scalar(dtype: DType) -> Type {
        Type { elem: Elem::Val(dtype), shape: Shape::scalar() }
    }

    pub fn block(dtype: DType, dims: impl Into<Vec<u32>>) -> Type {
        Type { elem: Elem::Val(dtype), shape: Shape::new(dims) }
    }

    pub fn ptr(dtype: DType) -> Type {
        Type { elem: Elem::Ptr(dtype), shape: Shape::scalar() }
    }

    pub fn with_shape(&self, shape: Shape) -> Type {
        Type { elem: self.elem, shape }
    }

    pub fn with_dtype(&self, dtype: DType) -> Type {
        Type { elem: Elem::Val(dtype), shape: self.shape.clone() }
    }

    pub fn dtype(&self) -> DType {
        self.elem.dtype()
    }

    pub fn is_ptr(&self) -> bool {
        self.elem.is_ptr()
    }

    pub fn is_scalar(&self) -> bool {
        self.shape.is_scalar()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.elem)?;
        if !self.shape.is_scalar() {
            write!(f, "{}", self.shape)?;
        }
        Ok(())
    }
}
