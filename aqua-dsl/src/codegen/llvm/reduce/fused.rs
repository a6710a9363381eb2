//! Reductions along a short axis computed element by element (`plan::fused_reduce`): the
//! result element at an index combines the operand's few elements along the axis, in
//! registers, inside whatever loop consumes it. A butterfly's pair sums and a norm's
//! halving steps then cost one operation per element instead of a state buffer, a pass
//! and a copy.
//!
//! The combination is the one the loops in `mod.rs` perform, so results do not depend on
//! whether a reduction is fused: along the last axis every element is its own partial
//! state (the axis is no longer than the lanes) and the states merge in the halving tree;
//! along another axis one state takes the elements in increasing order. A float state
//! still equal to its starting infinity is corrected as the rescan of `mod.rs` would,
//! here with selects.

use inkwell::values::BasicValueEnum;
use inkwell::FloatPredicate;

use super::super::element::Idx;
use super::super::index::{self, dim_fields, Field, Term};
use super::super::Lowerer;
use super::state::{Red, State};
use crate::codegen::error::Lower;
use crate::ir::{DType, Inst, Op, Shape, ValueId};

/// A coordinate fixed by a fused reduction, in the symbolic indices that find loop cuts
/// (`element.rs`): not a loop variable, so the cuts it would induce lie past every loop.
const FIXED_COORD: u32 = 1 << 30;

/// Fields taking an index of a reduction's result to its operand's index, the reduced
/// axis (bits `[pos, pos + bits)` of the operand) left out.
fn result_to_operand(shape: &Shape, axis: usize) -> (Vec<Field>, u32, u32) {
    let total = index::shape_bits(shape);
    let (pos, bits) = dim_fields(shape)[axis];
    let fields = vec![Field { src: 0, len: pos, dst: 0 }, Field { src: pos, len: total - pos - bits, dst: pos + bits }];
    (fields, pos, bits)
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The element at `idx` of the fused reduction `inst`.
    pub(crate) fn fused_reduce_elem(&mut self, inst: &'a Inst, idx: &Idx<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        let Op::Reduce { op, arg, axis } = &inst.op else {
            return Err(self.op_error(inst, "is not a reduction"));
        };
        let (op, arg, axis) = (*op, *arg, *axis as usize);
        let shape = self.k.ty(arg).shape.clone();
        let red = Red { op, d: self.k.ty(arg).dtype() };
        if red.d == DType::Bool && !red.is_arg() {
            return Err(self.op_error(inst, "is not defined on bool"));
        }
        let (fields, pos, bits) = result_to_operand(&shape, axis);
        let base = index::remap(idx, &fields, self)?;
        let mut xs = Vec::with_capacity(1 << bits);
        for k in 0..1u64 << bits {
            let mut at = base.clone();
            at.push(Term { var: self.ic(k), lo: pos, bits });
            let x = self.elem(arg, &at)?;
            xs.push((red.lift(self, x)?, self.i32c(k)));
        }
        let last = axis + 1 == shape.rank();
        let s = self.combine(red, &xs, last)?;
        let s = if red.needs_rescan() { self.rescanned_if_still(red, s, &xs)? } else { s };
        red.finish(self, s)
    }

    /// The elements `xs` (lifted, with their positions) combined as the reduction loops
    /// would: lanes and a halving tree along the last axis, in order along another.
    fn combine(&self, red: Red, xs: &[State<'ctx>], last: bool) -> Lower<State<'ctx>> {
        let start = (red.identity(self), self.i32c(0));
        if !last {
            let mut s = start;
            for &x in xs {
                s = red.join(self, s, x, false)?;
            }
            return Ok(s);
        }
        let mut states = Vec::with_capacity(xs.len());
        for &x in xs {
            states.push(red.join(self, start, x, false)?);
        }
        let mut half = states.len() / 2;
        while half > 0 {
            for k in 0..half {
                states[k] = red.join(self, states[k], states[k + half], true)?;
            }
            half /= 2;
        }
        Ok(states[0])
    }

    /// The state `s` corrected by [`Red::rescanned`] when it is still the starting
    /// infinity, the first number found among the elements `xs` with selects.
    fn rescanned_if_still(&self, red: Red, s: State<'ctx>, xs: &[State<'ctx>]) -> Lower<State<'ctx>> {
        let mut first = self.cx.i32_type().const_all_ones();
        for &(x, pos) in xs.iter().rev() {
            let x = x.into_float_value();
            let num = self.b.build_float_compare(FloatPredicate::ORD, x, x, "num")?;
            first = self.b.build_select(num, pos, first, "first")?.into_int_value();
        }
        let id = red.identity(self).into_float_value();
        let still = self.b.build_float_compare(FloatPredicate::OEQ, s.0.into_float_value(), id, "still")?;
        let r = red.rescanned(self, s, first)?;
        let v = self.b.build_select(still, r.0, s.0, "v")?;
        let i = self.b.build_select(still, r.1, s.1, "i")?.into_int_value();
        Ok((v, i))
    }

    /// Whether the reduction `inst` is fused (computed where its elements are used).
    pub(crate) fn is_fused_reduce(&self, inst: &Inst) -> bool {
        super::super::plan::fused_reduce(self.k, &inst.op).is_some()
    }

    /// The operand of a fused reduction and the symbolic operand index of result index
    /// `idx` with the reduced coordinate fixed (for finding loop cuts).
    pub(crate) fn fused_operand_index(
        &self,
        arg: ValueId,
        axis: usize,
        idx: &[Term<u32>],
        cuts: &mut std::collections::BTreeSet<u32>,
    ) -> Vec<Term<u32>> {
        let (fields, pos, bits) = result_to_operand(&self.k.ty(arg).shape, axis);
        let Ok(mut at) = index::remap(idx, &fields, &mut index::Cuts(cuts));
        at.push(Term { var: FIXED_COORD, lo: pos, bits });
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reduced_axis_is_left_out_of_the_operand_index() {
        // [4, 2, 8] along axis 1: result bits [0, 3) stay, [3, 5) move to [4, 6).
        let (fields, pos, bits) = result_to_operand(&Shape::new([4, 2, 8]), 1);
        assert_eq!((pos, bits), (3, 1));
        assert_eq!(fields, vec![Field { src: 0, len: 3, dst: 0 }, Field { src: 3, len: 2, dst: 4 }]);
    }
}
