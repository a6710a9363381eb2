//! `aqua bench`: the costs that matter for a JIT kernel library, measured in one run.
//!
//! - cold compile of one quantizer variant (fresh runtime, empty temporary disk cache);
//! - memory-cache hit (same runtime, same request);
//! - disk-cache hit in a new process (this binary re-run with the hidden `--disk-probe`);
//! - launch overhead of a one-program grid (axpy on one block);
//! - quantize and dequantize throughput of each method and (bits, group) next to a memcpy
//!   of the same bytes, on one thread and on every core, with their ratios
//!   ([`crate::bench_quant`]).
//!
//! With `--gpu`, the GPU's launch overhead and throughput instead ([`crate::bench_gpu`]).
//!
//! Figures are reported, not asserted; the targets shown are the project's (issues 2, 4).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aqua_dsl::{DType, Params};
use aqua_kernels::kernels::{axpy, quantize_uniform};
use aqua_kernels::quant::Uniform;
use aqua_runtime::{Arg, CacheOutcome, HostBuffer, Input, LaunchMode, Runtime, RuntimeOptions};

use crate::bench_gpu;
use crate::bench_quant::{self, VariantArgs};
use crate::error::CliError;

#[derive(clap::Args)]
pub struct Args {
    /// The variants of the throughput table; the first bit width and group size are also
    /// compiled for the JIT costs.
    #[command(flatten)]
    variants: VariantArgs,
    /// Values per program of the kernel compiled for the JIT costs (by default the CPU's
    /// default tile, which the throughput table uses too).
    #[arg(long, default_value_t = aqua_kernels::host::uniform::DEFAULT_BLOCK)]
    block: u32,
    /// Size of the f16 tensor for throughput, in MiB (the real KV slice tiled); default 64
    /// on the CPU, 1024 on the GPU (well past its caches).
    #[arg(long)]
    mib: Option<usize>,
    /// Skip the JIT costs (compile, caches, launch): throughput only.
    #[arg(long)]
    throughput_only: bool,
    /// Benchmark the GPU (CUDA) instead, on device-resident buffers: launch overhead and
    /// throughput. Without a GPU, prints `skipped: ...` and exits 0.
    #[arg(long, conflicts_with = "throughput_only")]
    gpu: bool,
    /// Internal: compile once from the disk cache in DIR and print the time in ns.
    #[arg(long, hide = true)]
    disk_probe: Option<PathBuf>,
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::failed(e.to_string())
}

/// A CPU runtime with unchecked launches (what is measured is the kernels, not the bounds
/// checks a debug build would add).
fn runtime(cache_dir: Option<&Path>, threads: usize) -> Runtime {
    Runtime::cpu_with(RuntimeOptions {
        threads,
        mode: LaunchMode::Unchecked,
        cache_dir: cache_dir.map(Path::to_path_buf),
        dump_dir: None,
        ..RuntimeOptions::default()
    })
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let (bits, group) = match (args.variants.bits.first(), args.variants.groups.first()) {
        (Some(&b), Some(&g)) => (b, g),
        _ => return Err(CliError::usage("--bits and --groups need at least one value each")),
    };
    Uniform::new(bits, group).map_err(|e| CliError::usage(e.to_string()))?;
    let params = Params::new()
        .with("bits", bits)
        .with("group", group as u32)
        .with("block", args.block);
    if let Some(dir) = &args.disk_probe {
        return disk_probe(dir, &params);
    }
    if args.gpu {
        return bench_gpu::run(&args.variants.variants(), args.mib.unwrap_or(1024));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("aqua bench: {cores} cores, {}", runtime(None, cores).describe());
    let cache = tempfile::tempdir().map_err(fail)?;
    let warm_dir = cache.path().join("warm");
    if !args.throughput_only {
        jit_costs(args, &params, cache.path(), &warm_dir)?;
    }
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    let rts: Vec<(usize, Runtime)> = thread_counts
        .into_iter()
        .map(|t| (t, runtime(Some(&warm_dir), t)))
        .collect();
    bench_quant::run(&rts, &args.variants.variants(), args.mib.unwrap_or(64))
}

/// Compile, cache and launch costs of `quantize_uniform` with `params`, in one table.
fn jit_costs(args: &Args, params: &Params, cache: &Path, warm_dir: &Path) -> Result<(), CliError> {
    println!(
        "  JIT costs: quantize_uniform bits={} group={} block={} (f16 in)",
        args.variants.bits[0], args.variants.groups[0], args.block
    );
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // Cold compiles: a fresh runtime (empty memory cache) and an empty disk cache each time.
    let mut cold = Vec::new();
    for i in 0..5 {
        let dir = cache.join(format!("cold{i}"));
        let rt = runtime(Some(&dir), 1);
        let (_, report) = rt
            .compile_with_report(Input::Source(&quantize_uniform, params), rt.mode())
            .map_err(fail)?;
        if report.outcome != CacheOutcome::Compiled {
            return Err(fail(format!("cold compile was served as {}", report.outcome)));
        }
        cold.push(report.total());
        if i == 4 {
            rows.push((
                "cold compile (median of 5)".into(),
                fmt_ms(median(&mut cold)),
                "<= 35 ms".into(),
            ));
            let phases: Vec<String> = report
                .phases
                .iter()
                .map(|(n, d)| format!("{n} {:.2}", d.as_secs_f64() * 1e3))
                .collect();
            rows.push(("  phases of the last, ms".into(), phases.join(", "), String::new()));
        }
    }

    // Memory hits: the same request again on a warm runtime.
    let rt = runtime(Some(warm_dir), 1);
    rt.compile(&quantize_uniform, params).map_err(fail)?;
    let reps = 2000;
    let start = Instant::now();
    for _ in 0..reps {
        rt.compile(&quantize_uniform, params).map_err(fail)?;
    }
    rows.push((
        "memory-cache hit (mean)".into(),
        fmt_us(start.elapsed() / reps),
        "<= 5 us".into(),
    ));

    // Disk hits: new processes reading the entry the warm runtime wrote.
    let exe = std::env::current_exe().map_err(fail)?;
    let mut disk = Vec::new();
    for _ in 0..3 {
        let out = Command::new(&exe)
            .args([
                "bench",
                "--bits",
                &args.variants.bits[0].to_string(),
                "--groups",
                &args.variants.groups[0].to_string(),
            ])
            .args(["--block", &args.block.to_string(), "--disk-probe"])
            .arg(warm_dir)
            .output()
            .map_err(fail)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let ns: u64 = text.trim().parse().map_err(|_| {
            fail(format!(
                "disk probe failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            ))
        })?;
        disk.push(Duration::from_nanos(ns));
    }
    rows.push((
        "disk-cache hit, new process (median of 3)".into(),
        fmt_ms(median(&mut disk)),
        "<= 2 ms".into(),
    ));

    // Launch overhead: one program of axpy.
    let block = 64u32;
    let k = rt.compile(&axpy, &Params::new().with("block", block)).map_err(fail)?;
    let x = HostBuffer::from_slice(&vec![1.0f32; block as usize]);
    let mut y = HostBuffer::zeros(DType::F32, block as usize);
    let reps = 20_000;
    let start = Instant::now();
    for _ in 0..reps {
        let mut a = [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(0.5), Arg::i32(block as i32)];
        rt.launch(&k, [1, 1, 1], &mut a).map_err(fail)?;
    }
    rows.push((
        format!("launch, one-program grid ({} mode, mean)", rt.mode()),
        fmt_us(start.elapsed() / reps),
        "<= 5 us".into(),
    ));

    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (what, value, target) in &rows {
        println!("  {what:<width$}  {value:<28} {target}");
    }
    Ok(())
}

/// Child process: one compile served by the disk cache in `dir`; prints nanoseconds.
fn disk_probe(dir: &Path, params: &Params) -> Result<(), CliError> {
    let rt = runtime(Some(dir), 1);
    let (_, report) = rt
        .compile_with_report(Input::Source(&quantize_uniform, params), rt.mode())
        .map_err(fail)?;
    if report.outcome != CacheOutcome::DiskHit {
        return Err(fail(format!("expected a disk hit, got {}", report.outcome)));
    }
    println!("{}", report.total().as_nanos());
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn fmt_us(d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6)
}
