//! Conversions: `cast`, `bitcast`, and turning constants and table entries into elements.
//!
//! Every cast pair goes through [`convert`], so the rules of `Op::Cast` live in one place
//! (`numeric.rs`). Constants are checked, not wrapped: an integer literal outside its
//! dtype or a literal of the wrong kind is an ill-formed kernel (or argument).

use half::{bf16, f16};

use super::numeric::{convert, Prim};
use super::value::{match_data, with_dtype, Data, RtValue};
use crate::ir::{Const, DType, Lit, Table};

pub(crate) fn cast(a: &RtValue, to: DType) -> Result<RtValue, String> {
    fn go<S: Prim>(x: &[S], to: DType) -> Data {
        with_dtype!(to, T => T::wrap(x.iter().map(|&v| convert::<S, T>(v)).collect()))
    }
    let data = match_data!(&a.data, x => go(x, to), _p => {
        return Err(format!("cannot cast {} to {to}", a.ty()))
    });
    Ok(RtValue {
        shape: a.shape.clone(),
        data,
    })
}

pub(crate) fn bitcast(a: &RtValue, to: DType) -> Result<RtValue, String> {
    fn map<T: Copy, U>(x: &[T], f: impl Fn(T) -> U) -> Vec<U> {
        x.iter().map(|&v| f(v)).collect()
    }
    let data = match (&a.data, to) {
        (Data::I8(x), DType::U8) => Data::U8(map(x, |v| v as u8)),
        (Data::U8(x), DType::I8) => Data::I8(map(x, |v| v as i8)),
        (Data::I32(x), DType::U32) => Data::U32(map(x, |v| v as u32)),
        (Data::I32(x), DType::F32) => Data::F32(map(x, |v| f32::from_bits(v as u32))),
        (Data::U32(x), DType::I32) => Data::I32(map(x, |v| v as i32)),
        (Data::U32(x), DType::F32) => Data::F32(map(x, f32::from_bits)),
        (Data::F32(x), DType::I32) => Data::I32(map(x, |v| v.to_bits() as i32)),
        (Data::F32(x), DType::U32) => Data::U32(map(x, f32::to_bits)),
        (Data::F16(x), DType::BF16) => Data::BF16(map(x, |v| bf16::from_bits(v.to_bits()))),
        (Data::BF16(x), DType::F16) => Data::F16(map(x, |v| f16::from_bits(v.to_bits()))),
        (d, to) if d.elem() == crate::ir::Elem::Val(to) && to != DType::Bool => d.clone(),
        _ => {
            return Err(format!(
                "cannot bitcast {} to {to}: not numbers of one width",
                a.ty()
            ))
        }
    };
    Ok(RtValue {
        shape: a.shape.clone(),
        data,
    })
}

/// One element of `c.dtype`, holding the constant's value, or why the constant is invalid.
pub(crate) fn const_data(c: &Const) -> Result<Data, String> {
    let bad = || format!("constant `{c}` is not a valid {} value", c.dtype);
    Ok(match (c.lit, c.dtype) {
        (Lit::Bool(b), DType::Bool) => Data::Bool(vec![b]),
        (Lit::Int(i), d) if d.is_int() => {
            let (lo, hi) = d.int_range().ok_or_else(bad)?;
            if i < lo || i > hi {
                return Err(bad());
            }
            with_dtype!(d, T => T::wrap(vec![T::from_i64(i)]))
        }
        // Float constants hold values exact in their dtype; rounding makes any other
        // value (an integral literal, a stray extra bit) well defined too.
        (Lit::Float(x), d) if d.is_float() => with_dtype!(d, T => T::wrap(vec![T::from_f64(x)])),
        (Lit::Int(i), d) if d.is_float() => with_dtype!(d, T => T::wrap(vec![T::from_i64(i)])),
        _ => return Err(bad()),
    })
}

/// The elements of a constant table in its dtype.
pub(crate) fn table_data(t: &Table) -> Data {
    with_dtype!(t.dtype, T => T::wrap(t.data.iter().map(|&v| T::from_f64(v)).collect()))
}
