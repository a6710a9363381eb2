//! Copies of a loop body: levels of a materialization's loop nest that run as copies of
//! its innermost loop's body, with constant indices, instead of as loops.
//!
//! The copies share what they read in common (both outputs of a butterfly pair read the
//! same two inputs), and what depends only on their indices folds into constants (the
//! shift amounts that unpack a word's codes). A buffer's elements may be written in any
//! order, so only materializations (`element.rs`) make copies.

use std::collections::BTreeSet;

use super::index::log2;
use super::loops::Level;

/// The most two-iteration levels a materialization runs as copies of its inner loop body.
const JAMMED_LEVELS: usize = 2;

/// The most bits of a thread's run (GPU) whose every butterfly partner a materialization
/// runs as a copy of its body, the innermost level included: a run of up to 8 elements is
/// unrolled anyway (`loops.rs`), so the copies cost no code, and a chain of in-run stages
/// (a HIGGS group's strides 4, 2 and 1 at 8 values a thread) stays in registers.
const GPU_JAMMED_RUN_BITS: u32 = 3;

/// Whether a GPU materialization whose threads run `run_bits` bits of its index jams every
/// partner inside the run ([`GPU_JAMMED_RUN_BITS`]).
pub(crate) fn jams_whole_run(run_bits: u32) -> bool {
    run_bits <= GPU_JAMMED_RUN_BITS
}

/// The most iterations of a level around a one-vector innermost loop that a CPU
/// materialization runs as copies of its body ([`jam_short_level`]).
const JAMMED_SHORT_TRIPS: u32 = 8;

/// On the CPU, takes the level around the innermost out of `levels` when the innermost is
/// at most one vector (16 elements) and that level at most [`JAMMED_SHORT_TRIPS`]
/// iterations: its copies then run with constant indices, so what depends on them folds
/// (the shift amounts unpacking a word's codes, one per copy, vectorized across the
/// words: left a loop, LLVM shifted by the loop counter behind a range check, HIGGS's
/// 2-bit dequantizer). `None` where the levels are not so.
pub(super) fn jam_short_level(levels: &mut Vec<Level>) -> Option<Vec<Level>> {
    let [.., around, inner] = levels.as_slice() else { return None };
    if inner.lo != 0 || inner.bits > 4 || around.bits > log2(JAMMED_SHORT_TRIPS) || around.lo != inner.bits {
        return None;
    }
    let around = levels.remove(levels.len() - 2);
    Some(vec![around])
}

/// Takes every one-bit level of `flips` out of `levels` (the innermost too).
pub(super) fn jam_all(levels: &mut Vec<Level>, flips: &BTreeSet<u32>) -> Vec<Level> {
    let (jammed, rest) = levels.drain(..).partition(|l| l.bits == 1 && flips.contains(&l.lo));
    *levels = rest;
    jammed
}

/// Takes up to [`JAMMED_LEVELS`] one-bit levels other than the innermost out of `levels`:
/// the `pairs` first, whose copies share their reads; then, with `fill`, any.
pub(super) fn jam_levels(levels: &mut Vec<Level>, pairs: &BTreeSet<u32>, fill: bool) -> Vec<Level> {
    let Some(inner) = levels.len().checked_sub(1) else { return Vec::new() };
    let mut jammed = Vec::new();
    let passes: &[bool] = if fill { &[true, false] } else { &[true] };
    for &wanted in passes {
        let mut i = 0;
        while i < inner - jammed.len() && jammed.len() < JAMMED_LEVELS {
            if levels[i].bits == 1 && pairs.contains(&levels[i].lo) == wanted {
                jammed.push(levels.remove(i));
            } else {
                i += 1;
            }
        }
    }
    jammed
}
