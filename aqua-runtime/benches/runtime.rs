//! Runtime overheads: cold compile, memory-cache hit, disk-cache hit, launch of a
//! one-program grid, an autotuner's remembered choice. Run with
//! `cargo bench -p aqua-runtime --bench runtime`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Duration;

use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::autotune::{Autotuner, TuneKey};
use aqua_runtime::{Arg, HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use common::Axpy;
use criterion::{criterion_group, criterion_main, Criterion};

fn options(cache_dir: Option<&Path>) -> RuntimeOptions {
    RuntimeOptions {
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mode: LaunchMode::Unchecked,
        opt_level: 3,
        cache_dir: cache_dir.map(Path::to_path_buf),
        dump_dir: None,
    }
}

fn bench(c: &mut Criterion) {
    let params = Params::new();
    let mut g = c.benchmark_group("runtime");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));

    // A fresh runtime without a disk cache: build, verify, LLVM, link, load every time.
    g.bench_function("cold compile (axpy, no cache)", |b| {
        b.iter(|| Runtime::cpu_with(options(None)).compile(&Axpy, &params).unwrap())
    });

    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::cpu_with(options(Some(dir.path())));
    let kernel = rt.compile(&Axpy, &params).unwrap();
    let ir = Axpy.build(&params).unwrap();
    // A source with an identity (as every `#[kernel]`): identity and params find the kernel.
    g.bench_function("memory hit (source + params)", |b| b.iter(|| rt.compile(&Axpy, &params).unwrap()));
    // From a built kernel: canonical text, hash, lookup.
    g.bench_function("memory hit (built kernel)", |b| b.iter(|| rt.compile_kernel(&ir).unwrap()));
    // A fresh runtime on a warm disk cache: read, verify, link the cached objects.
    g.bench_function("disk hit (fresh runtime)", |b| {
        b.iter(|| Runtime::cpu_with(options(Some(dir.path()))).compile(&Axpy, &params).unwrap())
    });

    let x = HostBuffer::from_slice(&[1.0f32; 64]);
    let mut y = HostBuffer::zeros(DType::F32, 64);
    g.bench_function("launch, one program (axpy, 64 elements)", |b| {
        b.iter(|| {
            rt.launch(&kernel, [1, 1, 1], &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(64)])
                .unwrap()
        })
    });

    // What a hot path pays to ask a tuner again: labels, the entry's key, a map lookup.
    let tuner = Autotuner::new("bench");
    let key = TuneKey::new().exact("dtype", "f32").bucket("n", 1 << 20);
    let blocks = [256u32, 1024, 4096];
    let no_op = |_: &u32| -> Result<(), String> { Ok(()) };
    tuner.tune(&rt, &key, &blocks, no_op).unwrap();
    g.bench_function("autotune, remembered choice (3 candidates)", |b| {
        b.iter(|| tuner.tune(&rt, &key, &blocks, no_op).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
