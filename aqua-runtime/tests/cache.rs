//! The kernel cache, end to end: memory hits, disk hits across runtimes and processes,
//! damaged entries dropped and rebuilt, one compile per key under concurrency.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use aqua_dsl::{KernelSource, Params};
use aqua_runtime::cache::DiskCache;
use aqua_runtime::{
    Arg, CacheOutcome, CompileReport, CompiledKernel, HostBuffer, Input, LaunchMode, Runtime, RuntimeOptions,
};
use common::{axpy_reference, data, Axpy};

fn runtime(cache_dir: &Path) -> Runtime {
    Runtime::cpu_with(RuntimeOptions {
        threads: 2,
        mode: LaunchMode::Unchecked,
        opt_level: 3,
        cache_dir: Some(cache_dir.to_path_buf()),
        dump_dir: None,
    })
}

fn compile(rt: &Runtime, params: &Params) -> (Arc<CompiledKernel>, CompileReport) {
    rt.compile_with_report(Input::Source(&Axpy, params), rt.mode()).unwrap()
}

/// Runs axpy on 1000 elements and checks every output exactly (the kernel does one
/// multiply and one add per element, like the reference, so results are bit-identical
/// unless the code generator contracts them into an fma, which it must not do).
fn check_axpy(rt: &Runtime, k: &CompiledKernel) {
    let n = 1000;
    let (x, y) = (data(n, 1), data(n, 2));
    let xb = HostBuffer::from_slice(&x);
    let mut yb = HostBuffer::from_slice(&y);
    let block = 64;
    let grid = [n.div_ceil(block) as u32, 1, 1];
    rt.launch(k, grid, &mut [Arg::Buf(&xb), Arg::BufMut(&mut yb), Arg::f32(1.5), Arg::i32(n as i32)]).unwrap();
    assert_eq!(yb.to_vec::<f32>().unwrap(), axpy_reference(1.5, &x, &y));
}

fn entry_path(rt: &Runtime, k: &CompiledKernel) -> PathBuf {
    DiskCache::new(rt.cache_dir().unwrap()).entry_path(k.key().unwrap())
}

#[test]
fn second_compile_is_a_memory_hit() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (first, report) = compile(&rt, &Params::new());
    assert_eq!(report.outcome, CacheOutcome::Compiled, "{report}");
    assert!(report.ran_llvm() && report.phase("link").is_some() && report.phase("verify").is_some(), "{report}");
    let (second, report) = compile(&rt, &Params::new());
    assert_eq!(report.outcome, CacheOutcome::MemoryHit, "{report}");
    assert!(report.phase("link").is_none(), "{report}");
    assert!(Arc::ptr_eq(&first, &second));
    // Spelling out the default comptime value gives the same kernel, hence the same key.
    let (third, _) = compile(&rt, &Params::new().with("block", 64));
    assert!(Arc::ptr_eq(&first, &third));
    let stats = rt.cache_stats();
    assert_eq!((stats.compiles, stats.memory_hits, stats.disk_hits), (1, 2, 0));
    check_axpy(&rt, &second);
}

#[test]
fn a_fresh_runtime_hits_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let key = {
        let rt = runtime(dir.path());
        let (k, _) = compile(&rt, &Params::new());
        assert!(entry_path(&rt, &k).is_file());
        *k.key().unwrap()
    };
    let rt = runtime(dir.path());
    let (k, report) = compile(&rt, &Params::new());
    assert_eq!(report.outcome, CacheOutcome::DiskHit, "{report}");
    assert!(!report.ran_llvm() && report.phase("link").is_none(), "{report}");
    assert_eq!(k.key(), Some(&key));
    assert_eq!(rt.cache_stats().disk_hits, 1);
    check_axpy(&rt, &k);
}

#[test]
fn variants_and_modes_get_their_own_entries() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (a, _) = compile(&rt, &Params::new());
    let (b, _) = compile(&rt, &Params::new().with("block", 128));
    let (c, _) = rt.compile_with_report(Input::Source(&Axpy, &Params::new()), LaunchMode::Checked).unwrap();
    assert_ne!(a.key(), b.key());
    assert_ne!(a.key(), c.key());
    assert_eq!(c.mode(), LaunchMode::Checked);
    assert_eq!(rt.cache_stats().compiles, 3);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

/// A well-formed cache entry for `key` holding `payload`.
fn entry_holding(key: &aqua_runtime::cache::CacheKey, payload: &[u8]) -> Vec<u8> {
    let scratch = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(scratch.path());
    cache.store(key, payload).unwrap();
    std::fs::read(cache.entry_path(key)).unwrap()
}

#[test]
fn damaged_entries_are_dropped_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, other_entry) = {
        let rt = runtime(dir.path());
        let (k, _) = compile(&rt, &Params::new());
        let (other, _) = compile(&rt, &Params::new().with("block", 128));
        (entry_path(&rt, &k), std::fs::read(entry_path(&rt, &other)).unwrap())
    };
    let good = std::fs::read(&key_path).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    let damage: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("header only", good[..40].to_vec()),
        ("empty", vec![]),
        ("garbage", (0..good.len()).map(|i| (i * 7 + 3) as u8).collect()),
        ("a bit flipped in the objects", flipped),
        ("another key's entry", other_entry),
    ];
    // Entries whose checksum and key are right but whose code cannot be used: an older
    // aqua's shared library, an object that does not link.
    let key = *compile(&runtime(dir.path()), &Params::new()).0.key().unwrap();
    let mut unlinkable = b"AQOBJ1".to_vec();
    unlinkable.extend(1u32.to_le_bytes());
    unlinkable.extend(8u64.to_le_bytes());
    unlinkable.extend(b"\x7fELFjunk");
    let mut damage = damage;
    damage.push(("a payload of another format", entry_holding(&key, b"\x7fELF, not packed objects")));
    damage.push(("an object that does not link", entry_holding(&key, &unlinkable)));
    for (what, bytes) in damage {
        std::fs::write(&key_path, &bytes).unwrap();
        let rt = runtime(dir.path());
        let (k, report) = compile(&rt, &Params::new());
        assert_eq!(report.outcome, CacheOutcome::Compiled, "{what}: {report}");
        assert!(report.dropped_entry.is_some(), "{what}: {report}");
        assert_eq!(rt.cache_stats().dropped_entries, 1, "{what}");
        check_axpy(&rt, &k);
        // The rebuilt entry is whole again: the next runtime hits it.
        assert_eq!(std::fs::read(&key_path).unwrap(), good, "{what}");
        let (_, report) = compile(&runtime(dir.path()), &Params::new());
        assert_eq!(report.outcome, CacheOutcome::DiskHit, "{what}: {report}");
    }
}

#[test]
fn concurrent_threads_compile_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let threads = 6;
    let barrier = Barrier::new(threads);
    let kernels: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    rt.compile(&Axpy, &Params::new()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stats = rt.cache_stats();
    assert_eq!((stats.compiles, stats.memory_hits), (1, threads as u64 - 1), "{stats:?}");
    assert!(kernels.iter().all(|k| Arc::ptr_eq(k, &kernels[0])));
    check_axpy(&rt, &kernels[0]);
}

#[test]
fn without_a_cache_dir_nothing_touches_the_disk() {
    let rt = Runtime::cpu_with(RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() });
    assert!(rt.cache_dir().is_none());
    let (_, report) = compile(&rt, &Params::new());
    assert_eq!(report.outcome, CacheOutcome::Compiled);
    assert!(report.phase("disk lookup").is_none() && report.phase("cache write").is_none(), "{report}");
}

/// Counts how often its body runs; `stateful` makes the source a type with data.
struct Counted {
    _stateful: Option<u8>,
}

static BUILDS: AtomicUsize = AtomicUsize::new(0);

impl KernelSource for Counted {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn params(&self) -> Vec<aqua_dsl::ir::Param> {
        Axpy.params()
    }
    fn comptime_params(&self) -> Vec<aqua_dsl::build::ComptimeParam> {
        Axpy.comptime_params()
    }
    fn body(&self, args: &[aqua_dsl::build::Value], p: &Params) {
        BUILDS.fetch_add(1, Ordering::SeqCst);
        Axpy.body(args, p)
    }
}

#[derive(Clone, Copy)]
struct CountedUnit;

impl KernelSource for CountedUnit {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn params(&self) -> Vec<aqua_dsl::ir::Param> {
        Axpy.params()
    }
    fn comptime_params(&self) -> Vec<aqua_dsl::build::ComptimeParam> {
        Axpy.comptime_params()
    }
    fn body(&self, args: &[aqua_dsl::build::Value], p: &Params) {
        Counted { _stateful: None }.body(args, p)
    }
    fn identity(&self) -> Option<std::any::TypeId> {
        Some(std::any::TypeId::of::<Self>())
    }
}

#[test]
fn requests_for_sources_with_an_identity_skip_building() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let builds = || BUILDS.load(Ordering::SeqCst);
    let before = builds();
    let a = rt.compile(&CountedUnit, &Params::new()).unwrap();
    let b = rt.compile(&CountedUnit, &Params::new()).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(builds() - before, 1, "the second request must not build the kernel");
    // Other comptime values are another kernel.
    let c = rt.compile(&CountedUnit, &Params::new().with("block", 128)).unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(builds() - before, 2);
    // A source without an identity may build differently each time: it is always built.
    let d = rt.compile(&Counted { _stateful: Some(1) }, &Params::new()).unwrap();
    let e = rt.compile(&Counted { _stateful: Some(1) }, &Params::new()).unwrap();
    assert_eq!(builds() - before, 4);
    assert!(Arc::ptr_eq(&a, &d) && Arc::ptr_eq(&d, &e), "same IR, same cache key");
    let stats = rt.cache_stats();
    assert_eq!((stats.compiles, stats.memory_hits), (2, 3), "{stats:?}");
    check_axpy(&rt, &b);
}

/// Set in the child processes of the test below: the shared cache directory.
const CHILD_ENV: &str = "AQUA_RUNTIME_TEST_CHILD_CACHE";
/// Each child waits for this file so that all of them compile at about the same time.
const GO_FILE: &str = "go";

#[test]
fn concurrent_processes_share_one_cache() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        return child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "concurrent_processes_share_one_cache", "--nocapture", "--test-threads", "1"])
                .env(CHILD_ENV, &cache)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join(GO_FILE), b"").unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("child ok:"), "the child did not run its role:\n{stdout}");
        assert!(!stderr.contains("warning"), "a child saw a damaged entry:\n{stderr}");
    }
    let rt = runtime(&cache);
    let (k, report) = compile(&rt, &Params::new());
    assert_eq!(report.outcome, CacheOutcome::DiskHit, "{report}");
    check_axpy(&rt, &k);
}

fn child(cache: &Path) {
    let go = cache.join(GO_FILE);
    let start = std::time::Instant::now();
    while !go.exists() {
        assert!(start.elapsed().as_secs() < 60, "the parent never said go");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let rt = runtime(cache);
    let (k, report) = compile(&rt, &Params::new());
    assert!(matches!(report.outcome, CacheOutcome::Compiled | CacheOutcome::DiskHit), "{report}");
    check_axpy(&rt, &k);
    println!("child ok: {}", report.outcome);
}
