//! Shape ops as index maps: `reshape`, `expand_dims`, `broadcast` and `trans` never move
//! data, they say which element of their operand each result element is (see `index.rs`).

use inkwell::values::IntValue;

use super::index::{dim_fields, shape_bits, Field, Pieces};
use super::Lowerer;
use crate::codegen::error::LowerError;
use crate::ir::{Inst, Op, ValueId};

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Fields taking an index of `inst`'s result to an index of its operand `arg`.
    pub(crate) fn view_fields(&self, inst: &Inst, arg: ValueId) -> Vec<Field> {
        let result = &self.k.ty(inst.results[0]).shape;
        let operand = &self.k.ty(arg).shape;
        let (fr, fa) = (dim_fields(result), dim_fields(operand));
        match &inst.op {
            Op::Broadcast { .. } => fr
                .iter()
                .zip(&fa)
                .filter(|(r, a)| r.1 == a.1)
                .map(|(r, a)| Field { src: r.0, len: r.1, dst: a.0 })
                .collect(),
            Op::Trans { .. } if fr.len() == 2 && fa.len() == 2 => vec![
                Field { src: fr[0].0, len: fr[0].1, dst: fa[1].0 },
                Field { src: fr[1].0, len: fr[1].1, dst: fa[0].0 },
            ],
            // Reshape and expand_dims keep the row-major linear index.
            _ => vec![Field { src: 0, len: shape_bits(result), dst: 0 }],
        }
    }
}

impl<'ctx> Pieces<IntValue<'ctx>> for Lowerer<'_, 'ctx> {
    type Error = LowerError;

    fn piece(&mut self, var: &IntValue<'ctx>, width: u32, shift: u32, bits: u32) -> Result<IntValue<'ctx>, LowerError> {
        let mut x = *var;
        if shift > 0 {
            x = self.b.build_right_shift(x, self.ic(shift as u64), false, "hi")?;
        }
        if shift + bits < width {
            x = self.b.build_and(x, self.ic((1u64 << bits) - 1), "lo")?;
        }
        Ok(x)
    }
}
