//! The value of any IR value at an element index, and filling buffers with it.
//!
//! [`Lowerer::elem`] is the heart of fusion: a scalar is its register, a buffer is a
//! load, and a lazy block is computed from its operands at the same index (mapped
//! through shape ops), recursively, memoized per loop body so a value used twice in one
//! loop is computed once.

use std::collections::{BTreeSet, HashSet};

use inkwell::types::{BasicTypeEnum, IntType};
use inkwell::values::{AsValueRef, BasicValue, BasicValueEnum, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::index::{self, Cuts, Term};
use super::jam::{jam_all, jam_levels, jam_short_level, jams_whole_run};
use super::loops::{self, Level};
use super::plan::{self, Place};
use super::{types, Lowerer};
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{DType, Elem, Inst, Op, ValueId};

/// Lanes of the forced vectorization of a widening f16/bf16 load and of short buffer
/// fills (see `materialize`).
const WIDEN_LANES: u32 = 16;

pub(crate) type Idx<'ctx> = [Term<IntValue<'ctx>>];

/// An index by its variables' identity, `(variable, lo, bits)` per term: equal keys are
/// the same element in the loop body being emitted.
pub(crate) type IndexKey = Vec<(usize, u32, u32)>;

pub(crate) fn index_key(idx: &Idx<'_>) -> IndexKey {
    idx.iter().map(|t| (t.var.as_value_ref() as usize, t.lo, t.bits)).collect()
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The element of `v` at `idx` (an index in `v`'s own shape), in register form.
    pub(crate) fn elem(&mut self, v: ValueId, idx: &Idx<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        match self.place(v) {
            Place::Scalar => self.scalar(v),
            Place::Buffer => {
                let p = self.buffer(v)?;
                let lin = self.linear(idx)?;
                self.load_elem(p, self.elem_of(v), lin)
            }
            Place::Lazy => {
                let key = (v, index_key(idx));
                if let Some(&x) = self.memo.get(&key) {
                    return Ok(x);
                }
                let inst = self.def(v)?;
                let x = self.compute(inst, idx)?;
                self.memo.insert(key, x);
                Ok(x)
            }
        }
    }

    /// The element at `idx` of the (single) result of `inst`, computed from its operands.
    pub(crate) fn compute(&mut self, inst: &'a Inst, idx: &Idx<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        let dtype_of = |l: &Self, v: ValueId| l.k.ty(v).dtype();
        match &inst.op {
            Op::Const(c) => Ok(types::constant(self.cx, c)),
            Op::ProgramId(a) => Ok(self.pid[*a as usize].into()),
            Op::NumPrograms(a) => Ok(self.grid[*a as usize].into()),
            Op::Arange { start, .. } => {
                let lin = self.linear(idx)?;
                let lin = self.b.build_int_truncate(lin, self.cx.i32_type(), "lin")?;
                Ok(self.b.build_int_add(lin, self.i32c(*start as u32 as u64), "arange")?.into())
            }
            Op::Splat { value, .. } => self.scalar(*value),
            Op::Broadcast { arg, .. } | Op::ExpandDims { arg, .. } | Op::Reshape { arg, .. } | Op::Trans { arg } => {
                let fields = self.view_fields(inst, *arg);
                let idx = index::remap(idx, &fields, self)?;
                self.elem(*arg, &idx)
            }
            Op::Binary { op, lhs, rhs } => {
                let (a, b) = (self.elem(*lhs, idx)?, self.elem(*rhs, idx)?);
                self.binary(inst, *op, dtype_of(self, *lhs), a, b)
            }
            Op::Unary { op, arg } => {
                let a = self.elem(*arg, idx)?;
                self.unary(inst, *op, dtype_of(self, *arg), a)
            }
            Op::Cmp { pred, lhs, rhs } => {
                let (a, b) = (self.elem(*lhs, idx)?, self.elem(*rhs, idx)?);
                self.cmp(inst, *pred, self.elem_of(*lhs), a, b)
            }
            Op::Select { cond, on_true, on_false } => {
                let c = self.elem(*cond, idx)?.into_int_value();
                let (a, b) = (self.elem(*on_true, idx)?, self.elem(*on_false, idx)?);
                Ok(self.b.build_select(c, a, b, "sel")?)
            }
            Op::Fma { a, b, c } => {
                let (x, y, z) = (self.elem(*a, idx)?, self.elem(*b, idx)?, self.elem(*c, idx)?);
                self.fma(dtype_of(self, *a), x, y, z)
            }
            Op::Cast { arg, to } => {
                if let Some(x) = self.satfinite_source(*arg, *to) {
                    let x = self.elem(x, idx)?.into_float_value();
                    return self.satfinite_f16(x);
                }
                let a = self.elem(*arg, idx)?;
                self.cast(dtype_of(self, *arg), *to, a)
            }
            Op::Bitcast { arg, to } => {
                let a = self.elem(*arg, idx)?;
                self.bitcast(*to, a)
            }
            Op::PtrAdd { ptr, offset } => {
                let p = self.elem(*ptr, idx)?.into_int_value();
                let o = self.elem(*offset, idx)?.into_int_value();
                let o = self.widen_int(dtype_of(self, *offset), o)?;
                Ok(self.b.build_int_add(p, o, "ptr")?.into())
            }
            Op::XorPermute { arg, axis, mask } => self.xor_permute_elem(*arg, *axis, *mask, idx),
            Op::Load { ptr, mask, other } => self.load(inst, *ptr, *mask, *other, idx),
            Op::Gather { table, index } => self.gather(inst, *table, *index, idx),
            Op::Reduce { .. } if self.is_fused_reduce(inst) => self.fused_reduce_elem(inst, idx),
            _ => Err(self.op_error(inst, "has no element-wise form")),
        }
    }

    /// Fills `dst` (a buffer of `inst`'s result shape) with `inst`'s result.
    pub(crate) fn materialize(&mut self, inst: &'a Inst, dst: PointerValue<'ctx>) -> Lower<()> {
        let v = inst.results[0];
        if let Op::Trans { arg } = inst.op {
            if self.threads.is_none() && plan::tiled_trans(self.k, &inst.op) && self.place(arg) == Place::Buffer {
                let dims = self.k.ty(arg).shape.dims().to_vec();
                return self.transpose_tiles(self.buffer(arg)?, dst, (dims[0], dims[1]), self.elem_of(v));
            }
        }
        if let Op::Gather { table, index } = inst.op {
            if self.lookup_in_registers(table, index) {
                return self.lookup_table(table, index, dst);
            }
        }
        self.fill(&[(inst, dst)])
    }

    /// Fills each buffer with its instruction's result (all of one shape) in one loop nest:
    /// one instruction as [`Self::materialize`] does, or sibling loads
    /// (`sibling_loads.rs`), whose addresses then interleave in one loop body.
    pub(crate) fn fill(&mut self, fills: &[(&'a Inst, PointerValue<'ctx>)]) -> Lower<()> {
        let Some(&(first, _)) = fills.first() else { return Ok(()) };
        let total = index::shape_bits(&self.k.ty(first.results[0]).shape);
        let run_top = super::xor_permute::run_bits(total, self.threads.map(|th| th.log2));
        let mut walk = CutWalk::with_run_top(run_top);
        for (inst, _) in fills {
            self.cuts_of_inst(inst, &index::symbolic(total), &mut walk)?;
        }
        let mut levels = loops::levels(0, total, &walk.cuts);
        // Only a lone load has its own mask (sibling loads are unmasked).
        let own_mask = match (fills, &first.op) {
            ([_], Op::Load { mask, .. }) => *mask,
            _ => None,
        };
        let moves = fills.iter().any(|(inst, _)| {
            matches!(inst.op, Op::Trans { .. } | Op::XorPermute { .. } | Op::Broadcast { .. } | Op::Reduce { .. })
        });
        let operands: Vec<ValueId> = fills.iter().flat_map(|(inst, _)| inst.op.operands()).collect();
        let masks = self.sink_masks(&operands, own_mask, moves);
        // LLVM's cost model picks 4 lanes for a contiguous f16/bf16 load widened into a
        // buffer (on AVX-512 hosts), alone or under more ops (a quantizer's codes); 16 made
        // the uniform quantizer about 35% faster, its 3-bit codes' buffer 2x. Only for
        // unmasked loads with addresses computed in the loop (a gather through an offset
        // buffer measured slower when forced).
        // So does a buffer of 32-bit elements filled by an unmasked innermost loop of 32 or
        // 64 contiguous elements, which unrolls the loop's two to four vectors after the
        // vectorizer (`loops.rs`). LLVM picked 16 lanes itself but kept the loop, so a
        // straddling width's codes computed each lane's word shifts from the induction
        // vector (HIGGS EDEN2-64 dequantize, 6-bit codes, 1.35x).
        if let Some(inner) = levels.last_mut().filter(|i| i.lo == 0 && self.threads.is_none() && masks.is_empty()) {
            let widens = inner.bits >= 4 && fills.iter().all(|(inst, _)| self.widens_narrow_load(&inst.op));
            let short = (5..=6).contains(&inner.bits)
                && fills.iter().all(|(inst, _)| self.k.ty(inst.results[0]).dtype().bits() == 32);
            if widens || short {
                inner.vectorize = Some(WIDEN_LANES);
            }
        }
        // An unmasked load filling a buffer on the GPU: groups of 8 unrolled, so a
        // thread's run moves as 16-byte vectors, as on the versioned paths (`vector.rs`).
        let unmasked_loads = fills.iter().all(|(inst, _)| matches!(inst.op, Op::Load { mask: None, .. }));
        if self.threads.is_some() && masks.is_empty() && unmasked_loads {
            levels = super::vector::unroll_groups(&levels);
        }
        // Levels outside the innermost loop run as copies inside it (`jam.rs`): on the
        // CPU a short level around a one-vector loop, where no pairs are, else up to two
        // two-iteration levels, pairs first; on a GPU only the pairs of an `xor_permute`
        // inside a thread's run, which then need no shared memory.
        let jammed = match self.threads {
            None if masks.is_empty() && walk.pairs.is_empty() => {
                jam_short_level(&mut levels).unwrap_or_else(|| jam_levels(&mut levels, &walk.pairs, true))
            }
            None => jam_levels(&mut levels, &walk.pairs, true),
            Some(_) if jams_whole_run(run_top) => jam_all(&mut levels, &walk.flips),
            Some(_) => jam_levels(&mut levels, &walk.flips, false),
        };
        let copies: u32 = jammed.iter().map(|level| level.bits).sum();
        self.memo.clear();
        self.dist_nest_masked(&levels, &masks, &mut |l, idx| {
            for copy in 0..1u64 << copies {
                let mut idx = idx.to_vec();
                let mut rest = copy;
                for level in &jammed {
                    idx.push(Term { var: l.ic(rest & ((1 << level.bits) - 1)), lo: level.lo, bits: level.bits });
                    rest >>= level.bits;
                }
                if let Some(lanes) = l.sink_lanes.as_mut() {
                    lanes.enter(&idx, jammed.len());
                }
                for &(inst, dst) in fills {
                    let x = l.compute(inst, &idx)?;
                    let lin = l.linear(&idx)?;
                    l.store_elem(dst, l.elem_of(inst.results[0]), lin, x)?;
                }
            }
            Ok(())
        })?;
        self.memo.clear();
        Ok(())
    }

    /// Writes `v` (evaluated at every index of its shape) into `dst`.
    pub(crate) fn write_value(&mut self, v: ValueId, dst: PointerValue<'ctx>) -> Lower<()> {
        let elem = self.elem_of(v);
        let total = index::shape_bits(&self.k.ty(v).shape);
        let levels = self.sink_levels(&[v], 0, total)?;
        let masks = self.sink_masks(&[v], None, false);
        self.memo.clear();
        self.dist_nest_masked(&levels, &masks, &mut |l, idx| {
            let x = l.elem(v, idx)?;
            let lin = l.linear(idx)?;
            l.store_elem(dst, elem, lin, x)
        })?;
        self.memo.clear();
        Ok(())
    }

    /// Whether `op`, computed element by element in a sink, widens an f16 or bf16 load at
    /// computed addresses ([`Self::computed_address_load`]) itself or through the ops
    /// computed with it, fused reductions included (not through buffers or shape moves).
    pub(crate) fn widens_narrow_load(&self, op: &Op) -> bool {
        let mut stack = vec![op];
        let mut seen = HashSet::new();
        while let Some(op) = stack.pop() {
            match op {
                Op::Cast { arg, .. } if matches!(self.k.ty(*arg).dtype(), DType::F16 | DType::BF16) => {
                    if self.computed_address_load(*arg) {
                        return true;
                    }
                }
                Op::Trans { .. } | Op::XorPermute { .. } | Op::Broadcast { .. } => {}
                _ => {
                    for v in op.operands() {
                        if self.place(v) == Place::Lazy && seen.insert(v) {
                            if let Ok(d) = self.def(v) {
                                stack.push(&d.op);
                            }
                        }
                    }
                }
            }
        }
        false
    }

    /// Whether `v` is a lazy load whose addresses are computed in the loop (no buffer of
    /// offsets or pointers and no transpose on the way): affine in the loop variables.
    fn computed_address_load(&self, v: ValueId) -> bool {
        let Ok(inst) = self.def(v) else { return false };
        let Op::Load { ptr, .. } = inst.op else { return false };
        self.place(v) != Place::Buffer && self.computed_addresses(ptr)
    }

    /// Whether the pointers `ptr` are computed in the loop: no buffer of offsets or
    /// pointers and no transpose on the way.
    pub(crate) fn computed_addresses(&self, ptr: ValueId) -> bool {
        let mut stack = vec![ptr];
        while let Some(x) = stack.pop() {
            match self.place(x) {
                Place::Buffer => return false,
                Place::Scalar => {}
                Place::Lazy => match self.def(x) {
                    Ok(d) if !matches!(d.op, Op::Trans { .. } | Op::XorPermute { .. }) => stack.extend(d.op.operands()),
                    _ => return false,
                },
            }
        }
        true
    }

    /// Loop levels over bits `[lo, hi)` of a sink whose elements come from `roots`, cut
    /// where the roots' shape ops would otherwise split loop variables.
    pub(crate) fn sink_levels(&self, roots: &[ValueId], lo: u32, hi: u32) -> Lower<Vec<Level>> {
        Ok(loops::levels(lo, hi, &self.sink_cuts(roots)?))
    }

    /// Where the roots' shape ops would split a loop variable of a sink over their shape.
    pub(crate) fn sink_cuts(&self, roots: &[ValueId]) -> Lower<BTreeSet<u32>> {
        self.walk_cuts(roots, false)
    }

    /// [`Self::sink_cuts`] without those of [`Self::index_math`] operands: the cuts where
    /// a split variable would index data (a buffer or a load), not only compute a value.
    pub(crate) fn sink_data_cuts(&self, roots: &[ValueId]) -> Lower<BTreeSet<u32>> {
        self.walk_cuts(roots, true)
    }

    fn walk_cuts(&self, roots: &[ValueId], data_only: bool) -> Lower<BTreeSet<u32>> {
        // Only a materialization runs pairs as copies on a GPU.
        let mut walk = CutWalk::with_run_top(if self.threads.is_none() { u32::MAX } else { 0 });
        walk.data_only = data_only;
        let total = roots.first().map_or(0, |&r| index::shape_bits(&self.k.ty(r).shape));
        for &r in roots {
            self.cuts_of(r, &index::symbolic(total), &mut walk)?;
        }
        Ok(walk.cuts)
    }

    /// Whether `v` is computed from indices and scalars alone (aranges, constants and
    /// splats, through element-wise and shape ops): a loop variable split to index it
    /// costs integer ops, which fold into constants where the loop is unrolled, and no
    /// memory access.
    pub(crate) fn index_math(&self, v: ValueId) -> bool {
        // Each value once: shared subexpressions are walked a single time.
        let mut seen = HashSet::from([v]);
        let mut todo = vec![v];
        while let Some(v) = todo.pop() {
            match self.place(v) {
                Place::Scalar => {}
                Place::Buffer => return false,
                Place::Lazy => {
                    let Ok(d) = self.def(v) else { return false };
                    let view = matches!(d.op, Op::Broadcast { .. } | Op::ExpandDims { .. } | Op::Reshape { .. });
                    match &d.op {
                        Op::Arange { .. } | Op::Const(_) | Op::Splat { .. } => {}
                        op if view || op.is_arithmetic() => {
                            todo.extend(op.operands().into_iter().filter(|&o| seen.insert(o)));
                        }
                        _ => return false,
                    }
                }
            }
        }
        true
    }

    fn cuts_of(&self, v: ValueId, idx: &[Term<u32>], walk: &mut CutWalk) -> Lower<()> {
        if self.place(v) != Place::Lazy || !walk.seen.insert((v, idx.to_vec())) {
            return Ok(());
        }
        if walk.data_only && self.index_math(v) {
            return Ok(());
        }
        let inst = self.def(v)?;
        self.cuts_of_inst(inst, idx, walk)
    }

    fn cuts_of_inst(&self, inst: &Inst, idx: &[Term<u32>], walk: &mut CutWalk) -> Lower<()> {
        match &inst.op {
            Op::Broadcast { arg, .. } | Op::ExpandDims { arg, .. } | Op::Reshape { arg, .. } | Op::Trans { arg } => {
                if let Op::Broadcast { .. } = inst.op {
                    // A dim of two broadcast from one: both elements read the same.
                    let (from, to) = (self.k.ty(*arg).shape.dims(), self.k.ty(inst.results[0]).shape.dims());
                    let fields = index::dim_fields(&self.k.ty(inst.results[0]).shape);
                    let pairs = from.iter().zip(to).zip(fields).filter(|((&f, &t), _)| f == 1 && t == 2);
                    for (_, (lo, _)) in pairs {
                        if let Some(bit) = walk.sink_bit(idx, lo) {
                            walk.pairs.insert(bit);
                        }
                    }
                }
                let fields = self.view_fields(inst, *arg);
                let Ok(idx) = index::remap(idx, &fields, &mut Cuts(&mut walk.cuts));
                self.cuts_of(*arg, &idx, walk)
            }
            Op::Splat { .. } | Op::Arange { .. } | Op::Const(_) => Ok(()),
            // Each bit a partner flips (on a GPU, inside a thread's run) is a level of its
            // own, which a materialization runs as copies of its loop body sharing reads.
            Op::XorPermute { arg, axis, mask } => {
                let flat = super::xor_permute::flat_mask(self.k, *arg, *axis, *mask);
                for b in (0..64).filter(|b| flat >> b & 1 == 1) {
                    if let Some(sink_bit) = walk.sink_bit(idx, b).filter(|&s| s < walk.run_top) {
                        walk.cuts.extend([sink_bit, sink_bit + 1]);
                        walk.pairs.insert(sink_bit);
                        walk.flips.insert(sink_bit);
                    }
                }
                self.cuts_of(*arg, idx, walk)
            }
            Op::Reduce { arg, axis, .. } if self.is_fused_reduce(inst) => {
                let at = self.fused_operand_index(*arg, *axis as usize, idx, &mut walk.cuts);
                self.cuts_of(*arg, &at, walk)
            }
            op => {
                for v in op.operands() {
                    self.cuts_of(v, idx, walk)?;
                }
                Ok(())
            }
        }
    }

    /// The linear index `sum(var << lo)` (of the index type).
    pub(crate) fn linear(&self, idx: &Idx<'ctx>) -> Lower<IntValue<'ctx>> {
        let mut acc: Option<IntValue<'ctx>> = None;
        for t in idx {
            let part = if t.lo == 0 { t.var } else { self.b.build_left_shift(t.var, self.ic(t.lo as u64), "f")? };
            acc = Some(match acc {
                None => part,
                Some(a) => self.b.build_int_nuw_add(a, part, "lin")?,
            });
        }
        Ok(acc.unwrap_or_else(|| self.ic(0)))
    }

    /// Loads element `lin` of a buffer of `elem`s, in register form.
    pub(crate) fn load_elem(
        &self,
        p: PointerValue<'ctx>,
        elem: Elem,
        lin: IntValue<'ctx>,
    ) -> Lower<BasicValueEnum<'ctx>> {
        let ty = types::mem(self.cx, elem);
        // SAFETY (of the generated code): `lin` is an index inside the buffer's shape.
        let addr = unsafe { self.b.build_in_bounds_gep(ty, p, &[lin], "addr")? };
        let x = self.b.build_load(ty, addr, "x")?;
        set_align(x, types::mem_size(elem))?;
        self.mem_to_reg(elem, x)
    }

    pub(crate) fn store_elem(
        &self,
        p: PointerValue<'ctx>,
        elem: Elem,
        lin: IntValue<'ctx>,
        x: BasicValueEnum<'ctx>,
    ) -> Lower<()> {
        let ty = types::mem(self.cx, elem);
        let addr = unsafe { self.b.build_in_bounds_gep(ty, p, &[lin], "addr")? };
        let x = self.reg_to_mem(elem, x)?;
        let st = self.b.build_store(addr, x)?;
        st.set_alignment(types::mem_size(elem)).map_err(|e| LowerError::Builder(e.to_string()))?;
        Ok(())
    }

    /// Register form of a value read from memory (bool: byte != 0).
    pub(crate) fn mem_to_reg(&self, elem: Elem, x: BasicValueEnum<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        Ok(match elem {
            Elem::Val(DType::Bool) => {
                let zero = self.cx.i8_type().const_zero();
                self.b.build_int_compare(IntPredicate::NE, x.into_int_value(), zero, "b")?.into()
            }
            _ => x,
        })
    }

    pub(crate) fn reg_to_mem(&self, elem: Elem, x: BasicValueEnum<'ctx>) -> Lower<BasicValueEnum<'ctx>> {
        Ok(match elem {
            Elem::Val(DType::Bool) => self.b.build_int_z_extend(x.into_int_value(), self.cx.i8_type(), "byte")?.into(),
            _ => x,
        })
    }

    /// An integer of dtype `d` widened to `i64` by its signedness.
    pub(crate) fn widen_int(&self, d: DType, x: IntValue<'ctx>) -> Lower<IntValue<'ctx>> {
        self.widen_int_to(d, x, self.cx.i64_type())
    }

    /// An integer of dtype `d` widened to `to` (at least as wide) by its signedness.
    pub(crate) fn widen_int_to(&self, d: DType, x: IntValue<'ctx>, to: IntType<'ctx>) -> Lower<IntValue<'ctx>> {
        Ok(match d {
            DType::I8 | DType::I32 | DType::I64 => self.b.build_int_s_extend_or_bit_cast(x, to, "sx")?,
            _ => self.b.build_int_z_extend_or_bit_cast(x, to, "zx")?,
        })
    }

    pub(crate) fn reg_type(&self, v: ValueId) -> BasicTypeEnum<'ctx> {
        types::reg(self.cx, self.elem_of(v))
    }
}

/// Sets the alignment of a load (given as its value).
pub(crate) fn set_align(x: BasicValueEnum, align: u32) -> Lower<()> {
    if let Some(i) = x.as_instruction_value() {
        i.set_alignment(align).map_err(|e| LowerError::Builder(e.to_string()))?;
    }
    Ok(())
}

/// What a walk of a sink's lazy operands finds, by the sink's index bits.
struct CutWalk {
    /// Where a loop variable must end so that no shape op splits it.
    cuts: BTreeSet<u32>,
    /// Bits whose two values share reads (a butterfly's partners, a dim of two broadcast
    /// from one): a materialization runs those as copies of its loop body first (CPU).
    pairs: BTreeSet<u32>,
    /// The pairs an `xor_permute` makes below `run_top`: the copies a GPU makes.
    flips: BTreeSet<u32>,
    /// GPU: the bits from here up are not the thread's own run, so make no copies.
    run_top: u32,
    /// Skip [`Lowerer::index_math`] values (`sink_data_cuts`).
    data_only: bool,
    /// Values already walked at an index.
    seen: HashSet<(ValueId, Vec<Term<u32>>)>,
}

impl CutWalk {
    fn with_run_top(run_top: u32) -> CutWalk {
        CutWalk {
            cuts: BTreeSet::new(),
            pairs: BTreeSet::new(),
            flips: BTreeSet::new(),
            run_top,
            data_only: false,
            seen: HashSet::new(),
        }
    }

    /// The sink's bit behind bit `local` of a symbolic index.
    fn sink_bit(&self, idx: &[Term<u32>], local: u32) -> Option<u32> {
        let t = idx.iter().find(|t| t.lo <= local && local < t.lo + t.bits)?;
        Some(t.var + local - t.lo)
    }
}
