//! Shared memory reuse on the GPU: a block buffer's bytes go back to a free list after
//! its last use, so a kernel needs the most bytes live at once, not the sum of all its
//! buffers (a HIGGS quantizer at block 4096: about a third).
//!
//! A buffer's last use is the last instruction, in the region that defines it, that
//! reads it: directly, through a lazy value computed from it (a view, an element-wise
//! chain fused into a later sink), or from inside a loop or branch (the whole `for` or
//! `if` counts, so a buffer read in a loop body lives until the loop ends). Its bytes are
//! released after that instruction is emitted. Reuse is safe because a barrier follows
//! every sink (`gpu.rs`): every read of the old buffer has finished before a later sink
//! writes the new one. Values yielded by a region are never released (their buffers are
//! copied or kept by the `for`/`if` after the region ends).

use std::collections::{HashMap, HashSet};

use inkwell::values::{AsValueRef, PointerValue};

use super::plan::{Place, Plan};
use super::{Lowered, Lowerer};
use crate::ir::{Kernel, Op, Region, ValueId};

/// A region by identity (its address; the kernel outlives the lowering).
pub(crate) type RegionKey = usize;

pub(crate) fn region_key(r: &Region) -> RegionKey {
    r as *const Region as usize
}

/// Which buffers to release after each instruction: `(region, position) -> values`.
pub(crate) fn release_points(k: &Kernel, plan: &Plan) -> HashMap<(RegionKey, usize), Vec<ValueId>> {
    let mut def: HashMap<ValueId, (RegionKey, usize)> = HashMap::new();
    let mut lazy_operands: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    collect_defs(&k.body, plan, &mut def, &mut lazy_operands);
    let mut last: HashMap<ValueId, usize> = HashMap::new();
    let mut chain = Vec::new();
    uses(&k.body, &def, &lazy_operands, &mut chain, &mut last);
    let mut out: HashMap<(RegionKey, usize), Vec<ValueId>> = HashMap::new();
    for (&v, &(region, pos)) in &def {
        if plan.of(v) == Place::Buffer {
            let at = last.get(&v).copied().unwrap_or(pos);
            out.entry((region, at)).or_default().push(v);
        }
    }
    out
}

fn collect_defs(
    r: &Region,
    plan: &Plan,
    def: &mut HashMap<ValueId, (RegionKey, usize)>,
    lazy_operands: &mut HashMap<ValueId, Vec<ValueId>>,
) {
    for (pos, inst) in r.insts.iter().enumerate() {
        for &v in &inst.results {
            def.insert(v, (region_key(r), pos));
            if plan.of(v) == Place::Lazy {
                lazy_operands.insert(v, inst.op.operands());
            }
        }
        for sub in inst.op.regions() {
            collect_defs(sub, plan, def, lazy_operands);
        }
    }
}

/// Records every read, with `chain` the enclosing (region, position) pairs, outermost
/// first; a yield keeps its values alive for good.
fn uses(
    r: &Region,
    def: &HashMap<ValueId, (RegionKey, usize)>,
    lazy_operands: &HashMap<ValueId, Vec<ValueId>>,
    chain: &mut Vec<(RegionKey, usize)>,
    last: &mut HashMap<ValueId, usize>,
) {
    for (pos, inst) in r.insts.iter().enumerate() {
        chain.push((region_key(r), pos));
        let forever = matches!(inst.op, Op::Yield(_));
        let mut todo = inst.op.operands();
        let mut seen = HashSet::new();
        while let Some(v) = todo.pop() {
            if !seen.insert(v) {
                continue;
            }
            if let Some(&(region, _)) = def.get(&v) {
                // The use's position in the defining region.
                if let Some(&(_, at)) = chain.iter().find(|(rk, _)| *rk == region) {
                    let at = if forever { usize::MAX } else { at };
                    let e = last.entry(v).or_insert(at);
                    *e = (*e).max(at);
                }
            }
            if let Some(ops) = lazy_operands.get(&v) {
                todo.extend(ops.iter().copied());
            }
        }
        for sub in inst.op.regions() {
            uses(sub, def, lazy_operands, chain, last);
        }
        chain.pop();
    }
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Releases the buffers whose last use is instruction `pos` of `r` (GPU only).
    pub(crate) fn release_after(&mut self, r: &Region, pos: usize) {
        let Some(vals) = self.releases.get(&(region_key(r), pos)).cloned() else { return };
        for v in vals {
            if let Some(Lowered::Buffer(p)) = self.vals[v.0 as usize] {
                self.release(p);
            }
        }
    }

    /// Gives a shared buffer's bytes back (nothing for other pointers).
    pub(crate) fn release(&mut self, p: PointerValue<'ctx>) {
        if let Some(block) = self.shared_blocks.remove(&(p.as_value_ref() as usize)) {
            self.arena.release(block);
        }
    }
}

/// Compile-time allocation of the CTA's shared memory: `(offset, bytes)` blocks, 16-byte
/// aligned, first fit among released blocks (neighbours merged), else new bytes at the
/// end; `high` is the total the kernel needs.
#[derive(Default, Debug)]
pub(crate) struct Arena {
    free: Vec<(u64, u64)>,
    pub high: u64,
}

impl Arena {
    pub(crate) fn alloc(&mut self, bytes: u64) -> (u64, u64) {
        let size = bytes.next_multiple_of(16).max(16);
        if let Some(i) = self.free.iter().position(|&(_, len)| len >= size) {
            let (off, len) = self.free[i];
            if len == size {
                self.free.remove(i);
            } else {
                self.free[i] = (off + size, len - size);
            }
            return (off, size);
        }
        // A free block at the end grows instead of being skipped.
        if let Some(&(off, len)) = self.free.last().filter(|&&(off, len)| off + len == self.high) {
            debug_assert!(len < size, "a large enough block was taken above");
            self.free.pop();
            self.high = off + size;
            return (off, size);
        }
        let off = self.high;
        self.high += size;
        (off, size)
    }

    pub(crate) fn release(&mut self, block: (u64, u64)) {
        self.free.push(block);
        self.free.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.free.len());
        for &(off, len) in &self.free {
            match merged.last_mut() {
                Some(last) if last.0 + last.1 == off => last.1 += len,
                _ => merged.push((off, len)),
            }
        }
        self.free = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::Arena;

    #[test]
    fn released_bytes_are_reused_and_neighbours_merge() {
        let mut a = Arena::default();
        let x = a.alloc(100); // 112 bytes
        let y = a.alloc(64);
        let z = a.alloc(16);
        assert_eq!((x, y, z), ((0, 112), (112, 64), (176, 16)));
        a.release(x);
        a.release(y);
        // x and y merged: 176 bytes at 0 hold a 160-byte buffer.
        assert_eq!(a.alloc(160), (0, 160));
        assert_eq!(a.high, 192);
        // What is left of the merged block (16 bytes at 160) is reused first.
        assert_eq!(a.alloc(1), (160, 16));
    }

    #[test]
    fn a_free_block_at_the_end_grows() {
        let mut a = Arena::default();
        let x = a.alloc(32);
        let y = a.alloc(32);
        a.release(y);
        assert_eq!(a.alloc(64), (32, 64));
        assert_eq!(a.high, 96);
        a.release(x);
        assert_eq!(a.alloc(48), (96, 48), "a 32-byte hole does not hold 48 bytes");
    }
}
