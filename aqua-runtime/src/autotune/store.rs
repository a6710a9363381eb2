//! Tuning choices on disk, next to the kernel cache (`<cache dir>/autotune/`), so that a
//! process does not retune what an earlier one measured on the same machine.
//!
//! A choice is an entry of the kernel cache's own format (`cache::disk`: atomic writes, a
//! checksum, corrupt entries dropped with a warning) whose payload is the chosen
//! candidate's label. The entry's key covers the tuner, the tuning key, the candidates'
//! labels and the runtime's target, so a new candidate list, another GPU, another host
//! thread count or another build of the code generator tunes afresh.

use std::path::Path;

use crate::cache::{CacheKey, DiskCache, Lookup};

pub(super) struct ChoiceStore {
    disk: DiskCache,
}

impl ChoiceStore {
    /// The store of the kernel cache in `cache_dir`.
    pub(super) fn in_cache(cache_dir: &Path) -> ChoiceStore {
        ChoiceStore { disk: DiskCache::new(cache_dir.join("autotune")) }
    }

    /// The label stored under `key`, if an intact entry holds one.
    pub(super) fn load(&self, key: &CacheKey) -> Option<String> {
        match self.disk.load(key) {
            Lookup::Hit(payload) => match String::from_utf8(payload) {
                Ok(label) => Some(label),
                Err(_) => {
                    self.reject(key, "the stored label is not UTF-8");
                    None
                }
            },
            Lookup::Miss | Lookup::Dropped { .. } => None,
        }
    }

    /// Drops `key`'s entry, which verified but names no candidate.
    pub(super) fn reject(&self, key: &CacheKey, reason: &str) {
        self.disk.reject(key, reason.to_string());
    }

    /// Stores `label` under `key`; a failure costs only a retune, so it is a warning.
    pub(super) fn store(&self, key: &CacheKey, label: &str) {
        if let Err(e) = self.disk.store(key, label.as_bytes()) {
            eprintln!("aqua: warning: cannot write autotuning choice {}: {e}", self.disk.entry_path(key).display());
        }
    }

    #[cfg(test)]
    pub(super) fn entry_path(&self, key: &CacheKey) -> std::path::PathBuf {
        self.disk.entry_path(key)
    }
}
