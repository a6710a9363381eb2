//! `aqua bench --gpu`: the GPU's figures, with device-resident buffers so that only the
//! kernels are timed, not copies between host and device.
//!
//! - host-side launch overhead: a one-program axpy launched many times and synchronized
//!   once (what a launch costs the host), next to a launch that waits for the kernel
//!   (the round trip) and one on host buffers (copies both ways);
//! - quantize and dequantize throughput of each variant as bytes moved per second (input
//!   plus output), as a fraction of a device-to-device memcpy moving the same bytes in
//!   the same run, and of the H200's 4.8 TB/s peak; each variant's GPU output is checked
//!   against the CPU's on a prefix of the input.
//!
//! GPU time is wall time around batches of launches ended by one synchronization (the
//! best batch of three, after a warm-up). Without a GPU the command prints `skipped: ...`
//! and succeeds, so scripts can run it anywhere.

use std::time::{Duration, Instant};

use aqua_dsl::{DType, Params};
use aqua_kernels::host::codec::{Codec, Encoded, Method};
use aqua_kernels::kernels::axpy;
use aqua_kernels::quant::bits_per_value;
use aqua_runtime::{Arg, DeviceBuffer, HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use half::f16;

use crate::bench_gpu_plan::LaunchPlan;
use crate::bench_quant::{tiled_input, Variant};
use crate::error::CliError;

/// The H200's HBM3e bandwidth, the issues' reference for "fraction of peak".
pub(crate) const H200_PEAK_BYTES_PER_S: f64 = 4.8e12;

/// Tokens of the input the GPU's results are compared with the CPU's on.
pub(crate) const CHECK_TOKENS: usize = 4096;

pub(crate) fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::failed(e.to_string())
}

/// Runs the GPU benchmarks over `variants` on `mib` MiB of f16, or says why it skipped
/// (an error instead with `AQUA_REQUIRE_GPU=1`, as `scripts/gpu-check.sh` sets); with
/// `sweep`, the tile and CTA-size sweep instead of the launch overhead and throughput
/// (`bench_gpu_sweep`).
pub fn run(variants: &[Variant], mib: usize, sweep: bool) -> Result<(), CliError> {
    let rt = match Runtime::cuda_with(RuntimeOptions::default(), 4) {
        Ok(rt) => rt,
        Err(e) if std::env::var_os("AQUA_REQUIRE_GPU").is_some_and(|v| v == "1") => {
            return Err(CliError::failed(format!("aqua bench --gpu: no CUDA device, and AQUA_REQUIRE_GPU=1: {e}")));
        }
        Err(e) => {
            println!("skipped: aqua bench --gpu: no CUDA device ({e})");
            return Ok(());
        }
    };
    println!("aqua bench --gpu: {}", rt.describe());
    if sweep {
        return crate::bench_gpu_sweep::run(variants, mib);
    }
    launch_overhead(&rt)?;
    throughput(&rt, variants, mib)
}

/// Mean time per call of `f`, which queues GPU work: a warm-up call, then three batches
/// of calls (about 20 ms each) ended by one synchronization; the best batch.
pub(crate) fn time_gpu(
    rt: &Runtime,
    mut f: impl FnMut() -> Result<(), CliError>,
) -> Result<Duration, CliError> {
    f()?;
    rt.synchronize().map_err(fail)?;
    let start = Instant::now();
    f()?;
    rt.synchronize().map_err(fail)?;
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let calls = (0.02 / once).clamp(3.0, 20_000.0) as u32;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..calls {
            f()?;
        }
        rt.synchronize().map_err(fail)?;
        best = best.min(start.elapsed() / calls);
    }
    Ok(best)
}

fn launch_overhead(rt: &Runtime) -> Result<(), CliError> {
    let block = 64usize;
    let k = rt
        .compile(&axpy, &Params::new().with("block", block as u32))
        .map_err(fail)?;
    let x_host = HostBuffer::from_slice(&vec![1.0f32; block]);
    let mut y_host = HostBuffer::zeros(DType::F32, block);
    let x = rt.upload(&x_host).map_err(fail)?;
    let mut y = rt.alloc(DType::F32, block).map_err(fail)?;
    let mut launch_device = || {
        let mut args = [
            Arg::DevBuf(&x),
            Arg::DevBufMut(&mut y),
            Arg::f32(0.5),
            Arg::i32(block as i32),
        ];
        rt.launch(&k, [1, 1, 1], &mut args).map_err(fail)
    };
    let queued = time_gpu(rt, &mut launch_device)?;
    let round_trip = time_gpu(rt, || {
        launch_device()?;
        rt.synchronize().map_err(fail)
    })?;
    let host = time_gpu(rt, || {
        let mut args = [
            Arg::Buf(&x_host),
            Arg::BufMut(&mut y_host),
            Arg::f32(0.5),
            Arg::i32(block as i32),
        ];
        rt.launch(&k, [1, 1, 1], &mut args).map_err(fail)
    })?;
    let us = |d: Duration| format!("{:.2} us", d.as_secs_f64() * 1e6);
    println!(
        "\n  launch overhead, one-program axpy (block {block}), {} launches:",
        LaunchMode::Unchecked
    );
    println!(
        "    device buffers, queued, one synchronization per batch  {:<10} target <= 3 us",
        us(queued)
    );
    println!(
        "    device buffers, each launch waited for                 {}",
        us(round_trip)
    );
    println!(
        "    host buffers (copied to the device and back)           {}",
        us(host)
    );
    Ok(())
}

/// Quantize and dequantize of every variant over the bundled KV slice tiled to `mib` MiB.
fn throughput(rt: &Runtime, variants: &[Variant], mib: usize) -> Result<(), CliError> {
    let (input, channels) = tiled_input(mib)?;
    let n = input.len();
    let x = rt.upload(&HostBuffer::from_slice(&input)).map_err(fail)?;
    let mut out = rt.alloc(DType::F16, n).map_err(fail)?;
    let cpu = Runtime::cpu_with(RuntimeOptions {
        mode: LaunchMode::Unchecked,
        ..RuntimeOptions::default()
    });
    let check_input = &input[..n.min(CHECK_TOKENS * channels)];
    println!(
        "\n  throughput on {:.0} MiB of f16 (the bundled KV slice tiled, {} tokens x {channels}), device-resident;",
        (2 * n) as f64 / (1 << 20) as f64,
        n / channels
    );
    println!("  GB/s counts bytes moved (input + output); memcpy is a device-to-device copy moving the same bytes;");
    println!(
        "  peak is the H200's 4.8 TB/s; \"vs CPU\" compares outputs with the CPU's on the first {} tokens",
        check_input.len() / channels
    );
    println!(
        "\n  {:<8} {:>4} {:>5} {:>6}  {:<10} {:>9} {:>11} {:>8} {:>6}  {:<26} vs CPU",
        "method",
        "bits",
        "group",
        "b/val",
        "op",
        "GB/s",
        "memcpy GB/s",
        "x memcpy",
        "x peak",
        "target"
    );
    for v in variants {
        let method = v.method(channels).map_err(CliError::usage)?;
        let plan = LaunchPlan::new(rt, method, n).map_err(fail)?;
        let mut encoded = alloc_encoded(rt, &plan)?;
        let t_q = time_gpu(rt, || {
            plan.quantize(rt, Arg::DevBuf(&x), encoded.iter_mut().map(Arg::DevBufMut))
                .map_err(fail)
        })?;
        let t_d = time_gpu(rt, || {
            plan.dequantize(
                rt,
                encoded.iter().map(Arg::DevBuf),
                Arg::DevBufMut(&mut out),
            )
            .map_err(fail)
        })?;
        drop(encoded);
        let moved = 2 * n + plan.encoded_bytes();
        let t_copy = memcpy_time(rt, moved)?;
        let agreement = compare_with_cpu(rt, &cpu, method, None, check_input)?;
        let gbs = |t: Duration| moved as f64 / t.as_secs_f64();
        for (op, t) in [("quantize", t_q), ("dequantize", t_d)] {
            let peak = gbs(t) / H200_PEAK_BYTES_PER_S;
            println!(
                "  {:<8} {:>4} {:>5} {:>6.3}  {op:<10} {:>9.1} {:>11.1} {:>8.3} {:>6.3}  {:<26} {}",
                format!("{:?}", v.method).to_lowercase(),
                v.bits,
                v.group,
                bits_per_value(&plan.storage()),
                gbs(t) / 1e9,
                gbs(t_copy) / 1e9,
                t_copy.as_secs_f64() / t.as_secs_f64(),
                peak,
                format!(
                    ">= 0.8 x peak ({})",
                    if peak >= 0.8 { "met" } else { "MISSED" }
                ),
                if op == "quantize" {
                    &agreement.0
                } else {
                    &agreement.1
                },
            );
        }
    }
    Ok(())
}

/// Zeroed device buffers for `plan`'s quantized form.
pub(crate) fn alloc_encoded(rt: &Runtime, plan: &LaunchPlan) -> Result<Vec<DeviceBuffer>, CliError> {
    plan.encoded()
        .iter()
        .map(|&(dtype, len)| rt.alloc(dtype, len).map_err(fail))
        .collect()
}

/// Time of a device-to-device copy moving `moved` bytes (half read, half written).
pub(crate) fn memcpy_time(rt: &Runtime, moved: usize) -> Result<Duration, CliError> {
    let src = rt.alloc(DType::U8, moved / 2).map_err(fail)?;
    let mut dst = rt.alloc(DType::U8, moved / 2).map_err(fail)?;
    time_gpu(rt, || dst.copy_from_device(&src).map_err(fail))
}

/// Quantizes and dequantizes `xs` on the GPU (device buffers, through the plan with
/// `tile`, or the default) and on the CPU (`host::codec`); says how much of the quantized
/// form and of the values agree.
pub(crate) fn compare_with_cpu(
    rt: &Runtime,
    cpu: &Runtime,
    method: Method,
    tile: Option<u32>,
    xs: &[f16],
) -> Result<(String, String), CliError> {
    let n = xs.len();
    let x_host = HostBuffer::from_slice(xs);
    let plan = LaunchPlan::tiled(rt, method, n, tile).map_err(fail)?;
    let x = rt.upload(&x_host).map_err(fail)?;
    let mut encoded = alloc_encoded(rt, &plan)?;
    let mut out = rt.alloc(DType::F16, n).map_err(fail)?;
    plan.quantize(rt, Arg::DevBuf(&x), encoded.iter_mut().map(Arg::DevBufMut))
        .map_err(fail)?;
    plan.dequantize(
        rt,
        encoded.iter().map(Arg::DevBuf),
        Arg::DevBufMut(&mut out),
    )
    .map_err(fail)?;

    let codec = Codec::compile(cpu, method, DType::F16).map_err(fail)?;
    let mut expected = codec.encoded(n);
    codec
        .quantize_into(cpu, &x_host, &mut expected)
        .map_err(fail)?;
    let mut expected_out = HostBuffer::zeros(DType::F16, n);
    codec
        .dequantize_into(cpu, &expected, &mut expected_out)
        .map_err(fail)?;
    let expected: Vec<&HostBuffer> = match &expected {
        Encoded::Uniform(q) => vec![&q.codes, &q.scale, &q.zero],
        Encoded::Higgs(q) => vec![&q.codes, &q.scale],
    };

    let (mut equal, mut total) = (0, 0);
    for (device, want) in encoded.iter().zip(expected) {
        let (e, t) = equal_elements(&rt.download(device).map_err(fail)?, want);
        (equal, total) = (equal + e, total + t);
    }
    let percent = |(e, t): (usize, usize)| 100.0 * e as f64 / t.max(1) as f64;
    let values = equal_elements(&rt.download(&out).map_err(fail)?, &expected_out);
    Ok((
        format!("encoded {:.3}% equal", percent((equal, total))),
        format!("values {:.3}% equal", percent(values)),
    ))
}

/// How many elements of `a` and `b` (same dtype and length) have equal bytes, of how many.
fn equal_elements(a: &HostBuffer, b: &HostBuffer) -> (usize, usize) {
    let size = a.dtype().size_bytes();
    let equal = a
        .as_bytes()
        .chunks(size)
        .zip(b.as_bytes().chunks(size))
        .filter(|(x, y)| x == y)
        .count();
    (equal, a.len().max(b.len()))
}
