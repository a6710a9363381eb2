//! Loop nests over the elements of a block.
//!
//! A sink (a store, a reduction, a buffer being filled) iterates its block with one loop
//! per [`Level`], a field of the block's linear-index bits, outermost first; the body sees
//! the loop variables as index [`Term`]s. Loops count up from 0 with `i64` variables and
//! a bottom test, the shape LLVM's vectorizer handles best. A level may ask for forced
//! vectorization at a width: that is how reductions get their partial accumulators into
//! vector registers without reassociating anything (see `reduce.rs`).

use std::collections::BTreeSet;

use inkwell::llvm_sys;
use inkwell::values::{AsValueRef, InstructionValue, IntValue};
use inkwell::IntPredicate;

use super::index::{self, Term};
use super::Lowerer;
use crate::codegen::error::Lower;

/// One loop: the bits `[lo, lo + bits)` of the sink's linear index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub lo: u32,
    pub bits: u32,
    /// Force vectorization at this width (and no unrolling before it).
    pub vectorize: Option<u32>,
}

/// GPU targets fully unroll a loop of at most this many iterations whose body is one
/// short block (a thread's few elements of a shared-memory pass): its counter, test and
/// branch were half of such a loop's instructions, and the addresses fold into offsets.
const UNROLL_TRIPS: u64 = 8;

/// The most instructions a block may hold to be unrolled ([`UNROLL_TRIPS`]).
const UNROLL_BODY: usize = 64;

/// Whether `block` holds at most [`UNROLL_BODY`] instructions.
fn small_block(block: inkwell::basic_block::BasicBlock) -> bool {
    block.get_instructions().take(UNROLL_BODY + 1).count() <= UNROLL_BODY
}

/// A forced-vectorized loop of at most this many vectors is fully unrolled after the
/// vectorizer, so lane-dependent values (a straddling code's word and shifts) fold into
/// constants as they did when LLVM fully unrolled the scalar loop itself.
pub(crate) const UNROLL_VECTORS: u64 = 4;

/// A loop property's value in `llvm.loop` metadata.
#[derive(Clone, Copy)]
enum Prop {
    /// The name alone.
    Flag,
    /// An integer of the given bit width.
    Int(u32, u64),
    /// Followup attributes (names alone) of a transformed loop.
    Followup(&'static [&'static str]),
}

/// Loops over `[lo, hi)`, cut at `cuts`, outermost first.
pub(crate) fn levels(lo: u32, hi: u32, cuts: &BTreeSet<u32>) -> Vec<Level> {
    index::split_range(lo, hi, cuts).into_iter().map(|(lo, bits)| Level { lo, bits, vectorize: None }).collect()
}

pub(crate) type Body<'b, 'a, 'ctx> = dyn FnMut(&mut Lowerer<'a, 'ctx>, &[Term<IntValue<'ctx>>]) -> Lower<()> + 'b;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Runs `body` for every index of the nest (no loop at all for zero levels).
    pub(crate) fn nest(&mut self, levels: &[Level], body: &mut Body<'_, 'a, 'ctx>) -> Lower<()> {
        let mut terms = Vec::with_capacity(levels.len());
        self.nest_from(levels, &mut terms, body)
    }

    fn nest_from(
        &mut self,
        levels: &[Level],
        terms: &mut Vec<Term<IntValue<'ctx>>>,
        body: &mut Body<'_, 'a, 'ctx>,
    ) -> Lower<()> {
        let Some((level, rest)) = levels.split_first() else {
            return body(self, terms);
        };
        if level.bits == 0 {
            return self.nest_from(rest, terms, body);
        }
        self.counted_loop(1u64 << level.bits, level.vectorize, &mut |l, i| {
            terms.push(Term { var: i, lo: level.lo, bits: level.bits });
            let r = l.nest_from(rest, terms, body);
            terms.pop();
            r
        })
    }

    /// `for i in 0..n` (n >= 1) around `body`.
    pub(crate) fn counted_loop(
        &mut self,
        n: u64,
        vectorize: Option<u32>,
        body: &mut dyn FnMut(&mut Self, IntValue<'ctx>) -> Lower<()>,
    ) -> Lower<()> {
        if n == 1 {
            return body(self, self.ic(0));
        }
        let pre = self.current_block()?;
        let head = self.block("loop");
        let exit = self.block("loop.end");
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let phi = self.b.build_phi(self.idx, "i")?;
        let i = phi.as_basic_value().into_int_value();
        body(self, i)?;
        let next = self.b.build_int_nuw_add(i, self.ic(1), "i.next")?;
        let more = self.b.build_int_compare(IntPredicate::ULT, next, self.ic(n), "more")?;
        let br = self.b.build_conditional_branch(more, head, exit)?;
        let latch = self.current_block()?;
        if let Some(width) = vectorize {
            self.vectorize_hint(br, width, n);
        } else if self.threads.is_some() && n <= UNROLL_TRIPS && latch == head && small_block(head) {
            self.unroll_hint(br);
        }
        phi.add_incoming(&[(&self.ic(0), pre), (&next, latch)]);
        self.b.position_at_end(exit);
        // Values computed inside the loop do not dominate what follows it.
        self.memo.clear();
        Ok(())
    }

    /// Attaches `llvm.loop` metadata asking for a full unroll: the only unrolling the GPU
    /// pipeline does (`target/nvptx.rs` turns the unroller off but for such requests).
    fn unroll_hint(&self, branch: InstructionValue<'ctx>) {
        self.loop_hint(branch, &[("llvm.loop.unroll.full", Prop::Flag)]);
    }

    /// Attaches `llvm.loop` metadata asking for vectorization at `width` and no unrolling
    /// before it (the full unroller would otherwise scalarize small loops first). A loop
    /// of `trips` iterations that makes at most [`UNROLL_VECTORS`] vectors is fully
    /// unrolled after the vectorizer (its followup attributes).
    /// On a GPU (no vector registers) the same request becomes a full unroll, which
    /// keeps the lanes' states in registers instead of local memory.
    fn vectorize_hint(&self, branch: InstructionValue<'ctx>, width: u32, trips: u64) {
        if self.threads.is_some() {
            return self.unroll_hint(branch);
        }
        let mut properties = vec![
            ("llvm.loop.vectorize.width", Prop::Int(32, width as u64)),
            ("llvm.loop.vectorize.enable", Prop::Int(1, 1)),
            ("llvm.loop.unroll.disable", Prop::Flag),
        ];
        if trips > width as u64 && trips <= UNROLL_VECTORS * width as u64 {
            properties.push(("llvm.loop.vectorize.followup_vectorized", Prop::Followup(&["llvm.loop.unroll.full"])));
        }
        self.loop_hint(branch, &properties);
    }

    /// Attaches a loop's `llvm.loop` metadata to its latch `branch`: a distinct node
    /// (its first operand itself) holding each property: a name and its [`Prop`].
    fn loop_hint(&self, branch: InstructionValue<'ctx>, properties: &[(&str, Prop)]) {
        use llvm_sys::core::*;
        use llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
        let cx = self.cx.raw();
        // SAFETY: every node is created in this context and outlives the call; the
        // temporary node is replaced (and freed) by LLVMMetadataReplaceAllUsesWith.
        unsafe {
            let tmp = LLVMTemporaryMDNode(cx, std::ptr::null_mut(), 0);
            let mut ops = vec![tmp];
            let string = |s: &str| LLVMMDStringInContext2(cx, s.as_ptr().cast(), s.len());
            for &(name, value) in properties {
                let mut prop = vec![string(name)];
                match value {
                    Prop::Flag => {}
                    Prop::Int(bits, v) => {
                        prop.push(LLVMValueAsMetadata(LLVMConstInt(LLVMIntTypeInContext(cx, bits), v, 0)))
                    }
                    Prop::Followup(flags) => prop.extend(flags.iter().map(|&flag| {
                        let mut attribute = [string(flag)];
                        LLVMMDNodeInContext2(cx, attribute.as_mut_ptr(), 1)
                    })),
                }
                ops.push(LLVMMDNodeInContext2(cx, prop.as_mut_ptr(), prop.len()));
            }
            let node = LLVMMDNodeInContext2(cx, ops.as_mut_ptr(), ops.len());
            LLVMMetadataReplaceAllUsesWith(tmp, node);
            let kind = LLVMGetMDKindIDInContext(cx, c"llvm.loop".as_ptr(), 9);
            LLVMSetMetadata(branch.as_value_ref(), kind, LLVMMetadataAsValue(cx, node));
        }
    }
}
