//! The cache key: one hash of everything that determines a compiled kernel's code.
//!
//! Two compiles share a key exactly when they would produce the same machine code: the
//! canonical IR text (which includes the comptime values), the target (triple, CPU and
//! features), the LLVM version, aqua's own version, a fingerprint of the code generator's
//! source (so two commits of one version never share code) and the codegen options. Each field is
//! hashed with its length, so no two field lists run together into the same bytes.

use std::fmt;

/// A blake3 hash identifying one compiled kernel; shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey([u8; 32]);

/// The inputs of a [`CacheKey`] besides aqua's version and the code generator's source
/// fingerprint, which are always included.
#[derive(Clone, Copy, Debug)]
pub struct KeyInputs<'a> {
    /// The kernel's canonical IR text.
    pub ir: &'a str,
    /// The target fingerprint (triple, CPU name, features).
    pub target: &'a str,
    /// The LLVM version the code generator links.
    pub llvm: &'a str,
    /// Every codegen option that changes the code (opt level, checked mode), as text.
    pub options: &'a str,
}

impl CacheKey {
    /// The version of aqua, part of every key: a new aqua never reads an old one's code.
    pub const AQUA_VERSION: &'static str = env!("CARGO_PKG_VERSION");

    pub fn new(inputs: KeyInputs) -> CacheKey {
        let mut h = blake3::Hasher::new_derive_key("aqua kernel cache key, v1");
        let fields = [
            Self::AQUA_VERSION,
            aqua_dsl::codegen::SOURCE_FINGERPRINT,
            inputs.target,
            inputs.llvm,
            inputs.options,
            inputs.ir,
        ];
        for field in fields {
            h.update(&(field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        CacheKey(*h.finalize().as_bytes())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> CacheKey {
        CacheKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The full key as 64 lowercase hex digits (the disk entry's file name).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The first 12 hex digits: enough to tell kernels apart in dump file names and logs.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ir: &str, target: &str, llvm: &str, options: &str) -> CacheKey {
        CacheKey::new(KeyInputs { ir, target, llvm, options })
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = key("ir", "x86_64 znver3 +avx2", "19.1", "opt=3 checked=false");
        assert_eq!(base, key("ir", "x86_64 znver3 +avx2", "19.1", "opt=3 checked=false"));
        assert_ne!(base, key("ir2", "x86_64 znver3 +avx2", "19.1", "opt=3 checked=false"));
        assert_ne!(base, key("ir", "x86_64 znver3", "19.1", "opt=3 checked=false"));
        assert_ne!(base, key("ir", "x86_64 znver3 +avx2", "19.2", "opt=3 checked=false"));
        assert_ne!(base, key("ir", "x86_64 znver3 +avx2", "19.1", "opt=3 checked=true"));
        // Length prefixes keep field boundaries: moving a byte across one changes the key.
        assert_ne!(key("ab", "c", "", ""), key("a", "bc", "", ""));
    }

    #[test]
    fn hex_forms() {
        let k = key("ir", "t", "l", "o");
        assert_eq!(k.hex().len(), 64);
        assert!(k.hex().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(k.hex().starts_with(&k.short()));
        assert_eq!(CacheKey::from_bytes(*k.as_bytes()), k);
    }
}
