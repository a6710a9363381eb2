//! Typing of constants and program coordinates: `const`, `program_id`, `num_programs`,
//! `arange`; and which f64 values a dtype holds (constants and table entries).

use crate::ir::{Const, DType, Lit, Shape, Type};

use super::shape::check_shape;
use super::Rule;

/// Whether the f64 `x` is a value of `dtype` as constants and tables store them: floats
/// exactly representable (any NaN counts), integers whole and in range, bools 0 or 1.
pub(super) fn fits(dtype: DType, x: f64) -> bool {
    match dtype {
        DType::F32 => x.is_nan() || (x as f32 as f64).to_bits() == x.to_bits(),
        DType::F16 => x.is_nan() || half::f16::from_f64(x).to_f64().to_bits() == x.to_bits(),
        DType::BF16 => x.is_nan() || half::bf16::from_f64(x).to_f64().to_bits() == x.to_bits(),
        // -0.0 is excluded so that equal tables print equally.
        DType::Bool => x.to_bits() == 0 || x == 1.0,
        _ => match dtype.int_range() {
            Some((lo, hi)) => {
                x.fract() == 0.0 && x >= lo as f64 && x <= hi as f64 && x.to_bits() != (-0.0f64).to_bits()
            }
            None => false,
        },
    }
}

/// `const`: the literal is of the dtype's kind and a value of the dtype.
pub(super) fn constant(c: &Const) -> Rule {
    let d = c.dtype;
    match c.lit {
        Lit::Bool(_) if d.is_bool() => {}
        Lit::Int(i) if d.is_int() => {
            let (lo, hi) = d.int_range().unwrap_or((i64::MIN, i64::MAX));
            if i < lo || i > hi {
                return Err(format!("{i} does not fit in {d}"));
            }
        }
        Lit::Float(x) if d.is_float() => {
            if !fits(d, x) {
                return Err(format!("{x:?} is not exactly representable in {d}"));
            }
        }
        lit => {
            let kind = match lit {
                Lit::Bool(_) => "bool",
                Lit::Int(_) => "integer",
                Lit::Float(_) => "float",
            };
            return Err(format!("a {kind} literal cannot be a {d} constant"));
        }
    }
    Ok(vec![Type::scalar(d)])
}

/// `program_id` and `num_programs`: a grid axis 0, 1 or 2; an `i32`.
pub(super) fn grid_axis(axis: u8) -> Rule {
    if axis > 2 {
        return Err(format!("grid axis must be 0, 1 or 2, got {axis}"));
    }
    Ok(vec![Type::scalar(DType::I32)])
}

/// `arange start, end`: `end - start` elements, a power of two.
pub(super) fn arange(start: i32, end: i32) -> Rule {
    let n = end as i64 - start as i64;
    if n <= 0 {
        return Err(format!("arange {start}, {end} is empty"));
    }
    let shape = Shape::new([n as u32]);
    check_shape(&shape).map_err(|m| format!("arange {start}, {end}: {m}"))?;
    Ok(vec![Type {
        elem: crate::ir::Elem::Val(DType::I32),
        shape,
    }])
}
