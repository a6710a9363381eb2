//! Sibling loads (CPU): consecutive loads into buffers of one shape fill them in one loop.
//!
//! A straddling code width's unit of 32 codes is `bits` words, which a dequantizer loads
//! as `bits` blocks, word `w` of every unit (`codes[unit * bits + w]`), each into a buffer
//! (every word is read by the unit's 32 lanes). Filled one buffer at a time, each loop
//! reads memory at a stride of `bits` words, which LLVM vectorizes as hardware gathers (16
//! loads each); filled in one loop, the `bits` loads of a unit are one interleaved group,
//! which LLVM reads as `bits` vector loads and shuffles (uniform dequantize at 3 to 7 bits
//! 1.2-1.5x). So a load whose result gets a buffer takes along the loads that follow it
//! in the region with results of the same shape and addresses computed in the loop, as
//! long as only lazy values (which emit nothing where they stand) and scalars (computed
//! first) come between. No store comes between, so the loads read the same values in one
//! loop as one after another; in checked code every load up to the last sibling is
//! checked before the loop. GPU targets keep one loop per load (their loads are spread
//! over threads, `vector.rs`), as do masked loads (a mask shapes its loop, `sink_masks`).

use super::plan::Place;
use super::{Lowered, Lowerer};
use crate::codegen::error::Lower;
use crate::ir::{Inst, Op, Region, ValueId};

/// The loads that fill their buffers together with a region's load at some position,
/// and what stands between them and runs first, in order: scalars, and loads (in
/// checked code, their bounds checks must precede the loop that reads).
#[derive(Default)]
pub(crate) struct Siblings {
    pub loads: Vec<usize>,
    pub early: Vec<usize>,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Fills the buffer of the value defined at `pos` in `r`, and those of its sibling
    /// loads in the same loop (marked in `grouped`, so the region's walk skips them).
    pub(crate) fn emit_fill(&mut self, r: &'a Region, pos: usize, grouped: &mut [bool]) -> Lower<()> {
        let inst = &r.insts[pos];
        let siblings = self.sibling_loads(r, pos);
        for &later in &siblings.early {
            let early = &r.insts[later];
            if self.checked && matches!(early.op, Op::Load { .. }) {
                self.emit_check(early)?;
                grouped[later] = true;
            }
            if self.place(early.results[0]) == Place::Scalar {
                let x = self.compute(early, &[])?;
                self.set(early.results[0], Lowered::Scalar(x));
                grouped[later] = true;
            }
        }
        let mut fills = vec![(inst, self.alloc_for(inst.results[0])?)];
        for later in siblings.loads {
            let sibling = &r.insts[later];
            grouped[later] = true;
            fills.push((sibling, self.alloc_for(sibling.results[0])?));
        }
        match fills.as_slice() {
            [(inst, p)] => self.materialize(inst, *p)?,
            _ => self.fill(&fills)?,
        }
        for (inst, p) in fills {
            self.set(inst.results[0], Lowered::Buffer(p));
        }
        Ok(())
    }

    /// The loads after `pos` in `r` that fill buffers together with the load at `pos`
    /// (none unless it is one that may), and the scalars and loads up to the last.
    pub(crate) fn sibling_loads(&self, r: &'a Region, pos: usize) -> Siblings {
        let first = &r.insts[pos];
        let mut found = Siblings::default();
        if !self.joins_siblings(first) {
            return found;
        }
        let shape = &self.k.ty(first.results[0]).shape;
        let mut group: Vec<ValueId> = vec![first.results[0]];
        let mut scalars = Vec::new();
        for (later, inst) in r.insts.iter().enumerate().skip(pos + 1) {
            // A store (no result) ends the siblings: a load after it may read what it wrote.
            let &[v] = inst.results.as_slice() else { break };
            let reads_group = || inst.op.operands().into_iter().any(|o| self.reads_any(o, &group).unwrap_or(true));
            match (&inst.op, self.place(v)) {
                (Op::For { .. } | Op::If { .. } | Op::Reduce { .. } | Op::Dot { .. }, _) => break,
                (_, Place::Lazy) => {}
                // Scalars are values of their operands alone: computed earlier, the same.
                (_, Place::Scalar) if !reads_group() => scalars.push(later),
                _ if self.joins_siblings(inst) && &self.k.ty(v).shape == shape && !reads_group() => {
                    group.push(v);
                    found.loads.push(later);
                }
                _ => break,
            }
        }
        let last = found.loads.last().copied().unwrap_or(pos);
        found.early =
            (pos + 1..=last).filter(|i| scalars.contains(i) || matches!(r.insts[*i].op, Op::Load { .. })).collect();
        found
    }

    /// Whether `inst`'s result may fill its buffer with siblings: on the CPU, an unmasked
    /// load into a buffer, under shape ops or not, whose addresses come from no buffer
    /// (so LLVM can interleave them; loads through a buffer of offsets, a KIVI tile's
    /// unit words, stay hardware gathers, and ran 10% slower in one loop). A load whose
    /// address reads a sibling's result is thus never one.
    fn joins_siblings(&self, inst: &Inst) -> bool {
        let [v] = inst.results.as_slice() else { return false };
        if self.threads.is_some() || self.place(*v) != Place::Buffer {
            return false;
        }
        let mut op = &inst.op;
        loop {
            match op {
                Op::Load { ptr, mask: None, .. } => return self.computed_addresses(*ptr),
                Op::ExpandDims { arg, .. } | Op::Reshape { arg, .. } | Op::Broadcast { arg, .. }
                    if self.place(*arg) == Place::Lazy =>
                {
                    let Ok(d) = self.def(*arg) else { return false };
                    op = &d.op;
                }
                _ => return false,
            }
        }
    }
}
