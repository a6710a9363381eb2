//! Fingerprints this crate's source, so compiled kernels cached on disk by one build of the
//! code generator are never loaded by another (`codegen::SOURCE_FINGERPRINT`, part of
//! every cache key): the package version alone does not change between commits.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src");
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files.sort();
    // FNV-1a, 64 bits: a fingerprint, not a defence against crafted inputs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_default();
        let name = file.to_string_lossy();
        for chunk in [name.as_bytes(), &(bytes.len() as u64).to_le_bytes(), &bytes] {
            for &b in chunk {
                hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    println!("cargo:rustc-env=AQUA_DSL_SOURCE_FINGERPRINT={hash:016x}");
}

/// Every file below `dir`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
