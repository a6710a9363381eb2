//! Scalar constants and constant tables (codebooks).

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::ir::DType;

/// The value of a scalar constant. Floats are stored as f64 holding a value exactly
/// representable in the constant's dtype (the builder rounds on creation).
#[derive(Clone, Copy, Debug)]
pub enum Lit {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl PartialEq for Lit {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Lit::Bool(a), Lit::Bool(b)) => a == b,
            (Lit::Int(a), Lit::Int(b)) => a == b,
            (Lit::Float(a), Lit::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}
impl Eq for Lit {}

impl Hash for Lit {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Lit::Bool(b) => (0u8, *b).hash(state),
            Lit::Int(i) => (1u8, *i).hash(state),
            Lit::Float(f) => (2u8, f.to_bits()).hash(state),
        }
    }
}

/// A typed scalar constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Const {
    pub dtype: DType,
    pub lit: Lit,
}

impl Const {
    /// A constant of `dtype` from an f64, rounded (floats) or wrapped (integers) into range.
    pub fn from_f64(dtype: DType, v: f64) -> Const {
        let lit = match dtype {
            DType::Bool => Lit::Bool(v != 0.0),
            DType::F32 => Lit::Float(v as f32 as f64),
            // Through f32 rounded to odd, so the final rounding is the correct one.
            DType::F16 => Lit::Float(half::f16::from_f32(f64_to_f32_odd(v)).to_f64()),
            DType::BF16 => Lit::Float(half::bf16::from_f32(f64_to_f32_odd(v)).to_f64()),
            _ => return Const::from_i64(dtype, v as i64),
        };
        Const { dtype, lit }
    }

    /// A constant of `dtype` from an i64, wrapped into the dtype's range (two's complement).
    pub fn from_i64(dtype: DType, v: i64) -> Const {
        let lit = match dtype {
            DType::Bool => Lit::Bool(v != 0),
            DType::I8 => Lit::Int(v as i8 as i64),
            DType::U8 => Lit::Int(v as u8 as i64),
            DType::I32 => Lit::Int(v as i32 as i64),
            DType::U32 => Lit::Int(v as u32 as i64),
            DType::I64 => Lit::Int(v),
            d if d.is_float() => return Const::from_f64(d, v as f64),
            _ => unreachable!(),
        };
        Const { dtype, lit }
    }

    pub fn as_f64(&self) -> f64 {
        match self.lit {
            Lit::Bool(b) => b as i64 as f64,
            Lit::Int(i) => i as f64,
            Lit::Float(f) => f,
        }
    }

    pub fn as_i64(&self) -> i64 {
        match self.lit {
            Lit::Bool(b) => b as i64,
            Lit::Int(i) => i,
            Lit::Float(f) => f as i64,
        }
    }
}

impl fmt::Display for Const {
    /// `true`, `-3`, `1.5`, `inf`, `-inf`, `nan`: shortest text that reads back exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lit {
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Float(v) if v.is_nan() => f.write_str("nan"),
            Lit::Float(v) if v.is_infinite() => f.write_str(if v > 0.0 { "inf" } else { "-inf" }),
            Lit::Float(v) => write!(f, "{v:?}"),
        }
    }
}

/// Index of a constant table in its kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u32);

/// A small constant 1-D table (a codebook) read with `gather`. Values are stored as f64
/// exactly representable in `dtype` (integers as whole numbers).
#[derive(Clone, Debug)]
pub struct Table {
    pub dtype: DType,
    pub data: Vec<f64>,
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.dtype == other.dtype
            && self.data.len() == other.data.len()
            && self.data.iter().zip(&other.data).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}
impl Eq for Table {}

/// `x` rounded to f32 with round-to-odd (an inexact result gets an odd last bit), so that
/// a later rounding to a narrower format is the correct rounding of `x`.
pub fn f64_to_f32_odd(x: f64) -> f32 {
    let f = x as f32;
    if !f.is_finite() || f as f64 == x || f.to_bits() & 1 == 1 {
        return f;
    }
    // Inexact with an even last bit: step one ulp toward x (the neighbour is odd).
    let bits = f.to_bits();
    f32::from_bits(if x.abs() > (f as f64).abs() {
        bits + 1
    } else {
        bits - 1
    })
}

