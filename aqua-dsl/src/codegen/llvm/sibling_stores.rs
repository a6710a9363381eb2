//! Sibling stores (CPU): consecutive unmasked stores of one shape, whose addresses cannot
//! meet, write in one loop.
//!
//! A straddling code width's unit of 32 codes is `bits` words, which a quantizer stores
//! as `bits` blocks, word `w` of every unit (`codes[unit * bits + w]`). Stored one block
//! at a time, each loop writes memory at a stride of `bits` words, which LLVM vectorizes
//! as hardware scatters (16 stores each); stored in one loop, the `bits` stores of a unit
//! are one interleaved group, which LLVM writes as shuffles and `bits` vector stores
//! (uniform quantize at 3, 5, 6 and 7 bits 1.18-1.31x on one core).
//!
//! One loop writes element `i` of every store before element `i + 1` of any, where one
//! store after another wrote all of the first before any of the second, so the stores
//! join only where that cannot matter:
//! - their addresses never meet: one base parameter, offsets that differ by constants,
//!   pairwise apart modulo every step (`analysis::disjoint`; `unit * 3 + w` for `w < 3`);
//! - nothing in the loop reads what they write: they write one parameter, from which no
//!   value of theirs loads in the loop (placement moves no load into a store to the load's
//!   own parameter, `plan::load_can_move`), and what stands between them is lazy values
//!   (which emit nothing where they stand) and scalars other than loads (computed first);
//! - unchecked code: checked code keeps one loop a store, so that a fault leaves memory
//!   as the reference interpreter leaves it.
//!
//! GPU targets keep one loop per store (their stores are spread over threads).

use super::plan::Place;
use super::Lowerer;
use crate::analysis::disjoint;
use crate::ir::{Inst, Op, Region, ValueId};

/// The stores that write together with a region's store at some position (itself first),
/// and the scalars that stand between them, which run first.
pub(crate) struct SiblingStores {
    pub stores: Vec<usize>,
    pub scalars: Vec<usize>,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The stores after `pos` in `r` that write in one loop with the store at `pos`.
    pub(crate) fn sibling_stores(&self, r: &'a Region, pos: usize) -> SiblingStores {
        let mut found = SiblingStores { stores: vec![pos], scalars: Vec::new() };
        let first = &r.insts[pos];
        let Some(ptr) = self.joining_store(first) else { return found };
        let base = self.bases.get(&ptr);
        let dims = self.k.ty(ptr).shape.dims();
        let mut forms = vec![&self.affine[&ptr]];
        let mut between = Vec::new();
        for (later, inst) in r.insts.iter().enumerate().skip(pos + 1) {
            if let Some(p) = self.joining_store(inst) {
                if self.bases.get(&p) != base || self.k.ty(p).shape.dims() != dims {
                    break;
                }
                forms.push(&self.affine[&p]);
                if !disjoint(&forms, dims) {
                    break;
                }
                found.stores.push(later);
                found.scalars.append(&mut between);
                continue;
            }
            let &[v] = inst.results.as_slice() else { break };
            match (&inst.op, self.place(v)) {
                (Op::For { .. } | Op::If { .. } | Op::Reduce { .. } | Op::Dot { .. } | Op::Load { .. }, _) => break,
                (_, Place::Lazy) => {}
                (_, Place::Scalar) => between.push(later),
                _ => break,
            }
        }
        found
    }

    /// The pointer operand of a store that may join siblings: an unmasked store in
    /// unchecked CPU code whose offsets have an affine form (not a streaming store, which
    /// writes its own vectors, `streaming.rs`).
    fn joining_store(&self, inst: &Inst) -> Option<ValueId> {
        let Op::Store { ptr, mask: None, streaming: false, .. } = inst.op else { return None };
        (self.threads.is_none() && !self.checked && self.affine.contains_key(&ptr)).then_some(ptr)
    }
}
