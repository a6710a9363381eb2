//! `aqua demo`: the uniform quantizer on real KV data. Compiles the quantize and
//! dequantize kernels of every variant (bits x group) for the CPU, runs them on the bundled
//! SmolLM2 KV slice (all layers' keys in one tensor, values in another), checks them against
//! the plain-Rust reference, and prints one row per variant: bits per value, relative error
//! of K and V, quantize and dequantize time, compile time and how the compile was served.

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::uniform::{QuantizedBuffers, UniformKernels};
use aqua_kernels::host::HostError;
use aqua_kernels::quant::{bits_per_value, relative_error, Grouping, Uniform};
use aqua_runtime::{CacheOutcome, HostBuffer, Runtime};
use half::f16;

use crate::error::CliError;
use crate::timing::best_time;

/// Each time is the best of at least this many runs and [`MIN_TIME`] in all.
const RUNS: u32 = 3;
const MIN_TIME: Duration = Duration::from_millis(30);

#[derive(clap::Args)]
pub struct Args {
    /// Bit widths to run.
    #[arg(long, value_delimiter = ',', default_values_t = [2u32, 3, 4, 8])]
    bits: Vec<u32>,
    /// Group sizes to run.
    #[arg(long, value_delimiter = ',', default_values_t = [32usize, 64, 128])]
    groups: Vec<usize>,
    /// Values per program.
    #[arg(long, default_value_t = 1024)]
    block: u32,
}

/// One tensor (all layers' K, or all layers' V) on the host.
struct Tensor {
    name: &'static str,
    values: Vec<f16>,
    buffer: HostBuffer,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let slice = KvSlice::bundled().map_err(|e| CliError::failed(format!("bundled KV slice: {e}")))?;
    let tensors = [("K", true), ("V", false)].map(|(name, keys)| {
        let values: Vec<f16> = slice
            .layers
            .iter()
            .flat_map(|l| if keys { l.k.iter() } else { l.v.iter() })
            .copied()
            .collect();
        let buffer = HostBuffer::from_slice(&values);
        Tensor { name, values, buffer }
    });
    let rt = Runtime::cpu();
    let layers: Vec<String> = slice.layers.iter().map(|l| l.layer.to_string()).collect();
    println!("aqua demo: uniform asymmetric group quantizer on real KV data");
    println!(
        "  data    SmolLM2-135M pre-RoPE keys and values, layers {}, {} tokens x {} channels, f16 (bundled)",
        layers.join(","),
        slice.tokens,
        slice.channels
    );
    println!("  backend {}", rt.describe());
    println!(
        "  times   per pass over K and V ({:.1} MB of f16, which GB/s counts), best of several",
        2.0 * tensors[0].buffer.size_bytes() as f64 / 1e6
    );
    println!("  exact   codes, scales, zeros and dequantized values equal the Rust reference bit for bit");
    println!();
    println!(
        "{:>4} {:>5} {:>10} {:>10} {:>10} {:>20} {:>20} {:>11}  {:<18} exact",
        "bits", "group", "bits/value", "rel.err K", "rel.err V", "quantize", "dequantize", "compile", "cache"
    );
    for &bits in &args.bits {
        for &group in &args.groups {
            let q = Uniform::new(bits, group).map_err(|e| CliError::usage(e.to_string()))?;
            let row = variant(&rt, q, args.block, &tensors)
                .map_err(|e| CliError::failed(format!("bits={bits} group={group}: {e}")))?;
            println!("{row}");
        }
    }
    Ok(())
}

fn variant(rt: &Runtime, q: Uniform, block: u32, tensors: &[Tensor; 2]) -> Result<String, Box<dyn std::error::Error>> {
    let kernels = UniformKernels::compile_tiled(rt, q, Grouping::Channels, DType::F16, block)?;
    let mut quantized: Vec<QuantizedBuffers> = tensors
        .iter()
        .map(|t| QuantizedBuffers::zeros(q, Grouping::Channels, t.values.len()))
        .collect();
    let mut restored: Vec<HostBuffer> = tensors
        .iter()
        .map(|t| HostBuffer::zeros(DType::F16, t.values.len()))
        .collect();
    let t_quantize = best_time::<HostError>(RUNS, MIN_TIME, || {
        for (t, out) in tensors.iter().zip(quantized.iter_mut()) {
            kernels.quantize_into(rt, &t.buffer, out)?;
        }
        Ok(())
    })?;
    let t_dequantize = best_time::<HostError>(RUNS, MIN_TIME, || {
        for (qb, out) in quantized.iter().zip(restored.iter_mut()) {
            kernels.dequantize_into(rt, qb, out)?;
        }
        Ok(())
    })?;
    let mut errors = Vec::new();
    let mut exact = true;
    for ((t, qb), out) in tensors.iter().zip(&quantized).zip(&restored) {
        let x_hat = out.to_vec::<f16>()?;
        let reference = q.quantize_as(&t.values, Grouping::Channels)?;
        exact &= qb.to_quantized()? == reference && reference.dequantize_as::<f16>()? == x_hat;
        let wide = |v: &[f16]| v.iter().map(|x| x.to_f32()).collect::<Vec<f32>>();
        errors.push((t.name, relative_error(&wide(&t.values), &wide(&x_hat))));
    }
    let n = tensors[0].values.len();
    let bpv = bits_per_value(&q.storage(n, Grouping::Channels));
    let bytes = tensors.iter().map(|t| t.buffer.size_bytes()).sum::<usize>() as f64;
    let speed = |d: Duration| {
        format!(
            "{:.3} ms {:>5.1} GB/s",
            d.as_secs_f64() * 1e3,
            bytes / d.as_secs_f64() / 1e9
        )
    };
    let compile: Duration = kernels.reports().iter().map(|r| r.total()).sum();
    Ok(format!(
        "{:>4} {:>5} {:>10.3} {:>10.3e} {:>10.3e} {:>20} {:>20} {:>8.1} ms  {:<18} {}",
        q.bits(),
        q.group(),
        bpv,
        errors[0].1,
        errors[1].1,
        speed(t_quantize),
        speed(t_dequantize),
        compile.as_secs_f64() * 1e3,
        served(&kernels),
        if exact { "yes" } else { "NO" },
    ))
}

/// How the two kernels were obtained: one word when both agree.
fn served(k: &UniformKernels) -> String {
    let word = |o: CacheOutcome| match o {
        CacheOutcome::MemoryHit => "memory",
        CacheOutcome::DiskHit => "disk",
        CacheOutcome::Compiled => "compiled",
        CacheOutcome::Interpreted => "interpreted",
    };
    let [a, b] = [k.reports()[0].outcome, k.reports()[1].outcome].map(word);
    if a == b {
        a.to_string()
    } else {
        format!("q:{a} dq:{b}")
    }
}
