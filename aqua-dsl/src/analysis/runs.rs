//! Runs of consecutive and of equal values along each dim of integer and pointer blocks,
//! and what their first values are divisible by (Triton's axis info); for boolean blocks
//! (masks), runs of equal values.
//!
//! Code generators use it to address memory by runs: where a block of offsets is
//! `s, s + 1, ...` over aligned stretches of its last dim and `s` is a multiple of 8, a GPU
//! thread's 8 neighbouring elements are one 16-byte access whatever arithmetic produced
//! the offsets (`codegen/llvm/runs.rs`); a CPU does the same in blocks that are not one
//! run over all their rows ([`super::one_run_blocks`]). The rules follow the arithmetic of the
//! IR: `i32` offsets wrap, but a run that wrapped would reach a negative offset, outside
//! every buffer, so the facts hold for every access a kernel may make.
//!
//! All quantities are base-2 logarithms, and "divisible by `2^31`" stands for zero.

use std::collections::HashMap;

use crate::ir::{BinOp, DType, Kernel, Lit, Op, ValueId};

/// Divisibility of zero (and the cap of every divisibility).
pub const ANY: u32 = 31;

/// Along one dim: positions `[m * 2^contig, (m + 1) * 2^contig)` hold `s, s + 1, ...`,
/// positions `[m * 2^same, (m + 1) * 2^same)` hold one value, and the value at the first
/// position of every such run (or at every position, when both are 0) is a multiple of
/// `2^div`. At most one of `contig` and `same` is above 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Axis {
    pub contig: u32,
    pub same: u32,
    pub div: u32,
}

impl Axis {
    /// A dim with nothing known.
    pub const UNKNOWN: Axis = Axis { contig: 0, same: 0, div: 0 };

    /// Divisibility of the values at positions that are multiples of `2^at`.
    pub fn div_at(self, at: u32) -> u32 {
        if self.contig > at {
            self.div.min(at)
        } else {
            self.div
        }
    }
}

/// What is known of one value: one [`Axis`] per dim, and a divisibility of every element.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Runs {
    pub axes: Vec<Axis>,
    pub elem_div: u32,
}

impl Runs {
    fn unknown(rank: usize) -> Runs {
        Runs { axes: vec![Axis::UNKNOWN; rank], elem_div: 0 }
    }

    /// A scalar (or a splat of one) whose value is a multiple of `2^div`.
    fn uniform(dims: &[u32], div: u32) -> Runs {
        Runs { axes: dims.iter().map(|&d| Axis { contig: 0, same: log2(d), div }).collect(), elem_div: div }
    }

    /// The last dim's facts ([`Axis::UNKNOWN`] for scalars).
    pub fn last(&self) -> Axis {
        self.axes.last().copied().unwrap_or(Axis::UNKNOWN)
    }
}

/// The facts of every integer, pointer and boolean value of `kernel` that has any (others, and
/// values carried by loops or yielded by branches, are unknown).
pub fn runs(kernel: &Kernel) -> HashMap<ValueId, Runs> {
    let mut out = HashMap::new();
    for (i, &arg) in kernel.body.args.iter().enumerate() {
        // A pointer parameter is its buffer's start: offset zero.
        if kernel.params.get(i).is_some() && kernel.ty(arg).is_ptr() {
            out.insert(arg, Runs { axes: vec![], elem_div: ANY });
        }
    }
    kernel.walk(&mut |inst| {
        let [r] = inst.results[..] else { return };
        let ty = kernel.ty(r);
        if !(ty.is_ptr() || ty.dtype().is_int() || ty.dtype() == DType::Bool) {
            return;
        }
        let dims = ty.shape.dims();
        let get = |v: ValueId| out.get(&v).cloned().unwrap_or_else(|| Runs::unknown(kernel.ty(v).shape.rank()));
        let facts = match &inst.op {
            Op::Const(c) => match c.lit {
                Lit::Int(v) => Some(Runs::uniform(dims, int_div(v))),
                _ => None,
            },
            Op::Arange { start, end } => {
                let n = log2((end - start) as u32);
                let axis = Axis { contig: n, same: 0, div: int_div(i64::from(*start)) };
                Some(Runs { axes: vec![axis], elem_div: if n > 0 { 0 } else { axis.div } })
            }
            Op::Splat { value, .. } => Some(Runs::uniform(dims, get(*value).elem_div)),
            // Unsigned offsets wrap to valid ones (255 + 1 is 0 in u8): no runs across that.
            Op::PtrAdd { ptr, offset } => {
                kernel.ty(*offset).dtype().is_signed().then(|| add(&get(*ptr), &get(*offset), false))
            }
            Op::Binary { op, lhs, rhs } => binary(*op, &get(*lhs), &get(*rhs)),
            // Masks: only where they are constant is known.
            Op::Cmp { lhs, rhs, .. } => Some(same_only(&get(*lhs), &get(*rhs))),
            Op::Cast { arg, to } => widening(kernel.ty(*arg).dtype(), *to).then(|| get(*arg)),
            Op::ExpandDims { arg, axis } => {
                let mut a = get(*arg);
                let new = Axis { contig: 0, same: 0, div: a.elem_div };
                a.axes.insert(usize::from(*axis).min(a.axes.len()), new);
                Some(a)
            }
            Op::Broadcast { arg, .. } => {
                let mut a = get(*arg);
                let from = kernel.ty(*arg).shape.dims().to_vec();
                for (k, axis) in a.axes.iter_mut().enumerate() {
                    if from.get(k) == Some(&1) && dims[k] > 1 {
                        *axis = Axis { contig: 0, same: log2(dims[k]), div: axis.div };
                    }
                }
                Some(a)
            }
            Op::Reshape { arg, .. } => Some(reshape(&get(*arg), kernel.ty(*arg).shape.dims(), dims)),
            Op::Trans { arg } => {
                let mut a = get(*arg);
                a.axes.reverse();
                Some(a)
            }
            _ => None,
        };
        if let Some(f) = facts.filter(|f| f.axes.len() == dims.len()) {
            out.insert(r, f);
        }
    });
    out
}

fn log2(d: u32) -> u32 {
    d.max(1).trailing_zeros()
}

fn int_div(v: i64) -> u32 {
    if v == 0 {
        ANY
    } else {
        v.trailing_zeros().min(ANY)
    }
}

/// Integer casts that keep every value (so every fact).
pub(super) fn widening(from: DType, to: DType) -> bool {
    from.is_int() && to.is_int() && (from == to || (to.bits() > from.bits() && (to.is_signed() || !from.is_signed())))
}

fn binary(op: BinOp, a: &Runs, b: &Runs) -> Option<Runs> {
    match op {
        BinOp::Add => Some(add(a, b, false)),
        BinOp::Sub => Some(add(a, b, true)),
        BinOp::Mul => Some(mul(a, b)),
        // Of booleans (`logical_and`, `logical_or`), or any other pair: constant where both are.
        BinOp::And | BinOp::Or => Some(same_only(a, b)),
        _ => None,
    }
}

/// A function of two operands (a compare, a logical op): constant where both are.
fn same_only(a: &Runs, b: &Runs) -> Runs {
    Runs { axes: zip(a, b, |x, y| Axis { contig: 0, same: x.same.min(y.same), div: 0 }), elem_div: 0 }
}

/// `a + b`, or `a - b` when `sub` (then only `a` may bring the consecutive runs).
fn add(a: &Runs, b: &Runs, sub: bool) -> Runs {
    let axes = zip(a, b, |x, y| {
        let contig = if sub { x.contig.min(y.same) } else { x.contig.min(y.same).max(x.same.min(y.contig)) };
        let same = x.same.min(y.same);
        let run = contig.max(same);
        Axis { contig, same, div: x.div_at(run).min(y.div_at(run)) }
    });
    Runs { axes, elem_div: a.elem_div.min(b.elem_div) }
}

fn mul(a: &Runs, b: &Runs) -> Runs {
    let axes = zip(a, b, |x, y| {
        let same = x.same.min(y.same);
        Axis { contig: 0, same, div: (x.div_at(same) + y.div_at(same)).min(ANY) }
    });
    Runs { axes, elem_div: (a.elem_div + b.elem_div).min(ANY) }
}

/// Combines two operands of one shape (the IR's element-wise ops and `ptr_add` take
/// operands of one shape) dim by dim.
fn zip(a: &Runs, b: &Runs, f: impl Fn(Axis, Axis) -> Axis) -> Vec<Axis> {
    if a.axes.len() != b.axes.len() {
        return vec![Axis::UNKNOWN; a.axes.len().max(b.axes.len())];
    }
    a.axes.iter().zip(&b.axes).map(|(&x, &y)| f(x, y)).collect()
}

/// A reshape keeps the last dim's runs when they fit in the new last dim (which then
/// holds whole old rows, or parts of one); the other dims' facts are dropped.
fn reshape(a: &Runs, from: &[u32], to: &[u32]) -> Runs {
    if from == to {
        return a.clone();
    }
    let mut axes = vec![Axis { contig: 0, same: 0, div: a.elem_div }; to.len()];
    if let (Some(last), Some(&len)) = (axes.last_mut(), to.last()) {
        let old = a.last();
        let bits = log2(len);
        *last = Axis { contig: old.contig.min(bits), same: old.same.min(bits), div: old.div_at(bits) };
    }
    Runs { axes, elem_div: a.elem_div }
}
