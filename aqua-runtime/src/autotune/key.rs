//! What a tuning choice is remembered by: the arguments' shapes, bucketed, and any other
//! property (a dtype, a method) whose exact value decides which configuration is fastest.
//!
//! Sizes are bucketed to powers of two, as inference engines bucket batch shapes: a
//! choice made on 1,000,000 values serves 600,000 and 1,048,576 too, so a tensor that
//! grows by a token does not retune, while 4,096 and 1,048,576 values (one tile a core
//! against many) tune apart.

use std::fmt;

/// A tuning key: named fields in the order they were added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TuneKey(String);

impl TuneKey {
    pub fn new() -> TuneKey {
        TuneKey::default()
    }

    /// Adds `name` with `size` rounded up to a power of two: `n<=2^20` (0 stays `n=0`).
    pub fn bucket(self, name: &str, size: usize) -> TuneKey {
        let bucket = size.checked_next_power_of_two().map_or(usize::BITS, |p| p.trailing_zeros());
        match size {
            0 => self.field(name, "=", "0"),
            _ => self.field(name, "<=", &format!("2^{bucket}")),
        }
    }

    /// Adds `name` with its exact value.
    pub fn exact(self, name: &str, value: impl fmt::Display) -> TuneKey {
        self.field(name, "=", &value.to_string())
    }

    fn field(mut self, name: &str, relation: &str, value: &str) -> TuneKey {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{}{relation}{}", escape(name), escape(value)));
        self
    }
}

/// `\`, space and `=` escaped, so that no two field lists print alike.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(' ', "\\s").replace('=', "\\e")
}

impl fmt::Display for TuneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_share_a_key_within_a_power_of_two() {
        let key = |n| TuneKey::new().exact("dtype", "f16").bucket("n", n).to_string();
        assert_eq!(key(1_000_000), "dtype=f16 n<=2^20");
        assert_eq!(key(600_000), key(1 << 20));
        assert_ne!(key(1 << 20), key((1 << 20) + 1));
        assert_eq!(key(1), "dtype=f16 n<=2^0");
        assert_eq!(key(0), "dtype=f16 n=0");
        assert_eq!(key(usize::MAX), format!("dtype=f16 n<=2^{}", usize::BITS));
    }

    #[test]
    fn fields_cannot_run_together() {
        let a = TuneKey::new().exact("a", "1 b=2");
        let b = TuneKey::new().exact("a", 1).exact("b", 2);
        assert_ne!(a, b);
        assert_eq!(b.to_string(), "a=1 b=2");
    }
}
