//! Reductions along one axis and `dot`.
//!
//! The interpreter fixes the order the IR leaves open: a float `sum` adds the elements in
//! increasing index along the axis, starting from the first (in f32, rounded once to the
//! dtype at the end); `dot` starts from `acc` (or +0.0) and adds `a[m,k] * b[k,n]` for
//! k = 0, 1, ... with an f32 multiply and an f32 add. Backends may reorder and are held
//! to the tolerances in `docs/semantics.md`.

use super::numeric::{Float, Int, Prim};
use super::value::{Data, RtValue};
use crate::ir::{ReduceOp, Shape};

/// The block viewed as `[outer, n, inner]` around the reduced axis (`n >= 1`: shapes
/// have no zero dims).
struct Axis {
    outer: usize,
    n: usize,
    inner: usize,
}

/// The elements along the reduced axis for one `(outer, inner)` position.
type Line<'a, T> = std::iter::Take<std::iter::StepBy<std::iter::Copied<std::slice::Iter<'a, T>>>>;

impl Axis {
    /// Reduces every line with `f`, in row-major order of the result.
    fn each_line<'a, T: Copy, U>(&self, x: &'a [T], mut f: impl FnMut(Line<'a, T>) -> U) -> Vec<U> {
        let mut out = Vec::with_capacity(self.outer * self.inner);
        for o in 0..self.outer {
            let base = o * self.n * self.inner;
            for i in 0..self.inner {
                out.push(f(x[base + i..]
                    .iter()
                    .copied()
                    .step_by(self.inner)
                    .take(self.n)));
            }
        }
        out
    }
}

pub(crate) fn reduce(op: ReduceOp, v: &RtValue, axis: u8) -> Result<RtValue, String> {
    let dims = v.shape.dims();
    let axis = axis as usize;
    if axis >= dims.len() {
        return Err(format!(
            "`{}` along axis {axis} of {}: no such axis",
            op.name(),
            v.ty()
        ));
    }
    let ax = Axis {
        outer: dims[..axis].iter().map(|&d| d as usize).product(),
        n: dims[axis] as usize,
        inner: dims[axis + 1..].iter().map(|&d| d as usize).product(),
    };
    let mut shape = v.shape.clone();
    shape.0.remove(axis);
    let data = match &v.data {
        Data::Bool(x) if op.is_arg() => Data::I32(ax.each_line(x, |l| best(op, l, |b| b).0)),
        Data::I8(x) => int_reduce(op, &ax, x),
        Data::U8(x) => int_reduce(op, &ax, x),
        Data::I32(x) => int_reduce(op, &ax, x),
        Data::U32(x) => int_reduce(op, &ax, x),
        Data::I64(x) => int_reduce(op, &ax, x),
        Data::F16(x) => float_reduce(op, &ax, x),
        Data::BF16(x) => float_reduce(op, &ax, x),
        Data::F32(x) => float_reduce(op, &ax, x),
        _ => return Err(format!("`{}` is not defined on {}", op.name(), v.ty())),
    };
    Ok(RtValue { shape, data })
}

fn int_reduce<T: Int>(op: ReduceOp, ax: &Axis, x: &[T]) -> Data {
    match op {
        ReduceOp::Sum => T::wrap(ax.each_line(x, |l| l.fold(T::ZERO, T::wadd))),
        ReduceOp::Max | ReduceOp::Min => T::wrap(ax.each_line(x, |l| best(op, l, |v| v).1)),
        ReduceOp::ArgMax | ReduceOp::ArgMin => Data::I32(ax.each_line(x, |l| best(op, l, |v| v).0)),
    }
}

fn float_reduce<F: Float>(op: ReduceOp, ax: &Axis, x: &[F]) -> Data {
    match op {
        ReduceOp::Sum => F::wrap(ax.each_line(x, |mut l| {
            let first = l.next().map_or(0.0, F::as_f32);
            F::from_f32(l.fold(first, |acc, v| acc + v.as_f32()))
        })),
        // The element argmax/argmin pick: NaN loses unless the line is all NaN.
        ReduceOp::Max | ReduceOp::Min => F::wrap(ax.each_line(x, |l| best(op, l, F::as_f32).1)),
        ReduceOp::ArgMax | ReduceOp::ArgMin => {
            Data::I32(ax.each_line(x, |l| best(op, l, F::as_f32).0))
        }
    }
}

/// The index (as `i32`) and value of the greatest (`Max`, `ArgMax`) or least element of a
/// line under `key`: ties go to the lowest index, NaN keys are skipped (keys unordered with
/// themselves), and a line of NaN gives index 0 and its first element.
fn best<T: Copy + Default, K: PartialOrd>(
    op: ReduceOp,
    line: Line<'_, T>,
    key: impl Fn(T) -> K,
) -> (i32, T) {
    let max = matches!(op, ReduceOp::Max | ReduceOp::ArgMax);
    let mut first: Option<T> = None;
    let mut best: Option<(i32, T, K)> = None;
    for (k, v) in line.enumerate() {
        first.get_or_insert(v);
        let kv = key(v);
        if kv.partial_cmp(&kv).is_none() {
            continue; // NaN
        }
        let better = match &best {
            None => true,
            Some((_, _, b)) => {
                if max {
                    kv > *b
                } else {
                    kv < *b
                }
            }
        };
        if better {
            best = Some((k as i32, v, kv));
        }
    }
    match (best, first) {
        (Some((k, v, _)), _) => (k, v),
        (None, Some(v)) => (0, v),
        // Lines are never empty; a neutral answer keeps this total.
        (None, None) => (0, T::default()),
    }
}
/// `[M,K] x [K,N] -> f32[M,N]` plus `acc`, in the order the module doc fixes.
pub(crate) fn dot(a: &RtValue, b: &RtValue, acc: Option<&RtValue>) -> Result<RtValue, String> {
    let bad = || {
        format!(
            "`dot` needs float [M,K] and [K,N] blocks of one dtype, got {} and {}",
            a.ty(),
            b.ty()
        )
    };
    let (&[m, k], &[k2, n]) = (a.shape.dims(), b.shape.dims()) else {
        return Err(bad());
    };
    if k != k2 {
        return Err(bad());
    }
    let (m, k, n) = (m as usize, k as usize, n as usize);
    let (x, y) = match (&a.data, &b.data) {
        (Data::F16(x), Data::F16(y)) => (widen(x), widen(y)),
        (Data::BF16(x), Data::BF16(y)) => (widen(x), widen(y)),
        (Data::F32(x), Data::F32(y)) => (x.clone(), y.clone()),
        _ => return Err(bad()),
    };
    let shape = Shape::new([m as u32, n as u32]);
    let mut c = match acc {
        None => vec![0.0f32; m * n],
        Some(RtValue {
            shape: s,
            data: Data::F32(c),
        }) if *s == shape => c.clone(),
        Some(other) => {
            return Err(format!(
                "`dot` accumulator must be f32{shape}, got {}",
                other.ty()
            ))
        }
    };
    // Loop order i, p, j keeps, for every c[i][j], the additions in increasing p.
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let av = x[i * k + p];
            for (cj, &bv) in row.iter_mut().zip(&y[p * n..(p + 1) * n]) {
                *cj += av * bv;
            }
        }
    }
    Ok(RtValue {
        shape,
        data: Data::F32(c),
    })
}

fn widen<F: Prim>(x: &[F]) -> Vec<f32> {
    x.iter().map(|v| v.as_f32()).collect()
}
