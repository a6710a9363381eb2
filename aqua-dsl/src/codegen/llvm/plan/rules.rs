//! The placement rules: when a block is computed again in each of its sinks (cheap),
//! loaded again by each (a GPU's parameters under a broadcast, a CPU's tile read by two
//! sinks), or kept in the buffer it got, by target. [`super::decide`] applies them.

use super::PlanTarget;

/// The most element-wise ops a value may cost and still be recomputed in every sink, on a
/// GPU (the CPU allows [`CPU_CHEAP_OPS`]).
const CHEAP_OPS: u32 = 6;

/// [`CHEAP_OPS`] on GPU targets for a value each sink computes once per element (not under
/// a broadcast): a tuple coordinate split off a pair (a sum over an axis of two, with a
/// sign: 8) is cheap, a division ([`super::DIVISION`] plus its operands) is not.
const GPU_CHEAP_OPS: u32 = 8;

/// [`CHEAP_OPS`] on the CPU: a KIVI tile's two-dimensional offsets (`t * channels + c`,
/// 8 ops) are recomputed in each sink, where LLVM folds them into the loops' addressing
/// and vectorizes the loads and stores; a buffer of them made each a gather or a scatter
/// (one-core 2-bit KIVI quantize about 3 times faster, `docs/codegen.md`).
const CPU_CHEAP_OPS: u32 = 8;

/// The most ops (a load counting one, its offsets included) of a block that CPU sinks
/// load again each (`reread_by_sinks`): a tile's values at two-dimensional offsets, the
/// KIVI tile's f16 values widened (8 ops of offsets, the load and the widening: KIVI
/// quantize 8% faster than through an f32 buffer). At 14 the HIGGS dequantizer's codebook
/// values would be read again too, at half its speed.
const CPU_REREAD_OPS: u32 = 11;

/// Whether a block computed from unmasked loads and at most [`GPU_CHEAP_OPS`] ops
/// (`loads_once`) is computed again for each of its uses under a broadcast, instead of
/// getting a buffer: on a GPU, where it is not `scattered` (a thread's run of the sink then
/// reads one element, or a few, many times: the quantizers' per-group scales and a word
/// of packed codes). LLVM merges a thread's repeated loads (CSE across a run's copies,
/// LICM out of its loops; buffer parameters are `noalias`), so the block costs a load or
/// two a thread where the buffer cost a pass of its own, a barrier, and a shared load
/// for every use. Masked loads do not count: inside a sink they would keep it from
/// running unmasked where its run is whole (`vector.rs`).
pub(super) fn reloads(target: PlanTarget, loads_once: u32, scattered: bool) -> bool {
    target.threads.is_some() && !scattered && loads_once <= GPU_CHEAP_OPS
}

/// Whether a block read by several sinks, once per element each, is loaded again by each
/// instead of getting a buffer: on the CPU, a block of unmasked loads (`cost` is
/// `u32::MAX` for their sake alone) and at most [`CPU_REREAD_OPS`] ops in all. Reading a
/// tile's f16 values twice (a quantizer's range, then its codes) costs two loads and two
/// conversions an element, where the buffer cost a conversion, a store and two loads.
pub(super) fn reread_by_sinks(target: PlanTarget, cost: u32, loads_once: u32) -> bool {
    target.threads.is_none() && cost == u32::MAX && loads_once <= CPU_REREAD_OPS
}

/// Whether a block of element cost `cost` that got a buffer keeps it in later rounds, so
/// its readers count reading it as free: on a GPU, where recomputing a block in every
/// sink that reads it saves a pass through shared memory and a barrier each, for blocks
/// that are not cheap even there (a butterfly's output read by a split into tuple
/// coordinates, whose halves are then cheap enough for every sink of the search to
/// compute from it).
pub(super) fn stays_buffered(target: PlanTarget, cost: u32) -> bool {
    target.threads.is_some() && cost > GPU_CHEAP_OPS
}

/// Whether a block of element cost `cost` is cheap enough to be recomputed in each of its
/// sinks (`repeated`: also for several elements in one sink, under a broadcast). On a GPU
/// a few more ops pay where each is computed once ([`GPU_CHEAP_OPS`]); computed again for
/// every element of a group they would not (a group's scale rounded to f16). On the CPU
/// up to [`CPU_CHEAP_OPS`].
pub(super) fn is_cheap(target: PlanTarget, cost: u32, repeated: bool) -> bool {
    match target.threads {
        None => cost <= CPU_CHEAP_OPS,
        Some(_) => cost <= CHEAP_OPS || (!repeated && cost <= GPU_CHEAP_OPS),
    }
}
