//! `aqua tune`: autotune each variant's tile (and on a GPU its CTA size) on this machine
//! with `host::tune`, print every candidate's time and the choice, and check the chosen
//! kernels against the CPU's default ones. The choices are stored next to the kernel
//! cache, where `TunedCodec::tune` in any later process finds them.
//!
//! The sample is the bundled real KV slice tiled to `--mib`; on the CUDA backend it lives
//! in device memory, so only the kernels are timed. "GB/s" counts the bytes a kernel
//! moves: the f16 values and the quantized form.

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::host::codec::{Codec, Method};
use aqua_kernels::host::tune::{tilings, CodecTuners, Tiling, TunedCodec};
use aqua_kernels::quant::bits_per_value;
use aqua_runtime::autotune::{ChoiceSource, TuneOptions, Tuned};
use aqua_runtime::{HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use half::f16;

use crate::agreement::compare_with_cpu;
use crate::bench_gpu::{cuda_runtime, encoded_bytes, fail, CHECK_TOKENS};
use crate::bench_quant::{tiled_input, VariantArgs};
use crate::error::CliError;

/// Where to tune.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Native code on the host CPU.
    Cpu,
    /// The first NVIDIA GPU; without one, prints `skipped: ...` and exits 0.
    Cuda,
    /// The GPU program emulated on host threads: slow, for checking the tuner's GPU path
    /// without a GPU (use a small --mib).
    Simt,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    variants: VariantArgs,
    /// Where to tune.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Size of the f16 sample, in MiB (default 64; 256 on the GPU).
    #[arg(long)]
    mib: Option<f64>,
    /// Host threads a CPU launch uses (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Measure again where a choice is stored (the new choice replaces it).
    #[arg(long)]
    retune: bool,
    /// Also check every candidate's kernels against the CPU's, not only the chosen ones.
    #[arg(long)]
    check_all: bool,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let options = RuntimeOptions {
        mode: LaunchMode::Unchecked,
        threads: args.threads.unwrap_or(RuntimeOptions::default().threads).max(1),
        ..RuntimeOptions::default()
    };
    let rt = match args.backend {
        Backend::Cpu => Runtime::cpu_with(options),
        Backend::Simt => Runtime::simt_with(options, 4),
        Backend::Cuda => match cuda_runtime("aqua tune --backend cuda")? {
            Some(rt) => rt,
            None => return Ok(()),
        },
    };
    let mib = args.mib.unwrap_or(if args.backend == Backend::Cuda { 256.0 } else { 64.0 });
    if !(mib > 0.0 && mib <= 16384.0) {
        return Err(CliError::usage(format!("--mib {mib}: give a size from above 0 to 16384 MiB")));
    }
    let tuners = CodecTuners::new(TuneOptions { reuse_stored: !args.retune, print: false, ..TuneOptions::default() });
    let (input, channels) = tiled_input(mib)?;
    let n = input.len();
    let sample = HostBuffer::from_slice(&input);
    let check = &input[..n.min(CHECK_TOKENS * channels)];
    let cpu = Runtime::cpu_with(RuntimeOptions { mode: LaunchMode::Unchecked, ..RuntimeOptions::default() });

    println!("aqua tune: {}", rt.describe());
    let store = match rt.cache_dir() {
        Some(dir) => format!("choices stored in {}", dir.join("autotune").display()),
        None => "no disk cache: choices are not stored".into(),
    };
    println!(
        "  sample: {:.2} MiB of f16 (the bundled KV slice tiled, {} tokens x {channels}); {store}",
        (2 * n) as f64 / (1 << 20) as f64,
        n / channels
    );
    println!("  GB/s counts the bytes a kernel moves (f16 values and the quantized form); x default is the speed-up");
    for v in args.variants.variants() {
        let method = v.method(channels).map_err(CliError::usage)?;
        let candidates = tilings(&rt, method);
        let tuned = TunedCodec::tune_among(&rt, &tuners, method, DType::F16, &sample, &candidates).map_err(fail)?;
        let moved = 2 * n + encoded_bytes(method, n);
        println!(
            "\n  {} {}-bit group {} ({:.3} bits per value), {} candidates",
            format!("{:?}", v.method).to_lowercase(),
            v.bits,
            v.group,
            bits_per_value(&tuned.storage(n)),
            candidates.len()
        );
        for (op, tuning) in ["quantize", "dequantize"].iter().zip(tuned.tunings()) {
            print_tuning(op, tuning, moved);
        }
        let codecs = [tuned.quantize_codec(), tuned.dequantize_codec()];
        let agreement = compare_with_cpu(&rt, codecs, &cpu, check)?;
        println!("    chosen kernels vs the CPU's default ones: {}, {}", agreement.0, agreement.1);
        if args.check_all {
            check_all(&rt, &cpu, method, &candidates, check)?;
        }
    }
    Ok(())
}

/// Compares every candidate's kernels with the CPU's; prints those that differ and a
/// summary line.
fn check_all(
    rt: &Runtime,
    cpu: &Runtime,
    method: Method,
    candidates: &[Tiling],
    check: &[f16],
) -> Result<(), CliError> {
    let all_equal = ("encoded 100.000% equal".to_string(), "values 100.000% equal".to_string());
    let mut differ = 0;
    for t in candidates {
        let warped = t.warps.filter(|&w| w != rt.num_warps()).map(|w| rt.with_num_warps(w));
        let codec = Codec::compile_tiled(warped.as_deref().unwrap_or(rt), method, DType::F16, t.tile).map_err(fail)?;
        let agreement = compare_with_cpu(rt, [&codec, &codec], cpu, check)?;
        if agreement != all_equal {
            differ += 1;
            println!("    {t}: {}, {}", agreement.0, agreement.1);
        }
    }
    match differ {
        0 => println!("    every candidate's kernels equal the CPU's ({} candidates)", candidates.len()),
        d => println!("    {d} of {} candidates DIFFER from the CPU", candidates.len()),
    }
    Ok(())
}

/// One operation's candidates (when measured) and choice.
fn print_tuning(op: &str, tuning: &Tuned<Tiling>, moved: usize) {
    let gbs = |t: Duration| moved as f64 / t.as_secs_f64() / 1e9;
    let default = tuning.trials.first().and_then(|t| t.time());
    for trial in &tuning.trials {
        let line = match (&trial.first, trial.time()) {
            (Err(why), _) => format!("failed: {why}"),
            (Ok(_), Some(t)) => {
                let speedup =
                    default.map_or(String::new(), |d| format!("{:>7.3} x default", d.as_secs_f64() / t.as_secs_f64()));
                let pruned = if trial.last.is_none() && tuning.trials.iter().any(|t| t.last.is_some()) {
                    "  (pruned after the first pass)"
                } else {
                    ""
                };
                format!("{:>10.1} us {:>8.2} GB/s {speedup}{pruned}", t.as_secs_f64() * 1e6, gbs(t))
            }
            (Ok(_), None) => unreachable!("a trial that ran has a time"),
        };
        println!("    {op:<10} {:<20} {line}", trial.label);
    }
    let how = match tuning.source {
        ChoiceSource::Measured => match (default, tuning.trials[tuning.index].time()) {
            (Some(d), Some(t)) => format!("{:.3} x the default's speed", d.as_secs_f64() / t.as_secs_f64()),
            _ => "the default failed".into(),
        },
        ChoiceSource::Disk => "stored by an earlier run (--retune measures again)".into(),
        ChoiceSource::Memory => "chosen earlier in this run".into(),
        ChoiceSource::Only => "the only candidate".into(),
    };
    println!("    {op:<10} -> {}: {how}", tuning.config);
}
