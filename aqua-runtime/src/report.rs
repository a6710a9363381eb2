//! What one compile request did and how long each phase took (`aqua compile --timings`).

use std::fmt;
use std::time::Duration;

use crate::cache::CacheKey;
use crate::compiled::BackendKind;
use crate::launch::LaunchMode;

/// Where a compiled kernel came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// This runtime had compiled it already.
    MemoryHit,
    /// Another runtime or process had: loaded from the disk cache.
    DiskHit,
    /// Compiled through LLVM (then stored in both cache levels).
    Compiled,
    /// Not compiled at all: the interpreter runs the IR.
    Interpreted,
}

impl fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CacheOutcome::MemoryHit => "memory cache hit",
            CacheOutcome::DiskHit => "disk cache hit",
            CacheOutcome::Compiled => "compiled (cache miss)",
            CacheOutcome::Interpreted => "interpreted (no compile)",
        })
    }
}

/// The phases of one compile request, in order, and how it was served.
#[derive(Clone, Debug)]
pub struct CompileReport {
    pub kernel: String,
    pub backend: BackendKind,
    pub mode: LaunchMode,
    /// The cache key (native backends).
    pub key: Option<CacheKey>,
    pub outcome: CacheOutcome,
    /// `(phase, time)` in order: `build`, `key`, `disk lookup`, `verify`, the code
    /// generator's stages (`llvm lower`, `llvm optimize`, ...), `link`, `cache write`,
    /// `load`; only the phases that ran.
    pub phases: Vec<(String, Duration)>,
    /// Why a corrupt disk entry was dropped on the way, if one was.
    pub dropped_entry: Option<String>,
}

impl CompileReport {
    pub(crate) fn new(kernel: &str, backend: BackendKind, mode: LaunchMode) -> CompileReport {
        CompileReport {
            kernel: kernel.to_string(),
            backend,
            mode,
            key: None,
            outcome: CacheOutcome::Compiled,
            phases: Vec::new(),
            dropped_entry: None,
        }
    }

    /// Time spent in the named phase, if it ran.
    pub fn phase(&self, name: &str) -> Option<Duration> {
        self.phases.iter().find(|(n, _)| n == name).map(|&(_, d)| d)
    }

    /// Whether any phase of the code generator (`llvm ...`) ran.
    pub fn ran_llvm(&self) -> bool {
        self.phases.iter().any(|(n, _)| n.starts_with("llvm "))
    }

    /// Sum of the phases, except those that ran alongside others: the stages of an
    /// outlined general form (`llvm general ...`) run on a second thread while the main
    /// module compiles, so they are listed but not added.
    pub fn total(&self) -> Duration {
        self.phases.iter().filter(|(n, _)| !is_concurrent(n)).map(|&(_, d)| d).sum()
    }
}

impl fmt::Display for CompileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "kernel `{}` ({}, {}): {}", self.kernel, self.backend, self.mode, self.outcome)?;
        if let Some(key) = &self.key {
            writeln!(f, "  key {key}")?;
        }
        if let Some(reason) = &self.dropped_entry {
            writeln!(f, "  dropped a corrupt disk entry: {reason}")?;
        }
        for (name, d) in &self.phases {
            let note = if is_concurrent(name) { "  (in parallel, not in the total)" } else { "" };
            writeln!(f, "  {name:<22} {:>10.3} ms{note}", d.as_secs_f64() * 1e3)?;
        }
        write!(f, "  {:<22} {:>10.3} ms", "total", self.total().as_secs_f64() * 1e3)
    }
}

/// Whether a phase ran on another thread, at the same time as the main module's stages.
fn is_concurrent(phase: &str) -> bool {
    phase.starts_with("llvm general ")
}
