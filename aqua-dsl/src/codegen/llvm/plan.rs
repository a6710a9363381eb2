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
//! - a sink inside a `for` body that the value is defined outside of would recompute it
//!   every iteration, so such values get a buffer;
//! - a `load` must read memory as it was at its own position: it is lazy only when its
//!   sink is in the same region and no store to the same parameter (or loop or branch
//!   containing one) comes between them, the sink included;
//! - `dot` reads each operand element many times, so its operands are buffers (or views).
//!
//! Results of reductions, `dot`, `for` and `if`, and loop-carried blocks are buffers.

use std::collections::BTreeSet;

use crate::analysis::PointerBases;
use crate::ir::{Inst, Kernel, Op, Region, UnOp, ValueId};

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
                Op::For { body, .. } => w = self.region(body, Some(id), true, bases),
                Op::If { then_body, else_body, .. } => {
                    w = self.region(then_body, Some(id), false, bases);
                    w.extend(self.region(else_body, Some(id), false, bases));
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

/// The most element-wise ops a value may cost and still be recomputed in every sink.
const CHEAP_OPS: u32 = 6;

/// Ops whose block result can be computed element by element where it is used.
fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Splat { .. }
            | Op::Arange { .. }
            | Op::Binary { .. }
            | Op::Unary { .. }
            | Op::Cmp { .. }
            | Op::Select { .. }
            | Op::Fma { .. }
            | Op::Cast { .. }
            | Op::Bitcast { .. }
            | Op::Broadcast { .. }
            | Op::ExpandDims { .. }
            | Op::Reshape { .. }
            | Op::Trans { .. }
            | Op::PtrAdd { .. }
            | Op::Load { .. }
            | Op::Gather { .. }
    )
}

pub(crate) fn plan(k: &Kernel, bases: &PointerBases) -> Plan {
    let n = k.values.len();
    let mut w = Walk {
        sites: Vec::new(),
        regions: Vec::new(),
        def: vec![None; n],
        uses: vec![Vec::new(); n],
        writes: Vec::new(),
        region_args: Vec::new(),
    };
    w.region(&k.body, None, false, bases);

    let mut place: Vec<Place> =
        k.values.iter().map(|t| if t.is_scalar() { Place::Scalar } else { Place::Buffer }).collect();
    // Views: free to index from any number of sinks. Pre-order defines operands first.
    let mut free = vec![false; n];
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
                    matches!(w.sites[d].inst.op, Op::Reduce { .. } | Op::Dot { .. } | Op::For { .. } | Op::If { .. })
                })
        };
        free[v.0 as usize] = match &site.inst.op {
            Op::Splat { .. } | Op::Arange { .. } => true,
            Op::Broadcast { arg, .. } | Op::ExpandDims { arg, .. } | Op::Reshape { arg, .. } | Op::Trans { arg } => {
                is_buffer(*arg, &free)
            }
            _ => false,
        };
    }

    // Cost of recomputing each block (element-wise ops in its tree; `u32::MAX` when it
    // reads memory or calls a math function).
    let mut cost = vec![0u32; n];
    for site in &w.sites {
        let Some(&v) = site.inst.results.first() else { continue };
        if k.ty(v).is_scalar() || free[v.0 as usize] || !is_elementwise(&site.inst.op) {
            continue;
        }
        let own = match &site.inst.op {
            Op::Load { .. } | Op::Gather { .. } => u32::MAX,
            Op::Unary { op: UnOp::Exp | UnOp::Log | UnOp::Sqrt | UnOp::Rsqrt, .. } => u32::MAX,
            _ => 1,
        };
        cost[v.0 as usize] = site.inst.op.operands().iter().fold(own, |c, o| c.saturating_add(cost[o.0 as usize]));
    }

    // Sinks, decided from the last instruction back, so every use is decided first.
    let mut sinks: Vec<Vec<usize>> = vec![Vec::new(); n];
    for site_id in (0..w.sites.len()).rev() {
        let site = &w.sites[site_id];
        if site.inst.results.len() != 1 || !is_elementwise(&site.inst.op) {
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
        let mut needs_buffer = false;
        for &u in &w.uses[vi] {
            let user = w.sites[u].inst;
            if matches!(user.op, Op::Dot { .. }) {
                needs_buffer = true;
            }
            match user.results.first() {
                Some(r) if user.results.len() == 1 && place[r.0 as usize] == Place::Lazy => {
                    set.extend(sinks[r.0 as usize].iter().copied());
                }
                _ => {
                    set.insert(u);
                }
            }
        }
        let lazy = if free[vi] || (cost[vi] <= CHEAP_OPS && !needs_buffer) {
            true
        } else if needs_buffer || set.len() > 1 {
            false
        } else if let Some(&s) = set.first() {
            match &site.inst.op {
                Op::Load { ptr, .. } => load_can_move(&w, site_id, s, bases.get(ptr).copied()),
                _ => w.same_loop_level(site.region, w.sites[s].region),
            }
        } else {
            true // unused: never computed
        };
        if lazy {
            place[vi] = Place::Lazy;
            sinks[vi] = set.into_iter().collect();
        } else {
            sinks[vi] = vec![site_id];
        }
    }
    Plan { place }
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
mod tests {
    use super::*;
    use crate::analysis::pointer_bases;
    use crate::build::*;
    use crate::ir::{DType, Param, ParamKind};

    fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
        Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
    }

    fn places(body: fn(&[Value]), params: Vec<Param>) -> (Kernel, Plan) {
        let k = build_kernel("plan_test", params, body).unwrap();
        let bases = pointer_bases(&k).unwrap();
        let p = plan(&k, &bases);
        (k, p)
    }

    fn place_of(k: &Kernel, p: &Plan, name: &str) -> Vec<Place> {
        let mut out = vec![];
        k.walk(&mut |i| {
            if i.op.name() == name {
                out.push(p.of(i.results[0]));
            }
        });
        out
    }

    #[test]
    fn an_elementwise_chain_fuses_into_its_store() {
        let (k, p) = places(
            |a| {
                let offs = arange(64);
                let x = load(a[0] + offs);
                store(a[1] + offs, (x * 2.0 + 1.0).exp());
            },
            vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true)],
        );
        assert_eq!(place_of(&k, &p, "load"), vec![Place::Lazy]);
        assert_eq!(place_of(&k, &p, "exp"), vec![Place::Lazy]);
    }

    #[test]
    fn a_value_used_by_two_sinks_gets_a_buffer() {
        let (k, p) = places(
            |a| {
                let x = load(a[0] + arange(64)).exp();
                let s = x.sum(0);
                store(a[1] + arange(64), x / s);
            },
            vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true)],
        );
        assert_eq!(place_of(&k, &p, "exp"), vec![Place::Buffer]);
        assert_eq!(place_of(&k, &p, "load"), vec![Place::Lazy]);
    }

    #[test]
    fn cheap_offsets_and_masks_are_recomputed_in_every_sink() {
        let (k, p) = places(
            |a| {
                let offs = program_id(0) * 64 + arange(64);
                let m = offs.lt(100);
                let x = load_masked(a[0] + offs, m).exp();
                store_masked(a[1] + offs, x / x.sum(0), m);
            },
            vec![ptr("x", DType::F32, false), ptr("y", DType::F32, true)],
        );
        // `offs` and the mask feed the load and the store: still lazy (affine indexing).
        assert_eq!(place_of(&k, &p, "add"), vec![Place::Lazy]);
        assert_eq!(place_of(&k, &p, "cmp"), vec![Place::Lazy]);
        assert_eq!(place_of(&k, &p, "exp"), vec![Place::Buffer]);
    }

    #[test]
    fn a_load_does_not_move_past_a_store_to_its_buffer() {
        let (k, p) = places(
            |a| {
                let offs = arange(64);
                let y = load(a[0] + offs);
                store(a[0] + offs, y + 1.0);
            },
            vec![ptr("y", DType::F32, true)],
        );
        assert_eq!(place_of(&k, &p, "load"), vec![Place::Buffer]);
    }

    #[test]
    fn values_used_inside_a_loop_are_not_recomputed_there() {
        let (k, p) = places(
            |a| {
                let x = arange(64).cast::<f32>().exp();
                for_range(0, 4, 1, &[], |i, _| {
                    store(a[0] + arange(64) + i * 64, x);
                    vec![]
                });
            },
            vec![ptr("y", DType::F32, true)],
        );
        assert_eq!(place_of(&k, &p, "exp"), vec![Place::Buffer]);
        assert_eq!(place_of(&k, &p, "arange")[0], Place::Lazy);
    }
}
