//! How an `xor_permute` gets each element's partner, which decides whether its operand
//! may stay lazy: a second evaluation, or the partner brought by a warp shuffle (GPU) or
//! by a copy of the sink's loop body (CPU). The lowering makes the same choice where it
//! emits the op (`llvm/xor_permute.rs`, `llvm/element.rs`).

use super::{is_elementwise, Place, Walk};
use crate::codegen::llvm::{jam, xor_permute};
use crate::ir::{Kernel, Op};

/// How an `xor_permute` gets the partner of the element it is evaluated at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Partner {
    /// Its operand evaluated at the partner's index as well (recomputed or reread).
    Reread,
    /// GPU: the partner's lane computes it at the same index and a warp shuffle brings it.
    Shuffle,
    /// The flipped bit is a level the sink's materialization runs as copies of its loop
    /// body, which compute both partners and share their reads (`element.rs`): on the
    /// CPU, and on a GPU where the bit is inside the thread's own run. One per
    /// materialization: two (four copies, two stages a pass) measured slower on the CPU.
    /// A GPU thread's run of at most 8 elements takes any number (`element.rs`).
    Jam,
}

/// [`Partner`] for the user at site `u` when it is an `xor_permute`: when it is evaluated
/// at its sinks' own indices, all of them materializations of its size, the shuffle
/// where the mask flips lane bits on a GPU, the copies of a one-bit mask inside the
/// thread's run when no other partner uses the materialization's copies; else a second
/// read.
#[allow(clippy::too_many_arguments)]
pub(super) fn xor_partner(
    k: &Kernel,
    w: &Walk,
    place: &[Place],
    sinks: &[Vec<usize>],
    direct: &[bool],
    jams: &[bool],
    u: usize,
    threads: Option<u32>,
) -> Option<Partner> {
    let user = w.sites[u].inst;
    let Op::XorPermute { arg, axis, mask } = &user.op else { return None };
    let flat = xor_permute::flat_mask(k, *arg, *axis, *mask);
    let r = user.results[0];
    let (ri, numel) = (r.0 as usize, k.ty(r).shape.numel() as u64);
    let lazy = place[ri] == Place::Lazy;
    let own_sinks = if lazy { sinks[ri].as_slice() } else { std::slice::from_ref(&u) };
    let at_own_index = (!lazy || direct[ri]) && own_sinks.iter().all(|&s| materializes(k, w, place, s, numel));
    let run_bits = xor_permute::run_bits(log2(numel), threads.map(|t| log2(t as u64)));
    // A GPU thread's short run jams all its partners (`element.rs`).
    let whole_run = threads.is_some() && jam::jams_whole_run(run_bits);
    let partner = match threads {
        Some(t) if at_own_index && xor_permute::lane_mask(flat, log2(numel), log2(t as u64)).is_some() => {
            Partner::Shuffle
        }
        _ if at_own_index && flat.is_power_of_two() && log2(flat) < run_bits && (!jams[ri] || whole_run) => {
            Partner::Jam
        }
        _ => Partner::Reread,
    };
    Some(partner)
}

/// Whether site `s` fills a buffer of `numel` elements with an element-wise value: a sink
/// that evaluates its operands at its own flat index, spread over threads as a block.
fn materializes(k: &Kernel, w: &Walk, place: &[Place], s: usize, numel: u64) -> bool {
    let inst = w.sites[s].inst;
    match inst.results.first() {
        Some(&v) if inst.results.len() == 1 => {
            place[v.0 as usize] == Place::Buffer
                && is_elementwise(k, &inst.op)
                && !matches!(inst.op, Op::Gather { .. } | Op::Trans { .. })
                && k.ty(v).shape.numel() as u64 == numel
        }
        _ => false,
    }
}

fn log2(n: u64) -> u32 {
    n.trailing_zeros()
}
