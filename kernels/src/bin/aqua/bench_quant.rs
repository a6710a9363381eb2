//! The throughput part of `aqua bench`: quantize and dequantize of each method and
//! (bits, group) on the CPU, next to a memcpy of the same bytes measured in the same run,
//! on one thread and on every core, as ratios.
//!
//! The input is the bundled real KV slice (every layer's K and V, `[tokens, 192]` f16)
//! tiled to the requested size, in whole tokens. "GB/s" counts the f16 tensor's bytes for
//! both directions (what is read by quantize, what is written by dequantize), and so does
//! the memcpy it is compared with. The targets printed are the (CPU, one core).

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::codec::Codec;
use aqua_kernels::quant::bits_per_value;
use aqua_runtime::{HostBuffer, Runtime};
use half::f16;
use rayon::prelude::*;

use crate::error::CliError;
use crate::methods::{variants, MethodName, Variant};
use crate::timing::best_time;

/// Which variants to measure: every (method, bits, group) of the lists.
#[derive(clap::Args)]
pub struct VariantArgs {
    /// Bit widths (HIGGS has grids of 2 to 4 bits; other widths skip it).
    #[arg(long, value_delimiter = ',', default_values_t = [2u32, 3, 4])]
    pub bits: Vec<u32>,
    /// Group sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [64usize])]
    pub groups: Vec<usize>,
    /// Methods.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [MethodName::Uniform, MethodName::Kivi, MethodName::Higgs])]
    pub methods: Vec<MethodName>,
}

impl VariantArgs {
    /// Every (method, bits, group) of the lists.
    pub fn variants(&self) -> Vec<Variant> {
        variants(&self.methods, &self.bits, &self.groups)
    }
}

/// The one-core targets as fractions of memcpy (quantize, dequantize).
fn target(v: &Variant) -> Option<(f64, f64)> {
    match (v.method, v.bits, v.group) {
        (MethodName::Uniform, 2, 64) => Some((0.5, 0.7)),
        (MethodName::Higgs, 2, 64) => Some((0.1, 0.3)),
        _ => None,
    }
}

/// The bundled K and V of every layer, repeated to about `mib` MiB of f16 in whole tokens
/// (at least one).
pub fn tiled_input(mib: f64) -> Result<(Vec<f16>, usize), CliError> {
    let slice = KvSlice::bundled().map_err(|e| CliError::failed(e.to_string()))?;
    let real = slice.all_values();
    let tokens = ((mib * (1 << 20) as f64 / 2.0) as usize / slice.channels).max(1);
    Ok((real.iter().copied().cycle().take(tokens * slice.channels).collect(), slice.channels))
}

/// Measures every variant on `threads` (1 and all cores) and prints the table.
pub fn run(rts: &[(usize, Runtime)], variants: &[Variant], mib: usize) -> Result<(), CliError> {
    let (input, channels) = tiled_input(mib as f64)?;
    let bytes = (input.len() * 2) as f64;
    let x = HostBuffer::from_slice(&input);
    println!(
        "\n  throughput on {:.1} MiB of f16 (the bundled KV slice tiled, {} tokens x {channels}); GB/s counts the f16 tensor's bytes",
        bytes / (1 << 20) as f64,
        input.len() / channels
    );
    let gbs = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    let mut memcpy = Vec::new();
    for (threads, _) in rts {
        let mut dst = vec![f16::ZERO; input.len()];
        let t = best_of(|| {
            copy(&mut dst, &input, *threads);
            Ok(())
        })?;
        println!("  memcpy, {threads} thread(s): {:.2} GB/s", gbs(t));
        memcpy.push(t);
    }
    println!();
    println!(
        "  {:<8} {:>4} {:>5} {:>6} {:>7}  {:<30} {:<30} target (1 thread)",
        "method", "bits", "group", "b/val", "threads", "quantize", "dequantize"
    );
    for v in variants {
        let method = v.key_method(channels).map_err(CliError::usage)?;
        for ((threads, rt), t_copy) in rts.iter().zip(&memcpy) {
            let codec = Codec::compile(rt, method, DType::F16).map_err(|e| CliError::failed(e.to_string()))?;
            let fail = |e: aqua_kernels::host::HostError| CliError::failed(e.to_string());
            let mut q = codec.encoded(input.len());
            let mut out = HostBuffer::zeros(DType::F16, input.len());
            let t_q = best_of(|| codec.quantize_into(rt, &x, &mut q).map_err(fail))?;
            let t_d = best_of(|| codec.dequantize_into(rt, &q, &mut out).map_err(fail))?;
            let ratio = |t: Duration| t_copy.as_secs_f64() / t.as_secs_f64();
            let cell = |t: Duration| format!("{:.2} GB/s = {:.3} x memcpy", gbs(t), ratio(t));
            let target = match (target(v), *threads) {
                (Some((tq, td)), 1) => format!(
                    "q >= {tq} ({}), dq >= {td} ({})",
                    if ratio(t_q) >= tq { "met" } else { "MISSED" },
                    if ratio(t_d) >= td { "met" } else { "MISSED" }
                ),
                _ => String::new(),
            };
            println!(
                "  {:<8} {:>4} {:>5} {:>6.3} {:>7}  {:<30} {:<30} {target}",
                v.method.name(),
                v.bits,
                v.group,
                bits_per_value(&codec.storage(input.len())),
                threads,
                cell(t_q),
                cell(t_d),
            );
        }
    }
    Ok(())
}

/// Copies `src` into `dst` with `threads` threads (one contiguous chunk each).
fn copy(dst: &mut [f16], src: &[f16], threads: usize) {
    if threads <= 1 {
        dst.copy_from_slice(src);
        return;
    }
    let chunk = src.len().div_ceil(threads);
    dst.par_chunks_mut(chunk).zip(src.par_chunks(chunk)).for_each(|(d, s)| d.copy_from_slice(s));
}

/// Best of at least 5 runs and 200 ms.
fn best_of(f: impl FnMut() -> Result<(), CliError>) -> Result<Duration, CliError> {
    best_time(5, Duration::from_millis(200), f)
}
