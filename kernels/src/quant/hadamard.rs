//! The fast Walsh-Hadamard transform HIGGS rotates each group with, and the lane sum it
//! computes group norms with: the plain-Rust references the kernels match bit for bit.
//!
//! The transform is *unnormalized*: `y = H x` with the Sylvester-ordered `H` of size `n` (a
//! power of two), `H_1 = [1]`, `H_2n = [[H_n, H_n], [H_n, -H_n]]`, so `H H = n I` and
//! `||H x|| = sqrt(n) ||x||`. Entry `(i, j)` is `(-1)^popcount(i & j)`.
//!
//! It runs as `log2(n)` *stages*; the stage of stride `h` replaces every pair `(x[j],
//! x[j + h])` with `j & h == 0` by `(x[j] + x[j + h], x[j] - x[j + h])`, each rounded to
//! f32. Stages commute in exact arithmetic but not in f32, so the order is part of the
//! contract, and each direction of HIGGS uses the order that suits its kernel:
//!
//! - [`Stages::Descending`] (strides `n/2, ..., 2, 1`), quantize: the last stages separate
//!   the coordinates of each `d`-tuple, which the kernel then searches the grid with;
//! - [`Stages::Ascending`] (strides `1, 2, ..., n/2`), dequantize: the first stages combine
//!   the gathered grid coordinates.
//!
//! Every stage is a sum or difference of two values, so its result does not depend on how a
//! backend orders anything: the kernels get the same bits on every backend.

use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HadamardError {
    #[error("Hadamard transform: length {0} is not a power of two")]
    Length(usize),
    #[error("Hadamard transform: {len} values are not a whole number of groups of {group}")]
    Groups { len: usize, group: usize },
}

/// The order of the stages (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stages {
    /// Strides `n/2, n/4, ..., 1`: HIGGS quantize.
    Descending,
    /// Strides `1, 2, ..., n/2`: HIGGS dequantize.
    Ascending,
}

/// Transforms `x` in place; `x.len()` must be a power of two (1 included).
pub fn fwht(x: &mut [f32], order: Stages) -> Result<(), HadamardError> {
    if !x.len().is_power_of_two() {
        return Err(HadamardError::Length(x.len()));
    }
    butterflies(x, order);
    Ok(())
}

/// Transforms each contiguous group of `group` values of `x` in place; `group` must be a
/// power of two dividing `x.len()`.
pub fn fwht_groups(x: &mut [f32], group: usize, order: Stages) -> Result<(), HadamardError> {
    if !group.is_power_of_two() {
        return Err(HadamardError::Length(group));
    }
    if !x.len().is_multiple_of(group) {
        return Err(HadamardError::Groups { len: x.len(), group });
    }
    x.chunks_exact_mut(group).for_each(|g| butterflies(g, order));
    Ok(())
}

/// The stages, for a power-of-two length.
fn butterflies(x: &mut [f32], order: Stages) {
    let n = x.len();
    let log = n.trailing_zeros();
    for k in 0..log {
        let h = match order {
            Stages::Ascending => 1 << k,
            Stages::Descending => 1 << (log - 1 - k),
        };
        for block in x.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi) {
                let (u, v) = (*a, *b);
                *a = u + v;
                *b = u - v;
            }
        }
    }
}

/// The sum of `v` (a power-of-two length, at least 1) in the order of a kernel's float
/// `sum` along an axis (`docs/codegen.md`), which every backend keeps: lane `k` of
/// `min(len, 8)` adds `v[k], v[k + 8], v[k + 16], ...` left to right, starting from `-0.0`;
/// then the lanes merge by halving, lane `k` taking lane `k + half` for `half = lanes / 2,
/// ..., 1`. (A GPU splits a line's lanes over threads and merges them in the same tree.)
pub fn lane_sum(v: &[f32]) -> Result<f32, HadamardError> {
    if !v.len().is_power_of_two() {
        return Err(HadamardError::Length(v.len()));
    }
    let lanes = v.len().min(8);
    let mut acc = vec![-0.0f32; lanes];
    for (j, &x) in v.iter().enumerate() {
        acc[j % lanes] += x;
    }
    let mut half = lanes / 2;
    while half > 0 {
        for k in 0..half {
            acc[k] += acc[k + half];
        }
        half /= 2;
    }
    Ok(acc[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_transforms_by_hand() {
        for order in [Stages::Ascending, Stages::Descending] {
            let mut x = [1.0, 2.0];
            fwht(&mut x, order).unwrap();
            assert_eq!(x, [3.0, -1.0]);
            // H_4 rows: ++++, +-+-, ++--, +--+.
            let mut x = [1.0, 2.0, 3.0, 4.0];
            fwht(&mut x, order).unwrap();
            assert_eq!(x, [10.0, -2.0, -4.0, 0.0]);
            let mut x = [5.0];
            fwht(&mut x, order).unwrap();
            assert_eq!(x, [5.0]);
        }
    }

    #[test]
    fn the_stage_order_changes_roundings() {
        // 1 + 2^-24 is a tie that rounds to 1; 1 - 2^-24 is exact.
        let e = 2f32.powi(-24);
        let x = [1.0, e, e, e];
        let (mut a, mut d) = (x, x);
        fwht(&mut a, Stages::Ascending).unwrap();
        fwht(&mut d, Stages::Descending).unwrap();
        // Element 0: (1 + e) + (e + e) and (1 + e) + (e + e) again: 1 + 2^-23 both ways.
        assert_eq!(a[0], 1.0 + 2f32.powi(-23));
        assert_eq!(d[0], 1.0 + 2f32.powi(-23));
        // Element 1 = x0 - x1 + x2 - x3: ascending (1 - e) + (e - e) = 1 - e; descending
        // (1 + e) - (e + e) = 1 - 2e, since 1 + e rounded to 1.
        assert_eq!(a[1], 1.0 - e);
        assert_eq!(d[1], 1.0 - 2.0 * e);
    }

    #[test]
    fn lane_sums_add_lanes_left_to_right_then_halve() {
        assert_eq!(lane_sum(&[3.0]).unwrap(), 3.0);
        assert_eq!(lane_sum(&[-0.0]).unwrap().to_bits(), (-0.0f32).to_bits());
        assert_eq!(lane_sum(&[1.0, 2.0, 3.0, 4.0]).unwrap(), 10.0);
        // Four lanes, merged (0 + 2) + (1 + 3): 1 + e rounds to 1 but e + e is exact, so
        // the sum is 1 + 2^-23, where adding left to right would lose every e.
        let e = 2f32.powi(-24);
        assert_eq!(lane_sum(&[1.0, e, e, e]).unwrap(), 1.0 + 2f32.powi(-23));
        // Sixteen values: lane 0 adds 1 and then e, which rounds away; lanes 1 and 5 hold
        // e each, and their sum 2e survives the tree.
        let mut v = [0.0f32; 16];
        v[0] = 1.0;
        v[8] = e;
        v[1] = e;
        v[5] = e;
        assert_eq!(lane_sum(&v).unwrap(), 1.0 + 2f32.powi(-23));
        assert_eq!(lane_sum(&[1.0; 3]), Err(HadamardError::Length(3)));
    }

    #[test]
    fn rejects_bad_lengths() {
        let d = Stages::Descending;
        assert_eq!(fwht(&mut [0.0; 3], d), Err(HadamardError::Length(3)));
        assert_eq!(fwht(&mut [], d), Err(HadamardError::Length(0)));
        assert_eq!(fwht_groups(&mut [0.0; 12], 6, d), Err(HadamardError::Length(6)));
        assert_eq!(
            fwht_groups(&mut [0.0; 12], 8, d),
            Err(HadamardError::Groups { len: 12, group: 8 })
        );
    }
}
