//! `aqua demo`: AQUA-KV's quantizers on real KV data. Compiles the quantize and
//! dequantize kernels of every variant (method x bits x group) for the CPU, runs them on
//! the bundled SmolLM2 KV slice (all layers' keys in one tensor, values in another),
//! checks them against the plain-Rust references, and prints one row per variant: bits
//! per value, relative error of K and V, quantize and dequantize time, compile time and
//! how the compile was served.

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::codec::{Codec, Encoded, Method};
use aqua_kernels::host::HostError;
use aqua_kernels::quant::{bits_per_value, relative_error, Storage};
use aqua_runtime::{CacheOutcome, CompileReport, HostBuffer, Runtime};
use half::f16;

use crate::error::CliError;
use crate::methods::{variants, MethodName, Variant};
use crate::timing::best_time;

/// Each time is the best of at least this many runs and [`MIN_TIME`] in all.
const RUNS: u32 = 3;
const MIN_TIME: Duration = Duration::from_millis(30);

#[derive(clap::Args)]
pub struct Args {
    /// Methods to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [MethodName::Uniform, MethodName::Kivi, MethodName::Higgs])]
    methods: Vec<MethodName>,
    /// Bit widths to run (HIGGS has grids of 2 to 4 bits; other widths skip it).
    #[arg(long, value_delimiter = ',', default_values_t = [2u32, 3, 4, 8])]
    bits: Vec<u32>,
    /// Group sizes to run (HIGGS: the Hadamard group).
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 128])]
    groups: Vec<usize>,
    /// The kernels' tile: values per program, or channels per program for KIVI's keys
    /// (default: each kernel's own).
    #[arg(long)]
    tile: Option<u32>,
}

/// One tensor (all layers' K, or all layers' V) on the host.
struct Tensor {
    values: Vec<f16>,
    buffer: HostBuffer,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let slice = KvSlice::bundled().map_err(|e| CliError::failed(format!("bundled KV slice: {e}")))?;
    // Keys, then values.
    let tensors = [true, false].map(|keys| {
        let values: Vec<f16> =
            slice.layers.iter().flat_map(|l| if keys { l.k.iter() } else { l.v.iter() }).copied().collect();
        let buffer = HostBuffer::from_slice(&values);
        Tensor { values, buffer }
    });
    let variants = variants(&args.methods, &args.bits, &args.groups);
    if variants.is_empty() {
        return Err(CliError::usage("no variant to run: HIGGS has grids of 2, 3 and 4 bits only"));
    }
    // Every mistake in the lists before anything runs.
    let methods = variants
        .iter()
        .map(|v| v.methods(slice.channels, 2))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::usage)?;
    let rt = Runtime::cpu();
    let layers: Vec<String> = slice.layers.iter().map(|l| l.layer.to_string()).collect();
    println!("aqua demo: the AQUA-KV quantizers on real KV data");
    println!(
        "  data    SmolLM2-135M pre-RoPE keys and values, layers {}, {} tokens x {} channels, f16 (bundled)",
        layers.join(","),
        slice.tokens,
        slice.channels
    );
    println!("  methods uniform: asymmetric groups along channels, f16 scale and zero per group");
    println!("          kivi:    keys in groups of tokens per channel, values as uniform");
    println!("          higgs:   Hadamard-rotated groups, nearest points of the EDEN2 grid of 16, 64, 256 points (2, 3, 4 bits), f16 scale");
    println!("  backend {}", rt.describe());
    println!(
        "  times   per pass over K and V ({:.1} MB of f16, which GB/s counts), best of several",
        2.0 * tensors[0].buffer.size_bytes() as f64 / 1e6
    );
    println!("  exact   codes, scales, zeros and dequantized values equal the Rust reference bit for bit");
    println!();
    println!(
        "{:<7} {:>4} {:>5} {:>10} {:>10} {:>10} {:>20} {:>20} {:>11}  {:<18} exact",
        "method", "bits", "group", "bits/value", "rel.err K", "rel.err V", "quantize", "dequantize", "compile", "cache"
    );
    for (v, (keys, values)) in variants.iter().zip(methods) {
        let what = format!("{} bits={} group={}", v.method.name(), v.bits, v.group);
        let keys = compile(&rt, keys, args.tile).map_err(|e| compile_error(&what, args.tile, e))?;
        let values = match values == keys.method() {
            true => None,
            false => Some(compile(&rt, values, args.tile).map_err(|e| compile_error(&what, args.tile, e))?),
        };
        let row =
            variant(&rt, v, &keys, values.as_ref(), &tensors).map_err(|e| CliError::failed(format!("{what}: {e}")))?;
        println!("{row}");
    }
    Ok(())
}

/// A kernel that does not compile: with the default tiles every variant does, so a tile
/// given on the command line is what is wrong (a usage error).
fn compile_error(what: &str, tile: Option<u32>, e: HostError) -> CliError {
    match tile {
        Some(t) => CliError::usage(format!("{what}: --tile {t}: {e}")),
        None => CliError::failed(format!("{what}: {e}")),
    }
}

/// Compiles `method` with `tile`, or its default tile.
fn compile(rt: &Runtime, method: Method, tile: Option<u32>) -> Result<Codec, HostError> {
    match tile {
        Some(t) => Codec::compile_tiled(rt, method, DType::F16, t),
        None => Codec::compile(rt, method, DType::F16),
    }
}

/// One row: `keys` quantize K, `values` V (`None`: `keys` too).
fn variant(
    rt: &Runtime,
    v: &Variant,
    keys: &Codec,
    values: Option<&Codec>,
    tensors: &[Tensor; 2],
) -> Result<String, Box<dyn std::error::Error>> {
    let codecs = [keys, values.unwrap_or(keys)];
    let mut encoded: Vec<Encoded> = codecs.iter().zip(tensors).map(|(c, t)| c.encoded(t.values.len())).collect();
    let mut restored: Vec<HostBuffer> = tensors.iter().map(|t| HostBuffer::zeros(DType::F16, t.values.len())).collect();
    let t_quantize = best_time::<HostError>(RUNS, MIN_TIME, || {
        for ((c, t), out) in codecs.iter().zip(tensors).zip(encoded.iter_mut()) {
            c.quantize_into(rt, &t.buffer, out)?;
        }
        Ok(())
    })?;
    let t_dequantize = best_time::<HostError>(RUNS, MIN_TIME, || {
        for ((c, q), out) in codecs.iter().zip(&encoded).zip(restored.iter_mut()) {
            c.dequantize_into(rt, q, out)?;
        }
        Ok(())
    })?;
    let mut errors = Vec::new();
    let mut exact = true;
    let mut storage = Storage::default();
    for (((c, t), q), out) in codecs.iter().zip(tensors).zip(&encoded).zip(&restored) {
        let x_hat = out.to_vec::<f16>()?;
        exact &= q.matches_reference(&t.values, &x_hat)?;
        let wide = |v: &[f16]| v.iter().map(|x| x.to_f32()).collect::<Vec<f32>>();
        errors.push(relative_error(&wide(&t.values), &wide(&x_hat)));
        storage = storage.plus(c.storage(t.values.len()));
    }
    let bytes = tensors.iter().map(|t| t.buffer.size_bytes()).sum::<usize>() as f64;
    let speed = |d: Duration| format!("{:.3} ms {:>5.1} GB/s", d.as_secs_f64() * 1e3, bytes / d.as_secs_f64() / 1e9);
    let reports: Vec<&CompileReport> = [Some(keys), values].into_iter().flatten().flat_map(|c| c.reports()).collect();
    let compile: Duration = reports.iter().map(|r| r.total()).sum();
    Ok(format!(
        "{:<7} {:>4} {:>5} {:>10.3} {:>10.3e} {:>10.3e} {:>20} {:>20} {:>8.1} ms  {:<18} {}",
        v.method.name(),
        v.bits,
        v.group,
        bits_per_value(&storage),
        errors[0],
        errors[1],
        speed(t_quantize),
        speed(t_dequantize),
        compile.as_secs_f64() * 1e3,
        served(&reports),
        if exact { "yes" } else { "NO" },
    ))
}

/// How the kernels were obtained: each way once, in order (`compiled+memory`).
fn served(reports: &[&CompileReport]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for r in reports {
        let word = match r.outcome {
            CacheOutcome::MemoryHit => "memory",
            CacheOutcome::DiskHit => "disk",
            CacheOutcome::Compiled => "compiled",
            CacheOutcome::Interpreted => "interpreted",
        };
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words.join("+")
}
