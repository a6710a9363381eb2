//! The fusion plan: where each value lives in the generated code.
//!
//! Scalars are LLVM registers. A block is either *lazy*, computed element by element
//! inside the loop of the one op that consumes it (its *sink*: a store, a reduction, a
//! materialization, a yield), so a chain of element-wise ops becomes a single loop with
//! its intermediates in registers; or a *buffer* on the stack, written by its own loop.
//!
//! A block is lazy when all its uses end in one sink (the same loop, where LLVM's CSE
//! merges repeated uses) and recomputing it there is safe and cheap:
//! - views (`splat`, `arange`, and shape ops over buffers) are always lazy: indexing them
//!   costs nothing; so are *cheap* values (a few integer or float ops over views, no
//!   memory access, no math calls), recomputed in every sink: offsets and masks like
//!   `pid * B + arange(B) < n` then stay affine in the loop variable, so loads and stores
//!   through them vectorize as contiguous accesses instead of gathers;
//! - a value whose sink would compute one of its elements several times (under a
//!   broadcast: the inverse of a group's scale used by every value of the group; in every
//!   iteration of a `for` it is defined outside of) gets a buffer unless it is cheap. A
//!   broadcast along a dim of two evaluated at its sink's own index does not count: a
//!   materialization runs such dims as copies of its loop body that share their reads
//!   (`element.rs`), which is what a butterfly's interleaved pair needs;
//! - a `load` must read memory as it was at its own position: it is lazy only when its
//!   sink is in the same region and no store to the same parameter (or loop or branch
//!   containing one) comes between them, the sink included. On a GPU an unmasked load
//!   (and a few ops over it) under a broadcast along the sink's last dims is loaded again
//!   by each use ([`reloads`]): a group's scale, a word of packed codes. On the CPU a
//!   block of unmasked loads and a few ops read by several sinks is loaded again by each
//!   ([`reread_by_sinks`]): a tile's values, read for a quantizer's range and its codes;
//! - `dot` reads each operand element many times, so its operands are buffers (or views);
//! - a transpose of a 2-D block with both dims at least 8 is a buffer filled tile by tile
//!   from its operand's buffer (`transpose.rs`), so consumers read it in order.
//!
//! Costs count element-wise ops (a division as [`DIVISION`], loads and math calls as too
//! many, values built from literals and `arange` alone as one). Placement runs in rounds:
//! the first costs every operand as recomputed, the next ones count reading an expensive
//! op's buffer from the previous round as free (`1 / scale` with a buffer makes the
//! values scaled by it cheap). On a GPU, where a buffer costs a pass through shared
//! memory and a barrier, "cheap" allows a few more ops where a sink computes each element
//! once (`GPU_CHEAP_OPS`), and a block above that keeps a buffer it got once and is free
//! to read from then on: the two coordinates split off a HIGGS butterfly's pairs are
//! then computed by each sink that reads them instead of getting passes of their own. A
//! reshape or broadcast of a block that got a buffer anyway indexes that buffer.
//!
//! A reduction along a short axis (at most [`FUSED_AXIS`] long) with a block result is
//! element-wise too: each result element combines a few elements of its operand
//! (`reduce/fused.rs`), so it fuses like any other op (a butterfly's pair sums, a norm's
//! halving steps). Its cost counts its operand once per element of the axis.
//! Results of other reductions, `dot`, `for` and `if`, and loop-carried blocks are buffers.

use std::collections::BTreeSet;

use super::table_lookup;
use super::transpose::TILE;
use crate::analysis::PointerBases;
use crate::ir::{BinOp, Inst, Kernel, Op, Region, UnOp, ValueId};

mod partner;
mod rules;

use partner::{xor_partner, Partner};
use rules::{is_cheap, reloads, reread_by_sinks, stays_buffered};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Scalar,
    Lazy,
    Buffer,
}

pub(crate) struct Plan {
    place: Vec<Place>,
}

impl Plan {
    pub(crate) fn of(&self, v: ValueId) -> Place {
        self.place[v.0 as usize]
    }
}

/// One instruction in pre-order, with where it sits.
struct Site<'k> {
    inst: &'k Inst,
    region: usize,
    pos: usize,
}

struct RegionInfo {
    parent: Option<usize>,
    is_loop_body: bool,
}

struct Walk<'k> {
    sites: Vec<Site<'k>>,
    regions: Vec<RegionInfo>,
    def: Vec<Option<usize>>,
    uses: Vec<Vec<usize>>,
    /// Parameters each instruction may store to (loops and branches: their bodies').
    writes: Vec<BTreeSet<usize>>,
    /// Region args that are loop-carried blocks.
    region_args: Vec<ValueId>,
}

impl<'k> Walk<'k> {
    fn region(
        &mut self,
        r: &'k Region,
        parent: Option<usize>,
        is_loop_body: bool,
        bases: &PointerBases,
        skipped: &[&Region],
    ) -> BTreeSet<usize> {
        let id = self.regions.len();
        self.regions.push(RegionInfo { parent, is_loop_body });
        self.region_args.extend(r.args.iter().copied());
        let mut all = BTreeSet::new();
        for (pos, inst) in r.insts.iter().enumerate() {
            let site = self.sites.len();
            self.sites.push(Site { inst, region: id, pos });
            self.writes.push(BTreeSet::new());
            for v in inst.op.operands() {
                self.uses[v.0 as usize].push(site);
            }
            for v in &inst.results {
                self.def[v.0 as usize] = Some(site);
            }
            let mut w = BTreeSet::new();
            match &inst.op {
                Op::Store { ptr, .. } => {
                    if let Some(&b) = bases.get(ptr) {
                        w.insert(b);
                    }
                }
                Op::For { body, .. } => w = self.region(body, Some(id), true, bases, skipped),
                Op::If { then_body, else_body, .. } => {
                    for body in [then_body, else_body] {
                        if !skipped.iter().any(|s| std::ptr::eq(*s, body)) {
                            w.extend(self.region(body, Some(id), false, bases, skipped));
                        }
                    }
                }
                _ => {}
            }
            all.extend(w.iter().copied());
            self.writes[site] = w;
        }
        all
    }

    /// Whether code in region `inner` runs once per run of region `outer` (it is
    /// `outer` or nested in it through branches only).
    fn same_loop_level(&self, outer: usize, mut inner: usize) -> bool {
        while inner != outer {
            let r = &self.regions[inner];
            match r.parent {
                Some(p) if !r.is_loop_body => inner = p,
                _ => return false,
            }
        }
        true
    }
}

/// The cost of a division: a vector division takes about as long as eight other ops, so
/// one is never worth recomputing under a broadcast (the inverse of a group's scale).
const DIVISION: u32 = 8;

/// The longest axis a reduction may have to be computed element-wise (fused).
const FUSED_AXIS: u32 = 4;

/// The length of the reduced axis when `op` is a reduction computed element-wise: a block
/// result and an axis of at most [`FUSED_AXIS`] elements.
pub(crate) fn fused_reduce(k: &Kernel, op: &Op) -> Option<u32> {
    let Op::Reduce { arg, axis, .. } = op else { return None };
    let shape = &k.ty(*arg).shape;
    let n = *shape.dims().get(*axis as usize)?;
    (shape.rank() >= 2 && !k.ty(*arg).is_ptr() && n <= FUSED_AXIS).then_some(n)
}

/// Whether `op` is a transpose done tile by tile (`transpose.rs`): a 2-D block with both
/// dims at least a tile, from its operand's buffer into its own.
pub(crate) fn tiled_trans(k: &Kernel, op: &Op) -> bool {
    let Op::Trans { arg } = op else { return false };
    let ty = k.ty(*arg);
    matches!(ty.shape.dims(), &[r, c] if r >= TILE && c >= TILE) && !ty.is_ptr()
}

/// The indices of a gather looked up in registers (`table_lookup.rs`): the lookup reads
/// them from a buffer, 16 at a time, and fills a buffer of its own. An index computed in
/// each sink (a grid point's index in the HIGGS search, a shift and a mask of a packed
/// word) made every lookup a hardware gather.
fn register_lookup_index(target: PlanTarget, k: &Kernel, op: &Op) -> Option<ValueId> {
    match *op {
        Op::Gather { table, index } if target.register_lookups && table_lookup::fits_registers(k, table, index) => {
            Some(index)
        }
        _ => None,
    }
}

/// Ops whose block result can be computed element by element where it is used.
fn is_elementwise(k: &Kernel, op: &Op) -> bool {
    if tiled_trans(k, op) {
        return false;
    }
    fused_reduce(k, op).is_some()
        || op.is_arithmetic()
        || matches!(
            op,
            Op::Splat { .. }
                | Op::Arange { .. }
                | Op::Broadcast { .. }
                | Op::ExpandDims { .. }
                | Op::Reshape { .. }
                | Op::Trans { .. }
                | Op::XorPermute { .. }
                | Op::PtrAdd { .. }
                | Op::Load { .. }
                | Op::Gather { .. }
        )
}

/// Placement rounds at most (see the module docs); they stop when one changes nothing.
const PLAN_ROUNDS: usize = 3;

/// What placement needs to know of the target.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PlanTarget {
    /// Threads per CTA on GPU targets (`None` on the CPU), where an `xor_permute` may read
    /// its partner with a warp shuffle.
    pub threads: Option<u32>,
    /// A CPU that looks small tables up in registers (`table_lookup.rs`): much faster
    /// than hardware gathers, but only into a buffer, so such gathers get one.
    pub register_lookups: bool,
}

/// Places every value of `k` for `target`, in a module that lowers none of the regions
/// in `skipped` (a specialized `if`'s form that lives in the other module): their uses
/// would only make the values they read look shared.
pub(crate) fn plan(k: &Kernel, bases: &PointerBases, target: PlanTarget, skipped: &[&Region]) -> Plan {
    let w = Walk::of(k, bases, skipped);
    let free = views_of_buffers(k, &w);
    let mut place: Vec<Place> =
        k.values.iter().map(|t| if t.is_scalar() { Place::Scalar } else { Place::Buffer }).collect();
    for round in 0..PLAN_ROUNDS {
        let prior = (round > 0).then_some(place.as_slice());
        let cost = Costs {
            each: costs(k, &w, &free, prior, target, u32::MAX),
            loads_once: costs(k, &w, &free, prior, target, 1),
        };
        let next = decide(k, &w, &free, &cost, bases, target, prior);
        if next == place {
            break;
        }
        place = next;
    }
    Plan { place }
}

impl<'k> Walk<'k> {
    fn of(k: &'k Kernel, bases: &PointerBases, skipped: &[&Region]) -> Walk<'k> {
        let n = k.values.len();
        let mut w = Walk {
            sites: Vec::new(),
            regions: Vec::new(),
            def: vec![None; n],
            uses: vec![Vec::new(); n],
            writes: Vec::new(),
            region_args: Vec::new(),
        };
        w.region(&k.body, None, false, bases, skipped);
        w
    }
}

/// Views of values that are always buffers (splat, arange, shape ops over reduction,
/// `dot`, `for` and `if` results and loop-carried blocks): free to index from any number
/// of sinks. Pre-order defines operands first.
fn views_of_buffers(k: &Kernel, w: &Walk) -> Vec<bool> {
    let mut free = vec![false; k.values.len()];
    for site in &w.sites {
        let Some(&v) = site.inst.results.first() else { continue };
        if k.ty(v).is_scalar() {
            continue;
        }
        let is_buffer = |x: ValueId, free: &[bool]| {
            let xi = x.0 as usize;
            free[xi]
                || w.region_args.contains(&x)
                || w.def[xi].is_some_and(|d| {
                    let op = &w.sites[d].inst.op;
                    matches!(op, Op::Reduce { .. } | Op::Dot { .. } | Op::For { .. } | Op::If { .. })
                        && fused_reduce(k, op).is_none()
                        || tiled_trans(k, op)
                })
        };
        free[v.0 as usize] = match &site.inst.op {
            Op::Splat { .. } | Op::Arange { .. } => true,
            op if tiled_trans(k, op) => false,
            Op::Broadcast { arg, .. }
            | Op::ExpandDims { arg, .. }
            | Op::Reshape { arg, .. }
            | Op::Trans { arg }
            | Op::XorPermute { arg, .. } => is_buffer(*arg, &free),
            _ => false,
        };
    }
    free
}

/// The cost of computing each block element where it is used: element-wise ops in its
/// tree (a fused reduction counts its operand once per element of its axis), `u32::MAX`
/// when it reads memory or calls a math function, but `load` for an unmasked load.
/// Reading an expensive op's block that `prior` put in a buffer costs nothing; on a GPU,
/// so does reading any block that is not cheap ([`stays_buffered`]).
fn costs(k: &Kernel, w: &Walk, free: &[bool], prior: Option<&[Place]>, target: PlanTarget, load: u32) -> Vec<u32> {
    let n = k.values.len();
    let (mut own, mut read) = (vec![0u32; n], vec![0u32; n]);
    // Blocks computed from literals and `arange` alone: LLVM folds them (a sign pattern
    // read at a fused reduction's fixed coordinate is a constant), so they cost one op.
    let mut literal = vec![false; n];
    for site in &w.sites {
        let Some(&v) = site.inst.results.first() else { continue };
        let vi = v.0 as usize;
        let op = &site.inst.op;
        let (op_cost, per_operand) = match op {
            Op::Load { mask: None, .. } => (load, 1),
            Op::Load { .. } | Op::Gather { .. } => (u32::MAX, 1),
            Op::Unary { op: UnOp::Exp | UnOp::Log | UnOp::Sqrt | UnOp::Rsqrt, .. } => (u32::MAX, 1),
            Op::Binary { op: BinOp::Div | BinOp::Rem, .. } => (DIVISION, 1),
            // Its operand at two indices, unless the partner comes for free (`decide`).
            Op::XorPermute { .. } => (1, 2),
            // An address costs what its offsets cost: recomputed, it folds into the
            // access, where a buffer of pointers is 8 bytes an element to fill.
            Op::PtrAdd { .. } => (0, 1),
            op => fused_reduce(k, op).map_or((1, 1), |n| (n, n)),
        };
        literal[vi] = match op {
            Op::Const(_) | Op::Arange { .. } => true,
            _ => op_cost == 1 && is_elementwise(k, op) && op.operands().iter().all(|o| literal[o.0 as usize]),
        };
        if k.ty(v).is_scalar() || free[vi] || !is_elementwise(k, op) {
            continue;
        }
        if literal[vi] {
            (own[vi], read[vi]) = (1, 1);
            continue;
        }
        own[vi] = site
            .inst
            .op
            .operands()
            .iter()
            .fold(op_cost, |c, o| c.saturating_add(read[o.0 as usize].saturating_mul(per_operand)));
        // Only expensive ops' buffers are free to read: cheap ones may be recomputed in
        // the next round after all (and placement would then flip back and forth). On a
        // GPU a block that is not cheap keeps its buffer (`decide`).
        let buffered =
            prior.is_some_and(|p| p[vi] == Place::Buffer) && (op_cost >= DIVISION || stays_buffered(target, own[vi]));
        read[vi] = if buffered { 0 } else { own[vi] };
    }
    own
}

/// Element costs of every value: `each` as [`costs`] says, `loads_once` with an unmasked
/// load counted as one op.
struct Costs {
    each: Vec<u32>,
    loads_once: Vec<u32>,
}

/// Places every block given the costs: sinks decided from the last instruction back, so
/// every use is decided first. A block that got a buffer in the `prior` round keeps it
/// where [`stays_buffered`] says.
fn decide(
    k: &Kernel,
    w: &Walk,
    free: &[bool],
    costs: &Costs,
    bases: &PointerBases,
    target: PlanTarget,
    prior: Option<&[Place]>,
) -> Vec<Place> {
    let cost = &costs.each;
    let n = k.values.len();
    let mut place: Vec<Place> =
        k.values.iter().map(|t| if t.is_scalar() { Place::Scalar } else { Place::Buffer }).collect();
    // `evals[v]`: how many element evaluations of `v` its sinks would make if it is lazy
    // (uses at the same index in one sink count once, see `Lowerer::elem`).
    let numel = |v: ValueId| k.ty(v).shape.numel() as u64;
    let mut sinks: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut evals = vec![0u64; n];
    // `direct[v]`: `v` is only evaluated at its sinks' own indices (through ops that
    // keep the index).
    let mut direct = vec![true; n];
    // `jams[v]`: on the way from `v` to its sink, an `xor_permute` whose partners the
    // sink's materialization brings as copies of its loop body (CPU: one per sink).
    let mut jams = vec![false; n];
    // `scattered[v]`: on the way from `v` to its sink, a broadcast along a leading dim or
    // a transpose, so a thread's run of the sink reads many elements of `v`, not a few.
    let mut scattered = vec![false; n];
    for site_id in (0..w.sites.len()).rev() {
        let site = &w.sites[site_id];
        if site.inst.results.len() != 1 || !is_elementwise(k, &site.inst.op) {
            for v in &site.inst.results {
                sinks[v.0 as usize] = vec![site_id];
            }
            continue;
        }
        let v = site.inst.results[0];
        let vi = v.0 as usize;
        if place[vi] == Place::Scalar {
            sinks[vi] = vec![site_id];
            continue;
        }
        let mut set = BTreeSet::new();
        let mut needs_buffer = register_lookup_index(target, k, &site.inst.op).is_some();
        for &u in &w.uses[vi] {
            let user = w.sites[u].inst;
            if matches!(user.op, Op::Dot { .. })
                || tiled_trans(k, &user.op)
                || register_lookup_index(target, k, &user.op) == Some(v)
            {
                needs_buffer = true;
            }
            // A fused reduction reads `fan` elements of its operand per element; a
            // broadcast repeats each of them, except along dims of two when it is
            // evaluated at its sink's own index: materializations run such dims as
            // copies of their loop body, which share their reads (`element.rs`).
            // An `xor_permute` reads the partner of each element: a second evaluation,
            // unless a warp shuffle or a copy of the loop body brings it (`xor_permute.rs`).
            let partner = xor_partner(k, w, &place, &sinks, &direct, &jams, u, target.threads);
            let fan = match partner {
                Some(Partner::Reread) => 2,
                Some(_) => 1,
                None => fused_reduce(k, &user.op).unwrap_or(1) as u64,
            };
            let keeps_index = same_index(&user.op) || matches!(partner, Some(Partner::Shuffle | Partner::Jam));
            let jammed = partner == Some(Partner::Jam);
            scattered[vi] |= scatters(k, user);
            let reads = match user.results.first() {
                Some(r) if user.results.len() == 1 && place[r.0 as usize] == Place::Lazy => {
                    let ri = r.0 as usize;
                    set.extend(sinks[ri].iter().copied());
                    direct[vi] &= direct[ri] && keeps_index;
                    jams[vi] |= jams[ri] || jammed;
                    scattered[vi] |= scattered[ri];
                    let shared = if direct[ri] { pair_broadcast(k, user) } else { 1 };
                    evals[ri].saturating_mul(fan) / shared
                }
                Some(r) if user.results.len() == 1 && is_elementwise(k, &user.op) => {
                    set.insert(u);
                    direct[vi] &= keeps_index;
                    jams[vi] |= jammed;
                    numel(*r).saturating_mul(fan) / pair_broadcast(k, user)
                }
                _ => {
                    set.insert(u);
                    numel(v)
                }
            };
            evals[vi] = evals[vi].max(reads);
        }
        // Computing an element several times (under a broadcast; the pair of a butterfly
        // read by both of its outputs) is only worth it for cheap values.
        let repeated = evals[vi] > numel(v);
        let kept = prior.is_some_and(|p| p[vi] == Place::Buffer) && stays_buffered(target, cost[vi]);
        // Whether every sink may compute it: a load where nothing stores to its buffer in
        // between, anything else at the same loop level. (No sink: never computed.)
        let movable = |set: &BTreeSet<usize>| {
            set.iter().all(|&s| match &site.inst.op {
                Op::Load { ptr, .. } => load_can_move(w, site_id, s, bases.get(ptr).copied()),
                _ => w.same_loop_level(site.region, w.sites[s].region),
            })
        };
        let lazy = if kept {
            false
        } else if free[vi] || (is_cheap(target, cost[vi], repeated) && !needs_buffer) {
            true
        } else if needs_buffer {
            false
        } else if repeated {
            set.len() == 1 && reloads(target, costs.loads_once[vi], scattered[vi]) && movable(&set)
        } else if set.len() > 1 {
            reread_by_sinks(target, cost[vi], costs.loads_once[vi]) && movable(&set)
        } else {
            movable(&set)
        };
        if lazy {
            place[vi] = Place::Lazy;
            sinks[vi] = set.into_iter().collect();
        } else {
            sinks[vi] = vec![site_id];
        }
    }
    index_buffers_in_place(w, free, &mut place);
    place
}

/// A reshape or broadcast of a value that got a buffer anyway indexes that buffer instead
/// of copying it. (A transpose keeps its copy: its consumers then read it in order.)
fn index_buffers_in_place(w: &Walk, free: &[bool], place: &mut [Place]) {
    let mut indexes_buffer = free.to_vec();
    for site in &w.sites {
        let Some(&v) = site.inst.results.first() else { continue };
        if let Op::Broadcast { arg, .. } | Op::ExpandDims { arg, .. } | Op::Reshape { arg, .. } = &site.inst.op {
            let a = arg.0 as usize;
            if place[v.0 as usize] == Place::Buffer && (place[a] == Place::Buffer || indexes_buffer[a]) {
                place[v.0 as usize] = Place::Lazy;
                indexes_buffer[v.0 as usize] = true;
            }
        }
    }
}

/// Whether `inst` reads its operand's elements out of their order: a transpose, or a
/// broadcast along a dim with a longer dim after it (consecutive elements of the result
/// then come from elements of the operand far apart).
fn scatters(k: &Kernel, inst: &Inst) -> bool {
    match &inst.op {
        Op::Trans { .. } => true,
        Op::Broadcast { arg, .. } => {
            let (from, to) = (k.ty(*arg).shape.dims(), k.ty(inst.results[0]).shape.dims());
            let expanded = |i: usize| from[i] == 1 && to[i] > 1;
            (0..to.len()).any(|i| expanded(i) && (i + 1..to.len()).any(|j| !expanded(j) && to[j] > 1))
        }
        _ => false,
    }
}

/// Whether an element-wise op reads its operands at its own index (not a shape op or a
/// fused reduction).
fn same_index(op: &Op) -> bool {
    // Reshape and expand_dims keep the row-major linear index.
    !matches!(op, Op::Broadcast { .. } | Op::Trans { .. } | Op::XorPermute { .. } | Op::Reduce { .. })
}

/// The elements a broadcast makes of each of its operand's along dims of two (1 for
/// other ops).
fn pair_broadcast(k: &Kernel, inst: &Inst) -> u64 {
    let Op::Broadcast { arg, .. } = &inst.op else { return 1 };
    let (from, to) = (k.ty(*arg).shape.dims(), k.ty(inst.results[0]).shape.dims());
    from.iter().zip(to).filter(|&(&f, &t)| f == 1 && t == 2).map(|_| 2).product()
}

/// Whether a load at `def` may be performed at `sink` instead: same region, and nothing
/// from the load up to the sink stores to its parameter.
fn load_can_move(w: &Walk, def: usize, sink: usize, base: Option<usize>) -> bool {
    let (d, s) = (&w.sites[def], &w.sites[sink]);
    if d.region != s.region {
        return false;
    }
    let Some(base) = base else { return false };
    let between = w.sites.iter().enumerate().filter(|(_, x)| x.region == d.region && x.pos > d.pos && x.pos < s.pos);
    for (i, _) in between {
        if w.writes[i].contains(&base) {
            return false;
        }
    }
    // A loop or branch evaluates its operands before running its body.
    !(matches!(s.inst.op, Op::Store { .. }) && w.writes[sink].contains(&base))
}

#[cfg(test)]
mod tests;
