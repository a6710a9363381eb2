//! Element-wise ops: binary arithmetic and logic, unary math, comparisons, `select` and
//! `fma`, with the rules of `ir/ops/arith.rs`.
//!
//! Floats of every width compute on f32 values and round once to their own dtype (exact
//! for f32; correct single rounding for f16/bf16 on add, sub, mul, div, rem and sqrt).
//! `exp` and `log` evaluate in f64 and round to f32, so the f32 result is correctly rounded
//! except in rare double-rounding cases; backends match it within the documented ulps.

use super::numeric::{Float, Int, Prim};
use super::value::{same_shape, Data, PtrData, RtValue};
use crate::ir::{BinOp, CmpPred, UnOp};

#[inline(always)]
fn zip<T: Copy, U>(x: &[T], y: &[T], f: impl Fn(T, T) -> U) -> Vec<U> {
    x.iter().zip(y).map(|(&a, &b)| f(a, b)).collect()
}

#[inline(always)]
fn map<T: Copy, U>(x: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    x.iter().map(|&a| f(a)).collect()
}

fn mismatch(what: &str, a: &RtValue, b: &RtValue) -> String {
    format!(
        "`{what}` needs operands of one numeric type, got {} and {}",
        a.ty(),
        b.ty()
    )
}

/// Runs `$body` with `$x`, `$y` bound to the element vectors when both operands are the
/// same numeric variant; anything else evaluates `$else`.
macro_rules! same_variant {
    ($a:expr, $b:expr, |$x:ident, $y:ident| {
        bool => $bool:expr, int => $int:expr, float => $float:expr $(,)?
    } else $else:expr) => {
        match ($a, $b) {
            (Data::Bool($x), Data::Bool($y)) => $bool,
            (Data::I8($x), Data::I8($y)) => $int,
            (Data::U8($x), Data::U8($y)) => $int,
            (Data::I32($x), Data::I32($y)) => $int,
            (Data::U32($x), Data::U32($y)) => $int,
            (Data::I64($x), Data::I64($y)) => $int,
            (Data::F16($x), Data::F16($y)) => $float,
            (Data::BF16($x), Data::BF16($y)) => $float,
            (Data::F32($x), Data::F32($y)) => $float,
            _ => $else,
        }
    };
}

pub(crate) fn binary(op: BinOp, a: &RtValue, b: &RtValue) -> Result<RtValue, String> {
    same_shape(op.name(), a, b)?;
    let data = same_variant!(&a.data, &b.data, |x, y| {
        bool => bool_binary(op, x, y)?,
        int => int_binary(op, x, y),
        float => float_binary(op, x, y)?,
    } else return Err(mismatch(op.name(), a, b)));
    Ok(RtValue {
        shape: a.shape.clone(),
        data,
    })
}

fn bool_binary(op: BinOp, x: &[bool], y: &[bool]) -> Result<Data, String> {
    Ok(Data::Bool(match op {
        BinOp::And | BinOp::Min => zip(x, y, |a, b| a & b),
        BinOp::Or | BinOp::Max => zip(x, y, |a, b| a | b),
        BinOp::Xor => zip(x, y, |a, b| a ^ b),
        _ => return Err(format!("`{op}` is not defined on bool")),
    }))
}

fn int_binary<T: Int>(op: BinOp, x: &[T], y: &[T]) -> Data {
    T::wrap(match op {
        BinOp::Add => zip(x, y, T::wadd),
        BinOp::Sub => zip(x, y, T::wsub),
        BinOp::Mul => zip(x, y, T::wmul),
        BinOp::Div => zip(x, y, T::div_total),
        BinOp::Rem => zip(x, y, T::rem_total),
        BinOp::Min => zip(x, y, Ord::min),
        BinOp::Max => zip(x, y, Ord::max),
        BinOp::And => zip(x, y, |a, b| a & b),
        BinOp::Or => zip(x, y, |a, b| a | b),
        BinOp::Xor => zip(x, y, |a, b| a ^ b),
        BinOp::Shl => zip(x, y, T::shl_total),
        BinOp::Shr => zip(x, y, T::shr_total),
    })
}

/// IEEE `minNum`: the smaller operand, or the other one when one is NaN. Returns an
/// operand unchanged (bits included).
#[inline(always)]
fn min_num<F: Float>(a: F, b: F) -> F {
    let (fa, fb) = (a.as_f32(), b.as_f32());
    if fa.is_nan() || fb < fa {
        b
    } else {
        a
    }
}

/// IEEE `maxNum`, like [`min_num`].
#[inline(always)]
fn max_num<F: Float>(a: F, b: F) -> F {
    let (fa, fb) = (a.as_f32(), b.as_f32());
    if fa.is_nan() || fb > fa {
        b
    } else {
        a
    }
}

/// Applies an f32 operation to widened operands and rounds the result once to `F`.
#[inline(always)]
fn lift2<F: Float>(x: &[F], y: &[F], g: impl Fn(f32, f32) -> f32) -> Vec<F> {
    zip(x, y, |a, b| F::from_f32(g(a.as_f32(), b.as_f32())))
}

#[inline(always)]
fn lift1<F: Float>(x: &[F], g: impl Fn(f32) -> f32) -> Vec<F> {
    map(x, |v| F::from_f32(g(v.as_f32())))
}

fn float_binary<F: Float>(op: BinOp, x: &[F], y: &[F]) -> Result<Data, String> {
    Ok(F::wrap(match op {
        BinOp::Add => lift2(x, y, |a, b| a + b),
        BinOp::Sub => lift2(x, y, |a, b| a - b),
        BinOp::Mul => lift2(x, y, |a, b| a * b),
        BinOp::Div => lift2(x, y, |a, b| a / b),
        // Rust's `%` on floats is C's fmod: exact, with the dividend's sign.
        BinOp::Rem => lift2(x, y, |a, b| a % b),
        BinOp::Min => zip(x, y, min_num),
        BinOp::Max => zip(x, y, max_num),
        BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Shl | BinOp::Shr => {
            return Err(format!("`{op}` is not defined on {}", F::DTYPE))
        }
    }))
}

pub(crate) fn unary(op: UnOp, a: &RtValue) -> Result<RtValue, String> {
    let data = match &a.data {
        Data::Bool(x) => match op {
            UnOp::Not => Data::Bool(map(x, |v| !v)),
            _ => return Err(format!("`{op}` is not defined on bool")),
        },
        Data::I8(x) => int_unary(op, x)?,
        Data::U8(x) => int_unary(op, x)?,
        Data::I32(x) => int_unary(op, x)?,
        Data::U32(x) => int_unary(op, x)?,
        Data::I64(x) => int_unary(op, x)?,
        Data::F16(x) => float_unary(op, x)?,
        Data::BF16(x) => float_unary(op, x)?,
        Data::F32(x) => float_unary(op, x)?,
        Data::Ptr(_) => return Err(format!("`{op}` is not defined on {}", a.ty())),
    };
    Ok(RtValue {
        shape: a.shape.clone(),
        data,
    })
}

fn int_unary<T: Int>(op: UnOp, x: &[T]) -> Result<Data, String> {
    Ok(T::wrap(match op {
        UnOp::Neg => map(x, T::wneg),
        UnOp::Not => map(x, |v| !v),
        UnOp::Abs => map(x, T::wabs),
        _ => return Err(format!("`{op}` needs a float operand, got {}", T::DTYPE)),
    }))
}

fn float_unary<F: Float>(op: UnOp, x: &[F]) -> Result<Data, String> {
    Ok(F::wrap(match op {
        UnOp::Neg => map(x, F::neg),
        UnOp::Abs => map(x, F::abs),
        UnOp::Sqrt => lift1(x, f32::sqrt),
        UnOp::Rsqrt => lift1(x, |v| 1.0 / v.sqrt()),
        UnOp::Exp => lift1(x, |v| (v as f64).exp() as f32),
        UnOp::Log => lift1(x, |v| (v as f64).ln() as f32),
        UnOp::Floor => lift1(x, f32::floor),
        UnOp::Ceil => lift1(x, f32::ceil),
        UnOp::Round => lift1(x, f32::round_ties_even),
        UnOp::Not => return Err(format!("`not` is not defined on {}", F::DTYPE)),
    }))
}

pub(crate) fn cmp(pred: CmpPred, a: &RtValue, b: &RtValue) -> Result<RtValue, String> {
    same_shape(pred.name(), a, b)?;
    let out = same_variant!(&a.data, &b.data, |x, y| {
        bool => compare(pred, x, y, |v| v),
        int => compare(pred, x, y, |v| v),
        // Widening to f32 is exact; IEEE comparisons are false on NaN except `ne`.
        float => compare(pred, x, y, |v| v.as_f32()),
    } else return Err(mismatch(pred.name(), a, b)));
    Ok(RtValue {
        shape: a.shape.clone(),
        data: Data::Bool(out),
    })
}

fn compare<T: Copy, K: PartialOrd>(
    pred: CmpPred,
    x: &[T],
    y: &[T],
    key: impl Fn(T) -> K,
) -> Vec<bool> {
    match pred {
        CmpPred::Eq => zip(x, y, |a, b| key(a) == key(b)),
        CmpPred::Ne => zip(x, y, |a, b| key(a) != key(b)),
        CmpPred::Lt => zip(x, y, |a, b| key(a) < key(b)),
        CmpPred::Le => zip(x, y, |a, b| key(a) <= key(b)),
        CmpPred::Gt => zip(x, y, |a, b| key(a) > key(b)),
        CmpPred::Ge => zip(x, y, |a, b| key(a) >= key(b)),
    }
}

pub(crate) fn select(cond: &RtValue, t: &RtValue, f: &RtValue) -> Result<RtValue, String> {
    same_shape("select", t, f)?;
    let c = cond.bools("`select` condition", &t.shape)?;
    fn pick<T: Copy>(c: &[bool], x: &[T], y: &[T]) -> Vec<T> {
        c.iter()
            .zip(x.iter().zip(y))
            .map(|(&c, (&a, &b))| if c { a } else { b })
            .collect()
    }
    let data = match (&t.data, &f.data) {
        (Data::Ptr(p), Data::Ptr(q)) if p.param == q.param => Data::Ptr(PtrData {
            param: p.param,
            dtype: p.dtype,
            offsets: pick(c, &p.offsets, &q.offsets),
        }),
        (Data::Ptr(_), Data::Ptr(_)) => {
            return Err("`select` between pointers into different parameters".into())
        }
        _ => same_variant!(&t.data, &f.data, |x, y| {
            bool => Data::Bool(pick(c, x, y)),
            int => Prim::wrap(pick(c, x, y)),
            float => Prim::wrap(pick(c, x, y)),
        } else return Err(mismatch("select", t, f))),
    };
    Ok(RtValue {
        shape: t.shape.clone(),
        data,
    })
}

pub(crate) fn fma(a: &RtValue, b: &RtValue, c: &RtValue) -> Result<RtValue, String> {
    same_shape("fma", a, b)?;
    same_shape("fma", a, c)?;
    fn go<F: Float>(x: &[F], y: &[F], z: &[F]) -> Data {
        F::wrap(
            x.iter()
                .zip(y)
                .zip(z)
                .map(|((&a, &b), &c)| F::fma(a, b, c))
                .collect(),
        )
    }
    let data = match (&a.data, &b.data, &c.data) {
        (Data::F16(x), Data::F16(y), Data::F16(z)) => go(x, y, z),
        (Data::BF16(x), Data::BF16(y), Data::BF16(z)) => go(x, y, z),
        (Data::F32(x), Data::F32(y), Data::F32(z)) => go(x, y, z),
        _ => {
            return Err(format!(
                "`fma` needs float operands of one dtype, got {}, {} and {}",
                a.ty(),
                b.ty(),
                c.ty()
            ))
        }
    };
    Ok(RtValue {
        shape: a.shape.clone(),
        data,
    })
}
