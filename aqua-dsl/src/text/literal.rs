//! Literal syntax shared by the printer and the parser: how floats, table entries and
//! identifiers are written so that the text reads back bit-exactly.
//!
//! Floats use Rust's `{:?}` (the shortest decimal that reads back to the same f64, always
//! with a `.` or an exponent, so it never looks like an integer), `inf`, `-inf`, `nan` for
//! the canonical quiet NaN, and `nan(0x...)` with the f64 bits for any other NaN.

use std::fmt;

use crate::ir::DType;

/// The bits of the NaN printed as plain `nan`.
pub(crate) const CANONICAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

/// An f64 written so that it reads back to the same bits.
pub(crate) struct FloatLit(pub f64);

impl fmt::Display for FloatLit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            if v.to_bits() == CANONICAL_NAN_BITS {
                f.write_str("nan")
            } else {
                write!(f, "nan(0x{:016x})", v.to_bits())
            }
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "inf" } else { "-inf" })
        } else {
            write!(f, "{v:?}")
        }
    }
}

/// One entry of a constant table of `dtype`: integers and bools in their own syntax when
/// the stored f64 is one of their values, a float literal otherwise (so nothing is lost
/// even for a table the verifier rejects).
pub(crate) struct TableEntry(pub DType, pub f64);

impl fmt::Display for TableEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TableEntry(dtype, v) = *self;
        // Whole numbers in i64's range convert exactly both ways.
        let two_63 = 2f64.powi(63);
        let whole = v.fract() == 0.0 && (-two_63..two_63).contains(&v);
        if dtype.is_bool() && (v.to_bits() == 0 || v == 1.0) {
            write!(f, "{}", v == 1.0)
        } else if dtype.is_int() && whole && v.to_bits() != (-0.0f64).to_bits() {
            write!(f, "{}", v as i64)
        } else {
            FloatLit(v).fmt(f)
        }
    }
}

/// Whether `s` is written as an identifier in the text (kernel, parameter, comptime and
/// table names).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
