//! `AQUA_DUMP_DIR`: every compile's canonical IR, LLVM IR and assembly, for authors.
//!
//! Files are named `<kernel>-<shortkey>.{ir,ll,s}`, so the variants of one kernel sit side
//! by side and a file can be matched with its cache entry. Failing to write a dump warns
//! and does not fail the compile: the kernel is fine, only the inspection copy is missing.

use std::path::{Path, PathBuf};

use crate::cache::CacheKey;

/// The dump directory from `AQUA_DUMP_DIR`, when set and non-empty.
pub fn dump_dir_from_env() -> Option<PathBuf> {
    std::env::var_os("AQUA_DUMP_DIR").filter(|d| !d.is_empty()).map(PathBuf::from)
}

/// The file stem of a kernel's dumps: its name (characters outside `[A-Za-z0-9_-]`
/// replaced by `_`) and the short key.
pub fn dump_stem(kernel: &str, key: &CacheKey) -> String {
    let name: String =
        kernel.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    format!("{name}-{}", key.short())
}

/// Writes `<stem>.ir`, `<stem>.ll` and `<stem>.s` into `dir` (created if missing).
pub(crate) fn write_dumps(dir: &Path, kernel: &str, key: &CacheKey, ir: &str, llvm_ir: &str, asm: &str) {
    let stem = dump_stem(kernel, key);
    let result = std::fs::create_dir_all(dir).and_then(|()| {
        for (ext, text) in [("ir", ir), ("ll", llvm_ir), ("s", asm)] {
            std::fs::write(dir.join(format!("{stem}.{ext}")), text)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("aqua: warning: cannot write dumps of kernel `{kernel}` to {}: {e}", dir.display());
    }
}
