//! Dequantizing into more memory than the caches hold: the CPU writes such an output with
//! streaming stores (non-temporal, [`aqua_dsl::build::store_streaming`]), which skip
//! reading each line before writing it. Into less, plain stores keep the output in the
//! caches for whatever reads it next, and are faster there (the demo's 3 MB).
//!
//! The dequantizers that gain take a comptime `stream` (KIVI tiles, whose rows lie a
//! tensor's channels apart, 1.1-1.43x at 64 MiB on one core; HIGGS 1.19-1.31x); the uniform
//! dequantizer along channels, whose plain stores already run near the memory's write
//! speed, measured 0.8-0.9x and has none. The streaming form is compiled on first use.
//!
//! "More than the caches hold" is the host's last-level cache, as Linux reports it for the
//! first CPU (`/sys/devices/system/cpu/cpu0/cache`): the share that core sees, 32 MiB on
//! the 2-core EPYC, where `cpuid` would report the whole chip's 320.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::{BackendKind, CompiledKernel, Runtime};

use super::HostError;

/// The threshold where the host's last-level cache size is unknown (no Linux sysfs): at
/// least the last-level cache of most hosts.
pub const DEFAULT_STREAMING_BYTES: usize = 32 << 20;

/// Outputs of at least this many bytes are written with streaming stores on the CPU: the
/// host's last-level cache, else [`DEFAULT_STREAMING_BYTES`]. Read once.
pub fn streaming_bytes() -> usize {
    static BYTES: OnceLock<usize> = OnceLock::new();
    *BYTES.get_or_init(|| {
        last_level_cache_bytes(Path::new("/sys/devices/system/cpu/cpu0/cache")).unwrap_or(DEFAULT_STREAMING_BYTES)
    })
}

/// The size of the highest-level data or unified cache listed under `dir` (Linux's
/// `cpu*/cache` layout: `index*/{level,type,size}`), or `None` where there is none.
fn last_level_cache_bytes(dir: &Path) -> Option<usize> {
    let read = |index: &Path, file: &str| std::fs::read_to_string(index.join(file)).ok();
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("index"))
        .filter_map(|entry| {
            let index = entry.path();
            if read(&index, "type")?.trim() == "Instruction" {
                return None;
            }
            let level: u32 = read(&index, "level")?.trim().parse().ok()?;
            Some((level, cache_size_bytes(&read(&index, "size")?)?))
        })
        .max()
        .map(|(_, bytes)| bytes)
}

/// Bytes of a sysfs cache size: `32768K`, `1M`, or a plain count.
fn cache_size_bytes(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, 'K') => (&text[..i], 1 << 10),
        (i, 'M') => (&text[..i], 1 << 20),
        (i, 'G') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(unit).filter(|&bytes| bytes > 0)
}

/// The streaming form of a dequantize kernel (its comptime `stream` set), compiled on
/// first use.
pub(crate) struct StreamingForm {
    source: &'static dyn KernelSource,
    params: Params,
    /// The output's dtype.
    dtype: DType,
    kernel: OnceLock<Arc<CompiledKernel>>,
}

impl StreamingForm {
    /// The form of `source` compiled with `params` and `stream` set, writing `dtype`.
    pub(crate) fn new(source: &'static dyn KernelSource, params: &Params, dtype: DType) -> StreamingForm {
        StreamingForm { source, params: params.clone().with("stream", true), dtype, kernel: OnceLock::new() }
    }

    /// Whether dequantizing `n` values on `rt` takes this form: on a CPU, outputs of
    /// [`streaming_bytes`] and more.
    pub(crate) fn streams(&self, rt: &Runtime, n: usize) -> bool {
        rt.backend() == BackendKind::Cpu && n * self.dtype.size_bytes() >= streaming_bytes()
    }

    /// The kernel that dequantizes `n` values: this form where it [`Self::streams`], else
    /// `plain`.
    pub(crate) fn pick<'k>(
        &'k self,
        rt: &Runtime,
        plain: &'k Arc<CompiledKernel>,
        n: usize,
    ) -> Result<&'k Arc<CompiledKernel>, HostError> {
        if !self.streams(rt, n) {
            return Ok(plain);
        }
        if let Some(k) = self.kernel.get() {
            return Ok(k);
        }
        let k = rt.compile(self.source, &self.params)?;
        Ok(self.kernel.get_or_init(|| k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a fake `cpu*/cache` folder: one `index*` per `(level, type, size)`.
    fn caches(levels: &[(&str, &str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (i, (level, kind, size)) in levels.iter().enumerate() {
            let index = dir.path().join(format!("index{i}"));
            std::fs::create_dir(&index).unwrap();
            for (file, text) in [("level", level), ("type", kind), ("size", size)] {
                std::fs::write(index.join(file), format!("{text}\n")).unwrap();
            }
        }
        dir
    }

    #[test]
    fn the_last_level_is_the_highest_data_or_unified_cache() {
        let epyc = caches(&[
            ("1", "Data", "32K"),
            ("1", "Instruction", "32K"),
            ("2", "Unified", "1024K"),
            ("3", "Unified", "32768K"),
        ]);
        assert_eq!(last_level_cache_bytes(epyc.path()), Some(32 << 20));
        let no_l3 = caches(&[("1", "Data", "48K"), ("2", "Unified", "2M"), ("3", "Instruction", "64K")]);
        assert_eq!(last_level_cache_bytes(no_l3.path()), Some(2 << 20));
    }

    #[test]
    fn unreadable_caches_leave_the_default() {
        assert_eq!(last_level_cache_bytes(Path::new("/nonexistent/cache")), None);
        assert_eq!(last_level_cache_bytes(caches(&[]).path()), None);
        assert_eq!(last_level_cache_bytes(caches(&[("3", "Unified", "lots")]).path()), None);
        for bad in ["", "K", "0K", "-1M", "99999999999999999999G"] {
            assert_eq!(cache_size_bytes(bad), None, "{bad:?}");
        }
        assert_eq!(cache_size_bytes("512"), Some(512));
        let host = last_level_cache_bytes(Path::new("/sys/devices/system/cpu/cpu0/cache"));
        assert_eq!(streaming_bytes(), host.unwrap_or(DEFAULT_STREAMING_BYTES));
    }
}
