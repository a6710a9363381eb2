//! The fast Walsh-Hadamard transform inside kernels, on a tile of groups in either
//! [`Orientation`]: `f32[H, lanes]` (each group a lane: every stage is element-wise
//! across groups, vectorized on a CPU) or `f32[lanes, H]` (each group a row: on a GPU a
//! group's values sit in a few neighbouring threads, so a stage is a register copy or a
//! shuffle inside a warp instead of a pass through shared memory). The stages and their
//! order are [`crate::quant::hadamard`]'s, bit for bit, in both.
//!
//! A stage of stride `s` views the block as `[outer * H / 2s, 2, s * inner]` (`outer` and
//! `inner` the lanes on either side of the coordinate axis): the middle axis holds the two
//! members of each pair. The language has no slice or join, so a stage takes the pair
//! apart with two sums over that axis of length 2 (`a + b`, and `a + (-b)` with the second
//! row multiplied by -1), both exact in any order, and puts the results back together with
//! a `where_` over a broadcast. The quantize direction ends with the stages inside each
//! `d`-tuple and keeps their outputs apart, one block per tuple coordinate, which is what
//! the grid search wants. Dequantize either starts from those blocks and combines them
//! with plain additions and subtractions ([`combine_inverse`]), or from a tile whose
//! tuples were gathered into place, running every stage ([`inverse_from`]).

use aqua_dsl::build::*;

/// Where a tile's groups run in a 2-D block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// `[H, lanes]`: coordinates down axis 0, one group per lane.
    GroupsByLane,
    /// `[lanes, H]`: one group per row, coordinates along axis 1.
    GroupsByRow,
}

impl Orientation {
    /// The axis the coordinates run along.
    fn axis(self) -> u32 {
        match self {
            Orientation::GroupsByLane => 0,
            Orientation::GroupsByRow => 1,
        }
    }

    /// `(coordinates, lanes)` of a 2-D block.
    fn dims(self, v: Value) -> (u32, u32) {
        let s = v.shape();
        match self {
            Orientation::GroupsByLane => (s[0], s[1]),
            Orientation::GroupsByRow => (s[1], s[0]),
        }
    }

    /// The 2-D shape of `h` coordinates of `lanes` groups.
    fn shape(self, h: u32, lanes: u32) -> [u32; 2] {
        match self {
            Orientation::GroupsByLane => [h, lanes],
            Orientation::GroupsByRow => [lanes, h],
        }
    }

    /// `[outer * h / k, k * inner]` of `v`'s `h` coordinates in runs of `k`: the runs
    /// down axis 0, a run's coordinates (with the lanes of [`Self::GroupsByLane`]) along
    /// axis 1.
    #[track_caller]
    fn runs(self, v: Value, k: u32) -> Value {
        let (h, lanes) = self.dims(v);
        match self {
            Orientation::GroupsByLane => v.reshape([h / k, k * lanes]),
            Orientation::GroupsByRow => v.reshape([lanes * h / k, k]),
        }
    }
}

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

/// The stage of stride `s` on `v`: each coordinate `i` meets its partner `p = i ^ s`,
/// the lower of the two takes `v[i] + v[p]` and the upper `v[p] - v[i]`.
#[track_caller]
fn stage(v: Value, s: u32, o: Orientation) -> Value {
    let p = v.xor_permute(o.axis(), s);
    // The pair's member as a dim of two (`[outer * H / 2s, 2, s * inner]`): a CPU
    // materialization runs it as two copies of its loop body, where it is a constant.
    let pairs = o.runs(v, 2 * s).shape();
    let upper = eq(arange(2), 1).reshape([1, 2, 1]).broadcast_to([pairs[0], 2, pairs[1] / 2]).reshape(v.shape());
    match o {
        Orientation::GroupsByLane => where_(upper, p - v, v + p),
        // `fma(v, -1, p)` is `p - v` and `fma(v, 1, p)` is `v + p`, each rounded once (the
        // product is exact): one instruction where a GPU lane's member of the pair is
        // only known at run time (a select and an add otherwise).
        Orientation::GroupsByRow => fma(v, where_(upper, -1.0f32, 1.0f32), p),
    }
}

/// The quantize direction (stages of strides `H/2, ..., 1`) on `v`, the result split by
/// tuple coordinate: `d` blocks of `H / d` coordinates, block `c` holding coordinate `c`
/// of every `d`-tuple (`d` a power of two dividing `H`).
#[track_caller]
pub fn forward_split(v: Value, d: u32, o: Orientation) -> Vec<Value> {
    let (h, _) = o.dims(v);
    let mut v = v;
    let mut s = h / 2;
    while s >= d {
        v = stage(v, s, o);
        s /= 2;
    }
    split(v, d, o)
}

/// The stages of strides `k/2, ..., 1` on `v` of `T * k` coordinates, runs of `k` being
/// tuples, keeping the coordinates apart: `k` blocks of `T` coordinates.
#[track_caller]
fn split(v: Value, k: u32, o: Orientation) -> Vec<Value> {
    if k == 1 {
        return vec![v];
    }
    let (rows, lanes) = o.dims(v);
    let t = rows / k;
    let pairs = o.runs(v, k);
    let (a, b) = halves(pairs.reshape([pairs.shape()[0], 2, pairs.shape()[1] / 2]));
    let half = o.shape(t * k / 2, lanes);
    let mut out = split(a.reshape(half), k / 2, o);
    out.extend(split(b.reshape(half), k / 2, o));
    out
}

/// The dequantize direction: from `d` blocks of `T` coordinates (coordinate `c` of every
/// tuple in block `c`), the stages of strides `1, 2, ..., H/2` with `H = T * d`.
#[track_caller]
pub fn combine_inverse(parts: &[Value], o: Orientation) -> Value {
    inverse_from(combine(parts, o), parts.len() as u32, o)
}

/// The dequantize direction's stages of strides `from, 2 from, ..., H/2` on `v`.
#[track_caller]
pub fn inverse_from(v: Value, from: u32, o: Orientation) -> Value {
    let (h, _) = o.dims(v);
    let mut v = v;
    let mut s = from;
    while s < h {
        v = stage(v, s, o);
        s *= 2;
    }
    v
}

/// The stages of strides `1, ..., k/2` combining `k` coordinate blocks of `T` coordinates
/// into one of `T * k` (runs of `k` being tuples).
#[track_caller]
fn combine(parts: &[Value], o: Orientation) -> Value {
    if parts.len() == 1 {
        return parts[0];
    }
    let k = parts.len() as u32;
    let (lo, hi) = parts.split_at(parts.len() / 2);
    let (lo, hi) = (combine(lo, o), combine(hi, o));
    let (rows, lanes) = o.dims(lo);
    let t = rows / (k / 2);
    let (lo, hi) = (o.runs(lo, k / 2), o.runs(hi, k / 2));
    interleave(lo + hi, lo - hi).reshape(o.shape(t * k, lanes))
}
