//! Program coordinates, masked loads and stores, and constant tables.

use crate::ir::{DType, Loc, Op, Table, TableId, Type};

use super::context::{self, Builder};
use super::value::{Dtype, IntoOperand, Operand, Value};

/// This program's index along grid axis `axis` (0, 1 or 2), as `i32`.
#[track_caller]
pub fn program_id(axis: u32) -> Value {
    coordinate(axis, true, Loc::caller())
}

/// The number of programs along grid axis `axis`, as `i32`.
#[track_caller]
pub fn num_programs(axis: u32) -> Value {
    coordinate(axis, false, Loc::caller())
}

fn coordinate(axis: u32, id: bool, loc: Loc) -> Value {
    context::with(|b| {
        if axis > 2 {
            b.fail(loc, format!("grid axis must be 0, 1 or 2, got {axis}"));
        }
        let op = if id { Op::ProgramId(axis.min(2) as u8) } else { Op::NumPrograms(axis.min(2) as u8) };
        b.emit(op, Type::scalar(DType::I32), loc)
    })
}

impl Builder {
    fn load_impl(&mut self, ptr: Value, mask: Option<Operand>, other: Option<Operand>, loc: Loc) -> Value {
        let pty = self.ty(ptr).clone();
        if !pty.is_ptr() {
            self.fail(loc, format!("`load` needs pointers, got {pty}"));
            return ptr;
        }
        let out = Type { elem: crate::ir::Elem::Val(pty.dtype()), shape: pty.shape.clone() };
        let mask = mask.map(|m| self.mask_for(m, &pty, "load", loc));
        let other = other.map(|o| {
            let o = self.weak_to(o, pty.dtype(), loc);
            if self.ty(o).dtype() != pty.dtype() {
                let t = self.ty(o).clone();
                self.fail(loc, format!("`load` fallback value is {t}, but the pointers are to {}", pty.dtype()));
            }
            self.broadcast_to(o, &pty.shape, loc)
        });
        self.emit(Op::Load { ptr: ptr.id, mask, other: other.map(|o| o.id) }, out, loc)
    }

    fn mask_for(&mut self, m: Operand, pty: &Type, what: &str, loc: Loc) -> crate::ir::ValueId {
        let m = self.weak_to(m, DType::Bool, loc);
        let mt = self.ty(m).clone();
        if mt.dtype() != DType::Bool || mt.is_ptr() {
            self.fail(loc, format!("`{what}` mask must be bool, got {mt}"));
        }
        self.broadcast_to(m, &pty.shape, loc).id
    }

    fn store_impl(&mut self, ptr: Value, value: Operand, mask: Option<Operand>, streaming: bool, loc: Loc) {
        let pty = self.ty(ptr).clone();
        if !pty.is_ptr() {
            self.fail(loc, format!("`store` needs pointers, got {pty}"));
            return;
        }
        let v = self.weak_to(value, pty.dtype(), loc);
        let vt = self.ty(v).clone();
        if vt.dtype() != pty.dtype() || vt.is_ptr() {
            self.fail(
                loc,
                format!("`store` of {vt} through pointers to {}; cast with .cast::<{}>()", pty.dtype(), pty.dtype()),
            );
        }
        let v = self.broadcast_to(v, &pty.shape, loc);
        let mask = mask.map(|m| self.mask_for(m, &pty, "store", loc));
        self.emit_void(Op::Store { ptr: ptr.id, value: v.id, mask, streaming }, loc);
    }
}

/// Reads every lane of `ptrs`.
#[track_caller]
pub fn load(ptrs: Value) -> Value {
    let loc = Loc::caller();
    context::with(|b| b.load_impl(ptrs, None, None, loc))
}

/// Reads the lanes where `mask` holds; the others are zero.
#[track_caller]
pub fn load_masked(ptrs: Value, mask: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let m = mask.into_operand();
    context::with(|b| b.load_impl(ptrs, Some(m), None, loc))
}

/// Reads the lanes where `mask` holds; the others are `other`.
#[track_caller]
pub fn load_masked_or(ptrs: Value, mask: impl IntoOperand, other: impl IntoOperand) -> Value {
    let loc = Loc::caller();
    let (m, o) = (mask.into_operand(), other.into_operand());
    context::with(|b| b.load_impl(ptrs, Some(m), Some(o), loc))
}

/// Writes every lane.
#[track_caller]
pub fn store(ptrs: Value, value: impl IntoOperand) {
    let loc = Loc::caller();
    let v = value.into_operand();
    context::with(|b| b.store_impl(ptrs, v, None, false, loc))
}

/// Writes every lane, as values that will not be read again soon (a dequantizer's output
/// larger than the caches): an x86-64 CPU writes whole vectors around its caches where
/// they are aligned (non-temporal stores), which saves reading each line before writing
/// it; other hosts and GPU targets store as [`store`] does. Memory ends the same either
/// way.
#[track_caller]
pub fn store_streaming(ptrs: Value, value: impl IntoOperand) {
    let loc = Loc::caller();
    let v = value.into_operand();
    context::with(|b| b.store_impl(ptrs, v, None, true, loc))
}

/// Writes the lanes where `mask` holds.
#[track_caller]
pub fn store_masked(ptrs: Value, value: impl IntoOperand, mask: impl IntoOperand) {
    let loc = Loc::caller();
    let (v, m) = (value.into_operand(), mask.into_operand());
    context::with(|b| b.store_impl(ptrs, v, Some(m), false, loc))
}

/// A constant table (codebook) of dtype `T` in the kernel being built.
#[derive(Clone, Copy, Debug)]
pub struct ConstTable {
    id: TableId,
}

/// Embeds `data` as a constant table of dtype `T` (values rounded to `T`).
#[track_caller]
pub fn const_table<T: Dtype, V: Copy + Into<f64>>(data: &[V]) -> ConstTable {
    let loc = Loc::caller();
    context::with(|b| {
        if data.is_empty() {
            b.fail(loc, "constant tables must not be empty");
        }
        let data = data
            .iter()
            .map(|&v| crate::ir::Const::from_f64(T::DTYPE, v.into()).as_f64())
            .collect();
        ConstTable { id: b.add_table(Table { dtype: T::DTYPE, data }) }
    })
}

impl ConstTable {
    /// `table[index]` element-wise; indices outside the table clamp to its ends.
    #[track_caller]
    pub fn gather(self, index: Value) -> Value {
        let loc = Loc::caller();
        context::with(|b| {
            let it = b.ty(index).clone();
            if !it.dtype().is_int() || it.is_ptr() {
                b.fail(loc, format!("`gather` indices must be integers, got {it}"));
            }
            let d = b.table(self.id).dtype;
            b.emit(Op::Gather { table: self.id, index: index.id }, it.with_dtype(d), loc)
        })
    }

    pub fn len(self) -> usize {
        context::with(|b| b.table(self.id).data.len())
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}
