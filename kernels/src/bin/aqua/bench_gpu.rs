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
use aqua_kernels::host::codec::{Codec, Method};
use aqua_kernels::kernels::axpy;
use aqua_kernels::quant::bits_per_value;
use aqua_runtime::{Arg, DeviceBuffer, HostBuffer, LaunchMode, Runtime, RuntimeOptions};

use crate::agreement::compare_with_cpu;
use crate::bench_quant::tiled_input;
use crate::methods::Variant;
use crate::error::CliError;

/// The H200's HBM3e bandwidth, the issues' reference for "fraction of peak".
pub(crate) const H200_PEAK_BYTES_PER_S: f64 = 4.8e12;

/// Tokens of the input the GPU's results are compared with the CPU's on.
pub(crate) const CHECK_TOKENS: usize = 4096;

pub(crate) fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::failed(e.to_string())
}

/// Runs the GPU benchmarks over `variants` on `mib` MiB of f16, or says why it skipped.
pub fn run(variants: &[Variant], mib: usize) -> Result<(), CliError> {
    let Some(rt) = cuda_runtime("aqua bench --gpu")? else {
        return Ok(());
    };
    println!("aqua bench --gpu: {}", rt.describe());
    launch_overhead(&rt)?;
    throughput(&rt, variants, mib)
}

/// The GPU, or `None` after printing `skipped: COMMAND: no CUDA device (why)`; an error
/// instead with `AQUA_REQUIRE_GPU=1`, as `scripts/gpu-check.sh` sets.
pub(crate) fn cuda_runtime(command: &str) -> Result<Option<Runtime>, CliError> {
    match Runtime::cuda_with(RuntimeOptions::default(), 4) {
        Ok(rt) => Ok(Some(rt)),
        Err(e) if std::env::var_os("AQUA_REQUIRE_GPU").is_some_and(|v| v == "1") => Err(CliError::failed(format!(
            "{command}: no CUDA device, and AQUA_REQUIRE_GPU=1: {e}"
        ))),
        Err(e) => {
            println!("skipped: {command}: no CUDA device ({e})");
            Ok(None)
        }
    }
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
    let (input, channels) = tiled_input(mib as f64)?;
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
        let method = v.key_method(channels).map_err(CliError::usage)?;
        let codec = Codec::compile(rt, method, DType::F16).map_err(fail)?;
        let mut encoded = alloc_encoded(rt, method, n)?;
        let t_q = time_gpu(rt, || {
            let encoded = encoded.iter_mut().map(Arg::DevBufMut).collect();
            codec.launch_quantize(rt, Arg::DevBuf(&x), encoded).map_err(fail)
        })?;
        let t_d = time_gpu(rt, || {
            let encoded = encoded.iter().map(Arg::DevBuf).collect();
            codec.launch_dequantize(rt, encoded, Arg::DevBufMut(&mut out)).map_err(fail)
        })?;
        drop(encoded);
        let moved = 2 * n + encoded_bytes(method, n);
        let t_copy = memcpy_time(rt, moved)?;
        let agreement = compare_with_cpu(rt, [&codec, &codec], &cpu, check_input)?;
        let gbs = |t: Duration| moved as f64 / t.as_secs_f64();
        for (op, t) in [("quantize", t_q), ("dequantize", t_d)] {
            let peak = gbs(t) / H200_PEAK_BYTES_PER_S;
            println!(
                "  {:<8} {:>4} {:>5} {:>6.3}  {op:<10} {:>9.1} {:>11.1} {:>8.3} {:>6.3}  {:<26} {}",
                v.method.name(),
                v.bits,
                v.group,
                bits_per_value(&codec.storage(n)),
                gbs(t) / 1e9,
                gbs(t_copy) / 1e9,
                t_copy.as_secs_f64() / t.as_secs_f64(),
                peak,
                format!(
                    ">= 0.8 x peak ({})",
                    if peak >= 0.8 { "met" } else { "MISSED" }
                ),
                if op == "quantize" {
                    agreement.encoded_text()
                } else {
                    agreement.values_text()
                },
            );
        }
    }
    Ok(())
}

/// Zeroed device buffers for the quantized form of `n` values of `method`.
pub(crate) fn alloc_encoded(rt: &Runtime, method: Method, n: usize) -> Result<Vec<DeviceBuffer>, CliError> {
    method.encoded_layout(n).iter().map(|&(_, dtype, len)| rt.alloc(dtype, len).map_err(fail)).collect()
}

/// Bytes of the quantized form of `n` values of `method`.
pub(crate) fn encoded_bytes(method: Method, n: usize) -> usize {
    method.encoded_layout(n).iter().map(|&(_, dtype, len)| dtype.size_bytes() * len).sum()
}

/// Time of a device-to-device copy moving `moved` bytes (half read, half written).
pub(crate) fn memcpy_time(rt: &Runtime, moved: usize) -> Result<Duration, CliError> {
    let src = rt.alloc(DType::U8, moved / 2).map_err(fail)?;
    let mut dst = rt.alloc(DType::U8, moved / 2).map_err(fail)?;
    time_gpu(rt, || dst.copy_from_device(&src).map_err(fail))
}
