//! The fast Walsh-Hadamard transform inside kernels, on blocks `f32[H, lanes]`: the `H`
//! coordinates of a group run down axis 0 and each lane is one group, so every stage is
//! element-wise across lanes (vectorized over groups, no shuffles within a vector). The
//! stages and their order are [`crate::quant::hadamard`]'s, bit for bit.
//!
//! A stage of stride `s` views the block as `[H / 2s, 2, s * lanes]`: axis 1 holds the two
//! members of each pair. The language has no slice or join, so a stage takes the pair
//! apart with two sums over that axis of length 2 (`a + b`, and `a + (-b)` with the second
//! row multiplied by -1), both exact in any order, and puts the results back together with
//! a `where_` over a broadcast. The quantize direction ends with the stages inside each
//! `d`-tuple and keeps their outputs apart, one block per tuple coordinate, which is what
//! the grid search wants; dequantize starts from those blocks and combines them with plain
//! additions and subtractions.

use aqua_dsl::build::*;

/// `(a + b, a - b)` of the rows of axis 1 of `u: f32[m, 2, k]`, each `[m, k]`.
#[track_caller]
fn halves(u: Value) -> (Value, Value) {
    let sign = (arange(2) * -2 + 1).cast::<f32>().reshape([1, 2, 1]);
    (u.sum(1), (u * sign).sum(1))
}

/// `[m, 2, k]` with `a: [m, k]` in row 0 of axis 1 and `b` in row 1.
#[track_caller]
fn interleave(a: Value, b: Value) -> Value {
    let first = eq(arange(2), 0).reshape([1, 2, 1]);
    where_(first, a.expand_dims(1), b.expand_dims(1))
}

/// Rows and lanes of a 2-D block.
fn dims(v: Value) -> (u32, u32) {
    let s = v.shape();
    (s[0], s[1])
}

/// The stage of stride `s` on `v: f32[H, lanes]`: each row `i` meets its partner
/// `p = i ^ s`, the lower of the two takes `v[i] + v[p]` and the upper `v[p] - v[i]`.
#[track_caller]
fn stage(v: Value, s: u32) -> Value {
    let (h, lanes) = dims(v);
    let p = v.xor_permute(0, s);
    // The pair's member as a dim of two (`[H / 2s, 2, s * lanes]`): a CPU materialization
    // runs it as two copies of its loop body, where it is a constant.
    let upper = eq(arange(2), 1).reshape([1, 2, 1]).broadcast_to([h / (2 * s), 2, s * lanes]).reshape([h, lanes]);
    where_(upper, p - v, v + p)
}

/// The quantize direction (stages of strides `H/2, ..., 1`) on `v: f32[H, lanes]`, the
/// result split by tuple coordinate: `d` blocks `f32[H / d, lanes]`, block `c` holding
/// coordinate `c` of every `d`-tuple (`d` a power of two dividing `H`).
#[track_caller]
pub fn forward_split(v: Value, d: u32) -> Vec<Value> {
    let (h, _) = dims(v);
    let mut v = v;
    let mut s = h / 2;
    while s >= d {
        v = stage(v, s);
        s /= 2;
    }
    split(v, d)
}

/// The stages of strides `k/2, ..., 1` on `v: f32[T * k, lanes]`, whose rows are `k`-tuples,
/// keeping the coordinates apart: `k` blocks `[T, lanes]`.
#[track_caller]
fn split(v: Value, k: u32) -> Vec<Value> {
    if k == 1 {
        return vec![v];
    }
    let (rows, lanes) = dims(v);
    let t = rows / k;
    let (a, b) = halves(v.reshape([t, 2, k / 2 * lanes]));
    let mut out = split(a.reshape([t * k / 2, lanes]), k / 2);
    out.extend(split(b.reshape([t * k / 2, lanes]), k / 2));
    out
}

/// The dequantize direction: from `d` blocks `f32[T, lanes]` (coordinate `c` of every
/// tuple in block `c`), the stages of strides `1, 2, ..., H/2` with `H = T * d`; the result
/// is `f32[H, lanes]`.
#[track_caller]
pub fn combine_inverse(parts: &[Value]) -> Value {
    let (t, _) = dims(parts[0]);
    let d = parts.len() as u32;
    let mut v = combine(parts);
    let h = t * d;
    let mut s = d;
    while s < h {
        v = stage(v, s);
        s *= 2;
    }
    v
}

/// The stages of strides `1, ..., k/2` combining `k` coordinate blocks `[T, lanes]` into
/// `[T * k, lanes]` (rows `k`-tuples).
#[track_caller]
fn combine(parts: &[Value]) -> Value {
    if parts.len() == 1 {
        return parts[0];
    }
    let k = parts.len() as u32;
    let (lo, hi) = parts.split_at(parts.len() / 2);
    let (lo, hi) = (combine(lo), combine(hi));
    let (rows, lanes) = dims(lo);
    let t = rows / (k / 2);
    let (lo, hi) = (lo.reshape([t, k / 2 * lanes]), hi.reshape([t, k / 2 * lanes]));
    interleave(lo + hi, lo - hi).reshape([t * k, lanes])
}
