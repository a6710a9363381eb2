//! How IR element types look in LLVM.
//!
//! - registers: `bool` is `i1`; integers are `iN` (signedness lives in the ops); `f16` is
//!   `half`; `bf16` is `i16` holding its bits (LLVM's `bfloat` lowers to library calls on
//!   many hosts, and its arithmetic is done in f32 here anyway); `f32` is `float`;
//!   pointers are an `i64` element offset from their parameter's base (the parameter
//!   itself is known statically, `crate::analysis::pointer_bases`).
//! - memory (argument buffers, stack buffers, tables): the same, except `bool` is one
//!   byte holding 0 or 1.

use inkwell::context::Context;
use inkwell::types::{BasicTypeEnum, IntType};
use inkwell::values::BasicValueEnum;

use crate::ir::{Const, DType, Elem, Lit};

pub(crate) fn reg<'ctx>(cx: &'ctx Context, elem: Elem) -> BasicTypeEnum<'ctx> {
    match elem {
        Elem::Ptr(_) => cx.i64_type().into(),
        Elem::Val(d) => match d {
            DType::Bool => cx.bool_type().into(),
            DType::I8 | DType::U8 => cx.i8_type().into(),
            DType::I32 | DType::U32 => cx.i32_type().into(),
            DType::I64 => cx.i64_type().into(),
            DType::F16 => cx.f16_type().into(),
            DType::BF16 => cx.i16_type().into(),
            DType::F32 => cx.f32_type().into(),
        },
    }
}

pub(crate) fn mem<'ctx>(cx: &'ctx Context, elem: Elem) -> BasicTypeEnum<'ctx> {
    match elem {
        Elem::Val(DType::Bool) => cx.i8_type().into(),
        e => reg(cx, e),
    }
}

/// Bytes of one element in memory.
pub(crate) fn mem_size(elem: Elem) -> u32 {
    match elem {
        Elem::Ptr(_) => 8,
        Elem::Val(d) => d.size_bytes() as u32,
    }
}

/// The integer type of an integer (or bool) dtype.
pub(crate) fn int<'ctx>(cx: &'ctx Context, d: DType) -> IntType<'ctx> {
    reg(cx, Elem::Val(d)).into_int_type()
}

/// A constant in register form.
pub(crate) fn constant<'ctx>(cx: &'ctx Context, c: &Const) -> BasicValueEnum<'ctx> {
    match c.dtype {
        DType::Bool => cx.bool_type().const_int(matches!(c.lit, Lit::Bool(true)) as u64, false).into(),
        DType::F32 => cx.f32_type().const_float(c.as_f64()).into(),
        DType::F16 => cx.f16_type().const_float(c.as_f64()).into(),
        DType::BF16 => cx.i16_type().const_int(half::bf16::from_f64(c.as_f64()).to_bits() as u64, false).into(),
        d => int(cx, d).const_int(c.as_i64() as u64, true).into(),
    }
}

/// Zero of an element type in register form (the value of masked-off load lanes).
pub(crate) fn zero<'ctx>(cx: &'ctx Context, elem: Elem) -> BasicValueEnum<'ctx> {
    match reg(cx, elem) {
        BasicTypeEnum::FloatType(t) => t.const_zero().into(),
        t => t.into_int_type().const_zero().into(),
    }
}
