//! `aqua bench`: the costs that matter for a JIT kernel library, measured in one run.
//!
//! - cold compile of one quantizer variant (fresh runtime, empty temporary disk cache);
//! - memory-cache hit (same runtime, same request);
//! - disk-cache hit in a new process (this binary re-run with the hidden `--disk-probe`);
//! - launch overhead of a one-program grid (axpy on one block);
//! - quantize and dequantize throughput next to a memcpy of the same bytes, on one thread
//!   and on every core, with their ratios.
//!
//! Figures are reported, not asserted; the targets shown are the project's (issue 2).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aqua_dsl::{DType, Params};
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::uniform::{QuantizedBuffers, UniformKernels};
use aqua_kernels::kernels::{axpy, quantize_uniform};
use aqua_kernels::quant::Uniform;
use aqua_runtime::{Arg, CacheOutcome, HostBuffer, Input, Runtime, RuntimeOptions};
use half::f16;
use rayon::prelude::*;

use crate::error::CliError;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 2)]
    bits: u32,
    #[arg(long, default_value_t = 64)]
    group: usize,
    #[arg(long, default_value_t = 1024)]
    block: u32,
    /// Size of the f16 tensor for throughput, in MiB (the real KV slice tiled).
    #[arg(long, default_value_t = 64)]
    mib: usize,
    /// Internal: compile once from the disk cache in DIR and print the time in ns.
    #[arg(long, hide = true)]
    disk_probe: Option<PathBuf>,
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::failed(e.to_string())
}

fn runtime(cache_dir: Option<&Path>, threads: usize) -> Runtime {
    Runtime::cpu_with(RuntimeOptions {
        threads,
        cache_dir: cache_dir.map(Path::to_path_buf),
        dump_dir: None,
        ..RuntimeOptions::default()
    })
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let q = Uniform::new(args.bits, args.group).map_err(|e| CliError::usage(e.to_string()))?;
    let params = Params::new()
        .with("bits", args.bits)
        .with("group", args.group as u32)
        .with("block", args.block);
    if let Some(dir) = &args.disk_probe {
        return disk_probe(dir, &params);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "aqua bench: quantize_uniform bits={} group={} block={} (f16 in), {cores} cores",
        args.bits, args.group, args.block
    );
    println!("  {}", runtime(None, cores).describe());
    println!();
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // Cold compiles: a fresh runtime (empty memory cache) and an empty disk cache each time.
    let mut cold = Vec::new();
    let cache = tempfile::tempdir().map_err(fail)?;
    for i in 0..5 {
        let dir = cache.path().join(format!("cold{i}"));
        let rt = runtime(Some(&dir), 1);
        let (_, report) = rt
            .compile_with_report(Input::Source(&quantize_uniform, &params), rt.mode())
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
    let warm_dir = cache.path().join("warm");
    let rt = runtime(Some(&warm_dir), 1);
    rt.compile(&quantize_uniform, &params).map_err(fail)?;
    let reps = 2000;
    let start = Instant::now();
    for _ in 0..reps {
        rt.compile(&quantize_uniform, &params).map_err(fail)?;
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
                &args.bits.to_string(),
                "--group",
                &args.group.to_string(),
            ])
            .args(["--block", &args.block.to_string(), "--disk-probe"])
            .arg(&warm_dir)
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

    // Throughput on the real slice tiled to `mib` MiB.
    let input = tiled_input(args.mib)?;
    let bytes = input.len() * 2;
    for threads in [1, cores] {
        let rt = runtime(Some(&warm_dir), threads);
        throughput(&rt, q, args.block, &input, threads, &mut rows)?;
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (what, value, target) in &rows {
        println!("  {what:<width$}  {value:<28} {target}");
    }
    println!("\n  throughput: {:.1} MiB of f16 (the bundled KV slice tiled); GB/s counts the f16 tensor's bytes for both directions", bytes as f64 / (1 << 20) as f64);
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

/// The bundled K and V of every layer, repeated to `mib` MiB of f16.
fn tiled_input(mib: usize) -> Result<Vec<f16>, CliError> {
    let slice = KvSlice::bundled().map_err(fail)?;
    let real: Vec<f16> = slice
        .layers
        .iter()
        .flat_map(|l| l.k.iter().chain(&l.v))
        .copied()
        .collect();
    let n = (mib << 20) / 2;
    Ok(real.iter().copied().cycle().take(n.max(1)).collect())
}

fn throughput(
    rt: &Runtime,
    q: Uniform,
    block: u32,
    input: &[f16],
    threads: usize,
    rows: &mut Vec<(String, String, String)>,
) -> Result<(), CliError> {
    let bytes = (input.len() * 2) as f64;
    let kernels = UniformKernels::compile(rt, q, block, DType::F16).map_err(fail)?;
    let x = HostBuffer::from_slice(input);
    let mut packed = QuantizedBuffers::zeros(q, input.len());
    let mut restored = HostBuffer::zeros(DType::F16, input.len());
    let t_q = best_of(|| kernels.quantize_into(rt, &x, &mut packed).map_err(fail))?;
    let t_d = best_of(|| kernels.dequantize_into(rt, &packed, &mut restored).map_err(fail))?;
    let mut dst = vec![f16::ZERO; input.len()];
    let t_m = best_of(|| {
        memcpy(&mut dst, input, threads);
        Ok(())
    })?;
    let gbs = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    let who = if threads == 1 {
        "1 thread".to_string()
    } else {
        format!("{threads} threads")
    };
    rows.push((format!("memcpy, {who}"), format!("{:.2} GB/s", gbs(t_m)), String::new()));
    rows.push((
        format!("quantize, {who}"),
        format!("{:.2} GB/s = {:.2} x memcpy", gbs(t_q), gbs(t_q) / gbs(t_m)),
        if threads == 1 {
            ">= 0.5 x memcpy".into()
        } else {
            String::new()
        },
    ));
    rows.push((
        format!("dequantize, {who}"),
        format!("{:.2} GB/s = {:.2} x memcpy", gbs(t_d), gbs(t_d) / gbs(t_m)),
        String::new(),
    ));
    Ok(())
}

/// Copies `src` into `dst` with `threads` threads (one contiguous chunk each).
fn memcpy(dst: &mut [f16], src: &[f16], threads: usize) {
    if threads <= 1 {
        dst.copy_from_slice(src);
        return;
    }
    let chunk = src.len().div_ceil(threads);
    dst.par_chunks_mut(chunk)
        .zip(src.par_chunks(chunk))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// Best of at least 5 runs and 200 ms.
fn best_of(mut f: impl FnMut() -> Result<(), CliError>) -> Result<Duration, CliError> {
    let (mut best, mut total, mut runs) = (Duration::MAX, Duration::ZERO, 0);
    while runs < 5 || total < Duration::from_millis(200) {
        let start = Instant::now();
        f()?;
        let d = start.elapsed();
        best = best.min(d);
        total += d;
        runs += 1;
    }
    Ok(best)
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
