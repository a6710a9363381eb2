//! `aqua bench --gpu --sweep`: each variant's quantize and dequantize throughput at
//! several tiles and CTA sizes, so that one run on a GPU shows which configuration the
//! defaults should be (the PTX alone cannot say whether a kernel is bound by memory, by
//! instructions or by barriers). Every configuration's output is compared with the CPU's,
//! as in the main table.

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::host::codec::Method;
use aqua_kernels::kernels::higgs_math::max_block;
use aqua_kernels::quant::Grouping;
use aqua_runtime::{Arg, DeviceBuffer, HostBuffer, LaunchMode, Runtime, RuntimeOptions};

use crate::bench_gpu::{
    alloc_encoded, compare_with_cpu, fail, memcpy_time, time_gpu, CHECK_TOKENS,
    H200_PEAK_BYTES_PER_S,
};
use crate::bench_gpu_plan::LaunchPlan;
use crate::bench_quant::{tiled_input, Variant};
use crate::error::CliError;

/// Warps per CTA tried for every tile.
const WARPS: [u32; 4] = [1, 2, 4, 8];

/// The tiles tried for a method: values per program (uniform along channels, HIGGS) or
/// channels per program (along tokens), those the kernels accept for its parameters.
fn tiles(method: Method, channels: usize) -> Vec<u32> {
    match method {
        Method::Uniform(q, Grouping::Channels) => [512, 1024, 2048, 4096]
            .into_iter()
            .filter(|&t| t >= q.group() as u32)
            .collect(),
        Method::Uniform(_, Grouping::Tokens { .. }) => [32, 64, 128]
            .into_iter()
            .filter(|&t| channels.is_multiple_of(t as usize))
            .collect(),
        Method::Higgs(c) => {
            let (dim, points) = (c.dim as u32, c.points as u32);
            [256, 512, 1024, 2048, 4096]
                .into_iter()
                .filter(|&t| t >= c.group as u32 && t >= 32 * dim && t <= max_block(dim, points))
                .collect()
        }
    }
}

/// One configuration's result: quantize and dequantize time, and the CPU comparison.
struct Timing {
    quantize: Duration,
    dequantize: Duration,
    agreement: (String, String),
}

/// One CTA size's runtime, with the input and an output buffer in its device memory.
struct Device {
    rt: Runtime,
    warps: u32,
    x: DeviceBuffer,
    out: DeviceBuffer,
}

/// Times `method` with `tile` on `dev`'s input; compares a prefix (`check`) with the CPU.
fn time_config(
    dev: &mut Device,
    cpu: &Runtime,
    method: Method,
    tile: u32,
    check: &[half::f16],
) -> Result<Timing, CliError> {
    let Device { rt, x, out, .. } = dev;
    let plan = LaunchPlan::tiled(rt, method, x.len(), Some(tile)).map_err(fail)?;
    let mut encoded = alloc_encoded(rt, &plan)?;
    let quantize = time_gpu(rt, || {
        plan.quantize(rt, Arg::DevBuf(x), encoded.iter_mut().map(Arg::DevBufMut))
            .map_err(fail)
    })?;
    let dequantize = time_gpu(rt, || {
        plan.dequantize(rt, encoded.iter().map(Arg::DevBuf), Arg::DevBufMut(out))
            .map_err(fail)
    })?;
    let agreement = compare_with_cpu(rt, cpu, method, Some(tile), check)?;
    Ok(Timing {
        quantize,
        dequantize,
        agreement,
    })
}

/// The sweep over `variants` on `mib` MiB of f16 (the bundled KV slice tiled).
pub fn run(variants: &[Variant], mib: usize) -> Result<(), CliError> {
    let (input, channels) = tiled_input(mib)?;
    let n = input.len();
    let check = &input[..n.min(CHECK_TOKENS * channels)];
    let cpu = Runtime::cpu_with(RuntimeOptions {
        mode: LaunchMode::Unchecked,
        ..RuntimeOptions::default()
    });
    let host = HostBuffer::from_slice(&input);
    let mut devices = Vec::with_capacity(WARPS.len());
    for warps in WARPS {
        let rt = Runtime::cuda_with(RuntimeOptions::default(), warps).map_err(fail)?;
        let (x, out) = (
            rt.upload(&host).map_err(fail)?,
            rt.alloc(DType::F16, n).map_err(fail)?,
        );
        devices.push(Device { rt, warps, x, out });
    }
    println!(
        "\n  tile and CTA-size sweep on {:.0} MiB of f16, device-resident; GB/s counts bytes moved, peak is 4.8 TB/s",
        (2 * n) as f64 / (1 << 20) as f64
    );
    println!(
        "\n  {:<8} {:>4} {:>5} {:>5} {:>5}  {:>13} {:>6}  {:>15} {:>6}  vs CPU",
        "method",
        "bits",
        "group",
        "tile",
        "warps",
        "quantize GB/s",
        "x peak",
        "dequantize GB/s",
        "x peak"
    );
    for v in variants {
        let method = v.method(channels).map_err(CliError::usage)?;
        let name = format!("{:?}", v.method).to_lowercase();
        let moved = 2 * n
            + LaunchPlan::new(&devices[0].rt, method, n)
                .map_err(fail)?
                .encoded_bytes();
        let t_copy = memcpy_time(&devices[0].rt, moved)?;
        let gbs = |t: Duration| moved as f64 / t.as_secs_f64() / 1e9;
        let mut best: [Option<(f64, u32, u32)>; 2] = [None, None];
        for tile in tiles(method, channels) {
            for dev in devices.iter_mut() {
                let warps = dev.warps;
                let row = format!(
                    "  {name:<8} {:>4} {:>5} {tile:>5} {warps:>5}",
                    v.bits, v.group
                );
                match time_config(dev, &cpu, method, tile, check) {
                    Ok(t) => {
                        let (q, d) = (gbs(t.quantize), gbs(t.dequantize));
                        let peak = |g: f64| g * 1e9 / H200_PEAK_BYTES_PER_S;
                        println!(
                            "{row}  {q:>13.1} {:>6.3}  {d:>15.1} {:>6.3}  {}, {}",
                            peak(q),
                            peak(d),
                            t.agreement.0,
                            t.agreement.1
                        );
                        for (slot, g) in best.iter_mut().zip([q, d]) {
                            if slot.is_none_or(|(b, _, _)| g > b) {
                                *slot = Some((g, tile, warps));
                            }
                        }
                    }
                    Err(e) => println!("{row}  n/a: {e}"),
                }
            }
        }
        for (op, slot) in ["quantize", "dequantize"].iter().zip(best) {
            if let Some((g, tile, warps)) = slot {
                println!(
                    "  best {name} {}-bit {op}: tile {tile}, {warps} warps, {g:.1} GB/s = {:.3} x memcpy ({:.1} GB/s)",
                    v.bits,
                    g / gbs(t_copy),
                    gbs(t_copy)
                );
            }
        }
    }
    Ok(())
}
