//! Element indices as bit fields.
//!
//! Every block dim is a power of two, so the row-major linear index of an element is the
//! concatenation of its coordinates' bits. A loop nest over a block gives each loop
//! variable a field of those bits ([`Term`]); shape ops then only move fields around
//! (reshape and `expand_dims` keep them, `broadcast` drops some, `trans` swaps two), so
//! indexing through any chain of shape ops is free unless a field straddles a dim
//! boundary, in which case the variable is split with a shift and a mask. The same code
//! runs on symbolic variables ([`Cuts`]) to find those boundaries before emitting loops,
//! so loop nests can be cut where no split will be needed.

use std::collections::BTreeSet;

use crate::ir::Shape;

/// `var` (in `[0, 2^bits)`) placed at bits `[lo, lo + bits)` of a linear index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Term<V> {
    pub var: V,
    pub lo: u32,
    pub bits: u32,
}

/// Moves bits `[src, src + len)` of an index to `[dst, dst + len)` of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub src: u32,
    pub len: u32,
    pub dst: u32,
}

/// Extracts part of a variable: bits `[shift, shift + bits)` of `var`, which has `width`.
pub(crate) trait Pieces<V> {
    type Error;
    fn piece(&mut self, var: &V, width: u32, shift: u32, bits: u32) -> Result<V, Self::Error>;
}

/// log2 of a power of two.
pub(crate) fn log2(d: u32) -> u32 {
    d.trailing_zeros()
}

/// Total bits of a shape's linear index.
pub(crate) fn shape_bits(shape: &Shape) -> u32 {
    shape.dims().iter().map(|&d| log2(d)).sum()
}

/// `(lo, bits)` of every dim of a shape in its linear index.
pub(crate) fn dim_fields(shape: &Shape) -> Vec<(u32, u32)> {
    let mut lo = shape_bits(shape);
    shape
        .dims()
        .iter()
        .map(|&d| {
            lo -= log2(d);
            (lo, log2(d))
        })
        .collect()
}

/// Applies `fields` to `idx`: every part of a term inside a field's source moves to the
/// field's destination; parts outside every field are dropped.
pub(crate) fn remap<V: Clone, P: Pieces<V>>(
    idx: &[Term<V>],
    fields: &[Field],
    p: &mut P,
) -> Result<Vec<Term<V>>, P::Error> {
    let mut out = Vec::with_capacity(idx.len());
    for t in idx {
        for f in fields {
            let lo = t.lo.max(f.src);
            let hi = (t.lo + t.bits).min(f.src + f.len);
            if lo >= hi {
                continue;
            }
            let var = if lo == t.lo && hi == t.lo + t.bits {
                t.var.clone()
            } else {
                p.piece(&t.var, t.bits, lo - t.lo, hi - lo)?
            };
            out.push(Term { var, lo: f.dst + (lo - f.src), bits: hi - lo });
        }
    }
    Ok(out)
}

/// Symbolic pieces: a variable is its position in the sink's index; splitting one
/// records the cut positions.
pub(crate) struct Cuts<'a>(pub &'a mut BTreeSet<u32>);

impl Pieces<u32> for Cuts<'_> {
    type Error = std::convert::Infallible;
    fn piece(&mut self, var: &u32, width: u32, shift: u32, bits: u32) -> Result<u32, Self::Error> {
        if shift > 0 {
            self.0.insert(var + shift);
        }
        if shift + bits < width {
            self.0.insert(var + shift + bits);
        }
        Ok(var + shift)
    }
}

/// The symbolic index of a whole sink: one variable per bit range between `cuts`.
pub(crate) fn symbolic(total: u32) -> Vec<Term<u32>> {
    if total == 0 {
        return vec![];
    }
    vec![Term { var: 0, lo: 0, bits: total }]
}

/// Splits `[lo, hi)` at the cuts inside it into loop levels, outermost (highest) first.
pub(crate) fn split_range(lo: u32, hi: u32, cuts: &BTreeSet<u32>) -> Vec<(u32, u32)> {
    if hi <= lo {
        return vec![];
    }
    let mut bounds: Vec<u32> = cuts.range(lo + 1..hi).copied().collect();
    bounds.insert(0, lo);
    bounds.push(hi);
    bounds.windows(2).rev().filter(|w| w[1] > w[0]).map(|w| (w[0], w[1] - w[0])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of plain numbers, to check the algebra against arithmetic.
    struct Num;
    impl Pieces<u64> for Num {
        type Error = std::convert::Infallible;
        fn piece(&mut self, var: &u64, _width: u32, shift: u32, bits: u32) -> Result<u64, Self::Error> {
            Ok((var >> shift) & ((1 << bits) - 1))
        }
    }

    fn linear(idx: &[Term<u64>]) -> u64 {
        idx.iter().map(|t| t.var << t.lo).sum()
    }

    #[test]
    fn transpose_fields_match_arithmetic() {
        // Result [8, 4] of trans of [4, 8]: result (c, r) reads arg (r, c).
        let fields = [Field { src: 2, len: 3, dst: 0 }, Field { src: 0, len: 2, dst: 3 }];
        for lin in 0..32u64 {
            let idx = [Term { var: lin, lo: 0, bits: 5 }];
            let got = linear(&remap(&idx, &fields, &mut Num).unwrap());
            let (c, r) = (lin / 4, lin % 4);
            assert_eq!(got, r * 8 + c, "{lin}");
        }
    }

    #[test]
    fn cuts_mark_straddled_boundaries() {
        let mut cuts = BTreeSet::new();
        let idx = symbolic(10);
        // Drop bits [6, 8) (a broadcast dim in the middle).
        let fields = [Field { src: 0, len: 6, dst: 0 }, Field { src: 8, len: 2, dst: 6 }];
        let out = remap(&idx, &fields, &mut Cuts(&mut cuts)).unwrap();
        assert_eq!(cuts.into_iter().collect::<Vec<_>>(), vec![6, 8]);
        assert_eq!(out.len(), 2);
        assert_eq!(split_range(0, 10, &[6, 8].into_iter().collect()), vec![(8, 2), (6, 2), (0, 6)]);
    }

    #[test]
    fn dim_fields_are_row_major() {
        assert_eq!(dim_fields(&Shape::new([16, 64])), vec![(6, 4), (0, 6)]);
        assert_eq!(dim_fields(&Shape::new([1, 8])), vec![(3, 0), (0, 3)]);
    }
}
