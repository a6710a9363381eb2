//! The fast Walsh-Hadamard transform HIGGS rotates each group with, the plain-Rust
//! reference the kernels match.
//!
//! The transform is *unnormalized*: `y = H x` with the Sylvester-ordered `H` of size `n` (a
//! power of two), `H_1 = [1]`, `H_2n = [[H_n, H_n], [H_n, -H_n]]`, so `H H = n I` and
//! `||H x|| = sqrt(n) ||x||`. Entry `(i, j)` is `(-1)^popcount(i & j)`.
//!
//! The f32 operation order is part of the contract (a kernel that follows it gets the same
//! bits): `log2(n)` stages with strides `h = 1, 2, 4, ..., n/2`, in that order; a stage
//! replaces every pair `(x[j], x[j + h])` with `j & h == 0` by `(x[j] + x[j + h],
//! x[j] - x[j + h])`, each rounded to f32.

use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HadamardError {
    #[error("Hadamard transform: length {0} is not a power of two")]
    Length(usize),
    #[error("Hadamard transform: {len} values are not a whole number of groups of {group}")]
    Groups { len: usize, group: usize },
}

/// Transforms `x` in place; `x.len()` must be a power of two (1 included).
pub fn fwht(x: &mut [f32]) -> Result<(), HadamardError> {
    if !x.len().is_power_of_two() {
        return Err(HadamardError::Length(x.len()));
    }
    butterflies(x);
    Ok(())
}

/// Transforms each contiguous group of `group` values of `x` in place; `group` must be a
/// power of two dividing `x.len()`.
pub fn fwht_groups(x: &mut [f32], group: usize) -> Result<(), HadamardError> {
    if !group.is_power_of_two() {
        return Err(HadamardError::Length(group));
    }
    if x.len() % group != 0 {
        return Err(HadamardError::Groups {
            len: x.len(),
            group,
        });
    }
    x.chunks_exact_mut(group).for_each(butterflies);
    Ok(())
}

/// The stages, for a power-of-two length.
fn butterflies(x: &mut [f32]) {
    let n = x.len();
    let mut h = 1;
    while h < n {
        for block in x.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi) {
                let (u, v) = (*a, *b);
                *a = u + v;
                *b = u - v;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_transforms_by_hand() {
        let mut x = [1.0, 2.0];
        fwht(&mut x).unwrap();
        assert_eq!(x, [3.0, -1.0]);
        // H_4 rows: ++++, +-+-, ++--, +--+.
        let mut x = [1.0, 2.0, 3.0, 4.0];
        fwht(&mut x).unwrap();
        assert_eq!(x, [10.0, -2.0, -4.0, 0.0]);
        let mut x = [5.0];
        fwht(&mut x).unwrap();
        assert_eq!(x, [5.0]);
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(fwht(&mut [0.0; 3]), Err(HadamardError::Length(3)));
        assert_eq!(fwht(&mut []), Err(HadamardError::Length(0)));
        assert_eq!(
            fwht_groups(&mut [0.0; 12], 6),
            Err(HadamardError::Length(6))
        );
        assert_eq!(
            fwht_groups(&mut [0.0; 12], 8),
            Err(HadamardError::Groups { len: 12, group: 8 })
        );
    }
}
