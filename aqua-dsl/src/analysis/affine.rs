//! Integer and pointer blocks as affine functions of their element indices: a constant
//! step along each dim, plus scalars and a constant common to every element.
//!
//! `(pid * 32 + arange(32)) * 3 + 1` is step 3 along its dim, the scalar `pid` times 96,
//! and 1. What the per-dim facts of [`super::runs()`] cannot say, this says: whether a
//! block is one run across its rows ([`one_run_blocks`]: a KIVI tile's offsets, whose row
//! length is a tensor's channels, are not), and whether two blocks of offsets differ by a
//! constant (the words of a straddling code width's units, `unit * bits + w`, which a CPU
//! stores in one loop when no two of them can meet: `codegen/llvm/sibling_stores.rs`).
//!
//! The rules follow the IR's arithmetic, which wraps: an [`Affine`] is exact modulo
//! `2^width`, the narrowest integer width on the way ([`Affine::width`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::runs::widening;
use crate::ir::{BinOp, DType, Kernel, Lit, Op, ValueId};

/// `sum_d strides[d] * i_d + sum_s terms[s] * s + constant` at element index `i`, where
/// the terms are scalars (values of rank 0) the analysis does not look into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Affine {
    pub strides: Vec<i64>,
    pub terms: BTreeMap<ValueId, i64>,
    pub constant: i64,
    /// The narrowest integer width the value went through (64 for pointers and `i64`):
    /// the form is exact modulo `2^width`.
    pub width: u32,
}

impl Affine {
    fn constant(rank: usize, c: i64, width: u32) -> Affine {
        Affine { strides: vec![0; rank], terms: BTreeMap::new(), constant: c, width }
    }

    /// Whether the value is one constant.
    fn as_constant(&self) -> Option<i64> {
        (self.terms.is_empty() && self.strides.iter().all(|&s| s == 0)).then_some(self.constant)
    }

    /// `self + sign * other`, `None` on overflow or different ranks.
    fn add(&self, other: &Affine, sign: i64) -> Option<Affine> {
        if self.strides.len() != other.strides.len() {
            return None;
        }
        let strides = self
            .strides
            .iter()
            .zip(&other.strides)
            .map(|(&a, &b)| a.checked_add(b.checked_mul(sign)?))
            .collect::<Option<Vec<_>>>()?;
        let mut terms = self.terms.clone();
        for (&s, &c) in &other.terms {
            let sum = terms.get(&s).copied().unwrap_or(0).checked_add(c.checked_mul(sign)?)?;
            if sum == 0 {
                terms.remove(&s);
            } else {
                terms.insert(s, sum);
            }
        }
        let constant = self.constant.checked_add(other.constant.checked_mul(sign)?)?;
        Some(Affine { strides, terms, constant, width: self.width.min(other.width) })
    }

    fn scale(&self, c: i64) -> Option<Affine> {
        let mut terms = BTreeMap::new();
        for (&s, &k) in &self.terms {
            if c != 0 {
                terms.insert(s, k.checked_mul(c)?);
            }
        }
        Some(Affine {
            strides: self.strides.iter().map(|&s| s.checked_mul(c)).collect::<Option<_>>()?,
            terms,
            constant: self.constant.checked_mul(c)?,
            width: self.width,
        })
    }
}

/// The affine form of every integer and pointer value of `kernel` that has one. A
/// scalar that is not a sum or product of others is its own term (a program id, a
/// parameter, a loaded value); a block is left out unless every step is known.
pub fn affine(kernel: &Kernel) -> HashMap<ValueId, Affine> {
    let mut out: HashMap<ValueId, Affine> = HashMap::new();
    let mut one_run = HashSet::new();
    for (i, &arg) in kernel.body.args.iter().enumerate() {
        let ty = kernel.ty(arg);
        if kernel.params.get(i).is_some() && (ty.is_ptr() || ty.dtype().is_int()) {
            out.insert(arg, opaque(arg, width(ty.is_ptr(), ty.dtype())));
        }
    }
    kernel.walk(&mut |inst| {
        let [r] = inst.results[..] else { return };
        let ty = kernel.ty(r);
        if !(ty.is_ptr() || ty.dtype().is_int()) {
            return;
        }
        let dims = ty.shape.dims();
        let w = width(ty.is_ptr(), ty.dtype());
        let get = |v: ValueId| out.get(&v);
        let form = match &inst.op {
            Op::Const(c) => match c.lit {
                Lit::Int(k) => Some(Affine::constant(dims.len(), k, w)),
                _ => None,
            },
            Op::Arange { start, .. } => {
                Some(Affine { strides: vec![1], terms: BTreeMap::new(), constant: i64::from(*start), width: w })
            }
            Op::Splat { value, .. } => {
                let a = get(*value).cloned().unwrap_or_else(|| opaque(*value, w));
                Some(Affine { strides: vec![0; dims.len()], ..a })
            }
            // Unsigned offsets wrap to valid ones (255 + 1 is 0 in u8).
            Op::PtrAdd { ptr, offset } if kernel.ty(*offset).dtype().is_signed() => {
                get(*ptr).zip(get(*offset)).and_then(|(p, o)| p.add(o, 1))
            }
            Op::Binary { op: BinOp::Add, lhs, rhs } => get(*lhs).zip(get(*rhs)).and_then(|(a, b)| a.add(b, 1)),
            Op::Binary { op: BinOp::Sub, lhs, rhs } => get(*lhs).zip(get(*rhs)).and_then(|(a, b)| a.add(b, -1)),
            Op::Binary { op: BinOp::Mul, lhs, rhs } => match (get(*lhs), get(*rhs)) {
                (Some(a), Some(b)) => match (a.as_constant(), b.as_constant()) {
                    (_, Some(c)) => a.scale(c),
                    (Some(c), _) => b.scale(c),
                    _ => None,
                },
                _ => None,
            },
            Op::ExpandDims { arg, axis } => get(*arg).map(|a| {
                let mut a = a.clone();
                a.strides.insert(usize::from(*axis).min(a.strides.len()), 0);
                a
            }),
            Op::Broadcast { arg, .. } => get(*arg).map(|a| {
                let from = kernel.ty(*arg).shape.dims();
                let strides = a.strides.iter().zip(from).map(|(&s, &d)| if d == 1 { 0 } else { s }).collect();
                Affine { strides, ..a.clone() }
            }),
            Op::Reshape { arg, .. } if kernel.ty(*arg).shape.dims() == dims => get(*arg).cloned(),
            // A block that is one run is one again in any shape.
            Op::Reshape { arg, .. } if one_run.contains(arg) => {
                get(*arg).map(|a| Affine { strides: row_major(dims), ..a.clone() })
            }
            Op::Cast { arg, to } if widening(kernel.ty(*arg).dtype(), *to) => get(*arg).cloned(),
            _ => None,
        };
        let form = match form {
            Some(f) if f.strides.len() == dims.len() => f,
            _ if dims.is_empty() => opaque(r, w),
            _ => return,
        };
        if is_one_run(dims, &form.strides) {
            one_run.insert(r);
        }
        out.insert(r, form);
    });
    out
}

/// The integer and pointer blocks whose elements are consecutive in row-major order, one
/// run over the whole block (`s, s + 1, ...`): what the per-dim facts of
/// [`super::runs()`] cannot say across rows. So `(g + arange(r)).expand_dims(1) * c +
/// arange(c).expand_dims(0)` is one run of `r * c` where the same with a row length known
/// only at run time (a tensor's channels) is not. A CPU addresses by runs only blocks that
/// are not one run already (`codegen/llvm/runs.rs`). `forms` is [`affine`]'s.
pub fn one_run_blocks(kernel: &Kernel, forms: &HashMap<ValueId, Affine>) -> HashSet<ValueId> {
    forms.iter().filter(|(v, a)| is_one_run(kernel.ty(**v).shape.dims(), &a.strides)).map(|(&v, _)| v).collect()
}

/// Whether blocks of offsets from one base, of one shape `dims`, with the affine forms
/// `forms`, are pairwise disjoint: no element of one equals an element of another. They
/// must differ by constants only; then two elements meet only where the difference of
/// the constants is a sum of steps, which is never so when the constants differ modulo
/// the steps' greatest common divisor and the values stay within the width's range.
pub fn disjoint(forms: &[&Affine], dims: &[u32]) -> bool {
    let Some(first) = forms.first() else { return true };
    let live =
        |a: &Affine| -> Vec<i64> { a.strides.iter().zip(dims).map(|(&s, &d)| if d > 1 { s } else { 0 }).collect() };
    let steps = live(first);
    if forms.iter().any(|a| live(a) != steps || a.terms != first.terms || a.width < 32) {
        return false;
    }
    let gcd = steps.iter().fold(0u64, |g, &s| gcd(g, s.unsigned_abs()));
    let spread: u64 = steps.iter().zip(dims).map(|(&s, &d)| s.unsigned_abs() * u64::from(d - 1)).sum();
    let (lo, hi) = forms.iter().fold((i64::MAX, i64::MIN), |(lo, hi), a| (lo.min(a.constant), hi.max(a.constant)));
    if spread.saturating_add(hi.abs_diff(lo)) >= 1 << 31 {
        return false;
    }
    let class = |c: i64| if gcd == 0 { c } else { c.rem_euclid(gcd as i64) };
    let classes: HashSet<i64> = forms.iter().map(|a| class(a.constant)).collect();
    classes.len() == forms.len()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A scalar as its own term.
fn opaque(v: ValueId, width: u32) -> Affine {
    Affine { strides: vec![], terms: BTreeMap::from([(v, 1)]), constant: 0, width }
}

fn width(is_ptr: bool, dtype: DType) -> u32 {
    if is_ptr {
        64
    } else {
        dtype.bits()
    }
}

/// Whether a block of `dims` (not all 1) with `strides` is one run (dims of one element
/// have no step to check).
fn is_one_run(dims: &[u32], strides: &[i64]) -> bool {
    dims.iter().any(|&d| d > 1)
        && dims.iter().zip(strides).zip(row_major(dims)).all(|((&d, &s), want)| d == 1 || s == want)
}

/// The strides of a block of `dims` that is one run: 1 along the last dim, a row's
/// length along the one before, and so on.
fn row_major(dims: &[u32]) -> Vec<i64> {
    let mut strides = vec![0; dims.len()];
    let mut step = 1i64;
    for (s, &d) in strides.iter_mut().zip(dims).rev() {
        *s = step;
        step *= i64::from(d);
    }
    strides
}
