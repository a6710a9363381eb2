//! The runtime: compile kernels through the cache, launch them with checked arguments.
//!
//! A compile request goes build -> canonical text and key -> memory cache -> (verify ->
//! disk cache -> LLVM -> link -> disk write) -> load; every phase that runs is timed in
//! the [`CompileReport`]. The memory level makes concurrent requests for one key compile
//! once; the disk level is shared with other runtimes and processes.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use aqua_dsl::codegen::{self, CodegenOptions, Target};
use aqua_dsl::{ComptimeValue, Kernel, KernelSource, Params};

use crate::backend::cuda::CudaDevice;
use crate::cache::{CacheKey, DiskCache, KeyInputs, Lookup, MemoryCache};
use crate::compiled::{BackendKind, CompiledKernel, Exec};
use crate::dump;
use crate::error::Error;
use crate::launch::{Arg, LaunchError, LaunchMode};
use crate::native::NativeCode;
use crate::report::{CacheOutcome, CompileReport};

mod cuda;

/// How a [`Runtime`] compiles and caches. `Default` reads the environment
/// (`AQUA_CACHE_DIR`, `AQUA_DUMP_DIR`, `AQUA_CHECKED`); tests and tools that must not
/// depend on it set every field they care about.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Host threads a launch may use (default: every available core).
    pub threads: usize,
    /// Checked or unchecked launches (default: [`LaunchMode::from_env`]).
    pub mode: LaunchMode,
    /// LLVM optimization level, 0 to 3 (default 3).
    pub opt_level: u8,
    /// The disk cache directory; `None` turns the disk cache off (default:
    /// [`DiskCache::default_dir`]).
    pub cache_dir: Option<PathBuf>,
    /// Where to write each compile's IR, LLVM IR and assembly (default: `AQUA_DUMP_DIR`).
    /// While dumping, the disk cache is written but not read, so that every kernel this
    /// process compiles is dumped.
    pub dump_dir: Option<PathBuf>,
}

impl Default for RuntimeOptions {
    fn default() -> RuntimeOptions {
        RuntimeOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mode: LaunchMode::from_env(),
            opt_level: 3,
            cache_dir: DiskCache::default_dir(),
            dump_dir: dump::dump_dir_from_env(),
        }
    }
}

/// What to compile: a kernel source with its comptime values, or a kernel already built.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Source(&'a dyn KernelSource, &'a Params),
    Kernel(&'a Kernel),
}

/// How compile requests have been served so far by one runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub memory_hits: u64,
    pub disk_hits: u64,
    /// Compiles through LLVM.
    pub compiles: u64,
    /// Corrupt disk entries dropped (each followed by a compile).
    pub dropped_entries: u64,
}

#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    compiles: AtomicU64,
    dropped_entries: AtomicU64,
}

/// The target's identity in cache keys, computed once per runtime.
struct TargetId {
    fingerprint: String,
    llvm: String,
}

/// Compiles, caches and launches kernels on one backend.
pub struct Runtime {
    backend: BackendKind,
    /// Warps per CTA of the GPU and SIMT backends (unused by the others).
    num_warps: u32,
    /// The GPU of the CUDA backend.
    device: Option<Arc<CudaDevice>>,
    /// The ptxas the CUDA backend assembles with (cubins cached), if any, and its version
    /// and flags (`Ptxas::identity`).
    ptxas: Option<(codegen::ptxas::Ptxas, String)>,
    /// Why [`Runtime::best_available`] did not pick a GPU.
    no_gpu: Option<String>,
    threads: usize,
    mode: LaunchMode,
    opt_level: u8,
    disk: Option<DiskCache>,
    dump_dir: Option<PathBuf>,
    memory: MemoryCache<CompiledKernel>,
    /// [`Runtime::compile`]'s map from (source identity, mode, params) to kernel.
    typed: Mutex<HashMap<TypedKey, Arc<CompiledKernel>>>,
    target: OnceLock<TargetId>,
    counters: Counters,
    /// [`Runtime::with_num_warps`]'s runtimes, by CTA size.
    siblings: Mutex<HashMap<u32, Arc<Runtime>>>,
}

impl Runtime {
    /// The host CPU with [`RuntimeOptions::default`]: every core, the disk cache, the
    /// launch mode and directories from the environment.
    pub fn cpu() -> Runtime {
        Runtime::cpu_with(RuntimeOptions::default())
    }

    pub fn cpu_with(options: RuntimeOptions) -> Runtime {
        Runtime::new(BackendKind::Cpu, options)
    }

    /// The reference interpreter: every launch evaluates the IR (always bounds-checked).
    pub fn interpreter() -> Runtime {
        let options =
            RuntimeOptions { threads: 1, mode: LaunchMode::Checked, cache_dir: None, dump_dir: None, opt_level: 0 };
        Runtime::new(BackendKind::Interpreter, options)
    }

    /// The SIMT emulation of the GPU program (`backend::simt`) with `num_warps` warps per
    /// CTA (a power of two up to 32): one host thread per GPU thread, for testing the GPU
    /// lowering without a GPU. Launches are unchecked (the GPU has no checked mode);
    /// `options.mode` is ignored.
    pub fn simt_with(options: RuntimeOptions, num_warps: u32) -> Runtime {
        let options = RuntimeOptions { mode: LaunchMode::Unchecked, ..options };
        Runtime { num_warps, ..Runtime::new(BackendKind::Simt, options) }
    }

    /// The first NVIDIA GPU with [`RuntimeOptions::default`] (4 warps per CTA), or why
    /// there is none: no driver, no device or an old one (never a panic).
    pub fn cuda() -> Result<Runtime, Error> {
        Runtime::cuda_with(RuntimeOptions::default(), 4)
    }

    /// The first GPU, `num_warps` warps per CTA. Launches are unchecked (`options.mode`
    /// is ignored); kernels are cached as cubins where ptxas is found, else as PTX.
    pub fn cuda_with(options: RuntimeOptions, num_warps: u32) -> Result<Runtime, Error> {
        let device = CudaDevice::probe()?;
        let ptxas = codegen::ptxas::Ptxas::find().and_then(|p| p.identity().ok().map(|v| (p, v)));
        let options = RuntimeOptions { mode: LaunchMode::Unchecked, ..options };
        Ok(Runtime { num_warps, device: Some(device), ptxas, ..Runtime::new(BackendKind::Cuda, options) })
    }

    /// The fastest backend on this machine: a GPU when a CUDA driver and a device of
    /// compute capability 8.0 or later are present, else the CPU. [`Runtime::describe`]
    /// says which was picked (and why not the GPU).
    pub fn best_available() -> Runtime {
        match Runtime::cuda() {
            Ok(rt) => rt,
            Err(e) => Runtime { no_gpu: Some(e.to_string()), ..Runtime::cpu() },
        }
    }

    /// A runtime on the same backend (and GPU) that compiles for CTAs of `num_warps`
    /// warps, with this one's options and disk cache and a memory cache of its own. Its
    /// kernels launch through either runtime: a GPU or SIMT kernel carries its CTA size.
    /// Made once per CTA size and kept, so its memory cache serves later requests too.
    /// The CPU and the interpreter have no CTAs: for them it is only a copy. For tuning
    /// the CTA size ([`crate::autotune`]).
    pub fn with_num_warps(&self, num_warps: u32) -> Arc<Runtime> {
        let mut siblings = lock(&self.siblings);
        let sibling = siblings.entry(num_warps).or_insert_with(|| {
            let options = RuntimeOptions {
                threads: self.threads,
                mode: self.mode,
                opt_level: self.opt_level,
                cache_dir: self.cache_dir().map(Path::to_path_buf),
                dump_dir: self.dump_dir.clone(),
            };
            Arc::new(Runtime {
                num_warps,
                device: self.device.clone(),
                ptxas: self.ptxas.clone(),
                no_gpu: self.no_gpu.clone(),
                ..Runtime::new(self.backend, options)
            })
        });
        sibling.clone()
    }

    /// Warps per CTA of the GPU and SIMT backends (4 unless set by the constructor).
    pub fn num_warps(&self) -> u32 {
        self.num_warps
    }

    fn new(backend: BackendKind, options: RuntimeOptions) -> Runtime {
        let disk = match backend {
            BackendKind::Cpu | BackendKind::Simt | BackendKind::Cuda => options.cache_dir.map(DiskCache::new),
            BackendKind::Interpreter => None,
        };
        Runtime {
            backend,
            num_warps: 4,
            device: None,
            ptxas: None,
            no_gpu: None,
            threads: options.threads.max(1),
            mode: options.mode,
            opt_level: options.opt_level.min(3),
            disk,
            dump_dir: options.dump_dir,
            memory: MemoryCache::new(),
            typed: Mutex::new(HashMap::new()),
            target: OnceLock::new(),
            counters: Counters::default(),
            siblings: Mutex::new(HashMap::new()),
        }
    }

    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The launch mode kernels are compiled in by [`Runtime::compile`].
    pub fn mode(&self) -> LaunchMode {
        self.mode
    }

    /// The disk cache directory, when the disk cache is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.dir())
    }

    /// One line saying which backend runs kernels, and how.
    pub fn describe(&self) -> String {
        match self.backend {
            BackendKind::Interpreter => "interpreter: reference semantics, bounds-checked, one thread".into(),
            BackendKind::Simt => format!(
                "simt: the GPU program emulated with {} host threads per CTA, LLVM {} -O{}",
                self.num_warps * 32,
                self.target().llvm,
                self.opt_level
            ),
            BackendKind::Cpu => {
                let t = self.target();
                let cache = match self.cache_dir() {
                    Some(d) => format!("disk cache {}", d.display()),
                    None => "no disk cache".into(),
                };
                // The fingerprint is `triple;cpu;features`: the features are too long to show.
                let machine = t.fingerprint.split(';').take(2).collect::<Vec<_>>().join(" ");
                let gpu = self.no_gpu.as_ref().map(|why| format!(" (no GPU: {why})")).unwrap_or_default();
                format!(
                    "cpu: {machine}, {} threads, {} launches, LLVM {} -O{}, {cache}{gpu}",
                    self.threads, self.mode, t.llvm, self.opt_level
                )
            }
            BackendKind::Cuda => {
                let (name, sm) = self.device.as_ref().map_or(("?", 0), |d| (d.name(), d.target_sm()));
                let image = match &self.ptxas {
                    Some((_, v)) => format!("cubins from ptxas ({v})"),
                    None => "PTX compiled by the driver (no ptxas found)".into(),
                };
                format!("cuda: {name}, sm_{sm} code, {} threads per CTA, {image}", self.num_warps * 32)
            }
        }
    }

    pub fn cache_stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            memory_hits: c.memory_hits.load(Ordering::Relaxed),
            disk_hits: c.disk_hits.load(Ordering::Relaxed),
            compiles: c.compiles.load(Ordering::Relaxed),
            dropped_entries: c.dropped_entries.load(Ordering::Relaxed),
        }
    }

    /// Specializes `source` on `params` and compiles it in this runtime's mode.
    ///
    /// A source with an [`KernelSource::identity`] (every `#[kernel]`) is remembered by
    /// (identity, mode, params): a repeated request costs a map lookup, not a build. Other
    /// sources are built each time and found in the cache by their canonical IR.
    pub fn compile(&self, source: &dyn KernelSource, params: &Params) -> Result<Arc<CompiledKernel>, Error> {
        let Some(identity) = source.identity() else {
            return Ok(self.compile_with_report(Input::Source(source, params), self.mode)?.0);
        };
        let key = (identity, self.mode, params_key(params));
        if let Some(k) = lock(&self.typed).get(&key) {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(k.clone());
        }
        let k = self.compile_with_report(Input::Source(source, params), self.mode)?.0;
        lock(&self.typed).insert(key, k.clone());
        Ok(k)
    }

    /// Compiles a kernel already built (from a source, the text parser or a generator).
    pub fn compile_kernel(&self, kernel: &Kernel) -> Result<Arc<CompiledKernel>, Error> {
        Ok(self.compile_with_report(Input::Kernel(kernel), self.mode)?.0)
    }

    /// Compiles `input` in `mode` and reports how: each phase's time and which cache level
    /// served it.
    pub fn compile_with_report(
        &self,
        input: Input,
        mode: LaunchMode,
    ) -> Result<(Arc<CompiledKernel>, CompileReport), Error> {
        let start = Instant::now();
        // A built kernel is only copied when it has to be compiled.
        let kernel = match input {
            Input::Source(source, params) => Cow::Owned(source.build_unverified(params)?),
            Input::Kernel(k) => Cow::Borrowed(k),
        };
        let mut report = CompileReport::new(&kernel.name, self.backend, mode);
        report.phases.push(("build".into(), start.elapsed()));
        if self.backend == BackendKind::Interpreter {
            timed(&mut report, "verify", || aqua_dsl::verify::verify(&kernel))?;
            report.mode = LaunchMode::Checked;
            report.outcome = CacheOutcome::Interpreted;
            let compiled = CompiledKernel::new(kernel.into_owned(), LaunchMode::Checked, None, Exec::Interpreter);
            return Ok((Arc::new(compiled), report));
        }

        let (ir, key) = timed(&mut report, "key", || {
            let ir = kernel.to_string();
            let key = self.key(&ir, mode);
            (ir, key)
        });
        report.key = Some(key);
        let (compiled, hit) = self
            .memory
            .get_or_try_insert(&key, || self.compile_native(kernel.into_owned(), &ir, key, mode, &mut report))?;
        if hit {
            report.outcome = CacheOutcome::MemoryHit;
        }
        let counter = match report.outcome {
            CacheOutcome::MemoryHit => &self.counters.memory_hits,
            CacheOutcome::DiskHit => &self.counters.disk_hits,
            _ => &self.counters.compiles,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok((compiled, report))
    }

    /// Checks `args` against the kernel's signature and runs `grid` programs.
    pub fn launch(&self, kernel: &CompiledKernel, grid: [u32; 3], args: &mut [Arg]) -> Result<(), LaunchError> {
        kernel.run(grid, args, self.threads)
    }

    fn target(&self) -> &TargetId {
        self.target
            .get_or_init(|| TargetId { fingerprint: codegen::host_target_fingerprint(), llvm: codegen::llvm_version() })
    }

    fn codegen_options(&self, mode: LaunchMode) -> CodegenOptions {
        CodegenOptions {
            target: match self.backend {
                BackendKind::Simt => Target::Simt { num_warps: self.num_warps },
                BackendKind::Cuda => Target::Nvptx {
                    sm: self.device.as_ref().map_or(90, |d| d.target_sm()),
                    num_warps: self.num_warps,
                },
                _ => Target::HostCpu,
            },
            opt_level: self.opt_level,
            checked: mode.is_checked(),
            emit_text: self.dump_dir.is_some(),
        }
    }

    /// The key of an autotuning choice that `text` describes: this runtime's target and
    /// codegen options, as in a kernel's key, plus what decides speed but not code: the
    /// GPU's name, or the host threads a launch spreads over.
    pub(crate) fn tuning_key(&self, text: &str) -> CacheKey {
        let machine = match &self.device {
            Some(d) => format!("gpu {}", d.name()),
            None => format!("{} threads", self.threads),
        };
        self.key(&format!("autotune\n{machine}\n{text}"), self.mode)
    }

    fn key(&self, ir: &str, mode: LaunchMode) -> CacheKey {
        let t = self.target();
        let o = self.codegen_options(mode);
        let (target, fingerprint) = match o.target {
            Target::Simt { num_warps } => (format!("simt-w{num_warps}"), t.fingerprint.as_str()),
            Target::Nvptx { sm, num_warps } => {
                let assembler = self.ptxas.as_ref().map_or("ptx", |(_, v)| v.as_str());
                (format!("sm_{sm}-w{num_warps} {assembler}"), "nvptx64-nvidia-cuda")
            }
            Target::HostCpu => ("host-cpu".into(), t.fingerprint.as_str()),
        };
        let options = format!("target={target} opt={} checked={}", o.opt_level, o.checked);
        CacheKey::new(KeyInputs { ir, target: fingerprint, llvm: &t.llvm, options: &options })
    }

    /// A memory miss: the disk cache, else LLVM. Runs at most once per key at a time.
    fn compile_native(
        &self,
        kernel: Kernel,
        ir: &str,
        key: CacheKey,
        mode: LaunchMode,
        report: &mut CompileReport,
    ) -> Result<CompiledKernel, Error> {
        if self.backend == BackendKind::Cuda {
            return self.compile_cuda(kernel, ir, key, mode, report);
        }
        let name = kernel.name.clone();
        // While dumping, skip disk hits so every kernel this process uses gets dumped.
        if let Some(disk) = self.disk.as_ref().filter(|_| self.dump_dir.is_none()) {
            let lookup = match timed(report, "disk lookup", || disk.load(&key)) {
                Lookup::Hit(payload) => {
                    let loaded = timed(report, "load", || {
                        NativeCode::unpack(&payload).and_then(|code| self.load(&code, &name).map_err(|e| e.to_string()))
                    });
                    match loaded {
                        Ok(exec) => {
                            report.outcome = CacheOutcome::DiskHit;
                            return Ok(CompiledKernel::new(kernel, mode, Some(key), exec));
                        }
                        Err(reason) => disk.reject(&key, reason),
                    }
                }
                other => other,
            };
            if let Lookup::Dropped { reason } = lookup {
                self.counters.dropped_entries.fetch_add(1, Ordering::Relaxed);
                report.dropped_entry = Some(reason);
            }
        }
        report.outcome = CacheOutcome::Compiled;
        timed(report, "verify", || aqua_dsl::verify::verify(&kernel))?;
        let artifact = codegen::compile(&kernel, &self.codegen_options(mode))?;
        report.phases.extend(artifact.timings.iter().map(|&(stage, d)| (format!("llvm {stage}"), d)));
        if let Some(dir) = &self.dump_dir {
            dump::write_dumps(dir, &name, &key, ir, &artifact.llvm_ir, &artifact.asm);
        }
        let code = NativeCode::new(&artifact.objects());
        let exec = timed(report, "link", || self.load(&code, &name))?;
        if let Some(disk) = &self.disk {
            if let Err(e) = timed(report, "cache write", || disk.store(&key, &code.pack())) {
                eprintln!("aqua: warning: cannot write cache entry {}: {e}", disk.entry_path(&key).display());
            }
        }
        Ok(CompiledKernel::new(kernel, mode, Some(key), exec))
    }

    fn load(&self, code: &NativeCode, name: &str) -> Result<Exec, Error> {
        Ok(match self.backend {
            BackendKind::Simt => Exec::Simt(code.load_simt(name)?),
            _ => Exec::Cpu(code.load(name)?),
        })
    }
}

type TypedKey = (TypeId, LaunchMode, String);

/// The comptime values as text that tells every two distinct values apart (floats by
/// their bits, so even NaN payloads differ).
fn params_key(params: &Params) -> String {
    let mut key = String::new();
    for (name, value) in &params.0 {
        let _ = match value {
            ComptimeValue::Int(i) => write!(key, "{name}=i{i};"),
            ComptimeValue::Float(x) => write!(key, "{name}=f{:x};", x.to_bits()),
            ComptimeValue::Bool(b) => write!(key, "{name}=b{b};"),
        };
    }
    key
}

/// The typed map holds complete values only, so a poisoned lock is taken over.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f`, recording its time as phase `name`.
fn timed<T>(report: &mut CompileReport, name: &'static str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    report.phases.push((name.to_string(), start.elapsed()));
    out
}
