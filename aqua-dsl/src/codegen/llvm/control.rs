//! Regions and runtime control flow: the instruction walk, `for` and `if`.
//!
//! A `for` runs `ceil((hi - lo) / step)` iterations when `lo < hi` and `step > 0`
//! (computed in 64-bit unsigned arithmetic, so the induction variable never wraps) and
//! none otherwise. Carried scalars are phis; carried blocks live in one stack buffer per
//! carried value, which is also the loop's result. A yield that reads those buffers (a
//! swap, a transpose of the carried value) goes through a temporary first, so every
//! yielded value sees the previous iteration's state. `if` results are phis (scalars)
//! or a buffer each branch writes.

use inkwell::values::{BasicValueEnum, IntValue, PhiValue, PointerValue};
use inkwell::IntPredicate;

use super::plan::Place;
use super::specialized::Form;
use super::{Lowered, Lowerer};

/// A loop-carried value: a phi in the loop header, or the buffer of a carried block.
enum Carried<'ctx> {
    Phi(PhiValue<'ctx>),
    Buffer(inkwell::values::PointerValue<'ctx>),
}

impl<'ctx> Carried<'ctx> {
    fn lowered(&self) -> Lowered<'ctx> {
        match self {
            Carried::Phi(p) => Lowered::Scalar(p.as_basic_value()),
            Carried::Buffer(b) => Lowered::Buffer(*b),
        }
    }
}
use crate::codegen::error::Lower;
use crate::ir::{DType, Inst, Op, Region, ValueId};

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Emits a region's instructions; returns the values its `yield` names.
    pub(crate) fn emit_region(&mut self, r: &'a Region) -> Lower<Vec<ValueId>> {
        let mut grouped = vec![false; r.insts.len()];
        for (pos, inst) in r.insts.iter().enumerate() {
            if grouped[pos] {
                self.release_after(r, pos);
                continue;
            }
            if self.prefetch_in.is_some_and(|fast| std::ptr::eq(fast, r)) {
                self.prefetch_next_tile(inst)?;
            }
            match &inst.op {
                Op::Yield(vals) => return Ok(vals.clone()),
                Op::For { .. } => self.emit_for(inst)?,
                Op::If { .. } => self.emit_if(inst)?,
                Op::Store { .. } => {
                    if self.checked {
                        self.emit_check(inst)?;
                    }
                    let siblings = self.sibling_stores(r, pos);
                    for &s in &siblings.scalars {
                        let scalar = &r.insts[s];
                        let x = self.compute(scalar, &[])?;
                        self.set(scalar.results[0], Lowered::Scalar(x));
                        grouped[s] = true;
                    }
                    for &s in &siblings.stores {
                        grouped[s] = true;
                    }
                    let stores: Vec<&Inst> = siblings.stores.iter().map(|&s| &r.insts[s]).collect();
                    self.emit_stores(&stores)?;
                }
                Op::Reduce { arg, axis, .. } => {
                    // Later reductions of the same operand along the same axis join this one.
                    let mut group = vec![inst];
                    for (later, other) in r.insts.iter().enumerate().skip(pos + 1) {
                        if matches!(&other.op, Op::Reduce { arg: a, axis: x, .. } if a == arg && x == axis) {
                            grouped[later] = true;
                            group.push(other);
                        }
                    }
                    self.emit_reduce(&group)?;
                }
                Op::Dot { .. } => self.emit_dot(inst)?,
                _ => {
                    if self.checked && matches!(inst.op, Op::Load { .. }) {
                        self.emit_check(inst)?;
                    }
                    let &[v] = inst.results.as_slice() else {
                        return Err(self.op_error(inst, "must have exactly one result"));
                    };
                    match self.place(v) {
                        Place::Scalar => {
                            let x = self.compute(inst, &[])?;
                            self.set(v, Lowered::Scalar(x));
                        }
                        Place::Lazy => {}
                        Place::Buffer => self.emit_fill(r, pos, &mut grouped)?,
                    }
                }
            }
            self.release_after(r, pos);
        }
        Ok(vec![])
    }

    fn emit_for(&mut self, inst: &'a Inst) -> Lower<()> {
        let Op::For { lo, hi, step, init, body } = &inst.op else {
            return Err(self.op_error(inst, "is not a loop"));
        };
        let d = self.k.ty(*lo).dtype();
        if !d.is_int() || body.args.len() != init.len() + 1 || inst.results.len() != init.len() {
            return Err(self.op_error(inst, "has malformed bounds or carried values"));
        }
        let (lo_v, hi_v, step_v) = (
            self.scalar(*lo)?.into_int_value(),
            self.scalar(*hi)?.into_int_value(),
            self.scalar(*step)?.into_int_value(),
        );
        let count = self.trip_count(d, lo_v, hi_v, step_v)?;

        // Carried blocks: one buffer each, filled with the initial value.
        let mut bufs = Vec::with_capacity(init.len());
        for (j, &v) in init.iter().enumerate() {
            let arg = body.args[j + 1];
            if self.place(arg) == Place::Scalar {
                bufs.push(None);
                continue;
            }
            let p = self.alloc_for(arg)?;
            self.write_value(v, p)?;
            bufs.push(Some(p));
        }

        let i64t = self.cx.i64_type();
        let pre = self.current_block()?;
        let (head, body_bb, exit) = (self.block("for"), self.block("for.body"), self.block("for.end"));
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let trip = self.b.build_phi(i64t, "trip")?;
        let iv = self.b.build_phi(lo_v.get_type(), "iv")?;
        // Where each carried value lives: a phi (scalars) or its buffer (blocks).
        let mut carried: Vec<Carried<'ctx>> = Vec::with_capacity(init.len());
        for (j, &v) in init.iter().enumerate() {
            carried.push(match bufs[j] {
                Some(p) => Carried::Buffer(p),
                None => {
                    let phi = self.b.build_phi(self.reg_type(v), "carried")?;
                    phi.add_incoming(&[(&self.scalar(v)?, pre)]);
                    Carried::Phi(phi)
                }
            });
        }
        let t = trip.as_basic_value().into_int_value();
        let more = self.b.build_int_compare(IntPredicate::ULT, t, count, "more")?;
        self.b.build_conditional_branch(more, body_bb, exit)?;

        self.b.position_at_end(body_bb);
        self.set(body.args[0], Lowered::Scalar(iv.as_basic_value()));
        for (j, c) in carried.iter().enumerate() {
            self.set(body.args[j + 1], c.lowered());
        }
        let yielded = self.emit_region(body)?;
        if yielded.len() != init.len() {
            return Err(self.op_error(inst, "body yields the wrong number of values"));
        }
        let mut next_scalars: Vec<BasicValueEnum<'ctx>> = Vec::new();
        for (j, &y) in yielded.iter().enumerate() {
            if bufs[j].is_none() {
                next_scalars.push(self.scalar(y)?);
            }
        }
        self.write_carried(&yielded, &body.args[1..], &bufs)?;
        let t_next = self.b.build_int_nuw_add(t, self.i64c(1), "trip.next")?;
        let iv_next = self.b.build_int_add(iv.as_basic_value().into_int_value(), step_v, "iv.next")?;
        let latch = self.current_block()?;
        self.b.build_unconditional_branch(head)?;
        trip.add_incoming(&[(&self.i64c(0), pre), (&t_next, latch)]);
        iv.add_incoming(&[(&lo_v, pre), (&iv_next, latch)]);
        let phis = carried.iter().filter_map(|c| match c {
            Carried::Phi(p) => Some(p),
            Carried::Buffer(_) => None,
        });
        for (phi, x) in phis.zip(&next_scalars) {
            phi.add_incoming(&[(x, latch)]);
        }

        self.b.position_at_end(exit);
        self.memo.clear();
        for (c, &res) in carried.iter().zip(&inst.results) {
            self.set(res, c.lowered());
        }
        Ok(())
    }

    /// Iterations of `for (i = lo; i < hi; i += step)` without wrap-around, as `i64`.
    fn trip_count(
        &self,
        d: DType,
        lo: IntValue<'ctx>,
        hi: IntValue<'ctx>,
        step: IntValue<'ctx>,
    ) -> Lower<IntValue<'ctx>> {
        let signed = d.is_signed();
        let zero = lo.get_type().const_zero();
        let (lt, pos) =
            if signed { (IntPredicate::SLT, IntPredicate::SGT) } else { (IntPredicate::ULT, IntPredicate::UGT) };
        let runs = self.b.build_int_compare(lt, lo, hi, "runs")?;
        let forward = self.b.build_int_compare(pos, step, zero, "fwd")?;
        let runs = self.b.build_and(runs, forward, "runs")?;
        let (lo, hi, step) = (self.widen_int(d, lo)?, self.widen_int(d, hi)?, self.widen_int(d, step)?);
        // hi > lo here, so hi - lo is exact as an unsigned 64-bit number.
        let span = self.b.build_int_sub(hi, lo, "span")?;
        let one = self.i64c(1);
        let safe_step = self.b.build_select(runs, step, one, "step")?.into_int_value();
        let q = self.b.build_int_unsigned_div(span, safe_step, "q")?;
        let r = self.b.build_int_unsigned_rem(span, safe_step, "r")?;
        let partial = self.b.build_int_compare(IntPredicate::NE, r, self.i64c(0), "partial")?;
        let partial = self.b.build_int_z_extend(partial, self.cx.i64_type(), "partial")?;
        let n = self.b.build_int_add(q, partial, "n")?;
        Ok(self.b.build_select(runs, n, self.i64c(0), "trips")?.into_int_value())
    }

    /// Writes the yielded blocks into the carried buffers for the next iteration.
    fn write_carried(
        &mut self,
        yielded: &[ValueId],
        args: &[ValueId],
        bufs: &[Option<inkwell::values::PointerValue<'ctx>>],
    ) -> Lower<()> {
        let mut direct = Vec::new();
        let mut staged = Vec::new();
        for (j, &y) in yielded.iter().enumerate() {
            let Some(dst) = bufs[j] else { continue };
            if y == args[j] {
                continue;
            }
            if self.reads_any(y, args)? {
                // Reads the current state: stage it, and copy after every stage is read.
                let tmp = self.alloc_for(y)?;
                self.write_value(y, tmp)?;
                staged.push((tmp, dst, y));
            } else {
                direct.push((y, dst));
            }
        }
        for (tmp, dst, y) in staged {
            if self.threads.is_some() {
                // Each thread copies the elements it wrote (same layout as `write_value`).
                let elem = self.elem_of(y);
                let levels = super::loops::levels(0, super::index::shape_bits(&self.k.ty(y).shape), &Default::default());
                self.dist_nest(&levels, &mut |l, idx| {
                    let lin = l.linear(idx)?;
                    let x = l.load_elem(tmp, elem, lin)?;
                    l.store_elem(dst, elem, lin, x)
                })?;
                self.release(tmp);
                continue;
            }
            let bytes = self.k.ty(y).shape.numel() as u64 * super::types::mem_size(self.elem_of(y)) as u64;
            self.b
                .build_memcpy(dst, 64, tmp, 64, self.i64c(bytes))
                .map_err(|e| crate::codegen::error::LowerError::Builder(e.to_string()))?;
        }
        for (y, dst) in direct {
            self.write_value(y, dst)?;
        }
        Ok(())
    }

    /// Whether computing `v` reads any of `bufs` (values held in buffers).
    pub(crate) fn reads_any(&self, v: ValueId, bufs: &[ValueId]) -> Lower<bool> {
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![v];
        while let Some(v) = todo.pop() {
            if bufs.contains(&v) {
                return Ok(true);
            }
            if self.place(v) == Place::Lazy && seen.insert(v) {
                todo.extend(self.def(v)?.op.operands());
            }
        }
        Ok(false)
    }

    fn emit_if(&mut self, inst: &'a Inst) -> Lower<()> {
        let Op::If { cond, then_body, else_body, specialized } = &inst.op else {
            return Err(self.op_error(inst, "is not a branch"));
        };
        let form = if *specialized { self.specialized_form(inst) } else { Form::Both };
        let c = self.scalar(*cond)?.into_int_value();
        let mut outs = Vec::with_capacity(inst.results.len());
        for &r in &inst.results {
            outs.push(match self.place(r) {
                Place::Scalar => None,
                _ => Some(self.alloc_for(r)?),
            });
        }
        match form {
            Form::Both => {}
            Form::General => return self.emit_one_branch(inst, else_body, &outs),
            Form::FastElseCall(general) => {
                let (fast_bb, general_bb) = (self.block("fast"), self.block("general"));
                self.b.build_conditional_branch(c, fast_bb, general_bb)?;
                self.b.position_at_end(general_bb);
                let args: Vec<_> = self.func.get_param_iter().map(|p| p.into()).collect();
                let status = self.b.build_call(general, &args, "general")?;
                status.set_tail_call(true);
                match status.try_as_basic_value() {
                    inkwell::values::ValueKind::Basic(v) => self.b.build_return(Some(&v))?,
                    _ => return Err(self.op_error(inst, "the general form returns no status")),
                };
                self.b.position_at_end(fast_bb);
                let enclosing = self.prefetch_in.replace(then_body);
                let r = self.emit_one_branch(inst, then_body, &outs);
                self.prefetch_in = enclosing;
                return r;
            }
        }
        let (then_bb, else_bb, join) = (self.block("then"), self.block("else"), self.block("endif"));
        self.b.build_conditional_branch(c, then_bb, else_bb)?;
        let mut incoming = Vec::new();
        for (bb, region) in [(then_bb, then_body), (else_bb, else_body)] {
            self.b.position_at_end(bb);
            // The fast form's loads prefetch; the enclosing region's setting comes back after.
            let enclosing = std::mem::replace(&mut self.prefetch_in, (*specialized && bb == then_bb).then_some(region));
            let yielded = self.emit_region(region);
            self.prefetch_in = enclosing;
            let yielded = yielded?;
            if yielded.len() != inst.results.len() {
                return Err(self.op_error(inst, "a branch yields the wrong number of values"));
            }
            let mut scalars = Vec::new();
            for (j, &y) in yielded.iter().enumerate() {
                match outs[j] {
                    Some(p) => self.write_value(y, p)?,
                    None => scalars.push(self.scalar(y)?),
                }
            }
            incoming.push((scalars, self.current_block()?));
            self.b.build_unconditional_branch(join)?;
            self.memo.clear();
        }
        self.b.position_at_end(join);
        let mut k = 0;
        for (j, &r) in inst.results.iter().enumerate() {
            match outs[j] {
                Some(p) => self.set(r, Lowered::Buffer(p)),
                None => {
                    let phi = self.b.build_phi(self.reg_type(r), "if")?;
                    for (vals, bb) in &incoming {
                        phi.add_incoming(&[(&vals[k], *bb)]);
                    }
                    k += 1;
                    self.set(r, Lowered::Scalar(phi.as_basic_value()));
                }
            }
        }
        Ok(())
    }

    /// An `if` of which only `region` is lowered (`specialized.rs`): its yields are the
    /// results.
    fn emit_one_branch(&mut self, inst: &'a Inst, region: &'a Region, outs: &[Option<PointerValue<'ctx>>]) -> Lower<()> {
        let yielded = self.emit_region(region)?;
        if yielded.len() != inst.results.len() {
            return Err(self.op_error(inst, "a branch yields the wrong number of values"));
        }
        for ((&r, &y), out) in inst.results.iter().zip(&yielded).zip(outs) {
            match *out {
                Some(p) => {
                    self.write_value(y, p)?;
                    self.set(r, Lowered::Buffer(p));
                }
                None => {
                    let v = self.scalar(y)?;
                    self.set(r, Lowered::Scalar(v));
                }
            }
        }
        Ok(())
    }
}
