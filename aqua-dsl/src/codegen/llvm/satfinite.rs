//! Saturating narrowing to f16 in one instruction on NVPTX.
//!
//! Kernels narrow an f32 to f16 without overflow by clamping it to the largest finite f16
//! first, `where(x > 65504, 65504, x)` and the same below, through which NaN passes, and
//! casting the result (`aqua_kernels`' `narrow`, every f16 output of the dequantizers). A
//! GPU spends two `max`/`min` and a conversion a value on that. PTX ISA 8.1's
//! `cvt.rn.satfinite.f16.f32` is the three in one: it rounds to nearest-even, takes a
//! value beyond the finite range (an infinity included) to 65504 with its sign, and a NaN
//! to a NaN, which is what the clamp and the cast give. The element lowering finds the
//! clamp under a cast ([`Lowerer::satfinite_source`]) and emits the instruction as inline
//! PTX in its place; the CPU and the SIMT emulation keep the selects.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::values::{BasicValueEnum, FloatValue, ValueKind};

use super::plan::Place;
use super::Lowerer;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{CmpPred, DType, Lit, Op, ValueId};

/// The largest finite f16.
const F16_MAX: f64 = 65504.0;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// On NVPTX, the `x` of a cast to `to` of `clamp(x)`, an f32 clamped to f16's finite
    /// range by the two selects of the module docs, in either order: the cast is then
    /// [`Self::satfinite_f16`] of `x`. Both selects must be lazy, so that `x` is evaluated
    /// in the cast's sink either way (a buffered select would have read it in its own).
    pub(crate) fn satfinite_source(&self, arg: ValueId, to: DType) -> Option<ValueId> {
        if self.threads.is_none() || self.simt.is_some() || to != DType::F16 || self.k.ty(arg).dtype() != DType::F32 {
            return None;
        }
        let (inner, first) = self.clamp_side(arg)?;
        let (x, second) = self.clamp_side(inner)?;
        (first != second).then_some(x)
    }

    /// `x` narrowed to f16 by `cvt.rn.satfinite.f16.f32`.
    pub(crate) fn satfinite_f16(&self, x: FloatValue<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        let i16t = self.cx.i16_type();
        let fty = i16t.fn_type(&[self.cx.f32_type().into()], false);
        let asm = self.cx.create_inline_asm(
            fty,
            "cvt.rn.satfinite.f16.f32 $0, $1;".into(),
            "=h,f".into(),
            false,
            false,
            None,
            false,
        );
        let call = self.b.build_indirect_call(fty, asm, &[x.into()], "satfinite")?;
        // A pure computation (`memory(none)`, as the intrinsics' `cvt`s are): otherwise
        // the calls would keep LLVM from merging the stores around them into vectors.
        for (name, value) in [("memory", 0), ("nounwind", 0), ("willreturn", 0)] {
            let kind = Attribute::get_named_enum_kind_id(name);
            call.add_attribute(AttributeLoc::Function, self.cx.create_enum_attribute(kind, value));
        }
        match call.try_as_basic_value() {
            ValueKind::Basic(bits) => Ok(self.b.build_bit_cast(bits, self.cx.f16_type(), "f16")?),
            _ => Err(LowerError::Builder("the satfinite conversion returns nothing".into())),
        }
    }

    /// `(x, upper)` of `v = where(x > 65504, 65504, x)` (`upper`) or of
    /// `v = where(x < -65504, -65504, x)`.
    fn clamp_side(&self, v: ValueId) -> Option<(ValueId, bool)> {
        if self.place(v) != Place::Lazy {
            return None;
        }
        let Op::Select { cond, on_true, on_false } = self.def(v).ok()?.op else { return None };
        let Op::Cmp { pred, lhs, rhs } = self.def(cond).ok()?.op else { return None };
        let upper = match pred {
            CmpPred::Gt => true,
            CmpPred::Lt => false,
            _ => return None,
        };
        let bound = if upper { F16_MAX } else { -F16_MAX };
        let bounded =
            lhs == on_false && self.splat_float(rhs) == Some(bound) && self.splat_float(on_true) == Some(bound);
        bounded.then_some((on_false, upper))
    }

    /// The float every element of `v` holds, when `v` is a constant seen through splats
    /// and views.
    fn splat_float(&self, v: ValueId) -> Option<f64> {
        match &self.def(v).ok()?.op {
            Op::Const(c) => match c.lit {
                Lit::Float(f) => Some(f),
                _ => None,
            },
            Op::Splat { value: arg, .. }
            | Op::Broadcast { arg, .. }
            | Op::ExpandDims { arg, .. }
            | Op::Reshape { arg, .. } => self.splat_float(*arg),
            _ => None,
        }
    }
}
