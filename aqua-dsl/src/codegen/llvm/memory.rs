//! Memory: pointer offsets, masked loads and stores on argument buffers, constant-table
//! gathers, and the bounds checks of checked mode.
//!
//! A pointer is its parameter's base plus an `i64` element offset. A masked-off lane
//! never touches memory: the access sits behind a branch on the lane's mask, which LLVM's
//! vectorizer turns into masked vector loads and stores. Stores write lanes in increasing
//! index order, so when lanes alias the highest one wins.
//!
//! Checked mode checks every unmasked lane of a load or store, before the access and at
//! the op's own position in the program (so the first fault reported is the one the
//! reference interpreter reports): `offset >= extent` as unsigned (negative offsets too)
//! fills the fault record and returns `STATUS_OUT_OF_BOUNDS`.

use inkwell::module::Linkage;
use inkwell::values::{BasicValue, BasicValueEnum, GlobalValue, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::element::{set_align, Idx};
use super::index::shape_bits;
use super::plan::Place;
use super::{types, Lowerer, ParamVal};
use crate::codegen::abi;
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{Const, DType, Elem, Inst, Lit, Op, Table, TableId, ValueId};

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The parameter a pointer value points into, and its base address and extent.
    fn base_of(&self, inst: &Inst, ptr: ValueId) -> Lower<(usize, PointerValue<'ctx>, Option<IntValue<'ctx>>)> {
        let param =
            *self.bases.get(&ptr).ok_or_else(|| self.op_error(inst, "pointer without a known base parameter"))?;
        match self.params[param] {
            ParamVal::Ptr { base, extent } => Ok((param, base, extent)),
            ParamVal::Scalar(_) => Err(self.op_error(inst, "pointer based on a scalar parameter")),
        }
    }

    pub(crate) fn address(&self, base: PointerValue<'ctx>, elem: Elem, off: IntValue<'ctx>) -> Lower<PointerValue<'ctx>> {
        // SAFETY (of the generated code): only reached for unmasked lanes, which the
        // kernel promises (or checked mode verified) are inside the buffer.
        Ok(unsafe { self.b.build_in_bounds_gep(types::mem(self.cx, elem), base, &[off], "p")? })
    }

    pub(crate) fn load(
        &mut self,
        inst: &'a Inst,
        ptr: ValueId,
        mask: Option<ValueId>,
        other: Option<ValueId>,
        idx: &Idx<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        let (_, base, _) = self.base_of(inst, ptr)?;
        let elem = Elem::Val(self.k.ty(ptr).dtype());
        let (at, align) = self.element_address(ptr, base, elem, idx)?;
        let read = |l: &Self| -> Lower<BasicValueEnum<'ctx>> {
            let x = l.b.build_load(types::mem(l.cx, elem), at, "ld")?;
            set_align(x, align)?;
            l.mem_to_reg(elem, x)
        };
        let Some(mask) = mask.filter(|_| !self.unmasked) else { return read(self) };
        let m = self.elem(mask, idx)?.into_int_value();
        let fallback = match other {
            Some(o) => self.elem(o, idx)?,
            None => types::zero(self.cx, elem),
        };
        let from = self.current_block()?;
        let (on, join) = (self.block("ld.on"), self.block("ld.join"));
        self.b.build_conditional_branch(m, on, join)?;
        self.b.position_at_end(on);
        let x = read(self)?;
        let on_end = self.current_block()?;
        self.b.build_unconditional_branch(join)?;
        self.b.position_at_end(join);
        let phi = self.b.build_phi(x.get_type(), "ld")?;
        phi.add_incoming(&[(&fallback, from), (&x, on_end)]);
        Ok(phi.as_basic_value())
    }

    /// Emits stores of one shape in one loop nest, each element's stores in the order
    /// given: one store, or sibling stores (`sibling_stores.rs`), which are unmasked.
    pub(crate) fn emit_stores(&mut self, insts: &[&'a Inst]) -> Lower<()> {
        let mut stores = Vec::with_capacity(insts.len());
        for inst in insts {
            let Op::Store { ptr, value, mask, streaming } = &inst.op else {
                return Err(self.op_error(inst, "is not a store"));
            };
            let (_, mut base, _) = self.base_of(inst, *ptr)?;
            if *streaming && self.threads.is_none() {
                let space = inkwell::AddressSpace::from(super::streaming::STREAMING);
                base = self.b.build_address_space_cast(base, self.cx.ptr_type(space), "stream")?;
            }
            stores.push((*ptr, *value, *mask, base, Elem::Val(self.k.ty(*ptr).dtype())));
        }
        let Some(&(ptr, value, mask, _, _)) = stores.first() else { return Ok(()) };
        let total = shape_bits(&self.k.ty(ptr).shape);
        let roots: Vec<ValueId> =
            stores.iter().flat_map(|&(ptr, value, mask, _, _)| [Some(ptr), Some(value), mask]).flatten().collect();
        let mut levels = self.sink_levels(&roots, 0, total)?;
        let masks = self.sink_masks(&roots, mask, false);
        // An unmasked store of a buffer on the GPU: groups of 8 unrolled, so a thread's
        // run moves as 16-byte vectors, as on the versioned paths (`vector.rs`).
        if self.threads.is_some() && masks.is_empty() && mask.is_none() && self.place(value) == Place::Buffer {
            levels = super::vector::unroll_groups(&levels);
        }
        // An f16/bf16 store on the CPU whose innermost loop is at least 8 contiguous
        // elements: 8 or 16 lanes, where LLVM's cost model took 4 for the narrowing (4-bit
        // uniform dequantize, whose loop is the 8 codes of a word, 1.8x faster; HIGGS's
        // EDEN2-16, rows of 64, 1.25x). So does a store of values computed from a widened
        // f16/bf16 load, as a buffer of them (`element.rs`): 8-bit codes packed in the
        // store's loop were one word at a time (8-bit quantize 2.4 to 2.9 GB/s).
        if let (None, true, None, Some(inner)) = (self.threads, masks.is_empty(), mask, levels.last_mut()) {
            let narrow = matches!(self.k.ty(ptr).dtype(), DType::F16 | DType::BF16);
            let widens =
                || self.place(value) == Place::Lazy && self.def(value).is_ok_and(|d| self.widens_narrow_load(&d.op));
            if inner.lo == 0 && inner.bits >= 3 && (narrow || widens()) {
                inner.vectorize = Some(1 << inner.bits.min(4));
            }
        }
        self.memo.clear();
        self.dist_nest_masked(&levels, &masks, &mut |l, idx| {
            for &(ptr, value, mask, base, elem) in &stores {
                let (at, align) = l.element_address(ptr, base, elem, idx)?;
                let x = l.elem(value, idx)?;
                let write = |l: &Self| -> Lower<()> {
                    let st = l.b.build_store(at, l.reg_to_mem(elem, x)?)?;
                    st.set_alignment(align).map_err(|e| LowerError::Builder(e.to_string()))
                };
                let Some(mask) = mask.filter(|_| !l.unmasked) else {
                    write(l)?;
                    continue;
                };
                let m = l.elem(mask, idx)?.into_int_value();
                let (on, join) = (l.block("st.on"), l.block("st.join"));
                l.b.build_conditional_branch(m, on, join)?;
                l.b.position_at_end(on);
                write(l)?;
                l.b.build_unconditional_branch(join)?;
                l.b.position_at_end(join);
            }
            Ok(())
        })?;
        self.memo.clear();
        Ok(())
    }

    /// Checked mode: faults on the first unmasked lane of a load or store outside its buffer.
    pub(crate) fn emit_check(&mut self, inst: &'a Inst) -> Lower<()> {
        let (ptr, mask, is_store) = match &inst.op {
            Op::Load { ptr, mask, .. } => (*ptr, *mask, false),
            Op::Store { ptr, mask, .. } => (*ptr, *mask, true),
            _ => return Ok(()),
        };
        let (param, _, extent) = self.base_of(inst, ptr)?;
        let extent = extent.ok_or_else(|| LowerError::Builder("checked code without extents".into()))?;
        let total = shape_bits(&self.k.ty(ptr).shape);
        let roots: Vec<ValueId> = [Some(ptr), mask].into_iter().flatten().collect();
        let levels = self.sink_levels(&roots, 0, total)?;
        self.memo.clear();
        self.nest(&levels, &mut |l, idx| {
            let off = l.elem(ptr, idx)?.into_int_value();
            let mut bad = l.b.build_int_compare(IntPredicate::UGE, off, extent, "oob")?;
            if let Some(mask) = mask {
                let m = l.elem(mask, idx)?.into_int_value();
                bad = l.b.build_and(bad, m, "oob")?;
            }
            let (fault, ok) = (l.block("fault"), l.block("ok"));
            l.b.build_conditional_branch(bad, fault, ok)?;
            l.b.position_at_end(fault);
            l.report_fault(param as u32, is_store, off)?;
            l.b.position_at_end(ok);
            Ok(())
        })?;
        self.memo.clear();
        Ok(())
    }

    /// Fills `*fault` (layout of `abi::Fault`) and returns the out-of-bounds status.
    fn report_fault(&self, arg: u32, is_store: bool, off: IntValue<'ctx>) -> Lower<()> {
        let i8t = self.cx.i8_type();
        let field = |at: u64| unsafe { self.b.build_in_bounds_gep(i8t, self.fault, &[self.i64c(at)], "f") };
        self.b.build_store(field(0)?, self.i32c(arg as u64))?;
        self.b.build_store(field(4)?, self.i32c(is_store as u64))?;
        self.b.build_store(field(8)?, off)?;
        for (j, p) in self.pid.iter().enumerate() {
            self.b.build_store(field(16 + 4 * j as u64)?, *p)?;
        }
        self.b.build_return(Some(&self.i32c(abi::STATUS_OUT_OF_BOUNDS as u64)))?;
        Ok(())
    }

    pub(crate) fn gather(
        &mut self,
        inst: &Inst,
        table: TableId,
        index: ValueId,
        idx: &Idx<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        let t =
            self.k.tables.get(table.0 as usize).ok_or_else(|| self.op_error(inst, "reads a table the kernel lacks"))?;
        let (dtype, len) = (t.dtype, t.data.len() as u64);
        if len == 0 {
            return Err(self.op_error(inst, "reads an empty table"));
        }
        let global = self.table(table)?;
        let i = self.elem(index, idx)?.into_int_value();
        // Clamped in the index type where it holds every index value (on a GPU, 64-bit
        // arithmetic costs two instructions), else in i64.
        let d = self.k.ty(index).dtype();
        let wide = if matches!(d, DType::U32 | DType::I64) { self.cx.i64_type() } else { self.idx };
        let i = self.widen_int_to(d, i, wide)?;
        let (zero, hi) = (wide.const_zero(), wide.const_int(len - 1, false));
        let i = self.intrinsic("llvm.smax", &[wide.into()], &[i.into(), zero.into()])?;
        let i = self.intrinsic("llvm.smin", &[wide.into()], &[i, hi.into()])?.into_int_value();
        let elem = Elem::Val(dtype);
        let ty = types::mem(self.cx, elem);
        let p = unsafe { self.b.build_in_bounds_gep(ty, global.as_pointer_value(), &[i], "tab")? };
        let x = self.b.build_load(ty, p, "t")?;
        set_align(x, types::mem_size(elem))?;
        self.set_table_range(x, t)?;
        self.mem_to_reg(elem, x)
    }

    /// `!range` metadata on a load from an integer table: the smallest to the largest of
    /// its values. LLVM then drops the clamps and bounds tests of what is computed from
    /// the value, such as the clamp of an index read from one table into another's bounds
    /// (HIGGS's candidate cells), where it cannot see the table's contents itself.
    fn set_table_range(&self, load: BasicValueEnum<'ctx>, t: &Table) -> Lower<()> {
        let (Some(inst), true) = (load.as_instruction_value(), t.dtype.is_int()) else {
            return Ok(());
        };
        let lo = t.data.iter().fold(f64::INFINITY, |a, &b| a.min(b)) as i64;
        let hi = t.data.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) as i64;
        // A range of every value of the type is not allowed; `hi + 1` may wrap otherwise.
        if t.dtype.bits() < 64 && (hi - lo + 1) >> t.dtype.bits() != 0 || t.dtype.bits() == 64 && lo == i64::MIN {
            return Ok(());
        }
        let ty = load.get_type().into_int_type();
        let bound = |v: i64| ty.const_int(v as u64, true).into();
        let node = self.cx.metadata_node(&[bound(lo), bound(hi.wrapping_add(1))]);
        inst.set_metadata(node, self.cx.get_kind_id("range")).map_err(|e| LowerError::Builder(e.to_string()))
    }

    /// A table's elements as constants of their memory type.
    pub(crate) fn table_values(&self, id: TableId) -> Vec<BasicValueEnum<'ctx>> {
        let t = &self.k.tables[id.0 as usize];
        t.data
            .iter()
            .map(|&v| {
                let lit = match t.dtype {
                    DType::Bool => return self.cx.i8_type().const_int((v != 0.0) as u64, false).into(),
                    d if d.is_float() => Lit::Float(v),
                    _ => Lit::Int(v as i64),
                };
                types::constant(self.cx, &Const { dtype: t.dtype, lit })
            })
            .collect()
    }

    /// The constant global holding a table (created on first use).
    fn table(&mut self, id: TableId) -> Lower<GlobalValue<'ctx>> {
        if let Some(&g) = self.tables.get(&id.0) {
            return Ok(g);
        }
        let t = &self.k.tables[id.0 as usize];
        let ty = types::mem(self.cx, Elem::Val(t.dtype));
        let vals = self.table_values(id);
        let init = match ty {
            inkwell::types::BasicTypeEnum::FloatType(ft) => {
                ft.const_array(&vals.iter().map(|v| v.into_float_value()).collect::<Vec<_>>())
            }
            _ => ty.into_int_type().const_array(&vals.iter().map(|v| v.into_int_value()).collect::<Vec<_>>()),
        };
        let g = self.module.add_global(init.get_type(), None, &format!("aqua.table.{}", id.0));
        g.set_initializer(&init.as_basic_value_enum());
        g.set_constant(true);
        g.set_linkage(Linkage::Private);
        g.set_unnamed_addr(true);
        self.tables.insert(id.0, g);
        Ok(g)
    }
}
